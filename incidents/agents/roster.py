"""Agents in the store: the roster, day passes, standby pools, and who holds which case.

Agents are global (the same people work every incident); what an agent did in an incident is
on that incident's timeline. The decisions (who gets a case, when to scale, when a pass ends)
are pure and live in ``assignment`` and ``staffing``; this module reads and writes rows.

Standby people are temporary agents who are not active: a sweep that needs more hands invites
the ones who fit a pool (their languages and skills overlap the pool's) by SMS, records a
``standby_invited`` event, and a ``YES`` back activates them with a day pass (see
:func:`accept_invitation`). A pool has no member list of its own in the schema, so membership
is by fit; ``size`` caps how many of them one incident invites.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from crisiscast.channels.masking import mask_address
from crisiscast.errors import NotFoundError, StoreError
from crisiscast.incidents.agents.assignment import (
    AgentSlot,
    Holding,
    PastAssignment,
    ReleaseReason,
)
from crisiscast.incidents.store.database import add_event
from crisiscast.incidents.store.models import (
    Agent,
    Assignment,
    Case,
    Incident,
    IncidentStatus,
    TimelineEvent,
)
from crisiscast.playbook.schema import Playbook, Pool

_PHONE = re.compile(r"^\+[1-9]\d{6,14}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
INVITED = "standby_invited"
JOINED = "standby_joined"


@dataclass(frozen=True)
class RosterReport:
    """What loading a playbook's roster did; ``warnings`` name the entry and the fix."""

    added: int
    updated: int
    warnings: tuple[str, ...] = ()


def _check_contact(name: str, phone: str | None, email: str | None, capacity: int) -> None:
    if phone is not None and not _PHONE.match(phone):
        raise StoreError(
            f"agent {name!r}: phone {mask_address(phone)} is not E.164: write it as +<country>"
            "<number>, e.g. +15005550006"
        )
    if email is not None and not _EMAIL.match(email):
        raise StoreError(f"agent {name!r}: email is not an address; use e.g. ann@example.com")
    if capacity < 1:
        raise StoreError(f"agent {name!r}: capacity {capacity} must be at least 1 open case")


def _taken(session: Session, phone: str | None, email: str | None, skip: int | None) -> str | None:
    """Which of phone/email another agent already has (commands are matched by them)."""
    for column, value in (("phone", phone), ("email", email)):
        if value is None:
            continue
        other = session.scalar(select(Agent.id).where(getattr(Agent, column) == value))
        if other is not None and other != skip:
            return column
    return None


def add_agent(
    session: Session,
    *,
    name: str,
    phone: str | None = None,
    email: str | None = None,
    skills: Sequence[str] = (),
    languages: Sequence[str] = (),
    capacity: int = 5,
    temporary: bool = False,
    pass_expires_at: datetime | None = None,
    active: bool = True,
) -> Agent:
    """Add one agent; a phone or email another agent has is refused (commands need one owner)."""
    email = email.lower() if email else None
    _check_contact(name, phone, email, capacity)
    clash = _taken(session, phone, email, None)
    if clash is not None:
        raise StoreError(
            f"agent {name!r}: another agent already has this {clash}; SMS and email commands "
            f"are matched by {clash}, so each agent needs their own (`crisiscast agents list`)."
        )
    agent = Agent(
        name=name,
        phone=phone,
        email=email,
        skills=list(skills),
        languages=list(languages),
        capacity=capacity,
        temporary=temporary,
        pass_expires_at=pass_expires_at,
        active=active,
    )
    session.add(agent)
    session.flush()
    return agent


def list_agents(session: Session, *, active_only: bool = False) -> list[Agent]:
    """Every agent by id (only those on duty with ``active_only``)."""
    query = select(Agent).order_by(Agent.id)
    if active_only:
        query = query.where(Agent.active.is_(True))
    return list(session.scalars(query))


def get_agent(session: Session, agent_id: int) -> Agent:
    """The agent with this id; NotFoundError says how to list them."""
    agent = session.get(Agent, agent_id)
    if agent is None:
        raise NotFoundError(f"agent {agent_id} does not exist: `crisiscast agents list` shows them")
    return agent


def find_agent(session: Session, sender: str) -> Agent | None:
    """The agent a phone number or email address belongs to (None: not an agent)."""
    sender = sender.strip()
    if "@" in sender:
        return session.scalar(select(Agent).where(func.lower(Agent.email) == sender.lower()))
    return session.scalar(select(Agent).where(Agent.phone == sender))


def agents_among(connection: Connection, senders: Collection[str]) -> set[str]:
    """Those of ``senders`` that are an agent's, as ``find_agent`` matches them, in one light
    read: the inbound webhooks ask it of every message, a batch at a time."""
    keys = {sender: sender.strip() for sender in senders}
    emails = {key.lower() for key in keys.values() if "@" in key}
    phones = {key for key in keys.values() if "@" not in key}
    found: set[str] = set()
    if phones:
        query = select(Agent.phone).where(Agent.phone.in_(sorted(phones)))
        found.update(phone for phone in connection.scalars(query) if phone)
    if emails:
        query = select(func.lower(Agent.email)).where(func.lower(Agent.email).in_(sorted(emails)))
        found.update(email for email in connection.scalars(query) if email)
    return {s for s, key in keys.items() if (key.lower() if "@" in key else key) in found}


