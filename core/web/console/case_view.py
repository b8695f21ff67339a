"""``/console/cases/{id}``: one case for a signed-in person, and the work on it.

Reading needs ``case.read``: the customer's own words, severity and why, the triage questions
still open, channel and contact (whole only for the agent holding the case and commanders,
masked for everyone else), and the whole conversation, refreshed live. Working needs
``case.work``: a reply on the case's channel, a status, a note; and, for the agent holding
the case, ACK, DONE, ESC and PASS through the phone page's own handlers (``case_page``), so
the same rules and audit entries apply whichever way the agent works. Every form posts with
the session's CSRF token and answers with a redirect back to the case, whose
``role="status"`` says what was done; a refusal is shown on the case (``role="alert"``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from crisiscast.channels.masking import mask_address
from crisiscast.errors import ConfigError, CrisiscastError
from crisiscast.incidents.agents.case_commands import Refused, audit_command
from crisiscast.incidents.agents.commands import Command
from crisiscast.incidents.agents.paging import case_contact, status_line
from crisiscast.incidents.agents.roster import holder_of
from crisiscast.incidents.cases.conversation import add_entry
from crisiscast.incidents.cases.status import set_case_status
from crisiscast.incidents.people.audit import record
from crisiscast.incidents.people.roles import C as COMMANDER
from crisiscast.incidents.people.roles import allowed
from crisiscast.incidents.store.models import Agent, Case, Incident
from crisiscast.web.api.common import MAX_ID
from crisiscast.web.api.convert import sla_state
from crisiscast.web.auth import Principal
from crisiscast.web.case_page import (
    MAX_TEXT,
    VERBS,
    Opened,
    apply_command,
    contact_html,
    fact_rows,
    line_html,
    reply_on_channel,
    send_reply,
    settable_statuses,
    shown_lines,
    words_html,
)
from crisiscast.web.console.case_queue import PLAYBOOKS, SLA_LABELS
from crisiscast.web.console.layout import (
    HEADERS,
    ConsoleContext,
    PageRefused,
    csrf_field,
    live_attrs,
    message,
    page,
    read_form,
    signed_in,
)

AGENT_VERBS = ("ack", "done", "esc", "pass")  # for the agent holding the case only
ACTIONS = ("reply", "note", "status", *AGENT_VERBS)
DONE_NOTES: Mapping[str, str] = {
    "reply": "Reply sent to the customer.",
    "note": "Note added to the case.",
    "status": "Status set.",
    "ack": "Case acknowledged: it is yours.",
    "done": "Case resolved. Thank you.",
    "esc": "Case escalated: the commander and a backup agent are told.",
    "pass": "Case passed on: it goes to another agent.",
}
# The form field each action reads, and its name in a problem.
FIELDS: Mapping[str, tuple[str, str]] = {
    "reply": ("text", "Reply"), "note": ("text", "Note"), "status": ("status", "Status"),
    "ack": ("note", "Note"), "done": ("note", "Resolution note"), "esc": ("note", "Why"),
    "pass": ("note", "Note"),
}  # fmt: skip


def sees_contact(principal: Principal, holder_id: int | None) -> bool:
    """Whether the customer's address is shown whole: to commanders and to the agent
    holding the case (who may have to call them); everyone else sees it masked."""
    mine = principal.agent_id is not None and principal.agent_id == holder_id
    return principal.role == COMMANDER or mine


def open_questions(why: Mapping[str, Any] | None, texts: Mapping[str, str]) -> list[str]:
    """The triage questions the customer's messages left open, as the latest triage left them
    (a follow-up that raised the case has its own), in the playbook's order of ``texts``."""
    why = why or {}
    raised = why.get("raised")
    latest = raised if isinstance(raised, Mapping) and "unanswered" in raised else why
    ids = {str(x) for x in latest.get("unanswered") or []}
    return [text for qid, text in texts.items() if qid in ids]


