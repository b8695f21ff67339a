"""SLA arithmetic for cases: due times, pausing while waiting on the customer, breach checks.

Everything here is pure: ``now`` is always a parameter, timers are immutable values. The store
keeps a case's *current* due times in ``first_response_due`` / ``resolution_due``: a resume
moves the running clocks' due times later by the length of the pause (so a sweep can query
``due < now`` directly), and ``paused_total_seconds`` keeps the sum of every pause for the
report. While a case is paused its remaining time is frozen; a paused case never newly breaches.

A clock that has already stopped (first response given, case resolved) is never moved: a late
first response must stay late even if the case waits on the customer afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

ZERO = timedelta(0)


class Clock(StrEnum):
    """The two SLA clocks of a case."""

    FIRST_RESPONSE = "first_response"
    RESOLUTION = "resolution"


class SlaState(StrEnum):
    """Where one clock stands at a moment."""

    ON_TRACK = "on_track"
    NEARING = "nearing"
    BREACHED = "breached"
    MET = "met"  # stopped in time
    MISSED = "missed"  # stopped, but after the due time


class CaseClocks(Protocol):
    """The case fields SLA arithmetic reads (``store.models.Case`` has them)."""

    @property
    def opened_at(self) -> datetime: ...
    @property
    def first_response_due(self) -> datetime | None: ...
    @property
    def resolution_due(self) -> datetime | None: ...
    @property
    def first_responded_at(self) -> datetime | None: ...
    @property
    def resolved_at(self) -> datetime | None: ...
    @property
    def paused_at(self) -> datetime | None: ...
    @property
    def paused_total_seconds(self) -> int: ...


@dataclass(frozen=True)
class SlaTimer:
    """A case's SLA clocks as a value; ``pause``/``resume`` return new timers."""

    opened_at: datetime
    first_response_due: datetime | None
    resolution_due: datetime | None
    first_responded_at: datetime | None = None
    resolved_at: datetime | None = None
    paused_at: datetime | None = None
    paused_total: timedelta = ZERO

    @classmethod
    def start(
        cls, opened_at: datetime, first_response: timedelta, resolution: timedelta
    ) -> SlaTimer:
        """A new case's timer from its severity level's targets."""
        return cls(opened_at, opened_at + first_response, opened_at + resolution)

    @classmethod
    def from_case(cls, case: CaseClocks) -> SlaTimer:
        """Read the clocks from a stored case (or anything shaped like one)."""
        return cls(
            opened_at=case.opened_at,
            first_response_due=case.first_response_due,
            resolution_due=case.resolution_due,
            first_responded_at=case.first_responded_at,
            resolved_at=case.resolved_at,
            paused_at=case.paused_at,
            paused_total=timedelta(seconds=case.paused_total_seconds),
        )

    def fields(self) -> dict[str, object]:
        """The Case columns this timer sets, for the store to write back."""
        return {
            "first_response_due": self.first_response_due,
            "resolution_due": self.resolution_due,
            "paused_at": self.paused_at,
            "paused_total_seconds": int(self.paused_total.total_seconds()),
        }

    @property
    def paused(self) -> bool:
        return self.paused_at is not None

    def due(self, clock: Clock) -> datetime | None:
        """The clock's current due time (without the pause still running, if any)."""
        return self.first_response_due if clock is Clock.FIRST_RESPONSE else self.resolution_due

    def stopped_at(self, clock: Clock) -> datetime | None:
        """When the clock's goal was reached (None while it runs)."""
        return self.first_responded_at if clock is Clock.FIRST_RESPONSE else self.resolved_at


def pause(timer: SlaTimer, now: datetime) -> SlaTimer:
    """Stop the clocks while the case waits on the customer (pausing twice changes nothing)."""
    if timer.paused or timer.resolved_at is not None:
        return timer
    return replace(timer, paused_at=max(now, timer.opened_at))


def resume(timer: SlaTimer, now: datetime) -> SlaTimer:
    """Restart the clocks: running due times move later by exactly the pause's length."""
    if timer.paused_at is None:
        return timer
    length = max(now - timer.paused_at, ZERO)
    first_due = timer.first_response_due
    if first_due is not None and timer.first_responded_at is None:
        first_due += length
    resolution_due = timer.resolution_due
    if resolution_due is not None and timer.resolved_at is None:
        resolution_due += length
    return replace(
        timer,
        first_response_due=first_due,
        resolution_due=resolution_due,
        paused_at=None,
        paused_total=timer.paused_total + length,
    )


def paused_time(timer: SlaTimer, now: datetime) -> timedelta:
    """Total time spent waiting on the customer up to ``now``, the running pause included."""
    running = max(now - timer.paused_at, ZERO) if timer.paused_at is not None else ZERO
    return timer.paused_total + running


def effective_due(timer: SlaTimer, clock: Clock, now: datetime) -> datetime | None:
    """The due time as it stands at ``now``: a running pause keeps pushing it later."""
    due = timer.due(clock)
    if due is None or timer.stopped_at(clock) is not None or timer.paused_at is None:
        return due
    return due + max(now - timer.paused_at, ZERO)


def remaining(timer: SlaTimer, clock: Clock, now: datetime) -> timedelta | None:
    """Time left on a running clock (negative once breached; frozen while paused)."""
    due = effective_due(timer, clock, now)
    if due is None or timer.stopped_at(clock) is not None:
        return None
    return due - now


def check(
    timer: SlaTimer, clock: Clock, now: datetime, *, nearing_within: timedelta
) -> SlaState | None:
    """The clock's state at ``now``; None when the case has no target for this clock."""
    due = timer.due(clock)
    if due is None:
        return None
    stopped = timer.stopped_at(clock)
    if stopped is not None:
        return SlaState.MET if stopped <= due else SlaState.MISSED
    left = (effective_due(timer, clock, now) or due) - now
    if left <= ZERO:
        return SlaState.BREACHED
    return SlaState.NEARING if left <= nearing_within else SlaState.ON_TRACK


def nearing_window(target: timedelta, fraction: float = 0.25) -> timedelta:
    """How early "nearing breach" starts: a fraction of the target (a quarter by default).

    The playbook gives only the targets; a fixed window would be most of a 15-minute urgent
    target but nothing for a 24-hour one, so the window scales with the target.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be between 0 and 1, not {fraction}")
    return target * fraction