def load_roster(session: Session, playbook: Playbook) -> RosterReport:
    """Add or update the playbook's ``staffing.roster`` (matched by email, else by phone).

    Two entries sharing a phone cannot both take SMS commands (the sender would be ambiguous):
    the later one is stored without a phone and a warning says so; it still works by email.
    """
    added = updated = 0
    warnings: list[str] = []
    for entry in playbook.staffing.roster:
        email = entry.email.lower() if entry.email else None
        agent = find_agent(session, email) if email else None
        agent = agent or (find_agent(session, entry.phone) if not email else None)
        phone: str | None = entry.phone
        if _taken(session, phone, None, agent.id if agent else None):
            warnings.append(
                f"{playbook.source}: staffing.roster {entry.name!r} shares a phone with another "
                "agent: stored without a phone (commands by email only); give each a number."
            )
            phone = None
        values: dict[str, Any] = {
            "name": entry.name,
            "phone": phone,
            "email": email,
            "skills": list(entry.skills),
            "languages": list(entry.languages),
            "capacity": entry.capacity,
        }
        if agent is None:
            add_agent(session, **values)
            added += 1
            continue
        for key, value in values.items():
            setattr(agent, key, value)
        updated += 1
    session.flush()
    return RosterReport(added, updated, tuple(warnings))


# --- who holds what -------------------------------------------------------------------------


def open_assignments(
    session: Session, *, agent_id: int | None = None, case_ids: Iterable[int] | None = None
) -> list[Assignment]:
    """Assignments not yet released (optionally of one agent or some cases)."""
    query = select(Assignment).where(Assignment.released_at.is_(None)).order_by(Assignment.id)
    if agent_id is not None:
        query = query.where(Assignment.agent_id == agent_id)
    if case_ids is not None:
        query = query.where(Assignment.case_id.in_(list(case_ids)))
    return list(session.scalars(query))


def holder_of(session: Session, case_id: int) -> Assignment | None:
    """The open assignment of a case (a case has at most one holder)."""
    held = open_assignments(session, case_ids=[case_id])
    return held[0] if held else None


def holdings(rows: Iterable[Assignment]) -> list[Holding]:
    """Open assignments as the pure assignment module reads them."""
    return [Holding(a.id, a.case_id, a.agent_id, a.assigned_at, a.acked_at) for a in rows]


def history(session: Session, case_ids: Iterable[int]) -> list[PastAssignment]:
    """Ended assignments of some cases (who passed on, ignored or escalated them)."""
    query = select(Assignment).where(
        Assignment.case_id.in_(list(case_ids)), Assignment.released_at.is_not(None)
    )
    return [PastAssignment(a.case_id, a.agent_id, a.reason) for a in session.scalars(query)]


def agent_slots(session: Session) -> dict[int, AgentSlot]:
    """Every agent with their current load, as assignment and staffing read them."""
    load: dict[int, int] = {}
    for held in open_assignments(session):
        load[held.agent_id] = load.get(held.agent_id, 0) + 1
    return {a.id: AgentSlot.of(a, load.get(a.id, 0)) for a in list_agents(session)}


def assign_case(session: Session, case: Case, agent: Agent, *, now: datetime) -> Assignment:
    """Give a case to an agent; refused if someone holds it already (release that first)."""
    current = holder_of(session, case.id)
    if current is not None:
        raise StoreError(
            f"case {case.id} is held by agent {current.agent_id}: release that assignment "
            f"before giving the case to agent {agent.id}."
        )
    assignment = Assignment(case_id=case.id, agent_id=agent.id, assigned_at=now)
    session.add(assignment)
    session.flush()
    if case.incident_id is not None:
        add_event(
            session,
            case.incident_id,
            "case_assigned",
            f"case {case.id} assigned to agent {agent.id}",
            {"case_id": case.id, "agent_id": agent.id},
            now=now,
        )
    return assignment


def end_assignment(
    session: Session, assignment: Assignment, reason: ReleaseReason, *, now: datetime
) -> None:
    """Release an assignment (the case goes back to the queue unless it was resolved)."""
    assignment.released_at = now
    assignment.reason = str(reason)
    case = session.get(Case, assignment.case_id)
    if case is not None and case.incident_id is not None and reason is not ReleaseReason.RESOLVED:
        add_event(
            session,
            case.incident_id,
            "case_released",
            f"case {case.id} released by agent {assignment.agent_id}: {reason}",
            {"case_id": case.id, "agent_id": assignment.agent_id, "reason": str(reason)},
            now=now,
        )
    session.flush()


def release_agent(
    session: Session, agent: Agent, *, now: datetime, reason: ReleaseReason
) -> list[int]:
    """Take an agent off duty and put their open cases back in the queue; return the case ids."""
    agent.active = False
    released = []
    for assignment in open_assignments(session, agent_id=agent.id):
        end_assignment(session, assignment, reason, now=now)
        released.append(assignment.case_id)
    session.flush()
    return released