def add_routes(router: APIRouter, ctx: ConsoleContext) -> None:
    """The case view, its live part and its actions."""

    @router.get("/console/cases/{case_id}")
    async def view(case_id: str, request: Request) -> HTMLResponse:
        principal = await signed_in(ctx, request, "case.read")
        number = _number(principal, case_id)
        done = DONE_NOTES.get(request.query_params.get("done", ""))
        body = await run_in_threadpool(_view, ctx, principal, number, datetime.now(UTC), done=done)
        if body is None:
            raise PageRefused(_missing(principal, case_id))
        return page(principal, f"Case {number}", body, current="/console/cases")

    @router.get("/console/cases/{case_id}/live")
    async def live(case_id: str, request: Request) -> JSONResponse:
        principal = await signed_in(ctx, request, "case.read")
        number = _number(principal, case_id)
        parts = await run_in_threadpool(_live_parts, ctx, number, datetime.now(UTC))
        if parts is None:
            return JSONResponse({"detail": f"case {number} does not exist"}, status_code=404,
                                headers=HEADERS)  # fmt: skip
        return JSONResponse({"parts": parts}, headers=HEADERS)

    @router.post("/console/cases/{case_id}/{action}")
    async def act(case_id: str, action: str, request: Request) -> Response:
        principal = await signed_in(ctx, request, "case.work")
        form = await read_form(request, principal)
        number = _number(principal, case_id)
        if action not in ACTIONS:
            raise PageRefused(message(principal, 404, "No such action", f"Cases take "
                              f"{', '.join(ACTIONS)}; not {action[:20]!r}."))  # fmt: skip
        try:
            outcome = await run_in_threadpool(
                _act, ctx, principal, number, action, form, datetime.now(UTC)
            )
        except CrisiscastError as exc:  # e.g. the case changed hands meanwhile: nothing kept
            outcome = 409, f"Not done: {exc}"
        if outcome is None:
            return RedirectResponse(f"/console/cases/{number}?done={action}", status_code=303,
                                    headers=HEADERS)  # fmt: skip
        status, problem = outcome
        field, _ = FIELDS[action]
        body = await run_in_threadpool(
            _view, ctx, principal, number, datetime.now(UTC), problem=problem,
            drafts={f"{action}-{field}": form.get(field, "")},
        )  # fmt: skip
        if body is None:
            raise PageRefused(_missing(principal, case_id))
        return page(principal, f"Case {number}", body, status=status, current="/console/cases")


def _number(principal: Principal, raw: str) -> int:
    """The case id in the path: 400 for a NUL, 404 for anything that cannot name a case."""
    if "\x00" in raw:
        raise PageRefused(message(principal, 400, "Not accepted", "The address holds a NUL "
                                  "character: open the case from the queue."))  # fmt: skip
    if not re.fullmatch(r"[0-9]{1,10}", raw) or not 0 < int(raw) <= MAX_ID:
        raise PageRefused(_missing(principal, raw))
    return int(raw)


def _missing(principal: Principal, raw: str) -> HTMLResponse:
    return message(principal, 404, "No such case", f"There is no case {raw[:20]!r}: "
                   "the queue (Cases, at /console/cases) lists them.")  # fmt: skip


def _act(
    ctx: ConsoleContext, principal: Principal, number: int, action: str,
    form: Mapping[str, str], now: datetime,
) -> tuple[int, str] | None:  # fmt: skip
    """Apply one action in one transaction: None when done, else (status, why not)."""
    field, label = FIELDS[action]
    text = form.get(field, "").strip()
    if len(text) > MAX_TEXT:
        return 400, f"{label}: keep it under {MAX_TEXT} characters (it has {len(text)})."
    if not text and action in ("reply", "note", "status"):
        return 400, f"{label}: write or choose it first, the field is empty."
    with ctx.store.session() as session:
        case = session.get(Case, number)
        if case is None:
            return 404, f"There is no case {number}."
        incident = session.get(Incident, case.incident_id) if case.incident_id else None
        if action == "note":
            entry = add_entry(session, case.id, "note", text, author=principal.actor.name,
                              now=now)  # fmt: skip
            record(session, principal.actor, "case.note", now=now, incident_id=case.incident_id,
                   subject=f"case {case.id}", detail={"entry_id": entry.id})  # fmt: skip
            return None
        if action == "status":
            try:
                set_case_status(session, case, text, allowed=settable_statuses(incident),
                                actor=principal.actor, now=now)  # fmt: skip
            except ConfigError as exc:
                return 400, f"{label}: {exc}."
            return None
        opened = _opened(session, principal, case, incident)
        if action == "reply":
            problem = (
                send_reply(session, ctx.settings, opened, text, now)
                if isinstance(opened, Opened)
                else reply_on_channel(session, ctx.settings, case, incident, text,
                                      actor=principal.actor, now=now)
            )  # fmt: skip
        elif isinstance(opened, Opened):
            problem = apply_command(session, opened, VERBS[action], text, now)
        else:
            problem = _not_holder(session, principal, case, action, text, opened, now)
        return None if problem is None else (409, problem)


