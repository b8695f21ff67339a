"""Standing an incident down: all-clear, banner off, agents released, cases, CSAT, closed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from desk_support import CUSTOMER, FLOOD, make_agent, make_case
from sqlalchemy import select

from crisiscast.channels.banner import current_state
from crisiscast.errors import NotFoundError
from crisiscast.flows.broadcast import broadcast
from crisiscast.flows.launch import launch_incident
from crisiscast.flows.sla_sweep import sla_sweep
from crisiscast.flows.stand_down import stand_down
from crisiscast.incidents.agents import roster as ag
from crisiscast.incidents.agents.stand_down import describe
from crisiscast.incidents.intake.inbound import Inbound, Intake
from crisiscast.incidents.store.database import Store, get_incident
from crisiscast.incidents.store.models import Agent, Case, Contact, Incident, TimelineEvent

NOW = datetime.now(UTC)  # the flow reads the clock: the seeded rows are "now" too


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """CRISISCAST_HOME for the test: outbox and published banner live here."""
    monkeypatch.setenv("CRISISCAST_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def lines(home: Path, kind: str) -> list[dict[str, Any]]:
    path = home / "outbox" / "INC-1" / f"{kind}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def seed(db_url: str, playbook: str = FLOOD, severity: str = "urgent") -> dict[str, int]:
    """A launched, broadcast incident with a resolved case, two open cases of ``severity`` (one
    held by a staff agent, one by a temporary agent) and a temporary agent."""
    ref = launch_incident(
        playbook,
        {"area": "Riverside"},
        exercise=True,
        database_url=db_url,
        send=False,
        target={"everyone": True},
    )
    store = Store(db_url)
    try:
        with store.session() as session:
            session.add(Contact(audience="all", phone="+66800000001", language="th"))
            incident = get_incident(session, ref)
        broadcast(ref, database_url=db_url)
        with store.session() as session:
            incident = get_incident(session, ref)
            staff = make_agent(session, 1)
            temp = make_agent(session, 2, temporary=True, pass_expires_at=NOW.replace(year=2099))
            done = make_case(session, incident, now=NOW, sender=CUSTOMER)
            done.resolved_at, done.status = NOW, "resolved"
            kept = make_case(session, incident, now=NOW, sender="+66800000002", severity=severity)
            loose = make_case(session, incident, now=NOW, sender="+66800000003", severity=severity)
            ag.assign_case(session, kept, staff, now=NOW)
            ag.assign_case(session, loose, temp, now=NOW)
            return {"done": done.id, "kept": kept.id, "loose": loose.id, "temp": temp.id,
                    "staff": staff.id}  # fmt: skip
    finally:
        store.dispose()


def test_stand_down_closes_the_incident_everywhere(db_url: str, home: Path) -> None:
    """All-clear on every channel, banner ended, temporary agent released, CSAT to the resolved
    case's customer, kept case still held, incident closed; a second run does nothing."""
    ids = seed(db_url)
    sms_before = len(lines(home, "sms"))
    result = stand_down("INC-1", database_url=db_url)
    assert result["banner_taken_down"] is True
    assert result["temporary_released"] == 1
    assert (result["open_cases"], result["open_cases_kept"]) == (2, True)
    assert result["csat"] == {"sent": 1}
    new_sms = lines(home, "sms")[sms_before:]
    all_clear = [m for m in new_sms if m["address"] == "+66800000001"]
    assert len(all_clear) == 1
    # An exercise: the SMS starts with the exercise marker in the contact's language.
    assert all_clear[0]["text"].startswith("การฝึกซ้อม: ยกเลิกเตือนภัย")
    [csat] = [m for m in new_sms if m["address"] == CUSTOMER]
    assert csat["text"].startswith("เราช่วยเหลือคุณได้ดีแค่ไหน")
    assert current_state(home / "site" / "INC-1").status == "ended"
    store = Store(db_url)
    try:
        with store.session() as session:
            assert session.get_one(Incident, 1).status == "closed"
            assert not session.get_one(Agent, ids["temp"]).active
            assert ag.holder_of(session, ids["loose"]) is None
            assert ag.holder_of(session, ids["kept"]) is not None
            kinds = session.scalars(select(TimelineEvent.kind)).all()
            assert kinds.count("csat_sent") == 1
    finally:
        store.dispose()
    assert stand_down("INC-1", database_url=db_url) == {"ref": "INC-1", "already_closed": True}
    assert len(lines(home, "sms")) == sms_before + len(new_sms)


def test_open_cases_go_to_the_normal_queue_when_not_kept(
    db_url: str, home: Path, tmp_path: Path
) -> None:
    """With keep_open_cases: false the open medium cases leave the incident and their holders."""
    text = Path(FLOOD).read_text(encoding="utf-8")
    playbook = tmp_path / "flood-handover.yaml"
    playbook.write_text(text.replace("keep_open_cases: true", "keep_open_cases: false"))
    ids = seed(db_url, str(playbook), severity="medium")
    result = stand_down("INC-1", database_url=db_url)
    assert (result["open_cases"], result["open_cases_kept"]) == (2, False)
    store = Store(db_url)
    try:
        with store.session() as session:
            for key in ("kept", "loose"):
                assert session.get_one(Case, ids[key]).incident_id is None
                assert ag.holder_of(session, ids[key]) is None
            handed = session.scalars(
                select(TimelineEvent.data).where(TimelineEvent.kind == "cases_handed_over")
            ).one()
            assert handed == {"cases": [ids["kept"], ids["loose"]]}
    finally:
        store.dispose()


