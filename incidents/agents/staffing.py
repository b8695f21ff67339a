"""When to bring in temporary agents and when to let them go: pure decisions.

The playbook's ``staffing.temporary_agents`` gives two thresholds with hysteresis:
``activate_when_backlog`` and ``release_when_backlog``. The *pressure* compared with them is
the larger of the urgent + high backlog (open cases of the two most severe levels) and the
number of predicted breaches (waiting cases due before the current agents could reach them).
Activation asks the standby pools for enough people to bring the pressure down to the release
level, split between the pools whose languages and skills the backlog needs. Release waits
until the pressure is at or below the release level, and lets go of idle agents first.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from crisiscast.incidents.agents.assignment import AgentSlot, QueuedCase, queue_order
from crisiscast.playbook.schema import Pool, TemporaryAgents

BACKLOG_RANKS = 2  # urgent + high: the two most severe levels of any playbook
DEFAULT_HORIZON = timedelta(minutes=30)
DEFAULT_CASES_PER_AGENT = 5  # the roster's default capacity


class ScaleAction(StrEnum):
    ACTIVATE = "activate"
    RELEASE = "release"
    HOLD = "hold"


@dataclass(frozen=True)
class Activation:
    """Ask ``count`` standby people of one pool to join (by SMS: reply YES)."""

    pool: str
    count: int


@dataclass(frozen=True)
class Pressure:
    """What the scale decision looks at, kept for the timeline and the dashboard."""

    backlog: int
    predicted_breaches: int

    @property
    def value(self) -> int:
        return max(self.backlog, self.predicted_breaches)


@dataclass(frozen=True)
class ScaleDecision:
    action: ScaleAction
    pressure: Pressure
    activations: tuple[Activation, ...] = ()
    release: tuple[int, ...] = ()  # temporary agent ids to release now
    reason: str = ""


def backlog(cases: Iterable[QueuedCase], ranks: int = BACKLOG_RANKS) -> int:
    """Open cases of the most severe ``ranks`` levels (urgent and high by default)."""
    return sum(1 for case in cases if case.rank < ranks)


def predicted_breaches(
    waiting: Iterable[QueuedCase],
    agents: Iterable[AgentSlot],
    now: datetime,
    horizon: timedelta = DEFAULT_HORIZON,
) -> int:
    """Waiting cases due within ``horizon`` that the free capacity on duty cannot take.

    Cases are taken in queue order; the first ``free`` of them get an agent, the rest wait.
    A waiting case due before ``now + horizon`` is then predicted to breach.
    """
    free = sum(max(a.capacity - a.load, 0) for a in agents if a.available(now))
    left_over = queue_order(waiting)[free:]
    return sum(1 for case in left_over if case.due is not None and case.due <= now + horizon)


def _split(
    count: int, pools: Sequence[Pool], cases: Sequence[QueuedCase], used: Mapping[str, int]
) -> list[Activation]:
    """Share ``count`` people between pools, in proportion to the cases each pool can serve."""
    demand = {
        pool.name: sum(
            1
            for case in cases
            if (not pool.languages or case.language is None or case.language in pool.languages)
            and (not pool.skills or case.skill is None or case.skill in pool.skills)
        )
        for pool in pools
    }
    # Pools nobody in the backlog needs are asked only if no pool fits the backlog at all:
    # an English speaker on an urgent Lao case still beats nobody.
    needed = [pool for pool in pools if demand[pool.name]] or list(pools)
    capacity = {pool.name: pool.size - used.get(pool.name, 0) for pool in needed}
    given = dict.fromkeys(capacity, 0)
    for _ in range(count):
        open_pools = [name for name in capacity if given[name] < capacity[name]]
        if not open_pools:
            break
        # The pool with the most demand per person already asked gets the next person.
        name = max(open_pools, key=lambda n: ((demand[n] or 1) / (given[n] + 1), -given[n]))
        given[name] += 1
    return [Activation(name, n) for name, n in given.items() if n]


def decide(
    cases: Sequence[QueuedCase],
    waiting: Sequence[QueuedCase],
    agents: Sequence[AgentSlot],
    temporary: Sequence[AgentSlot],
    settings: TemporaryAgents,
    pools: Sequence[Pool],
    now: datetime,
    *,
    already_asked: int = 0,
    used: Mapping[str, int] | None = None,
    horizon: timedelta = DEFAULT_HORIZON,
    cases_per_agent: int = DEFAULT_CASES_PER_AGENT,
) -> ScaleDecision:
    """Scale up, release, or hold.

    ``cases`` are the open cases, ``waiting`` the unassigned ones, ``agents`` everyone on duty
    (temporary included), ``temporary`` the active temporary agents, ``already_asked`` the
    standby invitations sent and not yet answered (so a sweep does not ask twice), ``used``
    the people per pool already activated or invited (a pool has ``size`` people in all).
    The target is ``ceil((pressure - release_when_backlog) / cases_per_agent)`` temporary
    agents; only the difference to those active or asked is requested.
    """
    pressure = Pressure(backlog(cases), predicted_breaches(waiting, agents, now, horizon=horizon))
    if pressure.value >= settings.activate_when_backlog:
        excess = pressure.value - settings.release_when_backlog
        wanted = math.ceil(excess / cases_per_agent) - len(temporary) - already_asked
        urgent_high = [c for c in cases if c.rank < BACKLOG_RANKS]
        activations = _split(max(wanted, 0), pools, urgent_high, used or {})
        if not activations:
            return ScaleDecision(ScaleAction.HOLD, pressure, reason=_hold_reason(wanted))
        return ScaleDecision(
            ScaleAction.ACTIVATE,
            pressure,
            activations=tuple(activations),
            reason=f"pressure {pressure.value} >= activate_when_backlog "
            f"{settings.activate_when_backlog}",
        )
    if pressure.value <= settings.release_when_backlog and temporary:
        idle = tuple(a.id for a in temporary if a.load == 0)
        return ScaleDecision(
            ScaleAction.RELEASE if idle else ScaleAction.HOLD,
            pressure,
            release=idle,
            reason=f"pressure {pressure.value} <= release_when_backlog "
            f"{settings.release_when_backlog}"
            + ("" if idle else "; temporary agents still hold cases"),
        )
    return ScaleDecision(ScaleAction.HOLD, pressure, reason="pressure between the thresholds")


def _hold_reason(wanted: int) -> str:
    if wanted <= 0:
        return "enough standby people already asked"
    return "the standby pools are used up"


def pass_expiry(now: datetime, pass_hours: int, until: datetime | None = None) -> datetime:
    """When a new day pass ends: after ``pass_hours``, or at ``until`` if that is sooner."""
    end = now + timedelta(hours=pass_hours)
    return min(end, until) if until is not None else end


def expired_passes(agents: Iterable[AgentSlot], now: datetime) -> list[int]:
    """Active temporary agents whose pass has ended: release them (their cases are requeued)."""
    return [
        a.id
        for a in agents
        if a.active and a.pass_expires_at is not None and a.pass_expires_at <= now
    ]


def invitation(incident_ref: str, title: str, until: datetime, timezone_label: str = "UTC") -> str:
    """The SMS that asks a standby person to join: "reply YES to join ... until 23:00"."""
    return (
        f"crisiscast {incident_ref}: {title}. More hands are needed. Reply YES to join until "
        f"{until:%H:%M} {timezone_label} ({until:%d %b}). No reply means no."
    )
