"""``/console/launch`` and ``/console/incidents/{ref}/update``: choose, fill, preview, then
send or ask a second person to approve.

The pages build the API's own bodies (``LaunchBody``, ``UpdateBody``) and call the API's own
preview and actions, so the console checks, previews, approves and sends exactly as
``/api/v1`` does. Errors come back on the form, next to their field, with what was typed.

A send returns as soon as the incident is open (a launch is staged first, as ``launch
--hold`` does); the broadcast then runs in the background while the commander watches the
incident's dashboard, and is audited as ``broadcast`` when it ends.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from crisiscast.config import Settings
from crisiscast.errors import CrisiscastError, NotFoundError, PlaybookError
from crisiscast.incidents.audience.csv_import import check_contacts_file, check_region
from crisiscast.incidents.audience.directory import list_counts, parse_filter
from crisiscast.incidents.people import approvals
from crisiscast.incidents.people.audit import Actor, record
from crisiscast.incidents.people.roles import allowed
from crisiscast.incidents.store.database import add_event, get_incident
from crisiscast.incidents.store.models import IncidentStatus
from crisiscast.playbook import Playbook, load_playbook
from crisiscast.playbook.examples import example_names, find_example
from crisiscast.web.api import actions
from crisiscast.web.api.common import Context
from crisiscast.web.api.models import LaunchBody, PreviewOut, UpdateBody
from crisiscast.web.api.preview import as_json, launch_preview, rolled_back, update_preview
from crisiscast.web.auth import Principal, requirer
from crisiscast.web.console.audience_form import ListChoice, audience_html, read_target
from crisiscast.web.console.layout import (
    ConsoleContext,
    PageRefused,
    csrf_field,
    message,
    page,
    read_form,
    signed_in,
)
from crisiscast.web.console.parameter_form import PREFIX, field_html, form_fields, read_params
from crisiscast.web.console.preview_panel import preview_html

BROADCAST_FAILED_EVENT = "broadcast_failed"  # a console send that stopped in the background
log = logging.getLogger(__name__)
KEPT = frozenset({"csrf_token", "step"})  # form fields not carried from preview to send


def add_routes(router: APIRouter, ctx: ConsoleContext) -> None:
    """The launch and update pages."""

    @router.get("/console/launch")
    async def launch_page(request: Request, playbook: str = "") -> HTMLResponse:
        principal = await signed_in(ctx, request, "incident.preview")
        choices = playbook_choices(ctx.settings)
        if not playbook:
            return _choose(principal, choices, None)
        if playbook not in choices:
            return _choose(principal, choices, "Playbook: choose one of the list.", status=422)
        book = await run_in_threadpool(_load, playbook)
        if isinstance(book, str):
            return _choose(principal, choices, book, status=422)
        lists = await run_in_threadpool(_lists, ctx)
        return _launch_page(ctx, principal, playbook, choices[playbook], book, lists, {}, {})

    @router.post("/console/launch")
    async def launch_post(request: Request) -> Response:
        principal = await signed_in(ctx, request, "incident.preview")
        form = await read_form(request, principal)
        choices = playbook_choices(ctx.settings)
        path = form.get("playbook", "")
        if path not in choices:
            return _choose(principal, choices, "Playbook: choose one of the list.", status=422)
        book = await run_in_threadpool(_load, path)
        if isinstance(book, str):
            return _choose(principal, choices, book, status=422)
        lists = await run_in_threadpool(_lists, ctx)
        body, errors = await run_in_threadpool(_launch_body, ctx, path, book, form, lists)
        preview = None
        if body is not None:
            preview = await run_in_threadpool(_launch_preview, ctx, body, errors)
        shown = (ctx, principal, path, choices[path], book, lists, form)
        if preview is None or body is None:
            return _launch_page(*shown, errors, None, status=422)
        if form.get("step") != "send":
            return _launch_page(*shown, errors, preview)
        if not allowed(principal.role, "incident.launch"):
            raise PageRefused(
                message(
                    principal,
                    403,
                    "Not for your role",
                    "Your role may preview but not launch: ask a commander.",
                )
            )
        if approvals.needed(book.approval, exercise=body.exercise):
            asked = await run_in_threadpool(
                actions.launch_approval, ctx.store, body, principal.actor
            )
            return RedirectResponse(f"/console/approvals/{asked}", status_code=303)
        try:
            staged = await run_in_threadpool(
                start_launch, api_context(ctx), body, principal.actor, None
            )
        except (CrisiscastError, HTTPException) as exc:
            detail = exc.detail if isinstance(exc, HTTPException) else str(exc)
            return _launch_page(
                *shown, {"": f"The launch could not run: {detail}"}, preview, status=409
            )
        return RedirectResponse(f"/console/incidents/{staged['ref']}", status_code=303)

    @router.get("/console/incidents/{ref}/update")
    async def update_page(request: Request, ref: str) -> HTMLResponse:
        principal = await signed_in(ctx, request, "incident.update")
        found = await run_in_threadpool(_open_incident, ctx, principal, ref)
        lists = await run_in_threadpool(_lists, ctx)
        return _update_page(ctx, principal, found, lists, {}, {}, None)

    @router.post("/console/incidents/{ref}/update")
    async def update_post(request: Request, ref: str) -> Response:
        principal = await signed_in(ctx, request, "incident.update")
        form = await read_form(request, principal)
        found = await run_in_threadpool(_open_incident, ctx, principal, ref)
        lists = await run_in_threadpool(_lists, ctx)
        body, errors = await run_in_threadpool(_update_body, ctx, found, form, lists)
        preview = None
        if body is not None:
            preview = await run_in_threadpool(_update_preview, ctx, found.ref, body, errors)
        if preview is None or body is None:
            return _update_page(ctx, principal, found, lists, form, errors, None, status=422)
        if form.get("step") != "send":
            return _update_page(ctx, principal, found, lists, form, errors, preview)
        if approvals.needed(found.book.approval, exercise=found.exercise):
            asked = await run_in_threadpool(_ask_update, ctx, principal, found, body, preview)
            return RedirectResponse(f"/console/approvals/{asked}", status_code=303)
        await run_in_threadpool(
            start_update, api_context(ctx), found.ref, body, principal.actor, None
        )
        return RedirectResponse(f"/console/incidents/{found.ref}", status_code=303)


# --- what runs ---------------------------------------------------------------------------


def api_context(ctx: ConsoleContext) -> Context:
    """The API's context on the console's store, so its actions run unchanged."""
    return Context(ctx.settings, ctx.store, requirer(ctx.store, ctx.serve_token))


def start_launch(
    api: Context, body: LaunchBody, actor: Actor, approval: int | None
) -> dict[str, Any]:
    """Open and stage the incident now (audited ``launch``); broadcast it in the background
    (audited ``broadcast``). Returns the staged launch's ref and incident id."""
    staged = actions.launch(api, body.model_copy(update={"send": False}), actor, approval)
    if approval is not None:
        _finish(api, approval, {**staged, "broadcast": "running"})
    if body.send:
        ref = str(staged["ref"])

        def send() -> dict[str, Any]:
            summary = actions.warm_broadcast(api.settings, ref, {"when": "launch"})
            _audit(api, actor, ref, {"when": "launch", "approval_id": approval})
            return {**staged, "counts": summary.get("counts", {}), "broadcast": "done",
                    "local_errors": summary.get("local_errors", [])}  # fmt: skip

        _in_background(api, ref, approval, send)
    return staged


