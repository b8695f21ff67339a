"""Who works which case: a pure choice from the queue, the agents and the playbook's routing.

The queue is worked most severe first, then by the SLA due time (the first response while
none was given, the resolution after). For each case the agents still below capacity are
ranked by the playbook's ``staffing.routing`` rules in order (``language``, ``skill``,
``load``): a match is preferred, never required, because an urgent case answered in English
beats one not answered at all. An agent is never given more than their capacity.

Assignments end (and the case goes back to the queue) on PASS, when the agent does not ACK
within ``ack_timeout``, when a temporary agent's pass expires, or when the agent is OFF.
An agent who passed on or ignored a case is not offered the same case again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from crisiscast.playbook.schema import DEFAULT_ROUTING, RoutingRule

DEFAULT_ACK_TIMEOUT = timedelta(minutes=5)
_NEVER = datetime.max.replace(tzinfo=UTC)  # sorts cases without a due time last


class RoutedCase(Protocol):
    """The stored case fields assignment reads (``models.Case`` fits)."""

    @property
    def id(self) -> int: ...
    @property
    def language(self) -> str | None: ...
    @property
    def category(self) -> str | None: ...
    @property
    def first_response_due(self) -> datetime | None: ...
    @property
    def resolution_due(self) -> datetime | None: ...
    @property
    def first_responded_at(self) -> datetime | None: ...


class StaffMember(Protocol):
    """The stored agent fields assignment reads (``models.Agent`` fits)."""

    @property
    def id(self) -> int: ...
    @property
    def languages(self) -> list[str]: ...
    @property
    def skills(self) -> list[str]: ...
    @property
    def capacity(self) -> int: ...
    @property
    def active(self) -> bool: ...
    @property
    def pass_expires_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class QueuedCase:
    """What assignment needs to know about an open case."""

    id: int
    rank: int  # 0 = the playbook's most severe level (Severity.rank)
    due: datetime | None  # the next SLA due time
    language: str | None = None
    skill: str | None = None  # the case's category; pools and agents list skills by category

    @classmethod
    def of(cls, case: RoutedCase, rank: int) -> QueuedCase:
        """From a stored case; ``rank`` is ``playbook.severity.rank(case.severity)``."""
        due = case.first_response_due if case.first_responded_at is None else case.resolution_due
        return cls(case.id, rank, due, case.language, case.category)


@dataclass(frozen=True)
class AgentSlot:
    """An agent as assignment sees them: what they can do and how busy they are."""

    id: int
    languages: frozenset[str] = frozenset()
    skills: frozenset[str] = frozenset()
    capacity: int = 5
    load: int = 0  # open assignments held now
    active: bool = True
    pass_expires_at: datetime | None = None

    @classmethod
    def of(cls, agent: StaffMember, load: int) -> AgentSlot:
        """From a stored agent and their open assignments (see :func:`loads`)."""
        return cls(
            agent.id,
            frozenset(agent.languages),
            frozenset(agent.skills),
            agent.capacity,
            load,
            agent.active,
            agent.pass_expires_at,
        )

    def available(self, now: datetime) -> bool:
        """On duty: active and, for a temporary agent, holding a pass that has not ended."""
        return self.active and (self.pass_expires_at is None or now < self.pass_expires_at)

    def has_room(self) -> bool:
        return self.load < self.capacity


@dataclass(frozen=True)
class Choice:
    """A case given to an agent, with the routing rules the agent matched (for the page)."""

    case_id: int
    agent_id: int
    matched: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    """The result of one assignment round: who gets what, and what is left waiting."""

    choices: tuple[Choice, ...]
    unassigned: tuple[int, ...]


def queue_order(cases: Iterable[QueuedCase]) -> list[QueuedCase]:
    """Most severe first, then the earliest due time; cases without a due time last."""
    return sorted(cases, key=lambda c: (c.rank, c.due or _NEVER, c.id))


def _matches(case: QueuedCase, agent: AgentSlot) -> dict[str, bool]:
    return {
        "language": case.language is None or case.language in agent.languages,
        "skill": case.skill is None or case.skill in agent.skills,
    }


def _score(case: QueuedCase, agent: AgentSlot, routing: Sequence[RoutingRule]) -> tuple[float, ...]:
    """Lower is better: one term per routing rule, in the playbook's order, then the id."""
    matches = _matches(case, agent)
    terms = [
        agent.load / agent.capacity if rule == "load" else float(not matches[rule])
        for rule in routing
    ]
    return (*terms, float(agent.id))


