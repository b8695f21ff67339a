"""``/console/cases``: the case queue, most severe first and then oldest.

Filtered as the API's list is (``api.cases.case_query``: severity, status, language, agent,
incident) plus the SLA state computed now; a page at a time, keyset like the API
(``?after=<the last case shown>``), so a page never repeats or skips a case when new ones
arrive. Open cases by default (``status=all`` shows every status). The table refreshes live;
only a short summary ("3 urgent, 1 breached") is announced, never the whole table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import ColumnElement, Select, and_, case, or_, select, true
from sqlalchemy.orm import Session

from crisiscast.errors import CrisiscastError, NotFoundError
from crisiscast.incidents.agents.desk import DEFAULT_LEVELS
from crisiscast.incidents.cases.opening import CLOSED_STATUSES
from crisiscast.incidents.intake.inbound import PlaybookCache
from crisiscast.incidents.store.models import Agent, Case, Incident
from crisiscast.playbook.schema import DEFAULT_STATUSES
from crisiscast.web.api.cases import LANGUAGE, WORD, case_outs, case_query
from crisiscast.web.api.common import MAX_ID
from crisiscast.web.api.convert import sla_state
from crisiscast.web.api.models import CaseOut
from crisiscast.web.console.layout import (
    HEADERS,
    ConsoleContext,
    live_attrs,
    page,
    signed_in,
    table,
)
from crisiscast.web.request_checks import BadRequest

SHOWN = 50  # cases a page
SCAN = 500  # cases read at a time when the SLA filter (computed, not queried) is on
SUMMARY_SCAN = 5000  # cases counted for the summary; beyond that it says "over"
EVERY_STATUS = "all"  # ``status=all``: closed cases too (no status is called "all")
SLA_LABELS = {"breached": "Breached", "nearing": "Due soon", "on_track": "On track",
              "met": "Met", "missed": "Missed"}  # fmt: skip
SHOWN_LISTS = 500  # options offered in the agent and incident filters
# Playbooks by path, reread when the file changes: the live part asks for their severity
# levels every 2 seconds, and validating a playbook costs more than the rest of the answer.
PLAYBOOKS = PlaybookCache()


@dataclass(frozen=True)
class Filters:
    """What the queue shows, as typed in its form (empty: no filter)."""

    severity: str = ""
    sla: str = ""
    language: str = ""
    agent: str = ""
    incident: str = ""
    status: str = ""  # empty: open cases; "all": every status; else that status
    after: int = 0

    def link(self, after: int | None = None) -> str:
        """The queue's address with these filters (and another page's ``after``)."""
        values = {
            "severity": self.severity, "sla": self.sla, "language": self.language,
            "agent": self.agent, "incident": self.incident, "status": self.status,
            "after": str(after if after is not None else self.after or ""),
        }  # fmt: skip
        query = urlencode({k: v for k, v in values.items() if v and v != "0"})
        return "/console/cases" + (f"?{query}" if query else "")


@dataclass
class Options:
    """The choices the filter form offers (values the store holds)."""

    severities: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    agents: list[tuple[str, str]] = field(default_factory=list)  # (id, name)
    incidents: list[tuple[str, str]] = field(default_factory=list)  # (ref, title)


@dataclass
class Queue:
    """One page of the queue, or the problem with the filters (``status`` is the answer's)."""

    filters: Filters
    ranks: dict[str, int] = field(default_factory=dict)
    cases: list[CaseOut] = field(default_factory=list)
    agents: dict[int, str] = field(default_factory=dict)
    next_after: int | None = None
    summary: str = ""
    options: Options = field(default_factory=Options)
    problem: str | None = None
    status: int = 200


def parse_filters(params: Mapping[str, str]) -> Filters:
    """The filters in a query string; BadRequest (400) names the field that is wrong."""
    if any("\x00" in k or "\x00" in v for k, v in params.items()):
        raise BadRequest(400, "The address holds a NUL character: choose the filters again.")
    got = {k: params.get(k, "").strip() for k in
           ("severity", "sla", "language", "agent", "incident", "status", "after")}  # fmt: skip
    checks = (
        ("severity", got["severity"], 20, WORD, "a severity name such as urgent"),
        ("status", got["status"], 50, WORD, "a status name such as acknowledged, or all"),
        ("language", got["language"], 20, LANGUAGE, "a language code such as th"),
        ("agent", got["agent"], 10, r"^[0-9]+$", "an agent's number"),
        ("incident", got["incident"], 20, r"^\S+$", "an incident reference such as INC-3"),
        ("after", got["after"], 10, r"^[0-9]+$", "the case number of the previous page"),
    )
    for name, value, longest, pattern, want in checks:
        if value and (len(value) > longest or not re.match(pattern, value)):
            raise BadRequest(400, f"Filter {name}: {value[:40]!r} is not {want}.")
    if got["sla"] and got["sla"] not in SLA_LABELS:
        raise BadRequest(400, f"Filter sla: {got['sla'][:40]!r} is not one of "
                         f"{', '.join(SLA_LABELS)}.")  # fmt: skip
    for name in ("agent", "after"):
        if got[name] and not 0 < int(got[name]) <= MAX_ID:
            raise BadRequest(400, f"Filter {name}: {got[name]} is not a number in use.")
    return Filters(got["severity"], got["sla"], got["language"], got["agent"],
                   got["incident"], got["status"], int(got["after"] or 0))  # fmt: skip


def severity_ranks(levels: Iterable[Sequence[str]]) -> dict[str, int]:
    """Each severity name's rank across playbooks (0: most severe); a name takes its most
    severe rank in any playbook, so "urgent first" holds for every incident at once."""
    ranks: dict[str, int] = {}
    for names in levels:
        for rank, name in enumerate(names):
            ranks[name] = min(rank, ranks.get(name, rank))
    return ranks


def summary_text(total: int, cut: bool, top: str, urgent: int, breached: int, soon: int) -> str:
    """The sentence a screen reader announces when the queue changes."""
    count = f"Over {total}" if cut else str(total)
    noun = "case" if total == 1 and not cut else "cases"
    return f"{count} {noun}: {urgent} {top}, {breached} breached, {soon} due soon."


def add_routes(router: APIRouter, ctx: ConsoleContext) -> None:
    """The queue and its live part (registered before the case view's ``{case_id}``)."""

    @router.get("/console/cases")
    async def queue(request: Request) -> HTMLResponse:
        principal = await signed_in(ctx, request, "case.read")
        found = await run_in_threadpool(
            _read, ctx, request.query_params, datetime.now(UTC), options=True
        )
        return page(principal, "Cases", _body(found), status=found.status,
                    current="/console/cases")  # fmt: skip

    @router.get("/console/cases/live")
    async def live(request: Request) -> JSONResponse:
        await signed_in(ctx, request, "case.read")
        found = await run_in_threadpool(
            _read, ctx, request.query_params, datetime.now(UTC), options=False
        )
        if found.problem is not None:
            return JSONResponse({"detail": found.problem}, status_code=found.status,
                                headers=HEADERS)  # fmt: skip
        parts = {"queue-summary": escape(found.summary), "queue-table": _table(found)}
        return JSONResponse({"parts": parts}, headers=HEADERS)


def _read(ctx: ConsoleContext, params: Mapping[str, str], now: datetime, *,
          options: bool) -> Queue:  # fmt: skip
    """The page of the queue the parameters ask for (or why not), in one transaction."""
    with ctx.store.session() as session:
        found = Queue(Filters())
        try:
            found = Queue(parse_filters(params))
            found.ranks = _ranks(session)
            _fill(session, found, now)
        except BadRequest as exc:
            found.problem, found.status = str(exc), exc.status
        except NotFoundError as exc:
            found.problem, found.status = f"Filter incident: {exc}", 404
        if options:
            found.options = _options(session, found.ranks or _ranks(session))
        return found


def _ranks(session: Session) -> dict[str, int]:
    """Severity ranks of the playbooks of every incident that has cases, and the defaults."""
    paths = session.scalars(
        select(Incident.playbook_path)
        .where(Incident.id.in_(select(Case.incident_id).distinct()))
        .distinct()
    ).all()
    levels: list[Sequence[str]] = [DEFAULT_LEVELS]
    for path in paths:
        try:
            playbook, _ = PLAYBOOKS.get(path)
            levels.append([level.name for level in playbook.severity.levels])
        except CrisiscastError:
            continue  # a playbook moved since the launch: its cases rank by the defaults
    return severity_ranks(levels)


def _fill(session: Session, found: Queue, now: datetime) -> None:
    filters, ranks = found.filters, found.ranks
    status = None if filters.status in ("", EVERY_STATUS) else filters.status
    query = case_query(
        session,
        severity=filters.severity or None,
        status=status,
        language=filters.language or None,
        agent=int(filters.agent) if filters.agent else None,
        incident=filters.incident or None,
    )
    if filters.status == "":
        query = query.where(Case.resolved_at.is_(None), Case.status.not_in(CLOSED_STATUSES))
    rank = case(ranks, value=Case.severity, else_=len(ranks))
    start: ColumnElement[bool] = true()
    if filters.after:
        last = session.get(Case, filters.after)
        if last is None:
            raise BadRequest(400, f"Filter after: case {filters.after} does not exist; "
                             "start again from the first page.")  # fmt: skip
        start = _beyond(rank, ranks, last)
    found_cases: list[Case] = []
    while len(found_cases) <= SHOWN:
        batch = session.scalars(
            query.where(start).order_by(rank, Case.opened_at, Case.id)
            .limit(SCAN if filters.sla else SHOWN + 1)
        ).all()  # fmt: skip
        found_cases += [c for c in batch if not filters.sla or sla_state(c, now) == filters.sla]
        if not batch or not filters.sla:
            break
        start = _beyond(rank, ranks, batch[-1])
    shown = found_cases[:SHOWN]
    found.cases = case_outs(session, shown, now)
    found.next_after = shown[-1].id if len(found_cases) > SHOWN and shown else None
    held = {c.agent_id for c in found.cases if c.agent_id is not None}
    found.agents = {a.id: a.name for a in session.scalars(select(Agent).where(Agent.id.in_(held)))}
    found.summary = _summary(session, query, ranks, filters.sla, now)


def _beyond(rank: ColumnElement[int], ranks: Mapping[str, int], last: Case) -> ColumnElement[bool]:
    """Cases after ``last`` in the queue's order (rank, opened, id): the keyset condition."""
    level = ranks.get(last.severity, len(ranks))
    later = or_(Case.opened_at > last.opened_at,
                and_(Case.opened_at == last.opened_at, Case.id > last.id))  # fmt: skip
    return or_(rank > level, and_(rank == level, later))


def _summary(session: Session, query: Select[Case], ranks: Mapping[str, int],
             sla: str, now: datetime) -> str:  # fmt: skip
    """Counted on every case the filters match (up to ``SUMMARY_SCAN``), not just this page."""
    cases = session.scalars(query.limit(SUMMARY_SCAN + 1)).all()
    states = [sla_state(c, now) for c in cases[:SUMMARY_SCAN]]
    pairs = [(c, s) for c, s in zip(cases, states, strict=False) if not sla or s == sla]
    top = [name for name, rank in ranks.items() if rank == 0]
    return summary_text(
        len(pairs),
        len(cases) > SUMMARY_SCAN,
        " or ".join(top) or "urgent",
        sum(1 for c, _ in pairs if ranks.get(c.severity) == 0),
        sum(1 for _, s in pairs if s == "breached"),
        sum(1 for _, s in pairs if s == "nearing"),
    )


def _options(session: Session, ranks: Mapping[str, int]) -> Options:
    statuses = session.scalars(select(Case.status).distinct()).all()
    languages = session.scalars(select(Case.language).distinct()).all()
    agents = session.scalars(select(Agent).order_by(Agent.name, Agent.id).limit(SHOWN_LISTS))
    incidents = session.scalars(select(Incident).order_by(Incident.id.desc()).limit(SHOWN_LISTS))
    return Options(
        severities=sorted(ranks, key=lambda name: (ranks[name], name)),
        statuses=sorted(set(statuses) | set(DEFAULT_STATUSES)),
        languages=sorted(x for x in languages if x),
        agents=[(str(a.id), a.name) for a in agents],
        incidents=[(i.ref, i.title) for i in incidents],
    )


def _select(name: str, label: str, chosen: str, choices: Iterable[tuple[str, str]]) -> str:
    """A labelled select; a chosen value the store no longer offers stays chosen."""
    pairs = list(choices)
    if chosen and chosen not in {value for value, _ in pairs}:
        pairs.append((chosen, chosen))
    options = "".join(
        f'<option value="{escape(value)}"{" selected" if value == chosen else ""}>'
        f"{escape(text)}</option>"
        for value, text in pairs
    )
    return (f'<div><label for="f-{name}">{label}</label>'
            f'<select id="f-{name}" name="{name}">{options}</select></div>')  # fmt: skip


def _form(filters: Filters, options: Options) -> str:
    any_ = [("", "Any")]
    selects = [
        _select("severity", "Severity", filters.severity,
                any_ + [(s, s) for s in options.severities]),
        _select("sla", "SLA", filters.sla, any_ + list(SLA_LABELS.items())),
        _select("language", "Language", filters.language,
                any_ + [(x, x) for x in options.languages]),
        _select("agent", "Agent", filters.agent, any_ + options.agents),
        _select("incident", "Incident", filters.incident,
                any_ + [(ref, f"{ref}: {title}") for ref, title in options.incidents]),
        _select("status", "Status", filters.status,
                [("", "Open cases"), (EVERY_STATUS, "Every status")]
                + [(s, s) for s in options.statuses]),
    ]  # fmt: skip
    return (
        '<form method="get" action="/console/cases" class="case-filters">'
        f'<div class="filter-grid">{"".join(selects)}</div>'
        '<div class="actions"><button type="submit">Show cases</button>'
        '<a href="/console/cases">Clear the filters</a></div></form>'
    )


def _severity(name: str, ranks: Mapping[str, int]) -> str:
    style = {0: "sev-urgent", 1: "sev-high"}.get(ranks.get(name, -1))
    return f'<span class="{style}">{escape(name)}</span>' if style else escape(name)


def _table(found: Queue) -> str:
    """The page of cases and the way to the next one (the live part ``queue-table``)."""
    if not found.cases:
        return "<p>No case matches these filters.</p>"
    headers = ("Case", "Severity", "SLA", "Status", "Language", "Agent", "Incident", "Opened (UTC)")
    rows = [
        [
            f'<a href="/console/cases/{c.id}">Case {c.id}</a>',
            _severity(c.severity, found.ranks),
            escape(SLA_LABELS.get(c.sla or "", "No target")),
            escape(c.status),
            escape(c.language or "not known"),
            escape(found.agents.get(c.agent_id, "nobody") if c.agent_id else "nobody"),
            escape(c.incident or "none"),
            c.opened_at.strftime("%d %b %H:%M"),
        ]
        for c in found.cases
    ]
    # On a phone the rows stack as cards: each value shows its column's name (for the eye
    # only: a screen reader has the header already).
    labelled = [
        [row[0]] + [f'<span class="cell-label" aria-hidden="true">{h}: </span>{v}'
                    for h, v in zip(headers[1:], row[1:], strict=True)]
        for row in rows
    ]  # fmt: skip
    grid = table("Cases, most severe first, then oldest", headers, labelled)
    pages = []
    if found.filters.after:
        pages.append(f'<a href="{escape(found.filters.link(after=0))}">First page</a>')
    if found.next_after is not None:
        pages.append(f'<a href="{escape(found.filters.link(after=found.next_after))}">'
                     "Next page</a>")  # fmt: skip
    more = f'<nav aria-label="Pages" class="actions">{"".join(pages)}</nav>' if pages else ""
    return grid + more


def _body(found: Queue) -> str:
    form = _form(found.filters, found.options)
    if found.problem is not None:
        return (f"<h1>Cases</h1><div role=\"alert\"><p>{escape(found.problem)}</p></div>"
                f"{form}")  # fmt: skip
    live_url = "/console/cases/live" + found.filters.link().removeprefix("/console/cases")
    return (
        "<h1>Cases</h1>"
        f'<p id="queue-summary" aria-live="polite" aria-atomic="true">{escape(found.summary)}</p>'
        f"{form}"
        f'<div id="queue-table" {live_attrs(live_url)}>{_table(found)}</div>'
        '<p class="hint">The list refreshes by itself every 2 seconds.</p>'
    )