def start_update(
    api: Context, ref: str, body: UpdateBody, actor: Actor, approval: int | None
) -> None:
    """Send the update in the background (``actions.update``, audited ``update``)."""
    _in_background(api, ref, approval, lambda: actions.update(api, ref, body, actor, approval))


def _in_background(
    api: Context, ref: str, approval: int | None, work: Callable[[], dict[str, Any]]
) -> None:
    """Run ``work`` on its own thread; store its outcome on the approval, log a failure
    (its type and the ref only: a message may hold an address)."""

    def run() -> None:
        refused = False
        try:
            result = work()
        except CrisiscastError as exc:
            log.warning("console broadcast of %s failed: %s", ref, type(exc).__name__)
            result = {"ref": ref, "error": str(exc)}
        except HTTPException as exc:  # the API's actions answer a domain error this way
            log.warning("console broadcast of %s refused: %s", ref, exc.status_code)
            refused = True
            result = {"ref": ref, "error": str(exc.detail)}
        except Exception as exc:  # the thread must not die silently: say so in the log
            log.error("console broadcast of %s failed: %s", ref, type(exc).__name__)
            result = {"ref": ref, "error": f"the broadcast stopped ({type(exc).__name__})"}
        if result.get("local_errors"):  # this machine could not write: the rest is queued
            written = "; ".join(str(e) for e in result["local_errors"][:2])
            result = {**result, "error": f"this machine could not write ({written})"}
        if "error" in result:
            _timeline_failure(api, ref, str(result["error"]), resumable=not refused)
        if approval is not None:
            _finish(api, approval, result)

    threading.Thread(target=run, name=f"console-broadcast-{ref}", daemon=True).start()


