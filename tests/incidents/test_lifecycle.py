"""Incident status moves: active -> standing_down -> closed, each recorded on the timeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from crisiscast.errors import StoreError
from crisiscast.incidents.lifecycle import TRANSITIONS, can_move, change_status
from crisiscast.incidents.store.database import Store, create_incident, get_incident
from crisiscast.incidents.store.models import IncidentStatus, TimelineEvent

NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
S = IncidentStatus


@pytest.mark.parametrize(
    ("current", "target", "allowed"),
    [
        (S.ACTIVE, S.STANDING_DOWN, True),
        (S.ACTIVE, S.CLOSED, True),
        (S.STANDING_DOWN, S.ACTIVE, True),
        (S.STANDING_DOWN, S.CLOSED, True),
        (S.CLOSED, S.ACTIVE, False),
        (S.CLOSED, S.STANDING_DOWN, False),
        (S.ACTIVE, S.ACTIVE, False),
    ],
)
def test_transition_table(current: S, target: S, allowed: bool) -> None:
    """Closed is final; a stand-down can be reversed; nothing moves to where it already is."""
    assert can_move(current, target) is allowed


def test_every_status_has_a_row_in_the_table() -> None:
    """Adding a status without saying where it can go is caught here."""
    assert set(TRANSITIONS) == set(IncidentStatus)


def test_stand_down_then_close_stamps_times_and_records_events(store: Store) -> None:
    """Each move sets its timestamp and leaves a timeline event saying why."""
    with store.session() as session:
        incident = create_incident(
            session,
            playbook_id="p",
            playbook_path="p.yaml",
            title="t",
            params={},
            languages=["en"],
            exercise=False,
            now=NOW,
        )
        change_status(session, incident, S.STANDING_DOWN, now=NOW + timedelta(hours=1), reason="ok")
        change_status(session, incident, S.CLOSED, now=NOW + timedelta(hours=2), reason="report")
    with store.session() as session:
        found = get_incident(session, incident.id)
        kinds = list(session.scalars(select(TimelineEvent.kind).order_by(TimelineEvent.id)))
        with pytest.raises(StoreError, match=r"is closed and cannot become active.*final"):
            change_status(session, found, S.ACTIVE, now=NOW, reason="oops")
    assert found.status is S.CLOSED
    assert found.stood_down_at == NOW + timedelta(hours=1)
    assert found.closed_at == NOW + timedelta(hours=2)
    assert kinds == ["status_standing_down", "status_closed"]
