"""Opt-outs: STOP and its Thai/Lao equivalents, honoured at once (queued rows) and for good."""

from __future__ import annotations

import pytest
from ledger_support import NOW, seed, statuses
from sqlalchemy import text

from crisiscast.incidents.audience.optout import (
    handle_reply,
    opt_out_keyword,
    opted_out_addresses,
    record_opt_out,
)
from crisiscast.incidents.broadcast import ledger as lg
from crisiscast.incidents.store import database as st
from crisiscast.incidents.store.models import IN_FLIGHT

LANGUAGES = ["en", "th", "lo"]


@pytest.mark.parametrize(
    ("message", "word"),
    [
        ("STOP", "stop"),
        ("  stop! ", "stop"),
        ("Unsubscribe", "unsubscribe"),
        ("STOPALL", "stopall"),
        ("opt   out", "opt out"),
        ("หยุด", "หยุด"),  # th: stop
        ("ยกเลิก", "ยกเลิก"),  # th: cancel
        ("เลิกรับ", "เลิกรับ"),  # th: stop receiving
        ("ຢຸດ", "ຢຸດ"),  # lo: stop
        ("ຍົກເລີກ", "ຍົກເລີກ"),  # lo: cancel
        ("ເຊົາ", "ເຊົາ"),  # lo: quit
    ],
)
def test_opt_out_words(message: str, word: str) -> None:
    """The whole message being an opt-out word, in any of the playbook's languages, opts out."""
    assert opt_out_keyword(message, LANGUAGES) == word


@pytest.mark.parametrize(
    "message",
    ["please stop the water", "STOP sending me to the wrong shelter?!", "น้ำท่วมหยุดแล้ว", "", "help"],
)
def test_sentences_are_not_opt_outs(message: str) -> None:
    """A reply that merely contains a word is a message for triage, not an opt-out."""
    assert opt_out_keyword(message, LANGUAGES) is None


def test_thai_word_counts_only_for_playbooks_in_thai() -> None:
    """Equivalents come from the playbook's languages; English words always count."""
    assert opt_out_keyword("หยุด", ["en"]) is None
    assert opt_out_keyword("STOP", ["th"]) == "stop"


def test_opt_out_suppresses_queued_rows_at_once(store: st.Store) -> None:
    """STOP suppresses that number's queued SMS now; other numbers and channels are untouched."""
    with store.session() as session:
        seed(session)
        assert handle_reply(session, "sms", "+66812345678", "หยุด", LANGUAGES, now=NOW) == "หยุด"
    with store.session() as session:
        rows = statuses(session)
        assert rows["+66812345678"] == ("suppressed", "opted out")
        assert rows["+8562055512345"] == ("queued", None)
        assert rows["ann@example.org"] == ("queued", None)
        assert opted_out_addresses(session, "sms") == {"+66812345678"}


def test_opt_out_is_for_good(store: st.Store) -> None:
    """Opting out twice keeps one record; it is still there for the next broadcast."""
    with store.session() as session:
        record_opt_out(session, "+66812345678", "sms", "stop", now=NOW)
    with store.session() as session:
        record_opt_out(session, "+66812345678", "sms", "stop", now=NOW)
        count = session.execute(text("SELECT count(*) FROM opt_outs")).scalar()
        assert count == 1
        assert opted_out_addresses(session, "sms") == {"+66812345678"}
        assert opted_out_addresses(session, "email") == set()


def test_rows_already_in_flight_are_left_alone(store: st.Store) -> None:
    """A row handed to the provider cannot be called back: it keeps its in-flight mark."""
    with store.session() as session:
        incident_id = seed(session)
        ids = [r.id for r in lg.queued_rows(session, incident_id, "sms", None)]
        lg.mark_in_flight(session, ids, now=NOW)
        assert record_opt_out(session, "+66812345678", "sms", "stop", now=NOW) == 0
        assert statuses(session)["+66812345678"] == ("queued", IN_FLIGHT)
