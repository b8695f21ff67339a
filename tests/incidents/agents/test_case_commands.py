"""INFO and STATUS by SMS, and the audit entry every agent command leaves (applied or not)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from desk_support import CUSTOMER, T0, make_agent, make_case, make_incident
from sqlalchemy import select
from sqlalchemy.orm import Session

from crisiscast.channels.sms_segments import count_segments
from crisiscast.config import Settings
from crisiscast.incidents.agents import case_link
from crisiscast.incidents.agents import roster as ag
from crisiscast.incidents.agents.desk import Origin, handle_agent_message
from crisiscast.incidents.cases.conversation import conversation
from crisiscast.incidents.store.database import Store
from crisiscast.incidents.store.models import (
    Agent,
    Assignment,
    AuditEvent,
    Case,
    InboundMessage,
    Incident,
)

ANN, BEN = "+15005550001", "+15005550002"
LATER = T0 + timedelta(minutes=2)
WORDS = "We are 4 on the roof of the school on Soi 5, the water is still rising"
FLOOD_STATUSES = "new, acknowledged, dispatched, waiting_on_customer, resolved, closed"


@dataclass
class Desk:
    session: Session
    settings: Settings
    incident: Incident
    ann: Agent
    ben: Agent
    case: Case  # held by Ann

    def send(self, sender: str, body: str, origin: Origin | None = None) -> str:
        reply = handle_agent_message(self.session, sender, body, now=LATER,
                                     settings=self.settings, origin=origin)  # fmt: skip
        assert reply is not None
        return reply

    def audit(self, action: str) -> list[AuditEvent]:
        query = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        return list(self.session.scalars(query))


@pytest.fixture
def desk(store: Store, tmp_path: Path) -> Iterator[Desk]:
    """Ann holds an urgent English case whose customer wrote WORDS; Ben is on duty."""
    settings = Settings(home=tmp_path / "home", database_url="sqlite://")
    with store.session() as session:
        incident = make_incident(session)
        ann, ben = make_agent(session, 1), make_agent(session, 2)
        case = make_case(session, incident, language="en")
        message = session.scalars(select(InboundMessage).where(InboundMessage.case_id == case.id))
        message.one().body = WORDS
        ag.assign_case(session, case, ann, now=T0)
        yield Desk(session, settings, incident, ann, ben, case)


@pytest.mark.parametrize("word", ["INFO", "info", "details", "ข้อมูล", "ຂໍ້ມູນ"])
def test_info_answers_with_the_case_details(desk: Desk, word: str) -> None:
    """INFO 42 (Thai ข้อมูล, Lao ຂໍ້ມູນ) answers with the words, severity and why, status and
    clocks, masked contact and the agent's own link, in at most four segments."""
    reply = desk.send(ANN, f"{word} {desk.case.id}")
    case = desk.case.id
    assert reply.startswith(f"URGENT case {case} {desk.incident.ref} (rescue)")
    assert f'"{WORDS}"' in reply
    assert "Why: signal trapped (urgency critical)" in reply
    assert "Status: new; open 2 min; first response due in 13 min" in reply
    assert "Where: not known" in reply
    assert "Contact: +6681****678 via sms" in reply and CUSTOMER not in reply
    [link] = [line for line in reply.splitlines() if "/c/" in line]
    claim = case_link.verify(case_link.link_secret(desk.settings), link.rsplit("/", 1)[1])
    assert claim == case_link.LinkClaim(case, desk.ann.id)
    assert count_segments(reply).segments <= 4
    [entry] = desk.audit("agent.info")
    assert (entry.subject, entry.source, (entry.detail or {})["outcome"]) == (
        f"case {case}",
        "sms",
        "applied",
    )


def test_info_on_someone_elses_case_tells_nothing(desk: Desk) -> None:
    """Ben may not read Ann's case: refused, nothing of the case in the answer, audited."""
    reply = desk.send(BEN, f"INFO {desk.case.id}")
    assert reply.startswith(f"Case {desk.case.id} is assigned to another agent, not to you")
    assert WORDS not in reply
    [entry] = desk.audit("agent.info")
    assert entry.detail is not None and entry.detail["outcome"] == "refused"
    assert entry.actor == f"agent:{desk.ben.id} Agent 2"


STATUS_TEXTS = ["STATUS {id} dispatched", "status {id} Dispatched", "สถานะ {id} dispatched ครับ",
                "ສະຖານະ {id} dispatched"]  # fmt: skip