def _finish(api: Context, approval: int, result: Mapping[str, Any]) -> None:
    with api.store.session() as session:
        approvals.finish(session, approvals.get(session, approval), result)


def _timeline_failure(api: Context, ref: str, error: str, *, resumable: bool) -> None:
    """Put a failed background send on the incident's timeline, where the commander watching
    the dashboard sees it, with the command that finishes it (a log line nobody reads)."""
    try:
        with api.store.session() as session:
            incident = get_incident(session, ref)
            then = f" Finish it with crisiscast broadcast {ref}." if resumable else ""
            add_event(session, incident.id, BROADCAST_FAILED_EVENT,
                      f"The send from the console stopped: {error[:500].rstrip('.')}.{then}",
                      now=datetime.now(UTC))  # fmt: skip
    except Exception as exc:  # the store itself failed: the log line above is all we have
        log.error("console broadcast of %s: timeline not written: %s", ref, type(exc).__name__)


def _audit(api: Context, actor: Actor, ref: str, detail: dict[str, Any]) -> None:
    with api.store.session() as session:
        incident = get_incident(session, ref)
        record(
            session,
            actor,
            "broadcast",
            now=datetime.now(UTC),
            incident_id=incident.id,
            subject=ref,
            detail=detail,
        )


# --- playbooks and forms -----------------------------------------------------------------


def playbook_choices(settings: Settings) -> dict[str, str]:
    """Playbook path (as the server sees it) -> label: the packaged examples, then the
    YAML files in ``$CRISISCAST_HOME/playbooks`` (``crisiscast init`` can write them there)."""
    choices: dict[str, str] = {}
    for name in example_names():
        found = find_example(name)
        if found is not None:
            choices[str(found)] = f"{name} (example)"
    folder = settings.home / "playbooks"
    if folder.is_dir():
        for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
            choices[str(path)] = f"{path.name} ({folder})"
    return choices


def _load(path: str) -> Playbook | str:
    """The playbook, or what is wrong with it as a message for the form."""
    try:
        return load_playbook(path)
    except (PlaybookError, OSError) as exc:
        return f"Playbook: {Path(path).name} cannot be used: {exc}"


def _lists(ctx: ConsoleContext) -> list[ListChoice]:
    with ctx.store.session() as session:
        return [ListChoice(name, count) for name, count, _ in list_counts(session)]


def _check_filter(
    ctx: ConsoleContext, target: Mapping[str, Any] | None, errors: dict[str, str]
) -> None:
    if target and target.get("filter"):
        try:
            with ctx.store.session() as session:
                parse_filter(str(target["filter"]), session)
        except CrisiscastError as exc:
            errors["filter"] = f"Filter: {exc}"


def _launch_body(
    ctx: ConsoleContext,
    path: str,
    book: Playbook,
    form: Mapping[str, str],
    lists: list[ListChoice],
) -> tuple[LaunchBody | None, dict[str, str]]:
    """The LaunchBody the form asks for, or None and the errors by field."""
    params, errors = read_params(book.parameters, form)
    errors = {f"param-{k}": v for k, v in errors.items()}
    target, target_errors = read_target(form, lists)
    errors.update(target_errors)
    _check_filter(ctx, target, errors)
    region = form.get("default_region", "").strip() or "US"
    audience = form.get("audience", "").strip() or None
    try:
        check_region(region)
    except CrisiscastError as exc:
        errors["default_region"] = f"Region: {exc}"
    if audience and "default_region" not in errors:
        try:
            check_contacts_file(audience, region)
        except CrisiscastError as exc:
            errors["audience"] = f"Contacts CSV: {exc}"
    mode = form.get("mode", "")
    if mode not in ("exercise", "live"):
        errors["mode-exercise"] = "Exercise or live: choose one."
    if errors:
        return None, errors
    try:
        body = LaunchBody(
            playbook=path,
            params=params,
            target=target,
            audience=audience,
            default_region=region,
            exercise=mode == "exercise",
        )
    except ValidationError as exc:
        return None, {"": "; ".join(str(e["msg"]) for e in exc.errors())}
    return body, errors


