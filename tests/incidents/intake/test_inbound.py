"""Intake: store first, dedupe by provider id, match incident and contact, then case or opt-out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from crisiscast.incidents.broadcast.ledger import (
    QueuedDelivery,
    contact_key,
    delivery_key,
    queue_deliveries,
)
from crisiscast.incidents.cases import customer_wait as wait
from crisiscast.incidents.cases.sla import SlaTimer
from crisiscast.incidents.intake import inbound as intake_module
from crisiscast.incidents.intake.inbound import Inbound, Intake, Pending
from crisiscast.incidents.store.database import Store, add_announcement, create_incident
from crisiscast.incidents.store.models import Case, Contact, InboundMessage, OptOut, TimelineEvent

FLOOD = Path(__file__).resolve().parents[3] / "playbooks" / "regional-flood.yaml"
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
PHONE = "+66812345678"


def incident(store: Store, *, path: Path = FLOOD, at: datetime = T0) -> int:
    with store.session() as session:
        row = create_incident(
            session, playbook_id="regional-flood", playbook_path=str(path), title="Flood",
            params={}, languages=["en", "th", "lo"], exercise=False, now=at,
        )  # fmt: skip
        return row.id


def announce_to(store: Store, incident_id: int, address: str) -> int:
    """Stage an SMS announcement and a ledger row for ``address``; the announcement row id."""
    with store.session() as session:
        row = add_announcement(
            session, incident_id, announcement_id="warning", when="launch", channel="sms",
            language="en", subject=None, body="Flood warning", html=None, now=T0,
        )  # fmt: skip
        key = delivery_key(incident_id, row.id, "sms", address)
        queue_deliveries(session, [QueuedDelivery(key, incident_id, row.id, "sms", None, address)],
                         now=T0)  # fmt: skip
        return row.id


def announce_to_contact(store: Store, incident_id: int, phone: str) -> int:
    """As a broadcast records it: the contact's ledger row keyed by contact id, not address."""
    with store.session() as session:
        contact = Contact(audience="all", phone=phone, language="en")
        session.add(contact)
        row = add_announcement(
            session, incident_id, announcement_id="warning", when="launch", channel="sms",
            language="en", subject=None, body="Flood warning", html=None, now=T0,
        )  # fmt: skip
        session.flush()
        key = contact_key(incident_id, row.id, "sms", contact.id)
        queued = QueuedDelivery(key, incident_id, row.id, "sms", contact.id, phone)
        queue_deliveries(session, [queued], now=T0)
        return row.id


def sms(body: str, sid: str = "SM1", sender: str = PHONE) -> Inbound:
    return Inbound("sms", sid, sender, body)


def test_reply_matches_the_incident_that_announced_to_the_sender(store: Store) -> None:
    """The incident whose announcement reached this number wins over a newer active one."""
    announced = incident(store)
    announcement = announce_to(store, announced, PHONE)
    incident(store, at=T0 + timedelta(hours=1))  # newer, but never wrote to this person
    result = Intake(store).receive(sms("we need water"), now=T0 + timedelta(hours=2))
    assert result.incident_ref == f"INC-{announced}"
    with store.session() as session:
        case = session.get(Case, result.case_id)
        assert case is not None and case.incident_id == announced
        assert case.why is not None and case.why["announcement"] == announcement


def test_reply_matches_a_broadcast_keyed_by_contact(store: Store) -> None:
    """A broadcast's contact-keyed delivery finds the incident that wrote to this person."""
    announced = incident(store)
    announcement = announce_to_contact(store, announced, PHONE)
    incident(store, at=T0 + timedelta(hours=1))
    result = Intake(store).receive(sms("we need water"), now=T0 + timedelta(hours=2))
    assert result.incident_ref == f"INC-{announced}"
    with store.session() as session:
        case = session.get(Case, result.case_id)
        assert case is not None and case.why is not None
        assert case.why["announcement"] == announcement