def _opened(
    session: Session, principal: Principal, case: Case, incident: Incident | None
) -> Opened | str:
    """The case as its holder opens it, when the caller is the agent holding it; else who
    holds it, in words."""
    held = holder_of(session, case.id)
    if held is not None and principal.agent_id is not None and held.agent_id == principal.agent_id:
        return Opened(case, session.get_one(Agent, held.agent_id), held, incident)
    if held is None:
        return "nobody holds it"
    return f"{session.get_one(Agent, held.agent_id).name} holds it"


def _not_holder(
    session: Session, principal: Principal, case: Case, action: str, note: str, who: str,
    now: datetime,
) -> str:  # fmt: skip
    """The refusal of ACK, DONE, ESC or PASS from someone who does not hold the case; an
    agent's is audited as their refused command, as by SMS or the phone link."""
    verb = VERBS[action]
    why = (f"Only the agent holding case {case.id} can {verb} it, and {who}: set its status, "
           "reply, or add a note instead.")  # fmt: skip
    agent = session.get(Agent, principal.agent_id) if principal.agent_id is not None else None
    if agent is not None:
        audit_command(session, agent, Command(verb, case.id, note), Refused(why), "console", now)
    return why


def _view(
    ctx: ConsoleContext, principal: Principal, number: int, now: datetime, *,
    done: str | None = None, problem: str | None = None,
    drafts: Mapping[str, str] | None = None,
) -> str | None:  # fmt: skip
    """The case page's body (None: no such case)."""
    with ctx.store.session() as session:
        case = session.get(Case, number)
        if case is None:
            return None
        return _case_html(session, principal, case, now, done=done, problem=problem,
                          drafts=drafts or {})  # fmt: skip


def _holder_name(session: Session, case: Case) -> tuple[int | None, str]:
    held = holder_of(session, case.id)
    if held is None:
        return None, "nobody"
    return held.agent_id, session.get_one(Agent, held.agent_id).name


def _sla(case: Case, now: datetime) -> str:
    state = sla_state(case, now)
    return SLA_LABELS.get(str(state), "No target") if state is not None else "No target"


def _status(case: Case, now: datetime) -> str:
    return escape(status_line(case, now).removeprefix("Status: "))


def _questions(incident: Incident | None, case: Case) -> list[str]:
    if incident is None:
        return []
    try:
        playbook, _ = PLAYBOOKS.get(incident.playbook_path)
    except CrisiscastError:
        return ["(The incident's playbook cannot be read now, so its questions are unknown.)"]
    language = "en" if all("en" in q.text for q in playbook.triage_questions) else None
    texts = {q.id: q.text[language or playbook.default_language]
             for q in playbook.triage_questions}  # fmt: skip
    return open_questions(case.why, texts)


def _live_parts(ctx: ConsoleContext, number: int, now: datetime) -> dict[str, str] | None:
    """What changes while the page is open: the conversation, status, SLA and holder."""
    with ctx.store.session() as session:
        case = session.get(Case, number)
        if case is None:
            return None
        return {
            "conversation": "".join(line_html(x) for x in shown_lines(session, case.id)),
            "case-status": _status(case, now),
            "case-sla": escape(_sla(case, now)),
            "case-agent": escape(_holder_name(session, case)[1]),
        }


def _case_html(
    session: Session, principal: Principal, case: Case, now: datetime, *,
    done: str | None, problem: str | None, drafts: Mapping[str, str],
) -> str:  # fmt: skip
    incident = session.get(Incident, case.incident_id) if case.incident_id else None
    holder_id, holder = _holder_name(session, case)
    address = case_contact(session, case)
    if sees_contact(principal, holder_id):
        contact = contact_html(case, address)
    else:
        contact = (escape(mask_address(address)) + ' <span class="hint">(masked: only the '
                   "agent holding the case and commanders see it whole)</span>"
                   if address else "no address known")  # fmt: skip
    live_ids = {"Status": "case-status"}
    facts = [
        *fact_rows(session, case, incident, now, contact),
        ("SLA", escape(_sla(case, now))),
        ("Agent", escape(holder)),
    ]
    ids = {**live_ids, "SLA": "case-sla", "Agent": "case-agent"}
    rows = "".join(
        f"<dt>{k}</dt><dd" + (f' id="{ids[k]}"' if k in ids else "") + f">{v}</dd>"
        for k, v in facts
    )
    questions = _questions(incident, case)
    asked = ("<ul>" + "".join(f"<li>{escape(q)}</li>" for q in questions) + "</ul>"
             if questions else "<p>None: the customer's messages answer them.</p>")  # fmt: skip
    alert = f'<div role="alert"><p>{escape(problem)}</p></div>' if problem else ""
    lines = "".join(line_html(x) for x in shown_lines(session, case.id))
    severity = escape(case.severity)
    return (
        f'<div class="case-view"><h1>Case {case.id}: '
        f'<span class="sev-{severity}">{severity}</span></h1>{alert}'
        f'<p role="status">{escape(done or "")}</p>'
        '<p><a href="/console/cases">Back to the case queue</a></p>'
        f"<h2>What the customer said</h2>{words_html(session, case) or '<p>No words yet.</p>'}"
        f'<h2>Details</h2><dl class="facts">{rows}</dl>'
        f"<h2>Questions still open</h2>{asked}"
        '<h2 id="conv-h">Conversation</h2>'
        '<ol id="conversation" class="conversation" aria-labelledby="conv-h" '
        f'aria-live="polite" {live_attrs(f"/console/cases/{case.id}/live")}>{lines}</ol>'
        + _work(principal, case, incident, holder_id, holder, drafts)
        + "</div>"
    )


