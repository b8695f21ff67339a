"""The incident report's figures, computed from plain data, and collected from the store.

:class:`ReportData` is everything the report shows, detached from the database, so the figures
(:func:`figures`) are pure and testable with hand-made cases. :func:`collect` fills it from
a Session with a few GROUP BY / SELECT queries. Rendering to Markdown and HTML with charts is
in :mod:`crisiscast.incidents.reporting.render`.

Times are wall-clock (opened -> first response / resolution), as a customer lived them; SLA
breaches use the SLA clocks, which pause while a case waits on the customer.

Breaches are counted as of the incident's own record, never the wall clock alone: "as of" is
the later of the report's time and the last recorded event, so a sweep that ran on a simulated
clock (the demo's "45 minutes later") counts; and every case the sweep escalated for a breach
(its ``sla_action`` events) counts as breached on that clock. Escalations are the recorded
``sla_action`` events, with those taken after the closure told apart.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from crisiscast.channels.masking import mask_address
from crisiscast.errors import CrisiscastError
from crisiscast.incidents.cases.after_close import CSAT_RESPONSE_EVENT
from crisiscast.incidents.cases.sla import Clock, SlaState, SlaTimer, check
from crisiscast.incidents.people.audit import events as audit_events
from crisiscast.incidents.reporting.summary import TimelineEntry
from crisiscast.incidents.store.models import (
    Agent,
    Assignment,
    Case,
    Delivery,
    Incident,
    TimelineEvent,
)
from crisiscast.playbook import load_playbook

CSAT_EVENT = CSAT_RESPONSE_EVENT  # timeline kind whose data holds {"score": 1..5, "case_id"}
ESCALATION_EVENT = "sla_action"  # the sweep's actions (crisiscast.incidents.agents.sweep)
AUDIT_LIMIT = 10_000  # audit lines in one report
_TRIGGER_CLOCKS = {"first_response_breach": Clock.FIRST_RESPONSE,
                   "resolution_breach": Clock.RESOLUTION}  # fmt: skip
KNOWN_SEVERITIES = ("urgent", "high", "medium", "low")
DELIVERED = "delivered"


@dataclass(frozen=True)
class CaseFacts:
    """One case, reduced to what the report counts (no contact details: only an id)."""

    id: int
    severity: str
    channel: str
    contact_id: int | None
    opened_at: datetime
    first_response_due: datetime | None = None
    resolution_due: datetime | None = None
    first_responded_at: datetime | None = None
    resolved_at: datetime | None = None
    paused_at: datetime | None = None
    paused_total_seconds: int = 0


@dataclass(frozen=True)
class AgentLoad:
    name: str
    temporary: bool
    assigned: int  # distinct cases ever assigned
    acked: int  # of which acknowledged


@dataclass(frozen=True)
class Escalation:
    """One recorded escalation (``sla_action``): what, for which case, and when."""

    at: datetime
    case_id: int
    kind: str  # repage | page_backup | notify_commander | remind_customer
    trigger: str  # first_response_breach | resolution_breach | customer_quiet
    after_close: bool


@dataclass(frozen=True)
class AuditLine:
    """One audit log entry as the report exports it (no contact details)."""

    at: datetime
    actor: str
    action: str
    subject: str
    source: str
    detail: str


@dataclass(frozen=True)
class ReportData:
    """Everything the report shows, detached from the database."""

    ref: str
    title: str
    playbook_id: str
    created_at: datetime
    stood_down_at: datetime | None
    generated_at: datetime
    severities: tuple[str, ...]  # most severe first
    timeline: tuple[TimelineEntry, ...]
    deliveries: Mapping[str, Mapping[str, int]]  # channel -> status -> count
    cases: tuple[CaseFacts, ...]
    csat: tuple[int, ...]
    agents: tuple[AgentLoad, ...]
    exercise: bool = False
    closed_at: datetime | None = None
    timezone: str = "UTC"  # IANA name the report shows times in (the playbook's)
    escalations: tuple[Escalation, ...] = ()
    audit: tuple[AuditLine, ...] = ()

    @property
    def as_of(self) -> datetime:
        """The moment breaches are counted at: the report's time or the last recorded event,
        whichever is later (a simulated clock's events are later than the wall clock)."""
        last = max((e.at for e in self.timeline), default=self.generated_at)
        return max(self.generated_at, last)


@dataclass(frozen=True)
class Times:
    """Median and 90th percentile (nearest rank) of a set of durations."""

    count: int
    median: timedelta | None
    p90: timedelta | None


@dataclass(frozen=True)
class Csat:
    count: int
    mean: float | None
    distribution: Mapping[int, int]  # score 1..5 -> answers
    satisfied: float | None  # share of 4 and 5


@dataclass(frozen=True)
class Figures:
    cases_by_severity_channel: Mapping[str, Mapping[str, int]]
    first_response: Mapping[str, Times]
    resolution: Mapping[str, Times]
    breaches: Mapping[str, Mapping[Clock, int]]
    open_cases: int
    cases_per_customer: Mapping[int, int]  # cases per customer -> customers
    csat: Csat
    escalations: Mapping[str, int] = field(default_factory=dict)  # kind -> actions
    escalations_after_close: int = 0


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile: an observed value, never an interpolation (q in (0, 100])."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    return ordered[max(math.ceil(q / 100 * len(ordered)) - 1, 0)]


def times(durations: Iterable[timedelta]) -> Times:
    seconds = [d.total_seconds() for d in durations]
    if not seconds:
        return Times(0, None, None)
    median = timedelta(seconds=statistics.median(seconds))
    return Times(len(seconds), median, timedelta(seconds=percentile(seconds, 90)))


def _timer(case: CaseFacts) -> SlaTimer:
    return SlaTimer(
        case.opened_at,
        case.first_response_due,
        case.resolution_due,
        case.first_responded_at,
        case.resolved_at,
        case.paused_at,
        timedelta(seconds=case.paused_total_seconds),
    )


def _breached(case: CaseFacts, clock: Clock, now: datetime) -> bool:
    state = check(_timer(case), clock, now, nearing_within=timedelta(0))
    return state in (SlaState.BREACHED, SlaState.MISSED)


def csat(scores: Iterable[int]) -> Csat:
    valid = [s for s in scores if 1 <= s <= 5]
    distribution = {score: valid.count(score) for score in range(1, 6)}
    if not valid:
        return Csat(0, None, distribution, None)
    satisfied = sum(1 for s in valid if s >= 4) / len(valid)
    return Csat(len(valid), statistics.fmean(valid), distribution, satisfied)


def figures(data: ReportData) -> Figures:
    """Every number in the report, from the data alone (as of ``data.as_of``)."""
    now = data.as_of
    escalated = {(e.case_id, _TRIGGER_CLOCKS[e.trigger]) for e in data.escalations
                 if e.trigger in _TRIGGER_CLOCKS}  # fmt: skip
    by_severity: dict[str, dict[str, int]] = {}
    first: dict[str, list[timedelta]] = {s: [] for s in data.severities}
    done: dict[str, list[timedelta]] = {s: [] for s in data.severities}
    breaches = {s: dict.fromkeys(Clock, 0) for s in data.severities}
    for case in data.cases:
        row = by_severity.setdefault(case.severity, {})
        row[case.channel] = row.get(case.channel, 0) + 1
        if case.first_responded_at is not None:
            first.setdefault(case.severity, []).append(case.first_responded_at - case.opened_at)
        if case.resolved_at is not None:
            done.setdefault(case.severity, []).append(case.resolved_at - case.opened_at)
        counts = breaches.setdefault(case.severity, dict.fromkeys(Clock, 0))
        for clock in Clock:
            counts[clock] += (case.id, clock) in escalated or _breached(case, clock, now)
    per_customer = Counter(c.contact_id for c in data.cases if c.contact_id is not None)
    return Figures(
        cases_by_severity_channel=by_severity,
        first_response={s: times(v) for s, v in first.items()},
        resolution={s: times(v) for s, v in done.items()},
        breaches=breaches,
        open_cases=sum(1 for c in data.cases if c.resolved_at is None),
        cases_per_customer=dict(sorted(Counter(per_customer.values()).items())),
        csat=csat(data.csat),
        escalations=dict(sorted(Counter(e.kind for e in data.escalations).items())),
        escalations_after_close=sum(1 for e in data.escalations if e.after_close),
    )


def severity_order(found: Iterable[str], levels: Sequence[str] | None = None) -> tuple[str, ...]:
    """The playbook's levels if known, else urgent/high/medium/low, then any others found."""
    base = list(levels or KNOWN_SEVERITIES)
    return tuple(base + sorted(set(found) - set(base)))


def _deliveries(session: Session, incident_id: int) -> dict[str, dict[str, int]]:
    query = (
        select(Delivery.channel, Delivery.status, func.count())
        .where(Delivery.incident_id == incident_id)
        .group_by(Delivery.channel, Delivery.status)
    )
    result: dict[str, dict[str, int]] = {}
    for channel, status, count in session.execute(query):
        result.setdefault(str(channel), {})[str(status)] = int(count)
    return result


def _agents(session: Session, incident_id: int) -> tuple[AgentLoad, ...]:
    query = (
        select(
            Agent.name,
            Agent.temporary,
            func.count(distinct(Assignment.case_id)),
            func.count(Assignment.acked_at),
        )
        .join(Assignment, Assignment.agent_id == Agent.id)
        .join(Case, Case.id == Assignment.case_id)
        .where(Case.incident_id == incident_id)
        .group_by(Agent.id, Agent.name, Agent.temporary)
        .order_by(Agent.name)
    )
    rows = session.execute(query)
    return tuple(AgentLoad(str(n), bool(t), int(a), int(k)) for n, t, a, k in rows)


def _case_facts(session: Session, incident_id: int) -> tuple[CaseFacts, ...]:
    rows = session.scalars(select(Case).where(Case.incident_id == incident_id).order_by(Case.id))
    return tuple(
        CaseFacts(
            c.id, c.severity, c.channel, c.contact_id, c.opened_at, c.first_response_due,
            c.resolution_due, c.first_responded_at, c.resolved_at, c.paused_at,
            c.paused_total_seconds,
        )
        for c in rows
    )  # fmt: skip


def collect(
    session: Session,
    incident: Incident,
    now: datetime,
    levels: Sequence[str] | None = None,
    timezone: str | None = None,
) -> ReportData:
    """Read an incident's report data from the store.

    ``levels`` (the severities) and ``timezone`` default to the incident's playbook's; when
    that playbook can no longer be read, urgent/high/medium/low and UTC.
    """
    if levels is None or timezone is None:
        book_levels, book_zone = _playbook_facts(incident)
        levels = book_levels if levels is None else levels
        timezone = book_zone if timezone is None else timezone
    events = session.scalars(
        select(TimelineEvent)
        .where(TimelineEvent.incident_id == incident.id)
        .order_by(TimelineEvent.at, TimelineEvent.id)
    ).all()
    timeline = tuple(TimelineEntry(e.at, e.kind, e.message, e.data) for e in events)
    cases = _case_facts(session, incident.id)
    return ReportData(
        ref=incident.ref,
        title=incident.title,
        playbook_id=incident.playbook_id,
        created_at=incident.created_at,
        stood_down_at=incident.stood_down_at,
        generated_at=now,
        severities=severity_order((c.severity for c in cases), levels),
        timeline=timeline,
        deliveries=_deliveries(session, incident.id),
        cases=cases,
        csat=_scores(timeline),
        agents=_agents(session, incident.id),
        exercise=bool(incident.exercise),
        closed_at=incident.closed_at,
        timezone=timezone,
        escalations=_escalations(timeline, incident.closed_at),
        audit=_audit(session, incident.id),
    )


def _playbook_facts(incident: Incident) -> tuple[list[str] | None, str]:
    """The playbook's severity names and time zone (None and UTC if it cannot be read)."""
    try:
        playbook = load_playbook(incident.playbook_path)
    except CrisiscastError:
        return None, "UTC"
    return [level.name for level in playbook.severity.levels], playbook.timezone


def _scores(timeline: Sequence[TimelineEntry]) -> tuple[int, ...]:
    """CSAT answers, one per case (a customer who corrects their rating counts once, last)."""
    by_case: dict[object, int] = {}
    for n, entry in enumerate(timeline):
        score = _score(entry.data) if entry.kind == CSAT_EVENT else None
        if score is not None:
            by_case[(entry.data or {}).get("case_id", f"#{n}")] = score
    return tuple(by_case.values())


def _escalations(
    timeline: Sequence[TimelineEntry], closed_at: datetime | None
) -> tuple[Escalation, ...]:
    found = []
    for entry in timeline:
        data = entry.data or {}
        if entry.kind != ESCALATION_EVENT or "case_id" not in data:
            continue
        key = str(data.get("key", ""))
        trigger = str(data.get("trigger") or (key.split(":")[1] if key.count(":") >= 2 else ""))
        late = bool(data.get("after_close")) or (closed_at is not None and entry.at > closed_at)
        found.append(Escalation(entry.at, int(data["case_id"]), str(data.get("kind", "")),
                                trigger, late))  # fmt: skip
    return tuple(found)


def _audit(session: Session, incident_id: int) -> tuple[AuditLine, ...]:
    """The incident's audit log, oldest first (read in pages, as the API does)."""
    lines: list[AuditLine] = []
    after = 0
    while len(lines) < AUDIT_LIMIT:
        page = audit_events(session, incident_id=incident_id, after_id=after, limit=500)
        if not page:
            break
        lines += [AuditLine(e.at, e.actor, e.action, e.subject or "", e.source,
                            _detail(e.detail)) for e in page]  # fmt: skip
        after = page[-1].id
    return tuple(lines[:AUDIT_LIMIT])


def _detail(detail: Mapping[str, Any] | None) -> str:
    """What changed, compact; anything that looks like a phone or an email is masked."""
    if not detail:
        return ""
    parts = []
    for key, value in sorted(detail.items()):  # PostgreSQL's JSON keeps no order
        text = str(value)
        if "@" in text or (text.startswith("+") and text[1:].isdigit()):
            text = mask_address(text)
        parts.append(f"{key}={text}")
    return ", ".join(parts)


def _score(data: Mapping[str, object] | None) -> int | None:
    value = (data or {}).get("score")
    return value if isinstance(value, int) and not isinstance(value, bool) else None
