"""Cases: a triaged reply that needs a person, with its SLA due times.

The due-time arithmetic is pure (``now`` is a parameter): a case opened at ``t`` with severity
``s`` must get a first answer by ``t + s.first_response`` and be resolved by
``t + s.resolution``; pausing while waiting on the customer is ``crisiscast.incidents.cases.sla``.

A sender who writes again while their case is open adds to that case instead of opening a new
one (see ``crisiscast.incidents.intake.inbound``): an urgent person sending three messages is
one case, not three pages to on-call; a more severe follow-up raises the case, a calmer one
never lowers it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from crisiscast.incidents.cases.sla import SlaTimer
from crisiscast.incidents.store.models import Case
from crisiscast.playbook.schema import Severity

# Statuses after which a new message opens a new case; playbooks may add others before these.
CLOSED_STATUSES = frozenset({"resolved", "closed"})


def sla_due(severity: Severity, level: str, opened_at: datetime) -> SlaTimer | None:
    """The SLA clocks of a case of ``level`` opened at ``opened_at``; None for an unknown level.

    An unknown level happens only without a playbook (no incident matched): there is no
    promise to keep, and inventing one would mislead the SLA sweep. Pausing and resuming the
    clocks is ``crisiscast.incidents.cases.sla``'s.
    """
    try:
        targets = severity.level(level)
    except KeyError:
        return None
    return SlaTimer.start(opened_at, targets.first_response, targets.resolution)


def case_row(
    *,
    incident_id: int | None,
    contact_id: int | None,
    channel: str,
    severity: str,
    category: str | None,
    subcategory: str | None,
    language: str | None,
    why: Mapping[str, Any],
    due: SlaTimer | None,
    status: str,
    now: datetime,
) -> dict[str, Any]:
    """The column values of a new case (pure; intake inserts many in one statement)."""
    return {
        "incident_id": incident_id,
        "contact_id": contact_id,
        "channel": channel,
        "severity": severity,
        "category": category,
        "subcategory": subcategory,
        "language": language,
        "status": status,
        "why": dict(why),
        "opened_at": now,
        "first_response_due": due.first_response_due if due else None,
        "resolution_due": due.resolution_due if due else None,
        "paused_total_seconds": 0,
    }


def open_case(session: Session, **values: Any) -> Case:
    """Insert one case (``case_row``'s keywords); its id (the number agents type) is set."""
    case = Case(**case_row(**values))
    session.add(case)
    session.flush()
    return case


def is_more_severe(new: str, current: str, ranks: Sequence[str]) -> bool:
    """Whether ``new`` outranks ``current`` (``ranks`` most severe first; unknown never does).

    A case only ever becomes more severe: a calmer follow-up ("thanks") does not make the
    person's emergency smaller.
    """
    if new not in ranks or current not in ranks:
        return False
    return ranks.index(new) < ranks.index(current)
