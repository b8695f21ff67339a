"""Agents' SMS and email commands applied to the store, with the reply each one gets."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from desk_support import CUSTOMER, T0, make_agent, make_case, make_incident
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session

from crisiscast.channels.outbox import outbox_path, read_outbox
from crisiscast.config import Settings, TwilioSettings
from crisiscast.incidents.agents import roster as ag
from crisiscast.incidents.agents.commands import HELP_TEXT
from crisiscast.incidents.agents.desk import (
    ALREADY_APPLIED,
    CONFIRM_WINDOW,
    Origin,
    handle_agent_message,
)
from crisiscast.incidents.store.database import Store
from crisiscast.incidents.store.models import Agent, Assignment, Case, Incident, TimelineEvent

ANN, BEN = "+15005550001", "+15005550002"
LATER = T0 + timedelta(minutes=2)


@dataclass
class Desk:
    session: Session
    incident: Incident
    ann: Agent
    ben: Agent
    case: Case  # held by Ann

    def send(self, sender: str, body: str) -> str | None:
        return handle_agent_message(self.session, sender, body, now=LATER)

    def events(self, kind: str) -> list[TimelineEvent]:
        query = select(TimelineEvent).where(TimelineEvent.kind == kind)
        return list(self.session.scalars(query))

    def assignment(self) -> Assignment:
        query = select(Assignment).where(Assignment.case_id == self.case.id)
        return self.session.scalars(query.order_by(Assignment.id)).all()[-1]


@pytest.fixture
def desk(store: Store) -> Iterator[Desk]:
    """Ann holds an urgent case (paged, not ACKed yet); Ben is on duty with nothing."""
    with store.session() as session:
        incident = make_incident(session)
        ann, ben = make_agent(session, 1), make_agent(session, 2)
        case = make_case(session, incident)
        ag.assign_case(session, case, ann, now=T0)
        yield Desk(session, incident, ann, ben, case)


def test_unknown_number_is_not_an_agent(desk: Desk) -> None:
    """A sender who is not an agent gets None back: their message is a customer's."""
    assert desk.send(CUSTOMER, f"ACK {desk.case.id}") is None
    assert desk.assignment().acked_at is None


def test_malformed_command_gets_the_usage(desk: Desk) -> None:
    """A command without its case number, or an unknown word, is answered with what to send."""
    assert (
        desk.send(ANN, "ACK") == "ACK needs a case number: send ACK 42 (the number from the page)."
    )
    reply = desk.send(ANN, "hello there")
    assert reply is not None
    assert reply.startswith("Unknown command 'hello'. Commands: ACK 42")


def test_ack_takes_the_case_and_stops_the_first_response_clock(desk: Desk) -> None:
    """ACK marks the assignment acknowledged and counts as the case's first response."""
    reply = desk.send(ANN, f"  ack{desk.case.id} ")
    assert (
        reply == f"Case {desk.case.id} is yours. Reply DONE {desk.case.id} when resolved, "
        f"ESC {desk.case.id} if stuck."
    )
    assert desk.assignment().acked_at == LATER
    assert (desk.case.first_responded_at, desk.case.status) == (LATER, "acknowledged")
    assert len(desk.events("case_acked")) == 1


def test_command_in_thai_is_understood(desk: Desk) -> None:
    """A Thai ACK with Thai digits and a polite particle works like the English one."""
    thai_digits = str(desk.case.id).translate(str.maketrans("0123456789", "๐๑๒๓๔๕๖๗๘๙"))
    reply = desk.send(ANN, f"รับ {thai_digits} ครับ")
    assert reply is not None
    assert reply.startswith(f"Case {desk.case.id} is yours")
    assert desk.assignment().acked_at == LATER


def test_someone_elses_case_is_refused(desk: Desk) -> None:
    """Ben cannot ACK, close or pass Ann's case; nothing changes."""
    for verb in ("ACK", "DONE", "ESC", "PASS"):
        reply = desk.send(BEN, f"{verb} {desk.case.id}")
        assert reply is not None
        assert reply.startswith(f"Case {desk.case.id} is assigned to another agent, not to you")
    assert desk.assignment().agent_id == desk.ann.id
    assert desk.assignment().released_at is None
    assert desk.case.resolved_at is None


def test_case_that_does_not_exist_is_named(desk: Desk) -> None:
    """A wrong case number gets an error that names it."""
    assert desk.send(ANN, "ACK 99999") == (
        "Case 99999 does not exist in this incident. Check the number in the page, "
        "or send NEXT for a case."
    )


def test_done_resolves_with_the_note_on_the_timeline(desk: Desk) -> None:
    """DONE resolves the case, ends the assignment and puts the note on the timeline."""
    reply = desk.send(ANN, f"DONE {desk.case.id} family rescued by boat")
    assert reply == f"Case {desk.case.id} marked resolved. Thank you."
    assert (desk.case.status, desk.case.resolved_at) == ("resolved", LATER)
    assert desk.assignment().reason == "resolved"
    [event] = desk.events("case_resolved")
    assert "family rescued by boat" in event.message
    again = desk.send(ANN, f"DONE {desk.case.id}")
    assert (
        again == f"Case {desk.case.id} is already resolved: nothing to do. Send NEXT for another."
    )


