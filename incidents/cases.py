"""Cases: a triaged reply that needs a person, with its SLA due times.

The due-time arithmetic is pure (``now`` is a parameter): a case opened at ``t`` with severity
``s`` must get a first answer by ``t + s.first_response`` and be resolved by
``t + s.resolution``. Time spent waiting on the customer does not count against the team, so a
pause moves both due times later by the paused span (``resume``).

A sender who writes again while their case is open adds to that case instead of opening a new
one: an urgent person sending three messages is one case, not three pages to on-call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisiscast.incidents.models import Case, InboundMessage
from crisiscast.playbook.schema import Severity

# Statuses after which a new message opens a new case; playbooks may add others before these.
CLOSED_STATUSES = frozenset({"resolved", "closed"})


@dataclass(frozen=True, slots=True)
class SlaDue:
    """When a case must get its first answer, and when it must be resolved."""

    first_response_due: datetime
    resolution_due: datetime


def sla_due(severity: Severity, level: str, opened_at: datetime) -> SlaDue | None:
    """Due times for a case of ``level`` opened at ``opened_at``; None for an unknown level.

    An unknown level happens only without a playbook (no incident matched): there is no
    promise to keep, and inventing one would mislead the SLA sweep.
    """
    try:
        targets = severity.level(level)
    except KeyError:
        return None
    return SlaDue(opened_at + targets.first_response, opened_at + targets.resolution)


def resume(due: SlaDue, paused_at: datetime, now: datetime) -> tuple[SlaDue, int]:
    """Due times after a pause from ``paused_at`` to ``now``, and the paused seconds.

    The SLA clock stops while the case waits on the customer, so both targets move later by
    exactly the time spent paused (never earlier, even if the clocks disagree).
    """
    paused = max(now - paused_at, timedelta(0))
    moved = SlaDue(due.first_response_due + paused, due.resolution_due + paused)
    return moved, int(paused.total_seconds())


def open_case(
    session: Session,
    *,
    incident_id: int | None,
    contact_id: int | None,
    channel: str,
    severity: str,
    category: str | None,
    subcategory: str | None,
    language: str | None,
    why: Mapping[str, Any],
    due: SlaDue | None,
    status: str,
    now: datetime,
) -> Case:
    """Insert a case; its id (the number agents type) exists when this returns."""
    case = Case(
        incident_id=incident_id,
        contact_id=contact_id,
        channel=channel,
        severity=severity,
        category=category,
        subcategory=subcategory,
        language=language,
        status=status,
        why=dict(why),
        opened_at=now,
        first_response_due=due.first_response_due if due else None,
        resolution_due=due.resolution_due if due else None,
        paused_total_seconds=0,
    )
    session.add(case)
    session.flush()
    return case


def open_case_of(
    session: Session, *, incident_id: int | None, channel: str, sender: str
) -> Case | None:
    """The sender's newest case on this channel in this incident that is still open."""
    query = (
        select(Case)
        .join(InboundMessage, InboundMessage.case_id == Case.id)
        .where(
            InboundMessage.channel == channel,
            InboundMessage.sender == sender,
            Case.status.not_in(CLOSED_STATUSES),
            Case.resolved_at.is_(None),
        )
        .order_by(Case.id.desc())
        .limit(1)
    )
    if incident_id is None:
        query = query.where(Case.incident_id.is_(None))
    else:
        query = query.where(Case.incident_id == incident_id)
    return session.scalars(query).first()


def raise_severity(
    case: Case, severity: str, why: Mapping[str, Any], ranks: list[str], due: SlaDue | None
) -> bool:
    """Make an open case more severe when a later message is (never less): True if it changed.

    ``ranks`` lists level names most severe first; ``due`` is the new level's due times counted
    from the case's ``opened_at`` (the person has been waiting since then, not since now).
    """
    if severity not in ranks or case.severity not in ranks:
        return False
    if ranks.index(severity) >= ranks.index(case.severity):
        return False
    case.severity = severity
    case.why = {**(case.why or {}), "raised": dict(why)}
    if due is not None:
        case.first_response_due = due.first_response_due
        case.resolution_due = due.resolution_due
    return True
