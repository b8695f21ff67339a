"""``/console/approvals``: requests waiting for a second person; each shows the preview its
requester saw (stored on the approval) with Approve and Reject.

The decision is the domain's (``people.approvals.decide``): the requester cannot approve
their own, and that refusal is a page that says so. An approved request runs as it does
through ``POST /api/v1/approvals/{id}/approve``, and the page opens the incident's dashboard.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from crisiscast.errors import AccessError, CrisiscastError, NotFoundError
from crisiscast.incidents.people import approvals
from crisiscast.incidents.store.models import ApprovalStatus
from crisiscast.web.api import actions
from crisiscast.web.api.convert import approval_out
from crisiscast.web.api.models import ApprovalOut, LaunchBody, UpdateBody
from crisiscast.web.auth import Principal
from crisiscast.web.console.launching import api_context, start_launch, start_update
from crisiscast.web.console.layout import (
    ConsoleContext,
    PageRefused,
    csrf_field,
    message,
    page,
    read_form,
    signed_in,
    table,
)
from crisiscast.web.console.preview_panel import preview_html, reached_in_all

SHOWN = 200  # pending approvals listed; more wait in the API


def add_routes(router: APIRouter, ctx: ConsoleContext) -> None:
    """The approvals list, one approval, and its two decisions."""

    @router.get("/console/approvals")
    async def pending(request: Request) -> HTMLResponse:
        principal = await signed_in(ctx, request, "approval.decide")
        rows = await run_in_threadpool(_pending, ctx)
        body = "<h1>Approvals</h1>" + (
            table(
                "Waiting for a second person, oldest first",
                ("Approval", "Kind", "Incident", "Asked by", "Asked (UTC)", "Messages"),
                (
                    [
                        f'<a href="/console/approvals/{a.id}">Approval {a.id}</a>',
                        escape(a.kind),
                        escape(a.incident or "new"),
                        escape(_who(a.requester)),
                        a.requested_at.strftime("%Y-%m-%d %H:%M"),
                        f"{reached_in_all(a.preview):,}" if a.preview else "",
                    ]
                    for a in rows
                ),
            )
            if rows
            else "<p>Nothing waits for approval.</p>"
        )
        return page(principal, "Approvals", body, current="/console/approvals")

    @router.get("/console/approvals/{approval_id}")
    async def one(request: Request, approval_id: str) -> HTMLResponse:
        principal = await signed_in(ctx, request, "approval.decide")
        shown = await run_in_threadpool(_one, ctx, principal, approval_id)
        return _approval_page(ctx, principal, shown)

    @router.post("/console/approvals/{approval_id}/approve")
    async def approve(request: Request, approval_id: str) -> Response:
        principal = await signed_in(ctx, request, "approval.decide")
        form = await read_form(request, principal)
        reason = _reason(principal, form)
        ref = await run_in_threadpool(_approve, ctx, principal, approval_id, reason)
        target = f"/console/incidents/{ref}" if ref else f"/console/approvals/{approval_id}"
        return RedirectResponse(target, status_code=303)

    @router.post("/console/approvals/{approval_id}/reject")
    async def reject(request: Request, approval_id: str) -> Response:
        principal = await signed_in(ctx, request, "approval.decide")
        form = await read_form(request, principal)
        reason = _reason(principal, form)
        await run_in_threadpool(_decide, ctx, principal, approval_id, False, reason)
        return RedirectResponse(f"/console/approvals/{int(approval_id)}", status_code=303)


def _who(requester: str) -> str:
    """``user:3 ana`` as people read it: ``ana``."""
    return requester.split(" ", 1)[1] if requester.startswith("user:") else requester


def _pending(ctx: ConsoleContext) -> list[ApprovalOut]:
    with ctx.store.session() as session:
        return [approval_out(r) for r in approvals.listed(session, limit=SHOWN)]


def _number(principal: Principal, approval_id: str) -> int:
    """The id in the path, or a 404 page (never a 5xx for ``/approvals/x`` or 10**40)."""
    if not approval_id.isdigit() or len(approval_id) > 10 or not 0 < int(approval_id) < 2**31:
        raise PageRefused(
            message(
                principal,
                404,
                "No such approval",
                f"{approval_id[:40]!r} is not an approval number: open one from the list.",
            )
        )
    return int(approval_id)


def _reason(principal: Principal, form: dict[str, str]) -> str | None:
    reason = form.get("reason", "").strip()
    if len(reason) > 2000:
        raise PageRefused(
            message(principal, 422, "Not accepted", "Reason: keep it under 2,000 characters.")
        )
    return reason or None


def _one(ctx: ConsoleContext, principal: Principal, approval_id: str) -> ApprovalOut:
    number = _number(principal, approval_id)
    try:
        with ctx.store.session() as session:
            return approval_out(approvals.get(session, number))
    except NotFoundError as exc:
        raise PageRefused(message(principal, 404, "No such approval", str(exc))) from None


def _decide(
    ctx: ConsoleContext, principal: Principal, approval_id: str, approve: bool, reason: str | None
) -> tuple[str, dict[str, Any]]:
    """Take the decision in its own transaction (the row locked); the request's kind and
    body for running it. The domain's refusals become page messages."""
    number = _number(principal, approval_id)
    try:
        with ctx.store.session() as session:
            row = approvals.get(session, number, lock=True)
            approvals.decide(
                session, row, principal.actor, approve=approve, now=datetime.now(UTC), reason=reason
            )
            return row.kind, dict(row.request)
    except NotFoundError as exc:
        raise PageRefused(message(principal, 404, "No such approval", str(exc))) from None
    except AccessError as exc:
        raise PageRefused(message(principal, 403, "Not yours to approve", str(exc))) from None
    except approvals.AlreadyDecided as exc:
        raise PageRefused(message(principal, 409, "Already decided", str(exc))) from None


