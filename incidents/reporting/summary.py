"""One incident at a glance: counts by channel/severity and status, and the latest events.

Counting is done by the database (GROUP BY), never by loading rows: an incident may have
millions of deliveries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from crisiscast.incidents.store.models import Announcement, Case, Delivery, Incident, TimelineEvent

Counts = Mapping[str, Mapping[str, int]]


@dataclass(frozen=True)
class TimelineEntry:
    """A timeline event detached from the database."""

    at: datetime
    kind: str
    message: str
    data: Mapping[str, Any] | None


@dataclass(frozen=True)
class IncidentSummary:
    """What the commander's dashboard and ``crisiscast status`` show for one incident.

    ``announcements`` and ``deliveries`` are ``{channel: {status: count}}``; ``cases`` is
    ``{severity: {status: count}}``; ``events`` are the latest ones, oldest first.
    """

    id: int
    ref: str
    title: str
    playbook_id: str
    status: str
    exercise: bool
    created_at: datetime
    stood_down_at: datetime | None
    params: Mapping[str, Any]
    languages: tuple[str, ...]
    announcements: Counts
    deliveries: Counts
    cases: Counts
    events: tuple[TimelineEntry, ...]


def _counts(
    session: Session,
    group: InstrumentedAttribute[Any],
    status: InstrumentedAttribute[Any],
    where: ColumnElement[bool],
) -> dict[str, dict[str, int]]:
    query = select(group, status, func.count()).where(where).group_by(group, status)
    result: dict[str, dict[str, int]] = {}
    for key, state, count in session.execute(query):
        result.setdefault(str(key), {})[str(state)] = int(count)
    return result


def latest_events(session: Session, incident_id: int, limit: int) -> tuple[TimelineEntry, ...]:
    """The last ``limit`` timeline events of an incident, oldest first."""
    query = (
        select(TimelineEvent)
        .where(TimelineEvent.incident_id == incident_id)
        .order_by(TimelineEvent.at.desc(), TimelineEvent.id.desc())
        .limit(limit)
    )
    rows = list(session.scalars(query))
    rows.reverse()
    return tuple(TimelineEntry(e.at, e.kind, e.message, e.data) for e in rows)


def incident_summary(session: Session, incident: Incident, events: int = 10) -> IncidentSummary:
    """Summarise ``incident`` with counts from the database and its last ``events`` events."""
    return IncidentSummary(
        id=incident.id,
        ref=incident.ref,
        title=incident.title,
        playbook_id=incident.playbook_id,
        status=str(incident.status),
        exercise=incident.exercise,
        created_at=incident.created_at,
        stood_down_at=incident.stood_down_at,
        params=dict(incident.params),
        languages=tuple(incident.languages),
        announcements=_counts(
            session,
            Announcement.channel,
            Announcement.status,
            Announcement.incident_id == incident.id,
        ),
        deliveries=_counts(
            session, Delivery.channel, Delivery.status, Delivery.incident_id == incident.id
        ),
        cases=_counts(session, Case.severity, Case.status, Case.incident_id == incident.id),
        events=latest_events(session, incident.id, events),
    )
