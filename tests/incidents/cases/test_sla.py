"""SLA arithmetic: due times, pause/resume while waiting on the customer, breach states."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crisiscast.incidents.cases.sla import (
    Clock,
    SlaState,
    SlaTimer,
    check,
    effective_due,
    nearing_window,
    pause,
    paused_time,
    remaining,
    resume,
)
from crisiscast.incidents.store.models import Case

OPENED = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
FIRST = timedelta(minutes=15)
RESOLUTION = timedelta(hours=2)

# Alternating gaps in seconds: running, paused, running, paused, ...
gaps = st.lists(st.integers(min_value=0, max_value=6 * 3600), min_size=0, max_size=12)


def _play(gap_list: list[int]) -> tuple[SlaTimer, datetime, timedelta]:
    """Apply pause/resume alternately after each gap; return timer, clock time, paused sum."""
    timer = SlaTimer.start(OPENED, FIRST, RESOLUTION)
    now, paused = OPENED, timedelta(0)
    for index, gap in enumerate(gap_list):
        step = timedelta(seconds=gap)
        now += step
        if index % 2 == 0:
            timer = pause(timer, now)
        else:
            paused += step
            timer = resume(timer, now)
    return timer, now, paused


@given(gaps, st.integers(min_value=0, max_value=48 * 3600))
def test_pausing_never_makes_a_case_due_earlier(gap_list: list[int], later: int) -> None:
    """Whatever the pauses, every due time is at or after the one set when the case opened."""
    timer, now, _ = _play(gap_list)
    moment = now + timedelta(seconds=later)
    for clock, target in ((Clock.FIRST_RESPONSE, FIRST), (Clock.RESOLUTION, RESOLUTION)):
        due = effective_due(timer, clock, moment)
        assert due is not None and due >= OPENED + target


@given(gaps)
def test_total_paused_time_adds_up(gap_list: list[int]) -> None:
    """paused_total is exactly the sum of the completed pauses."""
    timer, now, paused = _play(gap_list)
    timer = resume(timer, now)  # closes a pause still running at the end (zero length)
    assert timer.paused_total == paused
    assert paused_time(timer, now) == paused


@given(gaps)
def test_resume_restores_the_target_minus_the_time_that_ran(gap_list: list[int]) -> None:
    """After resuming, due = opened + target + paused time, for both running clocks."""
    timer, now, paused = _play(gap_list)
    timer = resume(timer, now)
    assert timer.first_response_due == OPENED + FIRST + paused
    assert timer.resolution_due == OPENED + RESOLUTION + paused
    assert not timer.paused


@given(
    st.integers(min_value=0, max_value=4 * 3600),
    st.integers(min_value=0, max_value=4 * 3600),
    st.integers(min_value=0, max_value=4 * 3600),
)
def test_remaining_time_is_frozen_while_paused(start: int, wait1: int, wait2: int) -> None:
    """A paused clock shows the same time left however long the customer takes."""
    paused_at = OPENED + timedelta(seconds=start)
    timer = pause(SlaTimer.start(OPENED, FIRST, RESOLUTION), paused_at)
    left = remaining(timer, Clock.RESOLUTION, paused_at)
    assert left == OPENED + RESOLUTION - paused_at
    assert remaining(timer, Clock.RESOLUTION, paused_at + timedelta(seconds=wait1)) == left
    assert remaining(timer, Clock.RESOLUTION, paused_at + timedelta(seconds=wait2)) == left


@given(st.integers(min_value=0, max_value=3600), st.integers(min_value=0, max_value=3600))
def test_pause_twice_and_resume_without_pause_change_nothing(first: int, second: int) -> None:
    """A second pause keeps the first pause's start; resuming a running timer is a no-op."""
    timer = SlaTimer.start(OPENED, FIRST, RESOLUTION)
    assert resume(timer, OPENED + timedelta(seconds=first)) == timer
    once = pause(timer, OPENED + timedelta(seconds=first))
    assert pause(once, OPENED + timedelta(seconds=first + second)) == once


def test_a_late_first_response_stays_late_after_a_pause() -> None:
    """Pausing after a late first response moves only the resolution clock."""
    responded = OPENED + timedelta(minutes=20)  # 5 minutes late
    timer = SlaTimer.start(OPENED, FIRST, RESOLUTION)
    timer = replace(timer, first_responded_at=responded)
    timer = resume(pause(timer, OPENED + timedelta(minutes=30)), OPENED + timedelta(hours=3))
    assert timer.first_response_due == OPENED + FIRST
    assert check(timer, Clock.FIRST_RESPONSE, OPENED, nearing_within=FIRST) is SlaState.MISSED
    assert timer.resolution_due == OPENED + RESOLUTION + timedelta(minutes=150)


@pytest.mark.parametrize(
    ("minutes", "state"),
    [(0, SlaState.ON_TRACK), (10, SlaState.NEARING), (15, SlaState.BREACHED)],
)
def test_check_reports_on_track_nearing_and_breached(minutes: int, state: SlaState) -> None:
    """A 15-minute target with a 5-minute window: on track, nearing from 10, breached at 15."""
    timer = SlaTimer.start(OPENED, FIRST, RESOLUTION)
    now = OPENED + timedelta(minutes=minutes)
    window = timedelta(minutes=5)
    assert check(timer, Clock.FIRST_RESPONSE, now, nearing_within=window) is state


def test_a_paused_case_does_not_breach_while_waiting() -> None:
    """Waiting on the customer past the due time is not a breach; the time left is kept."""
    timer = pause(SlaTimer.start(OPENED, FIRST, RESOLUTION), OPENED + timedelta(minutes=5))
    later = OPENED + timedelta(hours=5)
    assert check(timer, Clock.FIRST_RESPONSE, later, nearing_within=timedelta(0)) is (
        SlaState.ON_TRACK
    )
    assert remaining(timer, Clock.FIRST_RESPONSE, later) == timedelta(minutes=10)


def test_met_in_time_and_no_target() -> None:
    """A first response in time is MET; a case without a due time has no state."""
    timer = SlaTimer(OPENED, OPENED + FIRST, None, first_responded_at=OPENED + FIRST)
    assert check(timer, Clock.FIRST_RESPONSE, OPENED, nearing_within=FIRST) is SlaState.MET
    assert check(timer, Clock.RESOLUTION, OPENED, nearing_within=FIRST) is None


def test_timer_reads_and_writes_a_stored_case() -> None:
    """from_case reads the Case columns; fields() gives back the ones pause/resume change."""
    case = Case(
        channel="sms",
        severity="urgent",
        opened_at=OPENED,
        first_response_due=OPENED + FIRST,
        resolution_due=OPENED + RESOLUTION,
        paused_total_seconds=0,
    )
    timer = pause(SlaTimer.from_case(case), OPENED + timedelta(minutes=1))
    timer = resume(timer, OPENED + timedelta(minutes=4))
    for name, value in timer.fields().items():
        setattr(case, name, value)
    assert case.paused_total_seconds == 180
    assert case.first_response_due == OPENED + FIRST + timedelta(minutes=3)
    assert SlaTimer.from_case(case) == timer


def test_nearing_window_scales_with_the_target() -> None:
    """The nearing window is a quarter of the target; a fraction outside (0, 1) is refused."""
    assert nearing_window(timedelta(hours=4)) == timedelta(hours=1)
    with pytest.raises(ValueError, match="between 0 and 1"):
        nearing_window(timedelta(hours=4), 1.5)
