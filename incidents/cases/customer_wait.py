"""Waiting on the customer: what a case's question pauses and what the customer's answer resumes.

An agent's ``ASK 42 question`` (``crisiscast.incidents.agents.desk``) sends the question, pauses
the SLA clocks and sets the case to :data:`WAITING_STATUS`. The customer's next message joins
the case (``crisiscast.incidents.intake.inbound``) and resumes the clocks: running due times
move later by exactly the pause's length (``crisiscast.incidents.cases.sla.resume``). The
arithmetic here is pure;
:func:`joined_timers` is the one read intake needs per batch.

Intake cannot reach the agents' room (they are siblings), so it hands each answer that resumed
a case to an :data:`AnswerHook` it was given (``Intake(store, on_answer=...)``): the agents'
``relay`` sends it to the agent who asked. The hook runs after intake's transaction commits:
a provider call never holds the intake writer (or its lock) and a batch that fails and is
redone never relays an answer twice.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisiscast.incidents.cases.sla import SlaTimer, pause, resume
from crisiscast.incidents.store.models import Case

WAITING_STATUS = "waiting_on_customer"
ANSWERED_STATUS = "acknowledged"  # back to work after the answer, once someone has responded
CHUNK = 500  # bound IN lists (SQLite allows 32,766 parameters)


@dataclass(frozen=True, slots=True)
class Answer:
    """A customer's message that resumed a case waiting on them (the answer to an ``ASK``)."""

    case_id: int
    message_id: int
    body: str
    at: datetime


# Called once per answer, inside intake's transaction, after the case's changes are written.
AnswerHook = Callable[[Answer], None]


def paused_values(timer: SlaTimer, now: datetime) -> dict[str, object]:
    """Case columns for a question just sent: clocks paused, status waiting on the customer."""
    return {**pause(timer, now).fields(), "status": WAITING_STATUS}


def answered_values(timer: SlaTimer, at: datetime, *, initial_status: str) -> dict[str, object]:
    """Case columns for a paused case whose customer answered at ``at`` (empty if not paused).

    The status goes back to ``acknowledged`` when the case had a first response, else to where
    a new case starts (``initial_status``): the answer is new work for whoever holds it.
    """
    if not timer.paused:
        return {}
    status = ANSWERED_STATUS if timer.first_responded_at is not None else initial_status
    return {**resume(timer, at).fields(), "status": status}


def shift_raised(values: dict[str, Any], timer: SlaTimer) -> dict[str, Any]:
    """Raised due times (counted from the opening) moved later by the time already paused.

    A severity raise recomputes due times from ``opened_at``; without this the customer's
    earlier waits would count against the agent again. Stopped clocks are left as raised.
    """
    shifted = dict(values)
    for key, stopped in (
        ("first_response_due", timer.first_responded_at),
        ("resolution_due", timer.resolved_at),
    ):
        due = shifted.get(key)
        if isinstance(due, datetime) and stopped is None:
            shifted[key] = due + timer.paused_total
    return shifted


def joined_timers(session: Session, case_ids: Collection[int]) -> dict[int, SlaTimer]:
    """The SLA timers of the stored cases a batch joins, by case id (one query per 500)."""
    wanted = sorted(set(case_ids))
    timers: dict[int, SlaTimer] = {}
    for start in range(0, len(wanted), CHUNK):
        query = select(
            Case.id,
            Case.opened_at,
            Case.first_response_due,
            Case.resolution_due,
            Case.first_responded_at,
            Case.resolved_at,
            Case.paused_at,
            Case.paused_total_seconds,
        ).where(Case.id.in_(wanted[start : start + CHUNK]))
        for row in session.execute(query):
            timers[row.id] = SlaTimer.from_case(row)
    return timers
