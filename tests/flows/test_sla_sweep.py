"""The SLA sweep flow: paging, no-ACK release, escalation, reminders, scale-up and release."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from desk_support import CUSTOMER, T0, make_agent, make_case, make_incident
from sqlalchemy import select
from sqlalchemy.orm import Session

from crisiscast.flows.sla_sweep import sla_sweep
from crisiscast.incidents.agents import roster as ag
from crisiscast.incidents.agents.desk import handle_agent_message
from crisiscast.incidents.intake.inbound import Inbound, Intake
from crisiscast.incidents.lifecycle import change_status
from crisiscast.incidents.store.database import Store
from crisiscast.incidents.store.models import Agent, Case, Incident, IncidentStatus, TimelineEvent

M = timedelta(minutes=1)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """CRISISCAST_HOME for the test: the outbox the sweep's SMS go to."""
    monkeypatch.setenv("CRISISCAST_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def db(db_url: str) -> Iterator[Store]:
    """The store the sweep runs against, with one active incident (INC-1)."""
    instance = Store(db_url)
    instance.upgrade()
    with instance.session() as session:
        make_incident(session)
    yield instance
    instance.dispose()


def sms(home: Path) -> list[dict[str, Any]]:
    """Every SMS the sweep sent (the outbox, as no credentials are set)."""
    path = home / "outbox" / "INC-1" / "sms.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def sweep(db: Store, at: datetime, **options: Any) -> dict[str, int]:
    summary = sla_sweep(
        database_url=db.url.render_as_string(hide_password=False), now=at, **options
    )
    return summary["INC-1"]


def incident(session: Session) -> Incident:
    return session.get_one(Incident, 1)


def kinds(db: Store, kind: str) -> list[dict[str, Any]]:
    with db.session() as session:
        query = select(TimelineEvent).where(TimelineEvent.kind == kind)
        return [e.data or {} for e in session.scalars(query.order_by(TimelineEvent.id))]


def test_urgent_case_is_assigned_and_paged_once(db: Store, home: Path) -> None:
    """A waiting urgent case goes to the matching agent by SMS; a second sweep adds nothing."""
    with db.session() as session:
        make_agent(session, 1, languages=["en"])
        thai = make_agent(session, 2, languages=["th"])
        case = make_case(session, incident(session))
        low = make_case(session, incident(session), severity="low")
    assert sweep(db, T0 + M)["assigned"] == 1
    assert sweep(db, T0 + 2 * M).get("assigned", 0) == 0
    pages = sms(home)
    assert [p["address"] for p in pages] == [thai.phone]
    assert pages[0]["text"].startswith(f"URGENT case {case.id}")
    assert CUSTOMER not in pages[0]["text"]
    with db.session() as session:
        assert ag.holder_of(session, low.id) is None  # low cases wait for NEXT or the web queue


def test_no_ack_in_time_moves_the_case_to_another_agent(db: Store, home: Path) -> None:
    """A page not ACKed within the timeout is released and the next agent is paged."""
    with db.session() as session:
        first, second = make_agent(session, 1), make_agent(session, 2)
        case = make_case(session, incident(session))
    sweep(db, T0)
    counts = sweep(db, T0 + 5 * M)
    assert (counts["released_no_ack"], counts["assigned"]) == (1, 1)
    assert [p["address"] for p in sms(home)] == [first.phone, second.phone]
    with db.session() as session:
        held = ag.holder_of(session, case.id)
        assert held is not None
        assert held.agent_id == second.id


def test_breach_repages_then_pages_backup_then_tells_commander(db: Store, home: Path) -> None:
    """First-response breach: re-page the holder once, the backup after the re-page had its
    time; resolution breach: the commander is told once."""
    commander = "+15005550999"
    with db.session() as session:
        first, backup = make_agent(session, 1), make_agent(session, 2, languages=["en"])
        case = make_case(session, incident(session))
    options = {"ack_timeout_minutes": 30, "commander": commander}
    sweep(db, T0, **options)
    assert sweep(db, T0 + 16 * M, **options) == {"repage": 1, "backup_waiting": 1}
    assert sweep(db, T0 + 17 * M, **options) == {"backup_waiting": 1}
    counts = sweep(db, T0 + 47 * M, **options)
    assert (counts["released_no_ack"], counts["page_backup"]) == (1, 1)
    with db.session() as session:
        reply = handle_agent_message(session, str(backup.phone), f"ACK {case.id}", now=T0 + 50 * M)
        assert reply is not None
        assert reply.startswith(f"Case {case.id} is yours")
    assert sweep(db, T0 + 121 * M, **options) == {"notify_commander": 1}
    assert sweep(db, T0 + 122 * M, **options) == {}
    texts = [(p["address"], p["text"].split("\n")[0]) for p in sms(home)]
    # Who got what, by the page's head (its details, such as the language, are paging's).
    expected = [
        (first.phone, f"URGENT case {case.id} INC-1 (rescue"),
        (first.phone, f"STILL WAITING: URGENT case {case.id} INC-1 (rescue"),
        (backup.phone, f"URGENT case {case.id} INC-1 (rescue"),
        (
            commander,
            f"INC-1: case {case.id} (urgent) resolution_breach. Open the dashboard to "
            "reassign or step in.",
        ),
    ]
    assert [address for address, _ in texts] == [address for address, _ in expected]
    for (_, text), (_, head) in zip(texts, expected, strict=True):
        assert text.startswith(head), (text, head)
    assert [a["kind"] for a in kinds(db, "sla_action")] == [
        "repage",
        "page_backup",
        "notify_commander",
    ]


def test_quiet_customer_is_reminded_once_per_wait(db: Store, home: Path) -> None:
    """A case waiting on the customer for two hours gets one reminder, in their language."""
    with db.session() as session:
        make_agent(session, 1)
        case = make_case(session, incident(session), severity="medium")
        session.get_one(Case, case.id).paused_at = T0
    assert sweep(db, T0 + 119 * M) == {}
    assert sweep(db, T0 + 120 * M) == {"remind_customer": 1}
    assert sweep(db, T0 + 180 * M) == {}
    [reminder] = sms(home)
    assert reminder["address"] == CUSTOMER
    assert f"เคส {case.id}" in reminder["text"]


def test_backlog_scales_up_from_standby_and_releases_when_it_falls(db: Store, home: Path) -> None:
    """Past the playbook's backlog threshold standby people are invited; YES activates them;
    once the backlog falls the idle temporary agents are released."""
    with db.session() as session:
        make_agent(session, 1, capacity=1)
        standby = [make_agent(session, n, temporary=True, active=False) for n in (11, 12, 13, 14)]
        cases = [make_case(session, incident(session), severity="high") for _ in range(22)]
    counts = sweep(db, T0)
    assert counts["standby_invited"] == 4  # ceil((22 - 5) / 5) temporary agents wanted
    invites = [p for p in sms(home) if "Reply YES" in p["text"]]
    assert {p["address"] for p in invites} == {a.phone for a in standby}
    assert sweep(db, T0 + M).get("standby_invited", 0) == 0  # asked already: not again
    with db.session() as session:
        reply = handle_agent_message(session, str(standby[0].phone), "yes", now=T0 + 2 * M)
        assert reply is not None
        assert reply.endswith("Incident INC-1.")
        for case in cases[:20]:
            row = session.get_one(Case, case.id)
            row.resolved_at, row.status = T0 + 3 * M, "resolved"
    assert sweep(db, T0 + 4 * M) == {"temporary_released": 1}
    with db.session() as session:
        assert not session.get_one(Agent, standby[0].id).active
    assert kinds(db, "staffing_release")[0]["agents"] == [standby[0].id]


def test_expired_pass_releases_and_requeues_its_case(db: Store, home: Path) -> None:
    """When a day pass ends the agent is released and their case is paged to someone else."""
    end = T0 + 12 * 60 * M
    with db.session() as session:
        temp = make_agent(session, 1, temporary=True, pass_expires_at=end)
        case = make_case(session, incident(session))
        ag.assign_case(session, case, temp, now=end - M)
        session.flush()
        ag.holder_of(session, case.id).acked_at = end - M  # type: ignore[union-attr]
        session.get_one(Case, case.id).first_responded_at = end - M
        other = make_agent(session, 2)
    summary = sla_sweep(database_url=db.url.render_as_string(hide_password=False), now=end)
    assert summary["all"] == {"passes_expired": 1}
    assert summary["INC-1"]["assigned"] == 1
    with db.session() as session:
        assert not session.get_one(Agent, temp.id).active
        held = ag.holder_of(session, case.id)
        assert held is not None
        assert held.agent_id == other.id
    assert [r["reason"] for r in kinds(db, "case_released")] == ["pass_expired"]


def test_backup_page_is_not_followed_by_a_repage(db: Store, home: Path) -> None:
    """A breached case nobody held is paged to a backup once; the next sweep does not re-page."""
    with db.session() as session:
        agent = make_agent(session, 1)
        make_case(session, incident(session))
    assert sweep(db, T0 + 16 * M, ack_timeout_minutes=30) == {"page_backup": 1}
    assert sweep(db, T0 + 17 * M, ack_timeout_minutes=30) == {}
    assert [p["address"] for p in sms(home)] == [agent.phone]


def test_waiting_case_is_not_escalated_and_its_quiet_customer_is_reminded(
    db: Store, home: Path
) -> None:
    """After ASK the case is not escalated while it waits (its resolution due time passes
    unnoticed), the customer is reminded after two quiet hours, and once they answer the
    escalation comes at the due time moved later by exactly the wait."""
    with db.session() as session:
        agent = make_agent(session, 1)
        case = make_case(session, incident(session))  # urgent: first response 15m, resolution 2h
    assert sweep(db, T0)["assigned"] == 1
    with db.session() as session:
        reply = handle_agent_message(
            session, str(agent.phone), f"ASK {case.id} which floor are you on?", now=T0 + 5 * M
        )
        assert reply == f"Case {case.id}: question sent; SLA paused until the customer answers."
    assert sweep(db, T0 + 124 * M) == {}  # 2h after opening: would be a resolution breach
    assert sweep(db, T0 + 125 * M) == {"remind_customer": 1}
    assert sweep(db, T0 + 140 * M) == {}
    Intake(db).receive(Inbound("sms", "SM-answer", CUSTOMER, "3rd floor"), now=T0 + 150 * M)
    assert sweep(db, T0 + 264 * M) == {}  # due 2h + 145 min of waiting = T0 + 265 min
    assert sweep(db, T0 + 266 * M) == {"notify_commander": 1}
    to_customer = [p["text"] for p in sms(home) if p["address"] == CUSTOMER]
    assert to_customer[0] == "which floor are you on?"
    assert f"เคส {case.id}" in to_customer[1]  # the reminder, in the customer's language
    assert len(to_customer) == 2


def test_closed_incident_is_swept_while_it_has_open_cases(db: Store, home: Path) -> None:
    """After closure an open urgent case is still assigned and escalated (without inviting
    standby people); once it is resolved, the closed incident is left alone."""
    with db.session() as session:
        make_agent(session, 1)
        case = make_case(session, incident(session))
        for status in (IncidentStatus.STANDING_DOWN, IncidentStatus.CLOSED):
            change_status(session, incident(session), status, now=T0, reason="test")
    assert sweep(db, T0 + M, ack_timeout_minutes=30)["assigned"] == 1
    assert sweep(db, T0 + 16 * M, ack_timeout_minutes=30).get("repage") == 1
    late = kinds(db, "sla_action")
    assert late and late[0]["after_close"] is True
    with db.session() as session:
        stored = session.get_one(Case, case.id)
        stored.status, stored.resolved_at = "resolved", T0 + 20 * M
    summary = sla_sweep(database_url=db.url.render_as_string(hide_password=False), now=T0 + 30 * M)
    assert "INC-1" not in summary