@pytest.mark.parametrize("text", STATUS_TEXTS)
def test_status_sets_a_custom_status_of_the_playbook(desk: Desk, text: str) -> None:
    """STATUS 42 dispatched reaches the flood playbook's own status, in any of the languages,
    and is kept in the conversation and the audit log (who, from where, what changed)."""
    reply = desk.send(ANN, text.format(id=desk.case.id))
    assert reply == f"Case {desk.case.id} is now dispatched."
    assert desk.case.status == "dispatched"
    assert desk.case.first_responded_at == LATER and desk.case.resolved_at is None
    assert [(line.kind, line.body) for line in conversation(desk.session, desk.case.id)][-1] == (
        "status",
        "new -> dispatched",
    )
    [changed] = desk.audit("case.status")
    assert (changed.actor, changed.source, changed.detail) == (
        f"agent:{desk.ann.id} Agent 1",
        "sms",
        {"from": "new", "to": "dispatched"},
    )
    [command] = desk.audit("agent.status")
    assert command.detail is not None
    assert command.detail["outcome"] == "applied"
    assert str(command.detail["status"]).lower() == "dispatched"


def test_unknown_status_is_refused_with_the_allowed_ones(desk: Desk) -> None:
    """A status the playbook does not name changes nothing; the answer lists what to send."""
    reply = desk.send(ANN, f"STATUS {desk.case.id} on the way")
    assert reply == (
        f"Case {desk.case.id}: 'on the way' is not a status of this incident. Send STATUS "
        f"{desk.case.id} followed by one of: {FLOOD_STATUSES}."
    )
    assert desk.case.status == "new"
    [command] = desk.audit("agent.status")
    assert command.detail is not None and command.detail["outcome"] == "refused"
    assert desk.audit("case.status") == []
    assert desk.send(ANN, f"STATUS {desk.case.id}") == (
        f"STATUS needs a status after the case number: send STATUS {desk.case.id} followed by "
        "the new status (one the playbook names, e.g. dispatched)."
    )


def test_status_waiting_is_left_to_ask_and_resolved_ends_the_assignment(desk: Desk) -> None:
    """Waiting on the customer comes only with ASK (it pauses the SLA); a closing status
    resolves the case and frees the agent like DONE."""
    waiting = desk.send(ANN, f"STATUS {desk.case.id} waiting_on_customer")
    assert waiting.startswith(f"Case {desk.case.id}: to wait on the customer, send ASK")
    assert desk.case.status == "new"
    assert desk.send(ANN, f"STATUS {desk.case.id} resolved").endswith("is now resolved.")
    assert (desk.case.status, desk.case.resolved_at) == ("resolved", LATER)
    held = desk.session.scalars(select(Assignment).where(Assignment.case_id == desk.case.id))
    assert held.one().released_at == LATER


def test_every_command_is_audited_applied_or_refused(desk: Desk) -> None:
    """Applied and refused commands, by SMS and email, each leave one audit entry with the
    case and the outcome, and never a phone number or an email address."""
    desk.send(ANN, f"ACK {desk.case.id}")
    desk.send(BEN, f"DONE {desk.case.id}")
    desk.send(ANN, "call me on +66 81 234 5678 or ann@example.org")
    desk.send("agent1@example.org", f"PASS {desk.case.id}")  # no authentication: refused
    [ack] = desk.audit("agent.ack")
    assert (ack.incident_id, ack.subject, ack.source) == (desk.incident.id, f"case {desk.case.id}",
                                                          "sms")  # fmt: skip
    assert ack.detail == {"outcome": "applied", "case_id": desk.case.id}
    [done] = desk.audit("agent.done")
    assert done.detail is not None and done.detail["outcome"] == "refused"
    assert "assigned to another agent" in done.detail["reason"]
    [unreadable] = desk.audit("agent.unreadable")
    assert unreadable.detail is not None and unreadable.detail["outcome"] == "refused"
    [passed] = desk.audit("agent.pass")
    assert (passed.source, (passed.detail or {})["outcome"]) == ("email", "refused")
    entries = [*desk.audit("agent.ack"), done, unreadable, passed]
    everything = " ".join(f"{e.actor} {e.subject} {e.detail}" for e in entries)
    for personal in ("+6681", "81 234", "ann@example.org", "agent1@", ANN):
        assert personal not in everything


def test_confirmed_email_command_is_audited_as_held_then_applied(desk: Desk) -> None:
    """An authenticated email command is held until CONFIRM; then both the CONFIRM (by SMS)
    and the command (from the email) are recorded as applied."""
    reply = desk.send("agent1@example.org", f"ACK {desk.case.id}", Origin("email", "<m1@x.org>"))
    number = reply.split("CONFIRM ")[1].split()[0]
    [held] = desk.audit("agent.ack")
    assert (held.source, (held.detail or {})["outcome"]) == ("email", "held")
    desk.send(ANN, f"CONFIRM {number}", Origin("sms", "SM1"))
    [confirm] = desk.audit("agent.confirm")
    assert confirm.detail == {"outcome": "applied", "case_id": None, "email_command": int(number)}
    applied = desk.audit("agent.ack")[1]
    assert (applied.source, (applied.detail or {})["outcome"]) == ("email", "applied")
