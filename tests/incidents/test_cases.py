"""Cases: SLA due times from the severity, pauses, raising severity, finding the open case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import pytest

from crisiscast.incidents.cases import (
    SlaDue,
    open_case,
    open_case_of,
    raise_severity,
    resume,
    sla_due,
)
from crisiscast.incidents.models import InboundMessage
from crisiscast.incidents.store import Store
from crisiscast.playbook import Playbook, load_playbook

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
LEVELS = ["urgent", "high", "medium", "low"]


@cache
def flood() -> Playbook:
    return load_playbook(Path(__file__).resolve().parents[2] / "playbooks" / "regional-flood.yaml")


@pytest.mark.parametrize(
    ("level", "first", "resolution"),
    [
        ("urgent", timedelta(minutes=15), timedelta(hours=2)),
        ("high", timedelta(hours=1), timedelta(hours=4)),
        ("low", timedelta(hours=3), timedelta(hours=24)),
    ],
)
def test_due_times_come_from_the_severity(
    level: str, first: timedelta, resolution: timedelta
) -> None:
    """Each severity's first-response and resolution targets count from the case's opening."""
    assert sla_due(flood().severity, level, T0) == SlaDue(T0 + first, T0 + resolution)


def test_unknown_level_has_no_due_times() -> None:
    """A level the playbook does not define promises nothing rather than a made-up SLA."""
    assert sla_due(flood().severity, "catastrophic", T0) is None


def test_pause_moves_both_due_times_by_the_paused_span() -> None:
    """Time waiting on the customer does not count: both targets move later by the pause."""
    due = SlaDue(T0 + timedelta(hours=1), T0 + timedelta(hours=4))
    moved, seconds = resume(due, T0 + timedelta(minutes=10), T0 + timedelta(minutes=40))
    assert seconds == 1800
    assert moved == SlaDue(T0 + timedelta(hours=1, minutes=30), T0 + timedelta(hours=4, minutes=30))
    assert resume(due, T0 + timedelta(hours=1), T0)[0] == due  # clocks out of step: no change


def _case(store: Store, severity: str, status: str = "new", sender: str = "+66812345678") -> int:
    with store.session() as session:
        case = open_case(
            session, incident_id=None, contact_id=None, channel="sms", severity=severity,
            category="other", subcategory=None, language="en", why={"why": []},
            due=sla_due(flood().severity, severity, T0), status=status, now=T0,
        )  # fmt: skip
        session.add(InboundMessage(channel="sms", provider_id=f"SM{case.id}", sender=sender,
                                   body="x", received_at=T0, case_id=case.id))  # fmt: skip
        return case.id


def test_open_case_stores_due_times(store: Store) -> None:
    """A new case keeps its severity, status and SLA due times in the store."""
    case_id = _case(store, "high")
    with store.session() as session:
        case = open_case_of(session, incident_id=None, channel="sms", sender="+66812345678")
        assert case is not None and case.id == case_id
        assert case.first_response_due == T0 + timedelta(hours=1)
        assert case.resolution_due == T0 + timedelta(hours=4)


def test_closed_cases_are_not_reopened_by_a_new_message(store: Store) -> None:
    """A resolved case is not the sender's open case; another sender's case is not theirs."""
    _case(store, "low", status="resolved")
    _case(store, "low", sender="+66899999999")
    with store.session() as session:
        assert open_case_of(session, incident_id=None, channel="sms", sender="+66812345678") is None


def test_raising_severity_retimes_from_the_opening(store: Store) -> None:
    """Low becoming urgent takes the urgent SLA counted from when the person first wrote."""
    _case(store, "low")
    with store.session() as session:
        case = open_case_of(session, incident_id=None, channel="sms", sender="+66812345678")
        assert case is not None
        urgent = sla_due(flood().severity, "urgent", case.opened_at)
        assert raise_severity(case, "urgent", {"why": ["trapped"]}, LEVELS, urgent)
        assert not raise_severity(case, "low", {"why": []}, LEVELS, None)  # never lowered
        assert case.severity == "urgent"
        assert case.first_response_due == T0 + timedelta(minutes=15)
        assert case.why is not None and case.why["raised"] == {"why": ["trapped"]}
