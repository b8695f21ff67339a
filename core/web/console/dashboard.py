"""``/console/incidents/{ref}``: the commander's live view of one incident.

What a commander asks during an incident, on one page: is the message getting out (deliveries
per state, channel and language), are people answering (inbound per interval), are the cases
under control (per severity and SLA state), who is working them (agents on duty, their load
and when their day passes end), and what happened (timeline, audit log for those who may read
it). ``/live`` answers the same parts as HTML for ``console.js`` every 2 s; only the short
summary at the top is a polite live region, so a screen reader is told the numbers, not every
table again.

Deliveries are counted per announcement with ``announcement_counts`` (index ranges on SQLite,
as ``ledger_counts`` does), never by reading every ledger row on each request.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from crisiscast.errors import CrisiscastError, NotFoundError
from crisiscast.incidents.agents.roster import list_agents, open_assignments
from crisiscast.incidents.broadcast.ledger_counts import announcement_counts
from crisiscast.incidents.cases.opening import CLOSED_STATUSES
from crisiscast.incidents.cases.sla import SlaState
from crisiscast.incidents.people.roles import allowed
from crisiscast.incidents.reporting.charts import Series, bar_chart
from crisiscast.incidents.reporting.render import STATUS_COLOURS
from crisiscast.incidents.store.database import get_incident
from crisiscast.incidents.store.models import (
    Announcement,
    AuditEvent,
    Case,
    InboundMessage,
    Incident,
    TimelineEvent,
)
from crisiscast.playbook import load_playbook
from crisiscast.web.api.convert import sla_state
from crisiscast.web.auth import Principal
from crisiscast.web.console.layout import (
    HEADERS,
    ConsoleContext,
    PageRefused,
    live_attrs,
    message,
    page,
    signed_in,
    table,
)

Counts = dict[str, dict[str, int]]  # channel or language -> ledger status -> count
# The states a commander reads, in this order; the ledger's "queued" is "pending" here.
STATES = ("sent", "delivered", "failed", "suppressed", "pending")
_LEDGER_STATE = {"queued": "pending"}
SEVERITIES = ("urgent", "high", "medium", "low")  # when the playbook cannot be read
SLA_STATES = ("breached", "due soon", "on time", "no target")
INBOUND_BUCKETS = 24  # intervals shown in the inbound chart (the latest ones)
TIMELINE_SHOWN = 15
AUDIT_SHOWN = 15
REF_SHOWN = 40  # characters of an unknown ref repeated back on the 404 page


@dataclass(frozen=True)
class CaseRow:
    """One case as the dashboard counts it: its severity, whether open, its SLA state."""

    severity: str
    open: bool
    sla: str  # one of SLA_STATES (for a closed case, how its clocks ended)


@dataclass(frozen=True)
class AgentRow:
    """An agent on duty and how loaded they are."""

    id: int
    name: str
    load: int
    capacity: int
    temporary: bool
    pass_ends: datetime | None


@dataclass(frozen=True)
class LogLine:
    at: datetime
    who: str
    what: str
    detail: str


@dataclass(frozen=True)
class Snapshot:
    """Everything the dashboard shows, read in one transaction, detached from the store."""

    ref: str
    title: str
    status: str
    exercise: bool
    languages: tuple[str, ...]
    opened_at: datetime
    severities: tuple[str, ...]
    deliveries: Mapping[str, Mapping[str, int]]  # channel -> ledger status -> count
    by_language: Mapping[str, Mapping[str, int]]  # language -> ledger status -> count
    inbound: tuple[datetime, ...]
    cases: tuple[CaseRow, ...]
    agents: tuple[AgentRow, ...]
    timeline: tuple[LogLine, ...]  # newest first
    audit: tuple[LogLine, ...] | None  # newest first; None: the role may not read it
    now: datetime


# --- figures (pure) -------------------------------------------------------------------------


def state_totals(counts: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    """Per dashboard state, over every channel or language of ``counts``."""
    totals = dict.fromkeys(STATES, 0)
    for row in counts.values():
        for status, n in _states(row).items():
            totals[status] = totals.get(status, 0) + n
    return totals


def _states(row: Mapping[str, int]) -> dict[str, int]:
    found = dict.fromkeys(STATES, 0)
    for status, n in row.items():
        state = _LEDGER_STATE.get(status, status)
        found[state] = found.get(state, 0) + n
    return found


def add_up(counts: Mapping[int, Mapping[str, int]], key: Mapping[int, str]) -> Counts:
    """Per-announcement counts added up by ``key`` (its channel or language), sorted."""
    found: dict[str, dict[str, int]] = {}
    for announcement, row in counts.items():
        into = found.setdefault(key.get(announcement, "unknown"), {})
        for status, n in row.items():
            into[status] = into.get(status, 0) + n
    return dict(sorted(found.items()))


def bucket_width(span: timedelta) -> timedelta:
    """Intervals small enough to see a surge, few enough to read: 5 minutes for the first two
    hours, then 15 minutes up to six hours, then an hour."""
    if span <= timedelta(hours=2):
        return timedelta(minutes=5)
    if span <= timedelta(hours=6):
        return timedelta(minutes=15)
    return timedelta(hours=1)


def inbound_buckets(
    times: Iterable[datetime], start: datetime, now: datetime, most: int = INBOUND_BUCKETS
) -> tuple[timedelta, list[tuple[datetime, int]]]:
    """Messages per interval from the incident's start to ``now`` (the latest ``most``
    intervals), with the interval's width; empty intervals count 0."""
    width = bucket_width(max(now - start, timedelta(0)))
    step = width.total_seconds()
    first = datetime.fromtimestamp(start.timestamp() // step * step, UTC)
    last = int(max((now - first).total_seconds(), 0) // step)
    counts: Counter[int] = Counter(
        int((t - first).total_seconds() // step) for t in times if t >= first
    )
    lo = max(last - most + 1, 0)
    return width, [(first + width * i, counts.get(i, 0)) for i in range(lo, last + 1)]


def sla_label(state: SlaState | None) -> str:
    """The words a commander reads for a case's worse clock."""
    if state in (SlaState.BREACHED, SlaState.MISSED):
        return "breached"
    if state is SlaState.NEARING:
        return "due soon"
    return "no target" if state is None else "on time"


def case_table(
    cases: Sequence[CaseRow], severities: Sequence[str]
) -> list[tuple[str, dict[str, int]]]:
    """Per severity: open cases by SLA state, then open and resolved totals."""
    found = list(severities) + sorted({c.severity for c in cases} - set(severities))
    rows = []
    for severity in found:
        mine = [c for c in cases if c.severity == severity]
        counts = {state: sum(1 for c in mine if c.open and c.sla == state) for state in SLA_STATES}
        counts["open"] = sum(1 for c in mine if c.open)
        counts["resolved"] = len(mine) - counts["open"]
        rows.append((severity, counts))
    return rows


# --- reading the store ----------------------------------------------------------------------


def read_snapshot(session: Session, ref: str, now: datetime, *, with_audit: bool) -> Snapshot:
    """The incident's dashboard figures; NotFoundError for an unknown or malformed ref."""
    incident = get_incident(session, ref)
    per_channel, per_language = _deliveries(session, incident.id)
    return Snapshot(
        ref=incident.ref,
        title=incident.title,
        status=str(incident.status.value),
        exercise=bool(incident.exercise),
        languages=tuple(incident.languages or ()),
        opened_at=incident.created_at,
        severities=_severities(incident),
        deliveries=per_channel,
        by_language=per_language,
        inbound=_inbound(session, incident),
        cases=_cases(session, incident.id, now),
        agents=_agents(session, now),
        timeline=_timeline(session, incident.id),
        audit=_audit(session, incident.id) if with_audit else None,
        now=now,
    )


def _inbound(session: Session, incident: Incident) -> tuple[datetime, ...]:
    query = select(InboundMessage.received_at).where(
        InboundMessage.incident_id == incident.id,
        InboundMessage.received_at >= incident.created_at,
    )
    return tuple(session.scalars(query))


def _severities(incident: Incident) -> tuple[str, ...]:
    try:
        playbook = load_playbook(incident.playbook_path)
    except CrisiscastError:
        return SEVERITIES
    return tuple(level.name for level in playbook.severity.levels)


def _deliveries(session: Session, incident_id: int) -> tuple[Counts, Counts]:
    """Per channel and per language, deliveries by ledger status (counted per announcement
    from the ledger's indexes: see ``announcement_counts``)."""
    counts = announcement_counts(session, incident_id)
    rows = session.execute(
        select(Announcement.id, Announcement.channel, Announcement.language).where(
            Announcement.incident_id == incident_id
        )
    ).all()
    channels = {a: str(channel) for a, channel, _ in rows}
    languages = {a: str(language) for a, _, language in rows}
    return add_up(counts, channels), add_up(counts, languages)


def _cases(session: Session, incident_id: int, now: datetime) -> tuple[CaseRow, ...]:
    found = session.scalars(select(Case).where(Case.incident_id == incident_id))
    return tuple(
        CaseRow(c.severity, c.resolved_at is None and c.status not in CLOSED_STATUSES,
                sla_label(sla_state(c, now)))
        for c in found
    )  # fmt: skip


def _agents(session: Session, now: datetime) -> tuple[AgentRow, ...]:
    """Agents on duty: active, and a temporary agent's day pass not yet ended."""
    load = Counter(a.agent_id for a in open_assignments(session))
    return tuple(
        AgentRow(a.id, a.name, load[a.id], a.capacity, bool(a.temporary), a.pass_expires_at)
        for a in list_agents(session, active_only=True)
        if a.pass_expires_at is None or a.pass_expires_at > now
    )


def _timeline(session: Session, incident_id: int) -> tuple[LogLine, ...]:
    rows = session.scalars(
        select(TimelineEvent)
        .where(TimelineEvent.incident_id == incident_id)
        .order_by(TimelineEvent.at.desc(), TimelineEvent.id.desc())
        .limit(TIMELINE_SHOWN)
    )
    return tuple(LogLine(e.at, "", e.kind.replace("_", " "), e.message) for e in rows)


def _audit(session: Session, incident_id: int) -> tuple[LogLine, ...]:
    rows = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.incident_id == incident_id)
        .order_by(AuditEvent.id.desc())
        .limit(AUDIT_SHOWN)
    )
    return tuple(LogLine(e.at, e.actor, e.action, e.subject or "") for e in rows)


def scroll_table(caption: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A data table in a region that scrolls sideways on a phone (the page itself does not:
    WCAG 1.4.10 lets a data table scroll), focusable so the keyboard can scroll it too."""
    return (
        f'<div class="table-scroll" role="region" tabindex="0" aria-label="{escape(caption)}">'
        f"{table(caption, headers, rows)}</div>"
    )


# --- HTML -----------------------------------------------------------------------------------


def _n(value: int) -> str:
    return f"{value:,}"


def _when(at: datetime | None) -> str:
    return "-" if at is None else at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _status_words(status: str) -> str:
    return status.replace("_", " ")


def counters_html(snap: Snapshot) -> str:
    """The inside of ``#delivery-totals``: one item per state, its number in ``#count-<state>``."""
    totals = state_totals(snap.deliveries)
    return "".join(
        f'<li><span class="value" id="count-{state}">{_n(totals[state])}</span> {state}</li>'
        for state in STATES
    )


def summary_html(snap: Snapshot) -> str:
    """One sentence for the live region: status, open cases, the pressing ones, breaches."""
    open_cases = [c for c in snap.cases if c.open]
    pressing = Counter(c.severity for c in open_cases if c.severity in snap.severities[:2])
    breached = sum(1 for c in open_cases if c.sla == "breached")
    worst = ", ".join(f"{pressing[s]} {s}" for s in snap.severities[:2] if pressing[s])
    return (
        f"Status: {escape(_status_words(snap.status))}. "
        f"Open cases: {len(open_cases)}{f' ({escape(worst)})' if worst else ''}; "
        f"SLA breached: {breached}. Inbound messages: {len(snap.inbound)}."
    )


def _chart(svg: str, data: str) -> str:
    return f'<figure class="chart">{svg}</figure>{data}'


def delivery_html(snap: Snapshot) -> str:
    """Per channel and per language: a chart and the table of its numbers."""
    channels = sorted(snap.deliveries)
    if not channels:
        return "<p>Nothing sent yet: no delivery in the ledger.</p>"
    per_channel = {c: _states(snap.deliveries[c]) for c in channels}
    shown = [s for s in STATES if any(per_channel[c][s] for c in channels)] or ["pending"]
    series = [
        Series(s, [float(per_channel[c][s]) for c in channels],
               STATUS_COLOURS[{"pending": "queued"}.get(s, s)])
        for s in shown
    ]  # fmt: skip
    svg = bar_chart("Deliveries per channel by state", "messages", channels, *series,
                    category_label="channel", chart_id="dash-deliveries")  # fmt: skip
    heads = ("Channel", "Total", *(s.capitalize() for s in STATES))
    rows = [
        [escape(c), _n(sum(per_channel[c].values())), *(_n(per_channel[c][s]) for s in STATES)]
        for c in channels
    ]
    languages = {lang: _states(row) for lang, row in snap.by_language.items()}
    lang_rows = [
        [escape(lang), _n(sum(row.values())), *(_n(row[s]) for s in STATES)]
        for lang, row in languages.items()
    ]
    return _chart(svg, scroll_table("Deliveries per channel", heads, rows)) + scroll_table(
        "Deliveries per language", ("Language", *heads[1:]), lang_rows
    )


def inbound_html(snap: Snapshot) -> str:
    width, buckets = inbound_buckets(snap.inbound, snap.opened_at, snap.now)
    minutes = int(width.total_seconds() // 60)
    if not snap.inbound:
        return "<p>No message has come in for this incident yet.</p>"
    names = [f"{at:%H:%M}" for at, _ in buckets]
    svg = bar_chart(f"Messages in per {minutes} minutes (UTC)", "messages", names,
                    Series("messages", [float(n) for _, n in buckets]),
                    category_label="from", chart_id="dash-inbound")  # fmt: skip
    rows = [[f"{at:%Y-%m-%d %H:%M}", _n(n)] for at, n in buckets]
    caption = f"Messages in per {minutes} minutes (UTC), latest {len(buckets)} intervals"
    return _chart(svg, scroll_table(caption, ("From (UTC)", "Messages"), rows))


def cases_html(snap: Snapshot) -> str:
    if not snap.cases:
        return "<p>No case yet.</p>"
    rows = case_table(snap.cases, snap.severities)
    svg = bar_chart(
        "Open cases per severity by SLA state", "cases", [s for s, _ in rows],
        *(Series(state, [float(c[state]) for _, c in rows], colour)
          for state, colour in zip(SLA_STATES, ("#D55E00", "#E69F00", "#009E73", "#999999"),
                                   strict=True)),
        category_label="severity", chart_id="dash-cases",
    )  # fmt: skip
    heads = ("Severity", "Open", "Breached", "Due soon", "On time", "No target", "Resolved")
    cells = [
        [f'<span class="sev-{escape(s)}">{escape(s)}</span>', _n(c["open"]), _n(c["breached"]),
         _n(c["due soon"]), _n(c["on time"]), _n(c["no target"]), _n(c["resolved"])]
        for s, c in rows
    ]  # fmt: skip
    caption = "Cases per severity; SLA states of the open ones"
    return _chart(svg, scroll_table(caption, heads, cells))


def agents_html(snap: Snapshot) -> str:
    if not snap.agents:
        return "<p>No agent is on duty.</p>"
    rows = [
        [escape(a.name), f"{a.load} of {a.capacity}", "day pass" if a.temporary else "staff",
         _when(a.pass_ends) if a.pass_ends else "-"]
        for a in snap.agents
    ]  # fmt: skip
    return scroll_table("Agents on duty", ("Agent", "Open cases", "Kind", "Pass ends"), rows)


def log_html(lines: Sequence[LogLine], caption: str, empty: str, *, audit: bool) -> str:
    if not lines:
        return f"<p>{escape(empty)}</p>"
    if audit:
        rows = [[_when(x.at), escape(x.who), escape(x.what), escape(x.detail)] for x in lines]
        return scroll_table(caption, ("When", "Who", "Action", "Subject"), rows)
    rows = [[_when(x.at), escape(x.what), escape(x.detail)] for x in lines]
    return scroll_table(caption, ("When", "What", "Details"), rows)


def parts(snap: Snapshot) -> dict[str, str]:
    """Every live part of the page by element id (the page and ``/live`` share these)."""
    found = {
        "delivery-totals": counters_html(snap),
        "live-summary": summary_html(snap),
        "part-deliveries": delivery_html(snap),
        "part-inbound": inbound_html(snap),
        "part-cases": cases_html(snap),
        "part-agents": agents_html(snap),
        "part-timeline": log_html(snap.timeline, f"Latest {TIMELINE_SHOWN} events, newest first",
                                  "Nothing on the timeline yet.", audit=False),
    }  # fmt: skip
    if snap.audit is not None:
        found["part-audit"] = log_html(snap.audit, f"Latest {AUDIT_SHOWN} entries, newest first",
                                       "No audit entry yet.", audit=True)  # fmt: skip
    return found


def _links(principal: Principal, ref: str) -> str:
    links = [
        ("Update this incident", f"/console/incidents/{ref}/update", "incident.update"),
        ("Stand down", f"/console/incidents/{ref}/stand-down", "incident.stand_down"),
        ("Cases", f"/console/cases?incident={ref}", "case.read"),
    ]
    items = "".join(
        f'<li><a href="{escape(href)}">{label}</a></li>'
        for label, href, action in links
        if allowed(principal.role, action)
    )
    return f'<nav aria-label="This incident"><ul class="actions">{items}</ul></nav>'


def dashboard_body(principal: Principal, snap: Snapshot) -> str:
    live = parts(snap)
    sections = [
        ("deliveries", "Delivery", "part-deliveries"),
        ("inbound", "Messages in", "part-inbound"),
        ("cases", "Cases", "part-cases"),
        ("agents", "Agents on duty", "part-agents"),
        ("timeline", "Timeline", "part-timeline"),
    ]
    if "part-audit" in live:
        sections.append(("audit", "Audit log", "part-audit"))
    body = "".join(
        f'<section aria-labelledby="h-{key}"><h2 id="h-{key}">{title}</h2>'
        f'<div id="{part}">{live[part]}</div></section>'
        for key, title, part in sections
    )
    exercise = "EXERCISE: " if snap.exercise else ""
    facts = (
        '<dl class="facts">'
        f"<dt>Status</dt><dd>{escape(_status_words(snap.status))}</dd>"
        f"<dt>Exercise</dt><dd>{'yes: nothing reaches the public' if snap.exercise else 'no'}</dd>"
        f"<dt>Languages</dt><dd>{escape(', '.join(snap.languages) or '-')}</dd>"
        f"<dt>Opened</dt><dd>{_when(snap.opened_at)}</dd></dl>"
    )
    return (
        f"<div {live_attrs(f'/console/incidents/{snap.ref}/live')}>"
        f"<h1>{exercise}{escape(snap.ref)}: {escape(snap.title)}</h1>{facts}"
        f"{_links(principal, snap.ref)}"
        '<section aria-labelledby="h-now"><h2 id="h-now">Now</h2>'
        '<div aria-live="polite">'
        f'<ul id="delivery-totals" class="counters">{live["delivery-totals"]}</ul>'
        f'<p id="live-summary">{live["live-summary"]}</p></div></section>'
        f"{body}</div>"
    )


# --- routes ---------------------------------------------------------------------------------


def not_found(principal: Principal, ref: str) -> HTMLResponse:
    """The 404 page for a ref that names no incident (shortened: it may be anything)."""
    shown = ref[:REF_SHOWN] + ("..." if len(ref) > REF_SHOWN else "")
    return message(
        principal, 404, "No such incident",
        f"There is no incident {shown!r}. Incident references look like INC-3: "
        "the incidents page lists them all.",
    )  # fmt: skip


def add_routes(router: APIRouter, ctx: ConsoleContext) -> None:
    """The dashboard page and its live parts."""

    def snapshot(ref: str, principal: Principal) -> Snapshot:
        with ctx.store.session() as session:
            return read_snapshot(session, ref, datetime.now(UTC),
                                 with_audit=allowed(principal.role, "audit.read"))  # fmt: skip

    @router.get("/console/incidents/{ref}")
    async def dashboard(request: Request, ref: str) -> HTMLResponse:
        principal = await signed_in(ctx, request, "incident.read")
        try:
            snap = await run_in_threadpool(snapshot, ref, principal)
        except NotFoundError:
            return not_found(principal, ref)
        title = f"{snap.ref}: {snap.title}"
        return page(principal, title, dashboard_body(principal, snap), current="/console")

    @router.get("/console/incidents/{ref}/live")
    async def live(request: Request, ref: str) -> Response:
        try:
            principal = await signed_in(ctx, request, "incident.read")
        except PageRefused as refused:
            if refused.response.status_code == 303:  # signed out: console.js goes to sign in
                return JSONResponse({"detail": "sign in again"}, 401, headers=HEADERS)
            raise
        try:
            snap = await run_in_threadpool(snapshot, ref, principal)
        except NotFoundError:
            return JSONResponse({"detail": "no such incident"}, 404, headers=HEADERS)
        return JSONResponse({"parts": parts(snap)}, headers=HEADERS)