def _launch_preview(
    ctx: ConsoleContext, body: LaunchBody, errors: dict[str, str]
) -> PreviewOut | None:
    try:
        with rolled_back(ctx.store) as session:
            return launch_preview(session, body, datetime.now(UTC))
    except CrisiscastError as exc:
        errors[""] = str(exc)
        return None


def _summary(errors: Mapping[str, str]) -> str:
    """The problems at the top of the form, announced, each linking to its field."""
    if not errors:
        return ""
    items = "".join(
        f'<li><a href="#{escape(field)}">{escape(text)}</a></li>'
        if field
        else f"<li>{escape(text)}</li>"
        for field, text in errors.items()
    )
    count = f"{len(errors)} problem{'s' if len(errors) > 1 else ''}"
    return (
        f'<div role="alert" id="problems" tabindex="-1"><h2>{count}: nothing was sent</h2>'
        f"<ul>{items}</ul></div>"
    )


def _choose(
    principal: Principal, choices: Mapping[str, str], error: str | None, *, status: int = 200
) -> HTMLResponse:
    options = "".join(
        f'<option value="{escape(p)}">{escape(label)}</option>' for p, label in choices.items()
    )
    described = ' aria-describedby="playbook-error" aria-invalid="true"' if error else ""
    problem = (
        f'<span class="field-error" id="playbook-error">{escape(error)}</span>' if error else ""
    )
    body = (
        "<h1>Launch an incident</h1>"
        + (_summary({"playbook": error}) if error else "")
        + '<form method="get" action="/console/launch">'
        '<label for="playbook">Playbook</label>'
        '<span class="hint">Its parameters, audiences and approval rule come next.</span>'
        f'{problem}<select id="playbook" name="playbook"{described}>{options}</select>'
        '<div class="actions"><button type="submit">Continue</button></div></form>'
    )
    return page(principal, "Launch", body, status=status, current="/console/launch")


def _mode_html(form: Mapping[str, str], errors: Mapping[str, str]) -> str:
    mode = form.get("mode", "exercise")
    problem = errors.get("mode-exercise")
    return (
        '<fieldset id="mode"><legend>Exercise or live</legend>'
        + (f'<span class="field-error" id="mode-error">{escape(problem)}</span>' if problem else "")
        + "".join(
            f'<div class="check"><input type="radio" id="mode-{v}" name="mode" value="{v}"'
            f'{" checked" if mode == v else ""}> <label for="mode-{v}">{label}</label></div>'
            for v, label in (
                ("exercise", "Exercise: marked as such, written to the outbox"),
                ("live", "Live: sent to real people"),
            )
        )
        + "</fieldset>"
    )


def _hidden(form: Mapping[str, str]) -> str:
    return "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
        for k, v in form.items()
        if k not in KEPT
    )


def _launch_page(
    ctx: ConsoleContext,
    principal: Principal,
    path: str,
    label: str,
    book: Playbook,
    lists: list[ListChoice],
    form: Mapping[str, str],
    errors: Mapping[str, str],
    preview: PreviewOut | None = None,
    *,
    status: int = 200,
) -> HTMLResponse:
    params = "".join(
        field_html(f, errors.get(f"param-{f.name}")) for f in form_fields(book.parameters, form)
    )
    needs = book.approval == "required"
    rule = (
        "This playbook needs a second commander or comms user to approve a live launch."
        if needs
        else "This playbook sends on one person's word."
    )
    body = (
        f"<h1>Launch: {escape(book.id)}</h1>"
        f'<p>{escape(label)}. {escape(rule)} <a href="/console/launch">Choose another '
        "playbook</a>.</p>"
        + _summary(errors)
        + '<form method="post" action="/console/launch" novalidate id="launch-form">'
        + csrf_field(principal)
        + f'<input type="hidden" name="playbook" value="{escape(path)}">'
        + (
            f'<fieldset id="parameters"><legend>Parameters</legend>{params}</fieldset>'
            if params
            else "<p>This playbook takes no parameters.</p>"
        )
        + audience_html(form, lists, errors)
        + _mode_html(form, errors)
        + '<div class="actions"><button type="submit" name="step" value="preview">Preview'
        "</button></div></form>"
    )
    if preview is not None:
        exercise = form.get("mode") == "exercise"
        asks = approvals.needed(book.approval, exercise=exercise)
        body = (
            _ready(body)
            + preview_html(preview, ctx.settings)
            + _confirm(
                principal,
                "/console/launch",
                form,
                asks,
                "Launch may not be done by your role: a commander sends it.",
                allowed(principal.role, "incident.launch"),
            )
        )
    return page(principal, "Launch", body, status=status, current="/console/launch")