def expire_passes(session: Session, *, now: datetime) -> dict[int, list[int]]:
    """Release every active temporary agent whose pass has ended: agent id -> requeued cases."""
    query = select(Agent).where(
        Agent.active.is_(True), Agent.pass_expires_at.is_not(None), Agent.pass_expires_at <= now
    )
    return {
        agent.id: release_agent(session, agent, now=now, reason=ReleaseReason.PASS_EXPIRED)
        for agent in list(session.scalars(query))
    }


# --- standby pools --------------------------------------------------------------------------


def _fits(agent: Agent, pool: Pool) -> bool:
    languages = not pool.languages or bool(set(agent.languages) & set(pool.languages))
    return languages and (not pool.skills or bool(set(agent.skills) & set(pool.skills)))


def _invitations(session: Session, incident_id: int) -> list[TimelineEvent]:
    query = select(TimelineEvent).where(
        TimelineEvent.incident_id == incident_id, TimelineEvent.kind.in_([INVITED, JOINED])
    )
    return list(session.scalars(query.order_by(TimelineEvent.id)))


@dataclass(frozen=True)
class StandbyState:
    """Who an incident has invited, who joined, and per pool how many were asked."""

    invited: frozenset[int]
    joined: frozenset[int]
    pending: frozenset[int]  # invited, not joined, and their pass end still ahead
    used: dict[str, int]


def standby_state(session: Session, incident_id: int, *, now: datetime) -> StandbyState:
    """Fold an incident's invitation events into who is asked, joined and pending."""
    invited: dict[int, TimelineEvent] = {}
    joined: set[int] = set()
    used: dict[str, int] = {}
    for entry in _invitations(session, incident_id):
        data = entry.data or {}
        if entry.kind == INVITED:
            invited[int(data["agent_id"])] = entry
            used[str(data["pool"])] = used.get(str(data["pool"]), 0) + 1
        else:
            joined.add(int(data["agent_id"]))
    pending = {i for i, e in invited.items() if i not in joined and (e.data or {})["until"] > now}
    return StandbyState(frozenset(invited), frozenset(joined), frozenset(pending), used)


def invite_standby(
    session: Session, incident: Incident, pool: Pool, count: int, *, now: datetime, until: datetime
) -> list[Agent]:
    """Pick up to ``count`` standby people fitting ``pool`` not asked yet; record the invites.

    The caller sends each the invitation SMS (``staffing.invitation``).
    """
    state = standby_state(session, incident.id, now=now)
    room = max(pool.size - state.used.get(pool.name, 0), 0)
    query = select(Agent).where(
        Agent.temporary.is_(True), Agent.active.is_(False), Agent.phone.is_not(None)
    )
    fitting = [a for a in session.scalars(query.order_by(Agent.id)) if _fits(a, pool)]
    chosen = [a for a in fitting if a.id not in state.invited][: min(count, room)]
    for agent in chosen:
        add_event(
            session,
            incident.id,
            INVITED,
            f"standby agent {agent.id} of pool {pool.name} invited until {until:%H:%M}",
            {"agent_id": agent.id, "pool": pool.name, "until": until},
            now=now,
        )
    return chosen


def accept_invitation(session: Session, agent: Agent, *, now: datetime) -> Incident | None:
    """A standby agent's YES: activate them until the invitation's pass end.

    Returns the incident they joined, or None when no invitation of an active incident is
    pending for them (expired, never sent, or already accepted).
    """
    query = (
        select(TimelineEvent, Incident)
        .join(Incident, Incident.id == TimelineEvent.incident_id)
        .where(TimelineEvent.kind == INVITED, Incident.status == IncidentStatus.ACTIVE)
        .order_by(TimelineEvent.id.desc())
    )
    for entry, incident in session.execute(query):
        data = entry.data or {}
        if int(data["agent_id"]) != agent.id:
            continue
        if agent.id not in standby_state(session, incident.id, now=now).pending:
            return None
        agent.active, agent.temporary, agent.pass_expires_at = True, True, data["until"]
        add_event(
            session,
            incident.id,
            JOINED,
            f"standby agent {agent.id} joined until {data['until']:%H:%M}",
            {"agent_id": agent.id, "pool": data["pool"]},
            now=now,
        )
        return incident
    return None


def active_temporary(session: Session) -> list[Agent]:
    """Temporary agents on duty now (released at stand-down or when the backlog falls)."""
    query = select(Agent).where(Agent.temporary.is_(True), Agent.active.is_(True))
    return list(session.scalars(query.order_by(Agent.id)))


def agents_of_incident(session: Session, incident_id: int) -> set[int]:
    """Agents who held a case of the incident or joined it from standby."""
    held = select(Assignment.agent_id).join(Case, Case.id == Assignment.case_id)
    ids = set(session.scalars(held.where(Case.incident_id == incident_id)))
    state = standby_state(session, incident_id, now=datetime.max.replace(tzinfo=UTC))
    return ids | set(state.joined)
