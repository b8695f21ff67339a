"""What standing an incident down does to its people: extra hands released, open cases kept or
handed over, the satisfaction question asked once. The stand-down flow composes these steps.

Kept cases stay on the incident with their permanent holders (agents finish them with DONE);
cases a released temporary agent held go back to waiting. Handing to the normal queue detaches
a case from the incident (``incident_id`` cleared, holders released); the timeline lists the
case numbers so the report still knows them.

Open urgent and high cases (the playbook's two most severe levels) are never detached: people
are still waiting on them. Stand-down lists them (:func:`pressing_cases`) and either hands
them to one named agent (:func:`hand_pressing_to`, who is paged for each) or keeps them on the
incident under the SLA sweep, which goes on escalating them after the closure.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisiscast.errors import ConfigError
from crisiscast.incidents.agents import roster as ag
from crisiscast.incidents.agents.assignment import ReleaseReason
from crisiscast.incidents.agents.paging import Senders, csat_text, message_customer, page_agent
from crisiscast.incidents.cases.conversation import add_entry
from crisiscast.incidents.cases.opening import CLOSED_STATUSES
from crisiscast.incidents.people.audit import Actor, record
from crisiscast.incidents.store.database import add_event
from crisiscast.incidents.store.models import Case, Incident, IncidentStatus, TimelineEvent
from crisiscast.playbook import Playbook

CSAT_EVENT = "csat_sent"
PRESSING_LEVELS = 2  # urgent and high: the playbook's two most severe levels
SHOWN = 8  # case numbers named in the stand-down's sentence; the result lists them all
KEPT_EVENT = "pressing_cases_kept"
HANDED_EVENT = "pressing_cases_handed"


@dataclass(frozen=True, slots=True)
class PressingCase:
    """An open urgent or high case at stand-down (no contact details: the CLI prints it)."""

    id: int
    severity: str
    status: str
    holder: str | None  # "agent 3 Noi", or None when nobody holds it

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "severity": self.severity, "status": self.status,
                "holder": self.holder}  # fmt: skip


def pressing_levels(playbook: Playbook) -> list[str]:
    """The severity names stand-down warns about: the playbook's two most severe."""
    return [level.name for level in playbook.severity.levels[:PRESSING_LEVELS]]


def _open_cases(session: Session, incident: Incident) -> list[Case]:
    query = select(Case).where(
        Case.incident_id == incident.id,
        Case.resolved_at.is_(None),
        Case.status.not_in(CLOSED_STATUSES),
    )
    return list(session.scalars(query.order_by(Case.id)))


def pressing_cases(session: Session, incident: Incident, playbook: Playbook) -> list[PressingCase]:
    """The incident's open urgent and high cases, most severe first, with who holds them."""
    levels = pressing_levels(playbook)
    cases = [c for c in _open_cases(session, incident) if c.severity in levels]
    rows = ag.open_assignments(session, case_ids=[c.id for c in cases])
    held = {a.case_id: a.agent_id for a in rows}
    names = {a.id: a.name for a in ag.list_agents(session)} if held else {}
    cases.sort(key=lambda c: (levels.index(c.severity), c.id))
    return [
        PressingCase(c.id, c.severity, c.status,
                     f"agent {held[c.id]} {names.get(held[c.id], '')}".strip()
                     if c.id in held else None)
        for c in cases
    ]  # fmt: skip


def check_hand_over_agent(session: Session, agent_id: int) -> None:
    """Refuse an agent who cannot take the cases, before anything is sent."""
    agent = ag.get_agent(session, agent_id)
    if not agent.active:
        raise ConfigError(
            f"agent {agent_id} ({agent.name}) is off duty: put them back on duty or choose "
            "another agent for --hand-over-to (`crisiscast agents list`)"
        )
    if agent.temporary:
        raise ConfigError(
            f"agent {agent_id} ({agent.name}) is temporary and is released at stand-down: "
            "hand the open cases to a permanent agent"
        )