def _confirm(
    principal: Principal,
    action: str,
    form: Mapping[str, str],
    asks: bool,
    refused: str,
    may: bool,
) -> str:
    """The form that sends what was previewed (its values as hidden fields), or asks for the
    second person's approval."""
    if not may:
        return f"<p>{escape(refused)}</p>"
    button = "Request approval" if asks else "Send now"
    note = (
        "A second commander or comms user sees this same preview and approves it."
        if asks
        else "This sends the messages above to the people counted above."
    )
    return (
        f'<form method="post" action="{escape(action)}" id="confirm-form">'
        f"{csrf_field(principal)}{_hidden(form)}<p>{note}</p>"
        f'<div class="actions"><button type="submit" name="step" value="send">{button}</button>'
        "</div></form>"
    )


# --- update ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Found:
    """An open incident and its playbook, read once for the update page."""

    ref: str
    exercise: bool
    book: Playbook
    params: dict[str, Any]
    incident_id: int


def _open_incident(ctx: ConsoleContext, principal: Principal, ref: str) -> _Found:
    try:
        with ctx.store.session() as session:
            incident = get_incident(session, ref)
            closed = IncidentStatus(incident.status) is IncidentStatus.CLOSED
            found = (
                incident.ref,
                incident.exercise,
                incident.playbook_path,
                dict(incident.params or {}),
                incident.id,
            )
    except NotFoundError as exc:
        raise PageRefused(message(principal, 404, "No such incident", str(exc))) from None
    if closed:
        text = f"{found[0]} is closed: an update would reach no open incident."
        raise PageRefused(message(principal, 409, "Incident closed", text))
    try:
        book = load_playbook(found[2])
    except (PlaybookError, OSError):
        text = (
            f"{found[0]}'s playbook cannot be loaded (moved or changed since the launch): "
            "put it back to send an update."
        )
        raise PageRefused(message(principal, 409, "Playbook unusable", text)) from None
    return _Found(found[0], found[1], book, found[3], found[4])


def _update_body(
    ctx: ConsoleContext, found: _Found, form: Mapping[str, str], lists: list[ListChoice]
) -> tuple[UpdateBody | None, dict[str, str]]:
    errors: dict[str, str] = {}
    texts = {
        lang: form[f"text.{lang}"].strip()
        for lang in found.book.languages
        if form.get(f"text.{lang}", "").strip()
    }
    announcement = form.get("announcement", "").strip() or None
    updates = [a.id for a in found.book.announcements if a.when == "update"]
    fallback = found.book.languages[0]
    params: dict[str, str] = {}
    if announcement is not None:
        if announcement not in updates:
            errors["announcement"] = "Announcement: choose one of the list."
        if texts:
            errors["announcement"] = (
                "Announcement or new text: give one of them; clear the "
                "texts to send the announcement."
            )
        params, param_errors = read_params(found.book.parameters, form)
        errors.update({f"param-{k}": v for k, v in param_errors.items()})
    elif not texts:
        errors[f"text-{fallback}"] = (
            f"Text in {fallback}: write the update (the fallback "
            "language is needed), or choose an announcement."
        )
    elif fallback not in texts:
        errors[f"text-{fallback}"] = f"Text in {fallback}: the fallback language is needed."
    target, target_errors = read_target(form, lists)
    errors.update(target_errors)
    _check_filter(ctx, target, errors)
    if errors:
        return None, errors
    try:
        body = UpdateBody(
            texts=texts or None, announcement=announcement, params=params, target=target
        )
    except ValidationError as exc:
        return None, {"": "; ".join(str(e["msg"]) for e in exc.errors())}
    return body, errors


