"""What the SLA sweep does about late cases: the playbook's escalation rules, applied purely.

Given the open cases, ``now`` and the playbook's ``escalation`` list (``when`` a clock is
breached -> ``action``), :func:`escalate` returns the actions to take: re-page the holder,
page a backup agent, notify the commander; plus a reminder to customers who went quiet while
their case waited on them. Each action carries a ``key``; the caller records the keys it has
acted on (in the timeline) and passes them back as ``done``, so a sweep that runs every minute
escalates each breach once, not every minute.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from crisiscast.incidents.cases.sla import (
    CaseClocks,
    Clock,
    SlaState,
    SlaTimer,
    check,
    nearing_window,
)
from crisiscast.playbook.schema import EscalationRule, Severity

DEFAULT_REMIND_AFTER = timedelta(hours=2)

_TRIGGERS = {
    Clock.FIRST_RESPONSE: "first_response_breach",
    Clock.RESOLUTION: "resolution_breach",
}


class ActionKind(StrEnum):
    REPAGE = "repage"
    PAGE_BACKUP = "page_backup"
    NOTIFY_COMMANDER = "notify_commander"
    REMIND_CUSTOMER = "remind_customer"


class SweptCase(CaseClocks, Protocol):
    """A stored case as the sweep reads it (``models.Case`` fits)."""

    @property
    def id(self) -> int: ...
    @property
    def severity(self) -> str: ...


@dataclass(frozen=True)
class OpenCase:
    """A case as the sweep sees it."""

    id: int
    severity: str
    timer: SlaTimer
    holder: int | None = None  # agent id holding the case, if any

    @classmethod
    def of(cls, case: SweptCase, holder: int | None) -> OpenCase:
        """From a stored case and the agent holding it (None: unassigned)."""
        return cls(case.id, case.severity, SlaTimer.from_case(case), holder)


@dataclass(frozen=True)
class Action:
    """One thing to do; ``agent_id`` is set for a re-page (the holder), else None."""

    kind: ActionKind
    case_id: int
    trigger: str
    key: str
    agent_id: int | None = None


@dataclass(frozen=True)
class Findings:
    """Case ids per clock and state, for the sweep's summary line and the dashboard."""

    nearing: dict[Clock, tuple[int, ...]]
    breached: dict[Clock, tuple[int, ...]]


Window = Callable[[OpenCase, Clock], timedelta]


def playbook_window(severity: Severity, fraction: float = 0.25) -> Window:
    """Nearing-breach windows from the playbook: a fraction of each level's target.

    A severity the playbook does not know gets no window (only breaches are found).
    """
    levels = {level.name: level for level in severity.levels}

    def window(case: OpenCase, clock: Clock) -> timedelta:
        level = levels.get(case.severity)
        if level is None:
            return timedelta(0)
        target = level.first_response if clock is Clock.FIRST_RESPONSE else level.resolution
        return nearing_window(target, fraction)

    return window


def findings(cases: Iterable[OpenCase], now: datetime, nearing_within: Window) -> Findings:
    """Which open cases are nearing or past each of their SLA targets at ``now``."""
    nearing: dict[Clock, list[int]] = {clock: [] for clock in Clock}
    breached: dict[Clock, list[int]] = {clock: [] for clock in Clock}
    for case in cases:
        for clock in Clock:
            state = check(case.timer, clock, now, nearing_within=nearing_within(case, clock))
            if state is SlaState.NEARING:
                nearing[clock].append(case.id)
            elif state is SlaState.BREACHED:
                breached[clock].append(case.id)
    return Findings(
        {c: tuple(ids) for c, ids in nearing.items()},
        {c: tuple(ids) for c, ids in breached.items()},
    )


def _breach_actions(case: OpenCase, rules: Sequence[EscalationRule], now: datetime) -> list[Action]:
    actions: list[Action] = []
    for clock, trigger in _TRIGGERS.items():
        if check(case.timer, clock, now, nearing_within=timedelta(0)) is not SlaState.BREACHED:
            continue
        for rule in rules:
            if rule.when != trigger:
                continue
            kind = ActionKind(rule.action)
            if kind is ActionKind.REPAGE and case.holder is None:
                continue  # nobody to re-page: the next assignment round pages someone
            agent = case.holder if kind is ActionKind.REPAGE else None
            actions.append(Action(kind, case.id, trigger, f"{case.id}:{trigger}:{kind}", agent))
    return actions


def _reminder(case: OpenCase, now: datetime, remind_after: timedelta) -> Action | None:
    """One reminder per pause, once the customer has been quiet for ``remind_after``."""
    paused_at = case.timer.paused_at
    if paused_at is None or now - paused_at < remind_after:
        return None
    key = f"{case.id}:customer_quiet:{paused_at.isoformat()}"
    return Action(ActionKind.REMIND_CUSTOMER, case.id, "customer_quiet", key)


def escalate(
    cases: Iterable[OpenCase],
    rules: Sequence[EscalationRule],
    now: datetime,
    *,
    done: Collection[str] = (),
    remind_after: timedelta = DEFAULT_REMIND_AFTER,
) -> list[Action]:
    """The actions due at ``now`` that have not been taken yet (``done`` holds their keys)."""
    actions: list[Action] = []
    for case in cases:
        candidates = _breach_actions(case, rules, now)
        reminder = _reminder(case, now, remind_after)
        if reminder is not None:
            candidates.append(reminder)
        actions.extend(action for action in candidates if action.key not in done)
    return actions