def test_open_urgent_cases_are_listed_and_still_escalated_after_stand_down(
    db_url: str, home: Path
) -> None:
    """Stand-down lists the open urgent cases and says they stay under the sweep; a sweep after
    the closure still re-pages, pages a backup and tells the commander about them."""
    ids = seed(db_url)
    result = stand_down("INC-1", database_url=db_url, now=NOW + timedelta(minutes=1))
    assert [p["id"] for p in result["pressing"]] == [ids["kept"], ids["loose"]]
    assert result["handed_to"] is None
    words = " ".join(describe(result))
    assert "kept under the SLA sweep, which goes on escalating them after the closure" in words
    assert "{" not in words
    store = Store(db_url)
    try:
        with store.session() as session:
            make_agent(session, 3)  # a backup on duty
            closing = session.scalars(
                select(TimelineEvent.message).where(TimelineEvent.kind == "status_closed")
            ).one()
            assert "stood down. All-clear: " in closing and "{" not in closing
    finally:
        store.dispose()
    late = NOW + timedelta(minutes=16)  # past the urgent first-response target (15 min)
    done = sla_sweep(database_url=db_url, now=late)
    assert done["INC-1"].get("page_backup", 0) + done["INC-1"].get("repage", 0) >= 1
    later = sla_sweep(database_url=db_url, now=NOW + timedelta(hours=3))
    assert later["INC-1"].get("notify_commander") == 2  # both past the 2 h resolution target
    store = Store(db_url)
    try:
        with store.session() as session:
            actions = session.scalars(
                select(TimelineEvent.data).where(TimelineEvent.kind == "sla_action")
            ).all()
            assert actions and all(a["after_close"] for a in actions if a)
            assert {a["case_id"] for a in actions if a} == {ids["kept"], ids["loose"]}
    finally:
        store.dispose()


def test_hand_over_gives_open_urgent_cases_to_the_agent(db_url: str, home: Path) -> None:
    """--hand-over-to: every open urgent case goes to that agent, who is paged for each."""
    ids = seed(db_url)
    store = Store(db_url)
    try:
        with store.session() as session:
            taker = make_agent(session, 4).id
    finally:
        store.dispose()
    result = stand_down("INC-1", database_url=db_url, hand_over_to=taker)
    assert result["handed_to"] == taker
    assert "handed to agent" in " ".join(describe(result))
    store = Store(db_url)
    try:
        with store.session() as session:
            for key in ("kept", "loose"):
                held = ag.holder_of(session, ids[key])
                assert held is not None and held.agent_id == taker
                assert session.get_one(Case, ids[key]).incident_id == 1
    finally:
        store.dispose()
    paged = {
        m["key"].split(":")[1]
        for m in lines(home, "sms")
        if m["key"].startswith("page:") and m["key"].split(":")[2] == str(taker)
    }
    assert paged == {str(ids["kept"]), str(ids["loose"])}


def test_hand_over_to_an_unknown_agent_changes_nothing(db_url: str, home: Path) -> None:
    """A wrong agent id is refused before anything is sent; the incident stays active."""
    seed(db_url)
    with pytest.raises(NotFoundError, match="agent 99 does not exist"):
        stand_down("INC-1", database_url=db_url, hand_over_to=99)
    store = Store(db_url)
    try:
        with store.session() as session:
            assert session.get_one(Incident, 1).status == "active"
    finally:
        store.dispose()


def test_replies_after_stand_down_belong_to_the_closed_incident(db_url: str, home: Path) -> None:
    """After the real stand-down: the asked customer's "5" is CSAT on their case; a resident
    the all-clear reached, with no case, is told in Thai that INC-1 ended; no case opens."""
    ids = seed(db_url)
    stand_down("INC-1", database_url=db_url)
    store = Store(db_url)
    try:
        intake = Intake(store)
        later = datetime.now(UTC) + timedelta(minutes=5)
        rating = intake.receive(Inbound("sms", "SMcsat1", CUSTOMER, "5"), now=later)
        assert (rating.outcome, rating.case_id, rating.incident_ref) == (
            "csat",
            ids["done"],
            "INC-1",
        )
        thanks = intake.receive(Inbound("sms", "SMthanks1", "+66800000001", "ขอบคุณ"), now=later)
        assert (thanks.outcome, thanks.case_id, thanks.incident_ref) == ("closed", None, "INC-1")
        assert thanks.reply is not None and thanks.reply.startswith("INC-1 สิ้นสุดแล้ว")
        with store.session() as session:
            assert session.get_one(Case, ids["done"]).csat_score == 5
            assert len(session.scalars(select(Case.id)).all()) == 3  # the seeded ones only
    finally:
        store.dispose()


def test_hand_over_after_closure(db_url: str, home: Path) -> None:
    """Kept under the sweep at stand-down, the open urgent cases can still be handed to an
    agent later by running stand-down again with --hand-over-to; nothing else is sent."""
    ids = seed(db_url)
    stand_down("INC-1", database_url=db_url)
    sms_before = len(lines(home, "sms"))
    store = Store(db_url)
    try:
        with store.session() as session:
            taker = make_agent(session, 5).id
    finally:
        store.dispose()
    again = stand_down("INC-1", database_url=db_url, hand_over_to=taker)
    assert again["already_closed"] is True and again["handed_to"] == taker
    assert {p["id"] for p in again["pressing"]} == {ids["kept"], ids["loose"]}
    new = lines(home, "sms")[sms_before:]
    assert sorted(m["key"].split(":")[1] for m in new) == sorted(
        [str(ids["kept"]), str(ids["loose"])]
    )
