"""Standing an incident down: all-clear, banner off, agents released, cases, CSAT, closed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from desk_support import CUSTOMER, FLOOD, make_agent, make_case
from sqlalchemy import select

from crisiscast.channels.banner import current_state
from crisiscast.flows.broadcast import broadcast
from crisiscast.flows.launch import launch_incident
from crisiscast.flows.stand_down import stand_down
from crisiscast.incidents.agents import roster as ag
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


def seed(db_url: str, playbook: str = FLOOD) -> dict[str, int]:
    """A launched, broadcast incident with a resolved case, a kept case and a temporary agent."""
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
            kept = make_case(session, incident, now=NOW, sender="+66800000002")
            loose = make_case(session, incident, now=NOW, sender="+66800000003")
            ag.assign_case(session, kept, staff, now=NOW)
            ag.assign_case(session, loose, temp, now=NOW)
            return {"done": done.id, "kept": kept.id, "loose": loose.id, "temp": temp.id}
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
    """With keep_open_cases: false the open cases leave the incident and their holders."""
    text = Path(FLOOD).read_text(encoding="utf-8")
    playbook = tmp_path / "flood-handover.yaml"
    playbook.write_text(text.replace("keep_open_cases: true", "keep_open_cases: false"))
    ids = seed(db_url, str(playbook))
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