def test_done_while_waiting_on_the_customer_ends_the_pause(desk: Desk) -> None:
    """Resolving a paused case closes the pause, so the report counts the waiting time."""
    desk.case.paused_at = T0
    desk.send(ANN, f"DONE {desk.case.id}")
    assert desk.case.paused_at is None
    assert desk.case.paused_total_seconds == 120


def test_esc_releases_and_tells_the_commander(desk: Desk) -> None:
    """ESC ends Ann's assignment as escalated and records it for the commander."""
    reply = desk.send(ANN, f"ESC {desk.case.id} needs a boat")
    assert reply == f"Case {desk.case.id} escalated; the commander and a backup agent are told."
    assert desk.assignment().reason == "escalated"
    assert "needs a boat" in desk.events("case_escalated")[0].message


def test_pass_hands_the_case_on_and_not_back(desk: Desk) -> None:
    """After PASS, NEXT gives the case to Ben, and never back to Ann."""
    assert desk.send(ANN, f"PASS {desk.case.id}") == (
        f"Case {desk.case.id} passed on; it goes to another agent."
    )
    assert desk.send(ANN, "NEXT") == (
        "No case is waiting for you right now. You stay on duty; pages will follow."
    )
    page = desk.send(BEN, "next")
    assert page is not None
    assert page.startswith(f"URGENT case {desk.case.id}")
    assert CUSTOMER not in page
    assert desk.assignment().agent_id == desk.ben.id


def test_next_gives_the_most_severe_waiting_case_first(desk: Desk) -> None:
    """NEXT picks an urgent case before a low one that came in earlier."""
    low = make_case(desk.session, desk.incident, severity="low", now=T0 - timedelta(hours=1))
    urgent = make_case(desk.session, desk.incident, severity="urgent")
    page = desk.send(BEN, "NEXT")
    assert page is not None
    assert page.startswith(f"URGENT case {urgent.id}")
    assert ag.holder_of(desk.session, low.id) is None


def test_off_releases_holdings_and_stops_pages(desk: Desk) -> None:
    """OFF takes Ann off duty and puts her case back in the queue; NEXT brings her back."""
    reply = desk.send(ANN, "OFF")
    assert reply is not None
    assert reply.endswith(f"Cases back in the queue: {desk.case.id}.")
    assert not desk.ann.active
    assert desk.assignment().reason == "agent_off"
    assert desk.send(ANN, "OFF now") == "OFF takes nothing after it: send just OFF."
    page = desk.send(ANN, "NEXT")
    assert page is not None
    assert desk.ann.active


def test_help_lists_the_commands(desk: Desk) -> None:
    """HELP (and '?') answer with every command."""
    assert desk.send(ANN, "HELP") == HELP_TEXT
    assert desk.send(ANN, "?") == HELP_TEXT


def test_email_command_without_authentication_is_refused(desk: Desk) -> None:
    """An email command whose authentication was not checked (no origin) or failed is refused
    with why, changes nothing and is recorded (issue 12, F1)."""
    reply = desk.send("Agent1@Example.org", f"ACK {desk.case.id}")
    assert reply is not None and reply.startswith("Your command was not applied")
    failed = Origin("email", "<m1@example.org>", authenticated=False, why_not="SPF fail")
    reply = handle_agent_message(desk.session, "agent1@example.org", "OFF", now=LATER,
                                 origin=failed)  # fmt: skip
    assert reply is not None and "SPF fail" in reply
    assert desk.ann.active and desk.assignment().acked_at is None
    refused = desk.events("agent_command_refused")
    assert len(refused) == 2 and (refused[0].data or {})["case_id"] == desk.case.id


def test_email_command_waits_for_the_sms_confirmation(desk: Desk, tmp_path: Path) -> None:
    """An authenticated email command applies only once the agent's phone sends CONFIRM n
    within the window; after 30 minutes it has expired (issue 12, F1)."""
    twilio = TwilioSettings("AC" + "0" * 32, SecretStr("token"), from_number="+15005550006")
    settings = Settings(home=tmp_path, database_url="sqlite://", twilio=twilio)
    ok = Origin("email", "<m2@example.org>")
    reply = handle_agent_message(desk.session, "agent1@example.org", f"ACK {desk.case.id}",
                                 now=LATER, settings=settings, origin=ok)  # fmt: skip
    assert reply is not None and "CONFIRM" in reply
    assert desk.assignment().acked_at is None
    (page,) = outbox(tmp_path, desk.incident.ref)
    number = str(page["text"]).split("CONFIRM ")[1].split()[0]
    late = LATER + CONFIRM_WINDOW + timedelta(seconds=1)
    expired = handle_agent_message(desk.session, ANN, f"CONFIRM {number}", now=late,
                                   origin=Origin("sms", "SM1"))  # fmt: skip
    assert expired is not None and expired.startswith("No email command")
    reply = handle_agent_message(desk.session, ANN, f"CONFIRM {number}", now=LATER,
                                 origin=Origin("sms", "SM2"))  # fmt: skip
    assert reply is not None and reply.startswith(f"Case {desk.case.id} is yours")
    assert desk.assignment().acked_at == LATER