def hand_pressing_to(
    session: Session,
    incident: Incident,
    playbook: Playbook,
    agent_id: int,
    senders: Senders,
    now: datetime,
) -> list[int]:
    """Give every open urgent and high case to ``agent_id`` and page them for each.

    The cases stay on the incident, so the SLA sweep still escalates them if nobody acts.
    """
    check_hand_over_agent(session, agent_id)
    agent = ag.get_agent(session, agent_id)
    ids = [c.id for c in pressing_cases(session, incident, playbook)]
    for case_id in ids:
        case = session.get_one(Case, case_id)
        held = ag.holder_of(session, case_id)
        if held is not None and held.agent_id == agent_id:
            continue
        if held is not None:
            ag.end_assignment(session, held, ReleaseReason.AGENT_OFF, now=now)
        ag.assign_case(session, case, agent, now=now)
        page_agent(session, senders, case, agent, incident_ref=incident.ref, now=now)
    if ids:
        add_event(session, incident.id, HANDED_EVENT,
                  f"{len(ids)} open urgent/high cases handed to agent {agent_id} at stand-down",
                  {"cases": ids, "agent_id": agent_id}, now=now)  # fmt: skip
        record(session, Actor.system(), "stand_down.hand_over", now=now,
               incident_id=incident.id, subject=f"agent {agent_id}",
               detail={"cases": ids})  # fmt: skip
    return ids


def keep_pressing(
    session: Session, incident: Incident, playbook: Playbook, now: datetime
) -> list[int]:
    """Keep the open urgent and high cases on the incident under the SLA sweep; say so."""
    ids = [c.id for c in pressing_cases(session, incident, playbook)]
    if ids:
        add_event(session, incident.id, KEPT_EVENT,
                  f"{len(ids)} open urgent/high cases kept under the SLA sweep after closure",
                  {"cases": ids}, now=now)  # fmt: skip
    return ids


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


def hand_over(
    session: Session,
    incident: Incident,
    keep: bool,
    now: datetime,
    pressing: Sequence[str] = (),
) -> int:
    """Keep the open cases on the incident, or hand them to the normal queue; return how many.

    Cases of a ``pressing`` severity stay on the incident either way (see the module docstring).
    """
    every = _open_cases(session, incident)
    cases = [c for c in every if c.severity not in pressing]
    if keep or not cases:
        return len(every)
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
            add_entry(session, case.id, "csat_question", text, author="crisiscast", now=now,
                      channel=case.channel)  # fmt: skip
            add_event(
                session,
                incident.id,
                CSAT_EVENT,
                f"satisfaction question to case {case.id}",
                {"case_id": case.id},
                now=now,
            )
    return outcome


def _counts(value: object) -> str:
    """``{"sent": 3}`` as "3 sent"; ``{"sms": {"sent": 3}}`` as "sms 3 sent" ("none": empty)."""
    if not isinstance(value, Mapping):
        return str(value)
    parts = [f"{k} {_counts(v)}" if isinstance(v, Mapping) else f"{v} {k}"
             for k, v in sorted(value.items()) if v]  # fmt: skip
    nested = any(isinstance(v, Mapping) for v in value.values())
    return ("; " if nested else ", ").join(parts) or "none"


def describe(result: Mapping[str, Any]) -> list[str]:
    """What a stand-down did, as sentences (the CLI, the demo and the timeline say this)."""
    if result.get("already_closed"):
        return [f"{result.get('ref', 'the incident')} was already closed: nothing sent."]
    lines = [f"All-clear: {_counts(result.get('all_clear', {}))}."]
    if result.get("banner_taken_down"):
        lines.append("The banner was taken down.")
    lines.append(f"Temporary agents released: {result.get('temporary_released', 0)}.")
    open_cases = int(result.get("open_cases", 0))
    where = "kept on the incident" if result.get("open_cases_kept", True) else (
        "handed to the normal queue (urgent and high stay on the incident)")  # fmt: skip
    lines.append(f"Open cases: {open_cases}, {where}.")
    pressing = list(result.get("pressing", []))
    if pressing:
        shown = [f"{p['id']} ({p['severity']})" for p in pressing[:SHOWN]]
        more = f" and {len(pressing) - SHOWN} more" if len(pressing) > SHOWN else ""
        numbers = ", ".join(shown) + more
        agent = result.get("handed_to")
        fate = (
            f"handed to agent {agent}, who was paged"
            if agent is not None
            else "kept under the SLA sweep, which goes on escalating them after the closure"
        )
        lines.append(f"Open urgent/high cases {numbers}: {fate}.")
    asked = _counts(result.get("csat", {}))
    lines.append(f"Satisfaction question: {asked if asked != 'none' else 'nobody to ask'}.")
    return lines
