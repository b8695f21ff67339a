"""The incident report's figures, computed from plain data, and collected from the store.

:class:`ReportData` is everything the report shows, detached from the database, so the figures
(:func:`figures`) are pure and testable with hand-made cases. :func:`collect` fills it from
a Session with a few GROUP BY / SELECT queries. Rendering to Markdown and HTML with charts is
in :mod:`crisiscast.incidents.reporting.render`.

Times are wall-clock (opened -> first response / resolution), as a customer lived them; SLA
breaches use the SLA clocks, which pause while a case waits on the customer.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from crisiscast.incidents.cases.sla import Clock, SlaState, SlaTimer, check
from crisiscast.incidents.reporting.summary import TimelineEntry
from crisiscast.incidents.store.models import (
    Agent,
    Assignment,
    Case,
    Delivery,
    Incident,
    TimelineEvent,
)

CSAT_EVENT = "csat_response"  # timeline kind whose data holds {"score": 1..5}
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
    """Every number in the report, from the data alone (``generated_at`` is "now")."""
    now = data.generated_at
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
            counts[clock] += _breached(case, clock, now)
    per_customer = Counter(c.contact_id for c in data.cases if c.contact_id is not None)
    return Figures(
        cases_by_severity_channel=by_severity,
        first_response={s: times(v) for s, v in first.items()},
        resolution={s: times(v) for s, v in done.items()},
        breaches=breaches,
        open_cases=sum(1 for c in data.cases if c.resolved_at is None),
        cases_per_customer=dict(sorted(Counter(per_customer.values()).items())),
        csat=csat(data.csat),
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
    session: Session, incident: Incident, now: datetime, levels: Sequence[str] | None = None
) -> ReportData:
    """Read an incident's report data from the store (``levels``: the playbook's severities)."""
    events = session.scalars(
        select(TimelineEvent)
        .where(TimelineEvent.incident_id == incident.id)
        .order_by(TimelineEvent.at, TimelineEvent.id)
    ).all()
    timeline = tuple(TimelineEntry(e.at, e.kind, e.message, e.data) for e in events)
    scores = [_score(e.data) for e in timeline if e.kind == CSAT_EVENT]
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
        csat=tuple(s for s in scores if s is not None),
        agents=_agents(session, incident.id),
    )


def _score(data: Mapping[str, object] | None) -> int | None:
    value = (data or {}).get("score")
    return value if isinstance(value, int) and not isinstance(value, bool) else None