def test_unknown_sender_goes_to_the_newest_active_incident(store: Store) -> None:
    """Someone the ledger does not know is matched to the newest active incident."""
    incident(store)
    newest = incident(store, at=T0 + timedelta(hours=1))
    result = Intake(store).receive(sms("hello"), now=T0 + timedelta(hours=2))
    assert result.incident_ref == f"INC-{newest}"


def test_known_contact_is_linked_to_the_case(store: Store) -> None:
    """A reply from a known phone number links the case to that contact."""
    incident(store)
    with store.session() as session:
        contact = Contact(audience="residents", phone=PHONE, language="th")
        session.add(contact)
        session.flush()
        contact_id = contact.id
    result = Intake(store).receive(sms("we need food"), now=T0)
    with store.session() as session:
        case = session.get(Case, result.case_id)
        assert case is not None and case.contact_id == contact_id


def test_duplicate_provider_id_is_not_processed_again(store: Store) -> None:
    """The same MessageSid twice: one stored message, one case, and no second reply."""
    incident(store)
    intake = Intake(store)
    first = intake.receive(sms("trapped on the roof"), now=T0)
    second = intake.receive(sms("trapped on the roof"), now=T0 + timedelta(seconds=5))
    assert (first.outcome, second.outcome) == ("case", "duplicate")
    assert first.reply and second.reply is None
    with store.session() as session:
        assert len(session.scalars(select(InboundMessage)).all()) == 1


