"""Where an incident can go from where it is: active -> standing_down -> closed.

The allowed moves are a table, not an if/elif ladder, so adding a state is one line and
every refusal names the moves that are allowed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from crisiscast.errors import StoreError
from crisiscast.incidents.store.models import Incident, IncidentStatus, TimelineEvent

Status = IncidentStatus

TRANSITIONS: dict[IncidentStatus, frozenset[IncidentStatus]] = {
    Status.ACTIVE: frozenset({Status.STANDING_DOWN, Status.CLOSED}),
    # Standing down can be undone: the all-clear was premature and the incident flares up.
    Status.STANDING_DOWN: frozenset({Status.ACTIVE, Status.CLOSED}),
    Status.CLOSED: frozenset(),
}


def can_move(current: IncidentStatus, target: IncidentStatus) -> bool:
    """True when ``target`` may follow ``current`` (pure: no database)."""
    return target in TRANSITIONS[current]


def change_status(
    session: Session, incident: Incident, target: IncidentStatus, *, now: datetime, reason: str
) -> TimelineEvent:
    """Move ``incident`` to ``target``, stamp the time, and record why on the timeline."""
    current = IncidentStatus(incident.status)
    if not can_move(current, target):
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "nothing: it is final"
        raise StoreError(
            f"{incident.ref} is {current} and cannot become {target}; from {current} it can "
            f"become {allowed}."
        )
    incident.status = target
    if target is Status.STANDING_DOWN:
        incident.stood_down_at = now
    elif target is Status.CLOSED:
        incident.closed_at = now
    entry = TimelineEvent(
        incident_id=incident.id,
        at=now,
        kind=f"status_{target}",
        message=f"{incident.ref} {current} -> {target}: {reason}",
        data={"from": str(current), "to": str(target)},
    )
    session.add(entry)
    session.flush()
    return entry
