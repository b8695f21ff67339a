"""Replies after stand-down: a "5" is CSAT on the case that was asked, not a new case elsewhere."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from desk_support import CUSTOMER, T0, flood, make_case, make_incident
from sqlalchemy import select

from crisiscast.config import load_settings
from crisiscast.incidents.agents.paging import Senders
from crisiscast.incidents.agents.stand_down import ask_csat
from crisiscast.incidents.cases.after_close import score
from crisiscast.incidents.cases.conversation import conversation
from crisiscast.incidents.intake.inbound import Inbound, Intake, IntakeResult
from crisiscast.incidents.lifecycle import change_status
from crisiscast.incidents.reporting.figures import CSAT_EVENT, collect, figures
from crisiscast.incidents.store.database import Store
from crisiscast.incidents.store.models import Case, Incident, IncidentStatus, TimelineEvent

H = timedelta(hours=1)
KEPT = "+66800000002"


@pytest.fixture
def closed(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, int]]:
    """INC-1 stood down (a resolved case asked for CSAT, an urgent case kept open), then a newer
    active INC-2, as in the issue."""
    monkeypatch.setenv("CRISISCAST_HOME", str(tmp_path / "home"))
    settings = load_settings()
    with store.session() as session:
        first = make_incident(session, now=T0)
        done = make_case(session, first, now=T0, severity="medium")
        done.resolved_at, done.status = T0 + H, "resolved"
        kept = make_case(session, first, now=T0, sender=KEPT)
        senders = Senders(settings, tmp_path / "outbox")
        try:
            assert ask_csat(session, first, flood(), senders, T0 + 2 * H) == {"sent": 1}
        finally:
            senders.close()
        for status in (IncidentStatus.STANDING_DOWN, IncidentStatus.CLOSED):
            change_status(session, first, status, now=T0 + 2 * H, reason="test")
        make_incident(session, now=T0 + 3 * H)
        ids = {"done": done.id, "kept": kept.id}
    yield ids


def receive(store: Store, sender: str, text: str, n: int, hours: float = 4) -> IntakeResult:
    return Intake(store).receive(Inbound("sms", f"SMafter{n}", sender, text), now=T0 + hours * H)


def test_a_five_after_stand_down_is_csat_on_the_case_asked(
    store: Store, closed: dict[str, int]
) -> None:
    """The "5" is recorded on the asked case of the closed INC-1 with its timeline event, thanked
    in the customer's language; no case opens in the newer INC-2; the report shows it."""
    result = receive(store, CUSTOMER, " 5 ", 1)
    assert (result.outcome, result.incident_ref, result.case_id) == (
        "csat",
        "INC-1",
        closed["done"],
    )
    assert result.reply is not None and result.reply.startswith("ขอบคุณ")
    with store.session() as session:
        case = session.get_one(Case, closed["done"])
        assert (case.csat_score, case.csat_at) == (5, T0 + 4 * H)
        event = session.scalars(select(TimelineEvent).where(TimelineEvent.kind == CSAT_EVENT)).one()
        assert (event.incident_id, event.data) == (1, {"score": 5, "case_id": closed["done"]})
        assert session.scalars(select(Case.id).where(Case.incident_id == 2)).all() == []
        kinds = [line.kind for line in conversation(session, closed["done"])]
        assert kinds[-2:] == ["incoming", "answer"] and "csat_question" in kinds
        report = figures(collect(session, session.get_one(Incident, 1), T0 + 5 * H))
    assert (report.csat.count, report.csat.mean) == (1, 5.0)


def test_other_replies_to_a_closed_incident_are_answered_as_such(
    store: Store, closed: dict[str, int]
) -> None:
    """A "thank you" stays on the customer's case and is told INC-1 ended; an open kept case is
    joined; an urgent message opens a case on INC-1 (which the sweep watches), not on INC-2."""
    thanks = receive(store, CUSTOMER, "ขอบคุณมากค่ะ", 1)
    assert (thanks.outcome, thanks.case_id) == ("closed", closed["done"])
    assert thanks.reply is not None and "INC-1" in thanks.reply and "สิ้นสุด" in thanks.reply
    joined = receive(store, KEPT, "still waiting on the roof", 2)
    assert (joined.outcome, joined.incident_ref, joined.case_id) == (
        "case",
        "INC-1",
        closed["kept"],
    )
    urgent = receive(store, CUSTOMER, "5 people trapped, water rising fast, help", 3)
    assert (urgent.outcome, urgent.incident_ref) == ("case", "INC-1")
    assert urgent.severity == "urgent" and urgent.case_id not in closed.values()
    with store.session() as session:
        assert session.scalars(select(Case.id).where(Case.incident_id == 2)).all() == []


def test_a_reply_weeks_later_belongs_to_the_active_incident(
    store: Store, closed: dict[str, int]
) -> None:
    """Past the reply window, a message is about something new: intake's usual matching."""
    result = receive(store, CUSTOMER, "5", 1, hours=24 * 20)
    assert (result.outcome, result.incident_ref) == ("case", "INC-2")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("5", 5), (" 4/5 ", 4), ("๕", 5), ("໓", 3), ("1.", 1), ("5 people trapped", None),
     ("6", None), ("0", None), ("", None), ("55", None)],
)  # fmt: skip
def test_only_a_bare_score_is_a_rating(text: str, expected: int | None) -> None:
    """A rating is the whole message: "5 people trapped" is an emergency, not a 5."""
    assert score(text) == expected