def _approve(
    ctx: ConsoleContext, principal: Principal, approval_id: str, reason: str | None
) -> str | None:
    """Approve, then run what was asked as the API does; the incident's ref to open (None
    when it could not run: the approval page then shows why)."""
    kind, request = _decide(ctx, principal, approval_id, True, reason)
    number = int(approval_id)
    api = api_context(ctx)
    try:
        if kind == "launch":
            return str(
                start_launch(api, LaunchBody.model_validate(request), principal.actor, number)[
                    "ref"
                ]
            )
        ref = str(request["ref"])
        if kind == "update":
            body = UpdateBody.model_validate({k: v for k, v in request.items() if k != "ref"})
            start_update(api, ref, body, principal.actor, number)
            return ref
        result = actions.recall(api, ref, principal.actor, number)
    except CrisiscastError as exc:  # approved, but it could not run: say why on the row
        result = {"error": str(exc)}
    except HTTPException as exc:  # the API's actions answer a domain error this way
        result = {"error": str(exc.detail)}
    with ctx.store.session() as session:
        approvals.finish(session, approvals.get(session, number), result)
    return None if "error" in result else str(result["ref"])


def _approval_page(ctx: ConsoleContext, principal: Principal, shown: ApprovalOut) -> HTMLResponse:
    own = principal.actor.name == shown.requester
    request = shown.request
    facts = [
        ("Kind", shown.kind),
        ("Status", shown.status),
        ("Asked by", _who(shown.requester)),
        ("Asked (UTC)", shown.requested_at.strftime("%Y-%m-%d %H:%M")),
    ]
    if shown.kind == "launch":
        facts += [
            ("Playbook", str(request.get("playbook", ""))),
            ("Exercise", "yes" if request.get("exercise") else "no"),
        ]
        facts += [(f"Parameter {k}", str(v)) for k, v in (request.get("params") or {}).items()]
    if shown.incident:
        facts.append(("Incident", shown.incident))
    if shown.reason:
        facts.append(("Reason", shown.reason))
    result = shown.result or {}
    if result.get("error"):
        facts.append(("Could not run", str(result["error"])))
    items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in facts)
    body = f'<h1>Approval {shown.id}: {escape(shown.kind)}</h1><dl class="facts">{items}</dl>'
    if shown.incident:
        body += (
            f'<p><a href="/console/incidents/{escape(shown.incident)}">Open '
            f"{escape(shown.incident)}'s dashboard</a></p>"
        )
    if shown.preview is not None:
        body += preview_html(shown.preview, ctx.settings)
    if shown.status == ApprovalStatus.PENDING.value:
        body += _decision_forms(principal, shown.id, own)
    return page(principal, f"Approval {shown.id}", body, current="/console/approvals")


def _decision_forms(principal: Principal, number: int, own: bool) -> str:
    reason = (
        '<label for="reason">Reason (optional, kept in the audit log)</label>'
        '<textarea id="reason" name="reason" rows="2" maxlength="2000"></textarea>'
    )
    if own:
        return (
            '<div role="status"><p>You asked for this: another commander or comms user '
            "approves it. You may withdraw it.</p></div>"
            f'<form method="post" action="/console/approvals/{number}/reject">'
            f'{csrf_field(principal)}{reason}<div class="actions">'
            '<button type="submit" class="danger">Withdraw</button></div></form>'
        )
    return (
        f'<form method="post" action="/console/approvals/{number}/approve" id="approve-form">'
        f"{csrf_field(principal)}{reason}"
        '<div class="actions"><button type="submit">Approve and send</button>'
        f'<button type="submit" class="danger" formaction="/console/approvals/{number}/reject">'
        "Reject</button></div></form>"
    )