def test_message_is_committed_before_processing(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If triage crashes, the accepted message is already in the store, ready to be retried."""
    incident(store)

    def crash(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("triage bug")

    monkeypatch.setattr(intake_module, "triage", crash)
    with pytest.raises(RuntimeError):
        Intake(store).receive(sms("help"), now=T0)
    with store.session() as session:
        (message,) = session.scalars(select(InboundMessage)).all()
        assert message.body == "help" and message.case_id is None


def test_unusable_playbook_still_opens_a_case_without_auto_reply(
    store: Store, tmp_path: Path
) -> None:
    """A playbook file that is gone: built-in triage, a case, and no reply from nowhere."""
    incident(store, path=tmp_path / "gone.yaml")
    result = Intake(store).receive(sms("200 people are trapped"), now=T0)
    assert result.outcome == "case" and result.severity == "urgent" and result.reply is None


def test_lao_stop_word_opts_out(store: Store) -> None:
    """ຢຸດ (stop) records the opt-out for the number instead of opening a case."""
    incident(store)
    result = Intake(store).receive(sms("ຢຸດ"), now=T0)
    assert result.outcome == "opted_out" and result.language == "lo"
    with store.session() as session:
        (opt_out,) = session.scalars(select(OptOut)).all()
        assert (opt_out.address, opt_out.channel) == (PHONE, "sms")
        assert session.scalars(select(Case)).first() is None


def test_stop_inside_a_sentence_is_a_case_not_an_opt_out(store: Store) -> None:
    """ "please stop the water" is a plea for help, triaged like any other reply."""
    incident(store)
    result = Intake(store).receive(sms("please stop the water coming in"), now=T0)
    assert result.outcome == "case"


def test_without_an_active_incident_the_message_is_kept(store: Store) -> None:
    """No incident at all: the message is stored and a case opened, with no SLA promised."""
    result = Intake(store).receive(sms("is the road open?"), now=T0)
    assert result.incident_ref is None and result.outcome == "case"
    with store.session() as session:
        case = session.get(Case, result.case_id)
        assert case is not None and case.first_response_due is None


def test_a_batch_is_processed_in_order_like_single_messages(store: Store) -> None:
    """In one batch: a repeated id is a duplicate, the same sender's second message joins the
    case the first opened (raising it), and only the first message is answered."""
    incident(store)
    batch = [
        Pending(sms("just checking in", sid="SM-a"), T0),
        Pending(sms("just checking in", sid="SM-a"), T0),
        Pending(sms("now my father is trapped", sid="SM-b"), T0),
        Pending(sms("we need food", sid="SM-c", sender="+66899999999"), T0),
    ]
    results = Intake(store).receive_many(batch)
    assert [r.outcome for r in results] == ["case", "duplicate", "case", "case"]
    assert results[0].case_id == results[2].case_id != results[3].case_id
    assert [r.reply is not None for r in results] == [True, False, False, True]
    with store.session() as session:
        case = session.get(Case, results[0].case_id)
        assert case is not None and case.severity == "urgent"
        assert case.first_response_due == T0 + timedelta(minutes=15)
        assert len(session.scalars(select(InboundMessage)).all()) == 3


def wait_on_customer(store: Store, case_id: int, at: datetime, *, responded: bool) -> Case:
    """Pause the case as an agent's ASK does (the agent desk's own tests cover the command)."""
    with store.session() as session:
        case = session.get_one(Case, case_id)
        for key, value in wait.paused_values(SlaTimer.from_case(case), at).items():
            setattr(case, key, value)
        case.first_responded_at = at if responded else None
        session.flush()
        session.expunge(case)
        return case


def test_customer_answer_resumes_the_clocks_by_exactly_the_wait(store: Store) -> None:
    """The customer's reply joins the waiting case, moves the running due time later by exactly
    the pause, leaves the stopped first-response clock alone and records the resume."""
    incident(store)
    opened = Intake(store).receive(sms("my father is trapped"), now=T0)
    assert opened.case_id is not None
    before = wait_on_customer(store, opened.case_id, T0 + timedelta(minutes=10), responded=True)
    answer = Intake(store).receive(
        sms("3rd floor, 4 people", sid="SM2"), now=T0 + timedelta(minutes=55)
    )
    assert answer.case_id == opened.case_id
    with store.session() as session:
        case = session.get_one(Case, opened.case_id)
        assert (case.status, case.paused_at) == ("acknowledged", None)
        assert case.paused_total_seconds == 45 * 60
        assert case.first_response_due == before.first_response_due  # stopped: never moved
        assert before.resolution_due is not None
        assert case.resolution_due == before.resolution_due + timedelta(minutes=45)
        [event] = session.scalars(select(TimelineEvent).where(TimelineEvent.kind == "case_resumed"))
        assert event.data == {"case_id": case.id, "paused_seconds": 2700}
        assert PHONE not in event.message


def test_answer_before_any_response_puts_the_case_back_to_new(store: Store) -> None:
    """Without a first response the answered case is new again and both clocks move; a second
    message after the resume moves nothing more."""
    incident(store)
    opened = Intake(store).receive(sms("my father is trapped"), now=T0)
    assert opened.case_id is not None
    before = wait_on_customer(store, opened.case_id, T0 + timedelta(minutes=5), responded=False)
    intake = Intake(store)
    intake.receive(sms("still here", sid="SM2"), now=T0 + timedelta(minutes=25))
    intake.receive(sms("please hurry", sid="SM3"), now=T0 + timedelta(minutes=40))
    with store.session() as session:
        case = session.get_one(Case, opened.case_id)
        assert case.status == "new"
        assert before.first_response_due is not None and before.resolution_due is not None
        assert case.first_response_due == before.first_response_due + timedelta(minutes=20)
        assert case.resolution_due == before.resolution_due + timedelta(minutes=20)
        assert case.paused_total_seconds == 20 * 60


def test_raise_in_the_answer_keeps_the_time_waited(store: Store) -> None:
    """An answer that raises the case recomputes due times from the opening plus the wait, in
    the same batch as the resume."""
    incident(store)
    opened = Intake(store).receive(sms("just checking in"), now=T0)
    assert opened.case_id is not None and opened.severity != "urgent"
    wait_on_customer(store, opened.case_id, T0 + timedelta(minutes=10), responded=False)
    batch = [Pending(sms("now my father is trapped", sid="SM2"), T0 + timedelta(minutes=70))]
    [raised] = Intake(store).receive_many(batch)
    assert raised.severity == "urgent"
    with store.session() as session:
        case = session.get_one(Case, opened.case_id)
        assert case.paused_at is None
        assert case.first_response_due == T0 + timedelta(minutes=15 + 60)
        assert case.resolution_due == T0 + timedelta(hours=2, minutes=60)