def choose_agent(
    case: QueuedCase,
    agents: Iterable[AgentSlot],
    now: datetime,
    routing: Sequence[RoutingRule] = DEFAULT_ROUTING,
    exclude: Collection[int] = (),
) -> Choice | None:
    """The best agent for one case, or None when nobody on duty has room."""
    eligible = [a for a in agents if a.available(now) and a.has_room() and a.id not in exclude]
    if not eligible:
        return None
    best = min(eligible, key=lambda agent: _score(case, agent, routing))
    matched = tuple(rule for rule, ok in _matches(case, best).items() if ok)
    return Choice(case.id, best.id, matched)


def assign(
    cases: Iterable[QueuedCase],
    agents: Iterable[AgentSlot],
    now: datetime,
    routing: Sequence[RoutingRule] = DEFAULT_ROUTING,
    exclude: Mapping[int, Collection[int]] | None = None,
) -> Plan:
    """Assign every waiting case in queue order, counting each choice against capacity."""
    pool = {agent.id: agent for agent in agents}
    choices: list[Choice] = []
    unassigned: list[int] = []
    for case in queue_order(cases):
        choice = choose_agent(case, pool.values(), now, routing, (exclude or {}).get(case.id, ()))
        if choice is None:
            unassigned.append(case.id)
            continue
        choices.append(choice)
        holder = pool[choice.agent_id]
        pool[choice.agent_id] = replace(holder, load=holder.load + 1)
    return Plan(tuple(choices), tuple(unassigned))


def pick_for_agent(
    agent: AgentSlot,
    cases: Iterable[QueuedCase],
    now: datetime,
    exclude: Mapping[int, Collection[int]] | None = None,
) -> QueuedCase | None:
    """The case to send an agent who asked with NEXT: the first in queue order they fit.

    A case in a language the agent speaks (and a skill they have) comes before one they do not.
    """
    if not (agent.available(now) and agent.has_room()):
        return None
    waiting = [c for c in queue_order(cases) if agent.id not in (exclude or {}).get(c.id, ())]
    for case in waiting:
        if all(_matches(case, agent).values()):
            return case
    for case in waiting:
        if _matches(case, agent)["language"]:
            return case
    return waiting[0] if waiting else None


class ReleaseReason(StrEnum):
    PASSED = "pass"
    NO_ACK = "no_ack"
    PASS_EXPIRED = "pass_expired"  # noqa: S105 (a day pass, not a password)
    AGENT_OFF = "agent_off"
    ESCALATED = "escalated"
    RESOLVED = "resolved"


# Reasons that mean "do not offer this case to this agent again".
NOT_AGAIN = frozenset({ReleaseReason.PASSED, ReleaseReason.NO_ACK, ReleaseReason.ESCALATED})


@dataclass(frozen=True)
class Holding:
    """An open assignment (not yet released)."""

    assignment_id: int
    case_id: int
    agent_id: int
    assigned_at: datetime
    acked_at: datetime | None = None


@dataclass(frozen=True)
class Release:
    """An assignment to end, and why; the case goes back to the queue."""

    assignment_id: int
    case_id: int
    agent_id: int
    reason: ReleaseReason


@dataclass(frozen=True)
class PastAssignment:
    case_id: int
    agent_id: int
    reason: str | None = None


def due_releases(
    holdings: Iterable[Holding],
    agents: Mapping[int, AgentSlot],
    now: datetime,
    ack_timeout: timedelta = DEFAULT_ACK_TIMEOUT,
) -> list[Release]:
    """Assignments that must end now: agent off or out of pass, or no ACK in time."""
    releases: list[Release] = []
    for held in holdings:
        agent = agents.get(held.agent_id)
        reason: ReleaseReason | None = None
        if agent is None or not agent.active:
            reason = ReleaseReason.AGENT_OFF
        elif not agent.available(now):
            reason = ReleaseReason.PASS_EXPIRED
        elif held.acked_at is None and now - held.assigned_at >= ack_timeout:
            reason = ReleaseReason.NO_ACK
        if reason is not None:
            releases.append(Release(held.assignment_id, held.case_id, held.agent_id, reason))
    return releases


def excluded_agents(history: Iterable[PastAssignment]) -> dict[int, set[int]]:
    """Per case, the agents who passed on it, ignored it or escalated it away."""
    excluded: dict[int, set[int]] = {}
    for past in history:
        if past.reason in NOT_AGAIN:
            excluded.setdefault(past.case_id, set()).add(past.agent_id)
    return excluded


def loads(holdings: Iterable[Holding]) -> Counter[int]:
    """Open assignments per agent id: the ``load`` of each AgentSlot."""
    return Counter(held.agent_id for held in holdings)
