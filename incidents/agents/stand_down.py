"""What standing an incident down does to its people: extra hands released, open cases kept or
handed over, the satisfaction question asked once. The stand-down flow composes these steps.

Kept cases stay on the incident with their permanent holders (agents finish them with DONE);
cases a released temporary agent held go back to waiting. Handing to the normal queue detaches
a case from the incident (``incident_id`` cleared, holders released); the timeline lists the
case numbers so the report still knows them.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisiscast.incidents.agents import roster as ag
from crisiscast.incidents.agents.assignment import ReleaseReason
from crisiscast.incidents.agents.paging import Senders, csat_text, message_customer
from crisiscast.incidents.cases.opening import CLOSED_STATUSES
from crisiscast.incidents.store.database import add_event
from crisiscast.incidents.store.models import Case, Incident, IncidentStatus, TimelineEvent
from crisiscast.playbook import Playbook

CSAT_EVENT = "csat_sent"


def release_temporary(session: Session, incident: Incident, now: datetime) -> int:
    """Release temporary agents not holding a case of another active incident."""
    released = 0
    for agent in ag.active_temporary(session):
        held = ag.open_assignments(session, agent_id=agent.id)
        cases = [session.get_one(Case, a.case_id) for a in held]
        others = [c for c in cases if c.incident_id not in (None, incident.id)]
        if any(_active(session, c.incident_id) for c in others):
            continue
        ag.release_agent(session, agent, now=now, reason=ReleaseReason.AGENT_OFF)
        released += 1
    return released


def _active(session: Session, incident_id: int | None) -> bool:
    other = session.get(Incident, incident_id) if incident_id is not None else None
    return other is not None and other.status == IncidentStatus.ACTIVE


def hand_over(session: Session, incident: Incident, keep: bool, now: datetime) -> int:
    """Keep the open cases on the incident, or hand them to the normal queue; return how many."""
    query = select(Case).where(
        Case.incident_id == incident.id,
        Case.resolved_at.is_(None),
        Case.status.not_in(CLOSED_STATUSES),
    )
    cases = list(session.scalars(query.order_by(Case.id)))
    if keep or not cases:
        return len(cases)
    for held in ag.open_assignments(session, case_ids=[c.id for c in cases]):
        ag.end_assignment(session, held, ReleaseReason.AGENT_OFF, now=now)
    for case in cases:
        case.incident_id = None
    add_event(
        session,
        incident.id,
        "cases_handed_over",
        f"{len(cases)} open cases handed to the normal queue",
        {"cases": [c.id for c in cases]},
        now=now,
    )
    return len(cases)


def ask_csat(
    session: Session, incident: Incident, playbook: Playbook, senders: Senders, now: datetime
) -> Counter[str]:
    """The satisfaction question, once, to each customer whose case was resolved."""
    asked_query = select(TimelineEvent.data).where(
        TimelineEvent.incident_id == incident.id, TimelineEvent.kind == CSAT_EVENT
    )
    asked = {int(d["case_id"]) for d in session.scalars(asked_query) if d}
    query = select(Case).where(Case.incident_id == incident.id, Case.resolved_at.is_not(None))
    outcome: Counter[str] = Counter()
    for case in session.scalars(query.order_by(Case.id)):
        if case.id in asked:
            continue
        text = csat_text(playbook, case.id, case.language)
        result = message_customer(
            session,
            senders,
            case,
            text,
            key=f"csat:{case.id}",
            subject=f"{incident.ref}: how did we do?",
        )
        outcome[result.status] += 1
        if result.status == "sent":
            add_event(
                session,
                incident.id,
                CSAT_EVENT,
                f"satisfaction question to case {case.id}",
                {"case_id": case.id},
                now=now,
            )
    return outcome
