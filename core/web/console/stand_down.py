"""``/console/incidents/{ref}/stand-down``: end an incident without leaving anyone behind.

Standing down sends the all-clear, takes the banner down, releases temporary agents, asks the
satisfaction question and closes the incident (``flows/stand_down.py``, through the API's own
``actions.stand_down`` so the audit entry is the same). Open urgent and high cases are people
still waiting: the page lists them first and asks what happens to them, either handed to one
agent on duty (paged for each) or kept on the incident under the SLA sweep, which goes on
escalating them after the closure. Three steps: choose, confirm, the result in words.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from crisiscast.errors import CrisiscastError, NotFoundError
from crisiscast.incidents.agents.roster import list_agents, open_assignments
from crisiscast.incidents.agents.stand_down import describe, pressing_cases
from crisiscast.incidents.store.database import get_incident
from crisiscast.incidents.store.models import Case, IncidentStatus
from crisiscast.playbook import load_playbook
from crisiscast.web.api import actions
from crisiscast.web.api.common import Context
from crisiscast.web.auth import Principal, requirer
from crisiscast.web.console.dashboard import not_found, scroll_table
from crisiscast.web.console.layout import (
    ConsoleContext,
    csrf_field,
    message,
    page,
    read_form,
    signed_in,
)

HAND_OVER, KEEP = "hand_over", "keep"


@dataclass(frozen=True)
class Pressing:
    """An open urgent or high case as the page lists it."""

    id: int
    severity: str
    status: str
    holder: str | None
    opened_at: datetime


@dataclass(frozen=True)
class Taker:
    """A permanent agent on duty who could take the pressing cases."""

    id: int
    name: str
    load: int


@dataclass(frozen=True)
class Situation:
    """The incident as the stand-down page needs it."""

    ref: str
    title: str
    status: str
    closed_at: datetime | None
    pressing: tuple[Pressing, ...]
    takers: tuple[Taker, ...]


@dataclass(frozen=True)
class Choice:
    """What the commander chose for the pressing cases (agent None: keep them escalating)."""

    agent: Taker | None


class FormProblem(ValueError):
    """A form field the page cannot act on: the message names the field and what to do."""


def age(opened_at: datetime, now: datetime) -> str:
    """How long a case has waited, as a commander reads it ("1 h 05 min", "12 min")."""
    minutes = max(int((now - opened_at) / timedelta(minutes=1)), 0)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def choose(form: Mapping[str, str], situation: Situation) -> Choice:
    """The commander's choice from the form; FormProblem naming the field otherwise.

    With no pressing case there is nothing to choose: the cases are kept (nothing to keep)."""
    if not situation.pressing:
        return Choice(None)
    fate = form.get("cases", "")
    if fate == KEEP:
        return Choice(None)
    if fate != HAND_OVER:
        raise FormProblem(
            "Choose what happens to the open urgent and high cases (field cases): hand them "
            "over to an agent on duty, or keep them escalating."
        )
    wanted = form.get("agent", "")
    for taker in situation.takers:
        if wanted == str(taker.id):
            return Choice(taker)
    raise FormProblem(
        "Choose the agent who takes the open urgent and high cases (field agent): one of "
        "the agents on duty listed on the page."
    )


def read_situation(session: Session, ref: str) -> Situation:
    """The incident, its pressing cases and who could take them; NotFoundError if unknown."""
    incident = get_incident(session, ref)
    found: list[Pressing] = []
    if incident.status != IncidentStatus.CLOSED:
        playbook = load_playbook(incident.playbook_path)
        listed = pressing_cases(session, incident, playbook)
        opened = dict(session.execute(
            select(Case.id, Case.opened_at).where(Case.id.in_([p.id for p in listed]))
        ).all())  # fmt: skip
        found = [Pressing(p.id, p.severity, p.status, p.holder, opened[p.id]) for p in listed]
    load: dict[int, int] = {}
    for held in open_assignments(session):
        load[held.agent_id] = load.get(held.agent_id, 0) + 1
    takers = tuple(
        Taker(a.id, a.name, load.get(a.id, 0))
        for a in list_agents(session, active_only=True)
        if not a.temporary
    )
    return Situation(incident.ref, incident.title, str(incident.status.value),
                     incident.closed_at, tuple(found), takers)  # fmt: skip


# --- HTML -----------------------------------------------------------------------------------


def _when(at: datetime | None) -> str:
    return "-" if at is None else at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def pressing_html(situation: Situation, now: datetime) -> str:
    """The warning and the list of open urgent and high cases (nothing when there are none)."""
    if not situation.pressing:
        return "<p>No urgent or high case is open.</p>"
    rows = [
        [f'<a href="/console/cases/{p.id}">Case {p.id}</a>',
         f'<span class="sev-{escape(p.severity)}">{escape(p.severity)}</span>',
         escape(p.holder or "nobody"), escape(p.status.replace("_", " ")),
         age(p.opened_at, now)]
        for p in situation.pressing
    ]  # fmt: skip
    n = len(situation.pressing)
    warning = (
        f'<div role="alert" id="pressing-warning"><p><strong>{n} open urgent or high '
        f"case{'s' if n != 1 else ''}</strong>: people are still waiting on "
        f"{'them' if n != 1 else 'it'}. Choose below what happens to "
        f"{'them' if n != 1 else 'it'} before you stand down."
        "</p></div>"
    )
    return warning + scroll_table(
        "Open urgent and high cases", ("Case", "Severity", "Agent", "Status", "Waiting"), rows
    )


def choice_fields(situation: Situation) -> str:
    """The radio buttons and the agent list for the pressing cases."""
    if not situation.pressing:
        return ""
    if situation.takers:
        options = "".join(
            f'<option value="{t.id}">{escape(t.name)} ({t.load} open '
            f"case{'s' if t.load != 1 else ''})</option>"
            for t in situation.takers
        )
        hand = (
            f'<input type="radio" name="cases" id="cases-hand" value="{HAND_OVER}" checked>'
            '<label class="inline" for="cases-hand">Hand them over to this agent on duty '
            "(paged for each case)</label>"
            '<label for="agent">Agent who takes them</label>'
            f'<select id="agent" name="agent">{options}</select>'
        )
    else:
        hand = '<p class="hint">No permanent agent is on duty to hand them to.</p>'
    keep_checked = "" if situation.takers else " checked"
    keep = (
        f'<input type="radio" name="cases" id="cases-keep" value="{KEEP}"{keep_checked}>'
        '<label class="inline" for="cases-keep">Keep them on the incident, escalating under '
        "the SLA sweep after the closure</label>"
    )
    return (
        "<fieldset><legend>The open urgent and high cases</legend>"
        f'<div class="choice">{hand}</div><div class="choice">{keep}</div></fieldset>'
    )


def closed_body(situation: Situation, principal: Principal) -> str:
    return (
        f"<h1>Stand down {escape(situation.ref)}</h1>"
        f'<div role="status"><p>{escape(situation.ref)} is closed '
        f"(since {_when(situation.closed_at)}): there is nothing to stand down.</p></div>"
        f'<p><a href="/console/incidents/{escape(situation.ref)}">Back to the incident</a></p>'
    )


def choose_body(situation: Situation, principal: Principal, now: datetime) -> str:
    """Step 1: what standing down does, the pressing cases, the choice."""
    ref = escape(situation.ref)
    resume = (
        "<p>This incident is already standing down: standing down again finishes what was "
        "left undone (nothing is sent twice).</p>"
        if situation.status == IncidentStatus.STANDING_DOWN
        else ""
    )
    return (
        f"<h1>Stand down {ref}: {escape(situation.title)}</h1>{resume}"
        "<p>Standing down sends the all-clear on every channel, takes the banner down, releases "
        "temporary agents, asks customers whose cases were resolved how we did, and closes the "
        "incident.</p>"
        f'<h2 id="h-pressing">Open urgent and high cases</h2>{pressing_html(situation, now)}'
        f'<form method="post" action="/console/incidents/{ref}/stand-down">'
        f'{csrf_field(principal)}<input type="hidden" name="step" value="review">'
        f"{choice_fields(situation)}"
        '<div class="actions"><button type="submit">Review the stand-down</button>'
        f'<a href="/console/incidents/{ref}">Cancel</a></div></form>'
    )


def confirm_body(situation: Situation, principal: Principal, choice: Choice) -> str:
    """Step 2: say exactly what will happen; one button does it."""
    ref = escape(situation.ref)
    n = len(situation.pressing)
    if not n:
        fate = "No urgent or high case is open."
    elif choice.agent is not None:
        fate = (
            f"The {n} open urgent or high case{'s' if n != 1 else ''} go to "
            f"{escape(choice.agent.name)}, who is paged for each."
        )
    else:
        fate = (
            f"The {n} open urgent or high case{'s' if n != 1 else ''} stay on the incident; "
            "the SLA sweep goes on escalating them after the closure."
        )
    hidden = f'<input type="hidden" name="cases" value="{HAND_OVER if choice.agent else KEEP}">' + (
        f'<input type="hidden" name="agent" value="{choice.agent.id}">' if choice.agent else ""
    )
    return (
        f"<h1>Confirm: stand down {ref}</h1>"
        f'<div role="status"><p>You are about to stand {ref} down: the all-clear goes to '
        f"everyone the incident reached, and the incident closes. {fate}</p></div>"
        f'<form method="post" action="/console/incidents/{ref}/stand-down">'
        f'{csrf_field(principal)}<input type="hidden" name="step" value="confirm">{hidden}'
        '<div class="actions"><button type="submit" class="danger">Stand down now</button>'
        f'<a href="/console/incidents/{ref}/stand-down">Back</a></div></form>'
    )


def result_body(ref: str, result: Mapping[str, Any], taker: Taker | None) -> str:
    """Step 3: what was done, in the words the CLI and the timeline use (and the name of the
    agent who took the pressing cases, which those words give as a number)."""
    said = describe(result)
    if taker is not None and result.get("pressing"):
        said.append(f"{taker.name} took the open urgent and high cases.")
    lines = "".join(f"<li>{escape(line)}</li>" for line in said)
    return (
        f"<h1>{escape(ref)} stood down</h1>"
        f'<div role="status"><p>Done. {escape(ref)} is closed.</p><ul>{lines}</ul></div>'
        f'<p><a href="/console/incidents/{escape(ref)}">Back to the incident</a></p>'
    )


# --- routes ---------------------------------------------------------------------------------


def add_routes(router: APIRouter, ctx: ConsoleContext) -> None:
    """The stand-down page: choose, confirm, result."""
    api = Context(ctx.settings, ctx.store, requirer(ctx.store, ctx.serve_token))

    def situation_of(ref: str) -> Situation:
        with ctx.store.session() as session:
            return read_situation(session, ref)

    async def load(principal: Principal, ref: str) -> Situation | HTMLResponse:
        try:
            return await run_in_threadpool(situation_of, ref)
        except NotFoundError:
            return not_found(principal, ref)
        except CrisiscastError as exc:  # the playbook moved or broke since the launch
            return message(principal, 409, "Cannot stand down from here", str(exc))

    @router.get("/console/incidents/{ref}/stand-down")
    async def stand_down_page(request: Request, ref: str) -> HTMLResponse:
        principal = await signed_in(ctx, request, "incident.stand_down")
        now = datetime.now(UTC)
        found = await load(principal, ref)
        if isinstance(found, HTMLResponse):
            return found
        title = f"Stand down {found.ref}"
        if found.status == IncidentStatus.CLOSED:
            return page(principal, title, closed_body(found, principal))
        return page(principal, title, choose_body(found, principal, now))

    @router.post("/console/incidents/{ref}/stand-down")
    async def stand_down_post(request: Request, ref: str) -> HTMLResponse:
        principal = await signed_in(ctx, request, "incident.stand_down")
        form = await read_form(request, principal)
        found = await load(principal, ref)
        if isinstance(found, HTMLResponse):
            return found
        title = f"Stand down {found.ref}"
        if found.status == IncidentStatus.CLOSED:
            return page(principal, title, closed_body(found, principal), status=409)
        try:
            choice = choose(form, found)
        except FormProblem as exc:
            return message(principal, 400, "Not accepted", str(exc))
        step = form.get("step", "")
        if step == "review":
            return page(principal, f"Confirm: {title}", confirm_body(found, principal, choice))
        if step != "confirm":
            text = "The form has no step (field step): open the stand-down page again."
            return message(principal, 400, "Not accepted", text)
        agent = choice.agent.id if choice.agent else None
        try:
            result = await run_in_threadpool(
                actions.stand_down, api, found.ref, principal.actor, agent
            )
        except HTTPException as exc:  # the API's errors, already in words (actions.stand_down)
            return message(principal, 409, "Not stood down", f"{found.ref}: {exc.detail}")
        except CrisiscastError as exc:  # from the flow (an agent gone off duty, say)
            return message(principal, 409, "Not stood down", f"{found.ref}: {exc}")
        body = result_body(found.ref, result, choice.agent)
        return page(principal, f"{found.ref} stood down", body)
