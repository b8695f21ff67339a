"""A customer's answer to an agent's ASK reaches that agent by SMS (or whoever now holds the
case), and the conversation keeps the question, the answer and what was relayed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from desk_support import CUSTOMER, T0, make_agent, make_case, make_incident
from sqlalchemy import select

from crisiscast.channels.outbox import outbox_path, read_outbox
from crisiscast.channels.sms_segments import count_segments
from crisiscast.config import Settings
from crisiscast.incidents.agents import roster as ag
from crisiscast.incidents.agents.desk import handle_agent_message
from crisiscast.incidents.agents.relay import RELAY_SEGMENTS, relay_hook, relay_text
from crisiscast.incidents.cases.conversation import conversation
from crisiscast.incidents.intake.inbound import Inbound, Intake
from crisiscast.incidents.store.database import Store
from crisiscast.incidents.store.models import Case, TimelineEvent

ANN, BEN = "+15005550001", "+15005550002"
M = timedelta(minutes=1)


@dataclass
class Asked:
    store: Store
    settings: Settings
    ref: str
    case_id: int

    def answer(self, text: str, sid: str = "SM-answer") -> int | None:
        """The customer's SMS, through intake with the relay hook (as the webhook does)."""
        intake = Intake(self.store, on_answer=relay_hook(self.store, self.settings))
        return intake.receive(Inbound("sms", sid, CUSTOMER, text), now=T0 + 10 * M).case_id

    def sms(self) -> list[dict[str, object]]:
        path = outbox_path(self.settings.outbox_dir / self.ref, "sms")
        return list(read_outbox(path)) if path.exists() else []

    def to_agents(self) -> list[tuple[object, object]]:
        return [(s["address"], s["text"]) for s in self.sms() if s["address"] != CUSTOMER]

    def events(self, kind: str) -> list[TimelineEvent]:
        with self.store.session() as session:
            query = select(TimelineEvent).where(TimelineEvent.kind == kind)
            return list(session.scalars(query))


@pytest.fixture
def asked(store: Store, tmp_path: Path) -> Asked:
    """Ann holds a Thai customer's case and has asked them a question by SMS (ASK)."""
    settings = Settings(home=tmp_path / "home", database_url="sqlite://")
    with store.session() as session:
        incident = make_incident(session)
        ann = make_agent(session, 1)
        make_agent(session, 2)
        case = make_case(session, incident)
        ag.assign_case(session, case, ann, now=T0)
        reply = handle_agent_message(session, ANN, f"ASK {case.id} how many people are with you?",
                                     now=T0 + 2 * M, settings=settings)  # fmt: skip
        assert reply == f"Case {case.id}: question sent; SLA paused until the customer answers."
        ref, case_id = incident.ref, case.id
    return Asked(store, settings, ref, case_id)


def test_the_answer_reaches_the_agent_who_asked(asked: Asked) -> None:
    """The customer's answer resumes the case and is texted to Ann as "Case 42 answer: ...";
    the conversation holds the question, the answer and the relay; the timeline names the
    agent by id only."""
    assert asked.answer("มี 4 คน ผู้สูงอายุ 2 คน") == asked.case_id
    assert asked.to_agents() == [(ANN, f"Case {asked.case_id} answer: มี 4 คน ผู้สูงอายุ 2 คน")]
    with asked.store.session() as session:
        lines = conversation(session, asked.case_id)
    assert [(line.kind, line.body) for line in lines] == [
        ("incoming", "help"),
        ("ask", "how many people are with you?"),
        ("incoming", "มี 4 คน ผู้สูงอายุ 2 คน"),
        ("relay", f"Case {asked.case_id} answer: มี 4 คน ผู้สูงอายุ 2 คน"),
    ]
    assert lines[1].author == "agent:1 Agent 1"
    [event] = asked.events("answer_relayed")
    assert event.data is not None and event.data["agent_id"] == 1
    assert ANN not in event.message and CUSTOMER not in event.message


def test_only_the_answer_that_resumes_the_case_is_relayed(asked: Asked) -> None:
    """A second message from the customer is not an answer to the question: no second relay."""
    asked.answer("4 people", sid="SM-1")
    asked.answer("thank you", sid="SM-2")
    assert [text for _, text in asked.to_agents()] == [f"Case {asked.case_id} answer: 4 people"]


def test_the_answer_goes_to_whoever_holds_the_case_now(asked: Asked) -> None:
    """Ann passed the case after asking and Ben took it: the answer is Ben's work."""
    with asked.store.session() as session:
        assert handle_agent_message(session, ANN, f"PASS {asked.case_id}", now=T0 + 3 * M)
        ben, case = ag.find_agent(session, BEN), session.get(Case, asked.case_id)
        assert ben is not None and case is not None
        ag.assign_case(session, case, ben, now=T0 + 4 * M)
    asked.answer("4 people")
    assert asked.to_agents() == [(BEN, f"Case {asked.case_id} answer: 4 people")]


def test_an_answer_nobody_holds_waits_for_the_next_agent(asked: Asked) -> None:
    """With the case back in the queue, nobody is texted; the timeline says the answer waits."""
    with asked.store.session() as session:
        assert handle_agent_message(session, ANN, "OFF", now=T0 + 3 * M)
    asked.answer("4 people")
    assert asked.to_agents() == []
    assert len(asked.events("answer_waiting")) == 1


def test_a_long_answer_is_cut_to_fit_its_segments() -> None:
    """A long answer fits RELAY_SEGMENTS segments, ending "..." (GSM-7 stays GSM-7)."""
    text = relay_text(42, "The water is at the second floor now and " * 20)
    count = count_segments(text)
    assert text.startswith("Case 42 answer: The water is at")
    assert text.endswith("...") and (count.encoding, count.segments) == ("gsm7", RELAY_SEGMENTS)
    thai = count_segments(relay_text(42, "น้ำท่วมถึงชั้นสองแล้ว " * 40))
    assert (thai.encoding, thai.segments) == ("ucs2", RELAY_SEGMENTS)