def _textarea(action: str, field: str, label: str, drafts: Mapping[str, str], *,
              lang: str | None = None, required: bool = False) -> str:  # fmt: skip
    name = f"{action}-{field}"
    extra = (f' lang="{escape(lang)}"' if lang else "") + (" required" if required else "")
    return (f'<label for="{name}">{label}</label>'
            f'<textarea id="{name}" name="{field}" maxlength="{MAX_TEXT}"{extra}>'
            f"{escape(drafts.get(name, ''))}</textarea>")  # fmt: skip


def _post(case: Case, action: str, principal: Principal, inner: str) -> str:
    return (f'<form method="post" action="/console/cases/{case.id}/{action}">'
            f"{csrf_field(principal)}{inner}</form>")  # fmt: skip


def _work(
    principal: Principal, case: Case, incident: Incident | None, holder_id: int | None,
    holder: str, drafts: Mapping[str, str],
) -> str:  # fmt: skip
    """The forms, for those who may work cases; the agent actions for the holder only."""
    if not allowed(principal.role, "case.work"):
        return (f'<p class="hint">Your role ({escape(principal.role)}) may read cases but '
                "not work them.</p>")  # fmt: skip
    reply = _post(case, "reply", principal, _textarea(
        "reply", "text", f"Your reply (sent by {escape(case.channel)} to the customer)", drafts,
        lang=case.language or "und", required=True,
    ) + '<div class="actions"><button type="submit">Send reply</button></div>')  # fmt: skip
    mine = principal.agent_id is not None and principal.agent_id == holder_id
    if mine:
        actions = (
            _post(case, "ack", principal, '<div class="actions"><button type="submit">'
                  "Acknowledge (ACK): I am on it</button></div>")
            + _post(case, "done", principal, _textarea("done", "note",
                    "Resolution note (optional)", drafts)
                    + '<div class="actions"><button type="submit">Resolve (DONE)</button></div>')
            + _post(case, "esc", principal, _textarea("esc", "note",
                    "Why escalate (optional)", drafts)
                    + '<div class="actions"><button type="submit" class="danger">'
                    "Escalate (ESC)</button></div>")
            + _post(case, "pass", principal, '<div class="actions"><button type="submit" '
                    'class="secondary">Pass it on (PASS)</button></div>')
        )  # fmt: skip
    else:
        actions = (f'<p class="hint">ACK, DONE, ESC and PASS are for the agent holding the '
                   f"case ({escape(holder)} now).</p>")  # fmt: skip
    options = "".join(f'<option value="{escape(s)}"{" selected" if s == case.status else ""}>'
                      f"{escape(s)}</option>" for s in _choices(case, incident))  # fmt: skip
    status = _post(case, "status", principal, '<label for="status-choice">Status</label>'
                   f'<select id="status-choice" name="status">{options}</select>'
                   '<div class="actions"><button type="submit">Set status</button>'
                   "</div>")  # fmt: skip
    note = _post(case, "note", principal, _textarea(
        "note", "text", "Note for the team (the customer does not see it)", drafts,
        required=True,
    ) + '<div class="actions"><button type="submit">Add note</button></div>')  # fmt: skip
    return (f"<h2>Reply to the customer</h2>{reply}<h2>Agent actions</h2>{actions}"
            f"<h2>Status</h2>{status}<h2>Notes</h2>{note}")  # fmt: skip


def _choices(case: Case, incident: Incident | None) -> Sequence[str]:
    """The statuses offered; the case's own stays shown even when it may not be chosen."""
    offered = settable_statuses(incident)
    return offered if case.status in offered else [case.status, *offered]
