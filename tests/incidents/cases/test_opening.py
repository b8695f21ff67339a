"""Cases: SLA due times from the severity, stored with the case; severity only ever rises."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import pytest

from crisiscast.incidents.cases.opening import is_more_severe, open_case, sla_due
from crisiscast.incidents.store.database import Store
from crisiscast.incidents.store.models import Case
from crisiscast.playbook import Playbook, load_playbook

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
LEVELS = ["urgent", "high", "medium", "low"]


@cache
def flood() -> Playbook:
    return load_playbook(Path(__file__).resolve().parents[3] / "playbooks" / "regional-flood.yaml")


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
    timer = sla_due(flood().severity, level, T0)
    assert timer is not None and timer.opened_at == T0
    assert (timer.first_response_due, timer.resolution_due) == (T0 + first, T0 + resolution)


def test_unknown_level_has_no_due_times() -> None:
    """A level the playbook does not define promises nothing rather than a made-up SLA."""
    assert sla_due(flood().severity, "catastrophic", T0) is None


def test_open_case_stores_due_times(store: Store) -> None:
    """A new case keeps its severity, status and SLA due times in the store."""
    with store.session() as session:
        case = open_case(
            session, incident_id=None, contact_id=None, channel="sms", severity="high",
            category="other", subcategory=None, language="en", why={"why": []},
            due=sla_due(flood().severity, "high", T0), status="new", now=T0,
        )  # fmt: skip
        case_id = case.id
    with store.session() as session:
        stored = session.get(Case, case_id)
        assert stored is not None and (stored.severity, stored.status) == ("high", "new")
        assert stored.first_response_due == T0 + timedelta(hours=1)
        assert stored.resolution_due == T0 + timedelta(hours=4)


def test_cases_only_become_more_severe() -> None:
    """Low to urgent is a raise; urgent to low, or an unknown level, never is."""
    assert is_more_severe("urgent", "low", LEVELS)
    assert not is_more_severe("low", "urgent", LEVELS)
    assert not is_more_severe("high", "high", LEVELS)
    assert not is_more_severe("catastrophic", "low", LEVELS)