def test_same_provider_id_is_applied_once(desk: Desk) -> None:
    """A command's provider id is applied once: a replay answers "" and changes nothing
    (issue 12, F2)."""
    off = Origin("sms", "SM" + "7" * 32)
    assert handle_agent_message(desk.session, ANN, "OFF", now=LATER, origin=off) is not None
    assert not desk.ann.active
    handle_agent_message(desk.session, ANN, "NEXT", now=LATER, origin=Origin("sms", "SM8"))
    assert desk.ann.active
    replay = handle_agent_message(desk.session, ANN, "OFF", now=LATER, origin=off)
    assert replay == ALREADY_APPLIED and desk.ann.active


def test_yes_without_an_invitation_is_answered(desk: Desk) -> None:
    """YES from an agent who was not invited changes nothing and says so."""
    assert desk.send(BEN, "YES") == (
        "There is no open invitation for you (it may have ended). Thank you anyway."
    )


def ask(desk: Desk, sender: str, body: str, home: Path) -> str | None:
    """Send an agent command with settings whose outbox is under ``home``; Twilio credentials
    are set, so only the exercise rule keeps the question on the machine."""
    twilio = TwilioSettings("AC" + "0" * 32, SecretStr("token"), from_number="+15005550006")
    settings = Settings(home=home, database_url="sqlite://", twilio=twilio)
    return handle_agent_message(desk.session, sender, body, now=LATER, settings=settings)


def outbox(home: Path, ref: str) -> list[dict[str, object]]:
    path = outbox_path(home / "outbox" / ref, "sms")
    return list(read_outbox(path)) if path.exists() else []


def test_ask_sends_the_question_and_pauses_the_sla(desk: Desk, tmp_path: Path) -> None:
    """ASK by the holder texts the question to the customer (an exercise: outbox only), pauses
    the clocks, sets the case waiting on the customer and confirms."""
    reply = ask(desk, ANN, f"ask {desk.case.id} which floor are you on?", tmp_path)
    assert reply == f"Case {desk.case.id}: question sent; SLA paused until the customer answers."
    [sent] = outbox(tmp_path, desk.incident.ref)
    assert (sent["address"], sent["text"]) == (CUSTOMER, "which floor are you on?")
    assert (desk.case.status, desk.case.paused_at) == ("waiting_on_customer", LATER)
    assert desk.case.first_responded_at == LATER  # a question is a response
    assert desk.assignment().acked_at == LATER  # so the no-ACK release leaves it with Ann
    [event] = desk.events("case_waiting")
    assert event.data is not None and event.data["question"] == "which floor are you on?"
    assert CUSTOMER not in event.message


def test_ask_by_someone_else_or_on_an_unknown_case_is_refused(desk: Desk, tmp_path: Path) -> None:
    """Ben cannot ASK on Ann's case and nobody can on a case that does not exist: nothing is
    sent and the clocks keep running."""
    reply = ask(desk, BEN, f"ASK {desk.case.id} where are you?", tmp_path)
    assert reply is not None
    assert reply.startswith(f"Case {desk.case.id} is assigned to another agent, not to you")
    assert ask(desk, ANN, "ASK 99999 where are you?", tmp_path) == (
        "Case 99999 does not exist in this incident. Check the number in the page, "
        "or send NEXT for a case."
    )
    assert ask(desk, ANN, f"ASK {desk.case.id}", tmp_path) == (
        f"ASK needs a question after the case number: send ASK {desk.case.id} followed by "
        "what the customer should answer."
    )
    assert outbox(tmp_path, desk.incident.ref) == []
    assert (desk.case.status, desk.case.paused_at) == ("new", None)


def test_ask_that_cannot_reach_the_customer_pauses_nothing(desk: Desk, tmp_path: Path) -> None:
    """A case from the web form has no channel to text back on: ASK says so, no pause."""
    web = make_case(desk.session, desk.incident, channel="web", sender="form:1")
    ag.assign_case(desk.session, web, desk.ann, now=T0)
    reply = ask(desk, ANN, f"ASK {web.id} where are you?", tmp_path)
    assert reply == (
        f"Case {web.id}: the question could not be sent (channel web takes no direct note), "
        "so the SLA keeps running. Reach the customer another way, or send ASK again."
    )
    assert (web.status, web.paused_at) == ("new", None)
    assert len(desk.events("question_failed")) == 1