def _update_preview(
    ctx: ConsoleContext, ref: str, body: UpdateBody, errors: dict[str, str]
) -> PreviewOut | None:
    try:
        with rolled_back(ctx.store) as session:
            return update_preview(session, get_incident(session, ref), body, datetime.now(UTC))
    except CrisiscastError as exc:
        errors[""] = str(exc)
        return None


def _ask_update(
    ctx: ConsoleContext,
    principal: Principal,
    found: _Found,
    body: UpdateBody,
    preview: PreviewOut,
) -> int:
    what = {"ref": found.ref, **body.model_dump(mode="json")}
    with ctx.store.session() as session:
        row = approvals.request(
            session,
            principal.actor,
            "update",
            what,
            as_json(preview),
            now=datetime.now(UTC),
            incident_id=found.incident_id,
        )
        return row.id


def _update_page(
    ctx: ConsoleContext,
    principal: Principal,
    found: _Found,
    lists: list[ListChoice],
    form: Mapping[str, str],
    errors: Mapping[str, str],
    preview: PreviewOut | None,
    *,
    status: int = 200,
) -> HTMLResponse:
    book = found.book
    chosen = form.get("announcement", "")
    options = "".join(
        f'<option value="{escape(a.id)}"{" selected" if a.id == chosen else ""}>'
        f"{escape(a.id)}</option>"
        for a in book.announcements
        if a.when == "update"
    )
    ann_error = errors.get("announcement")
    typed = dict(form) or {PREFIX + k: _text_of(v) for k, v in found.params.items()}
    params = "".join(
        field_html(f, errors.get(f"param-{f.name}")) for f in form_fields(book.parameters, typed)
    )
    texts = "".join(
        f'<label for="text-{escape(lang)}">Text in {escape(lang)}'
        f"{' (fallback, needed)' if i == 0 else ''}</label>"
        + (
            f'<span class="field-error" id="text-{escape(lang)}-error">'
            f"{escape(errors[f'text-{lang}'])}</span>"
            if f"text-{lang}" in errors
            else ""
        )
        + f'<textarea id="text-{escape(lang)}" name="text.{escape(lang)}" rows="3" '
        f'lang="{escape(lang)}"'
        + (
            f' aria-describedby="text-{escape(lang)}-error" aria-invalid="true"'
            if f"text-{lang}" in errors
            else ""
        )
        + f">{escape(form.get(f'text.{lang}', ''))}</textarea>"
        for i, lang in enumerate(book.languages)
    )
    action = f"/console/incidents/{found.ref}/update"
    body = (
        f"<h1>Update {escape(found.ref)}</h1>"
        f'<p><a href="/console/incidents/{escape(found.ref)}">Back to the dashboard</a></p>'
        + _summary(errors)
        + f'<form method="post" action="{escape(action)}" novalidate id="update-form">'
        + csrf_field(principal)
        + '<fieldset id="say"><legend>What to say</legend>'
        + '<p class="hint">New text per language, or one of the playbook\'s update '
        "announcements with new values.</p>"
        + texts
        + '<label for="announcement">Or a playbook announcement</label>'
        + (
            f'<span class="field-error" id="announcement-error">{escape(ann_error)}</span>'
            if ann_error
            else ""
        )
        + '<select id="announcement" name="announcement"'
        + (' aria-describedby="announcement-error" aria-invalid="true"' if ann_error else "")
        + f'><option value="">None: send the text above</option>{options}</select>'
        + "</fieldset>"
        + (
            f'<fieldset id="parameters"><legend>Parameters (for an announcement)</legend>'
            f"{params}</fieldset>"
            if params
            else ""
        )
        + audience_html(form, lists, errors, for_update=True)
        + '<div class="actions"><button type="submit" name="step" value="preview">Preview'
        "</button></div></form>"
    )
    if preview is not None:
        asks = approvals.needed(book.approval, exercise=found.exercise)
        body = (
            _ready(body)
            + preview_html(preview, ctx.settings)
            + _confirm(principal, action, form, asks, "", True)
        )
    return page(principal, f"Update {found.ref}", body, status=status)


def _text_of(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _ready(body: str) -> str:
    """``body`` with a status under its heading: the preview is below (announced after a
    reload, and a link to it for keyboard and screen-reader users)."""
    heading, end, rest = body.partition("</h1>")
    note = (
        '<div role="status"><p>Preview ready: check who it reaches and what they read, then '
        'send. <a href="#preview-title">Go to the preview</a></p></div>'
    )
    return heading + end + note + rest
