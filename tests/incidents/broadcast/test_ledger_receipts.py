"""Provider receipts and recall move ledger rows only along the allowed transitions."""

from __future__ import annotations

import pytest
from ledger_support import NOW, PHONES, seed, statuses
from sqlalchemy import text
from sqlalchemy.orm import Session

from crisiscast.incidents.audience.optout import opted_out_addresses
from crisiscast.incidents.broadcast import ledger as lg
from crisiscast.incidents.broadcast.delivery import (
    apply_sendgrid_events,
    apply_twilio_status,
    recall,
)
from crisiscast.incidents.store import database as st
from crisiscast.incidents.store.models import IN_FLIGHT


def _send_all(session: Session, incident_id: int) -> None:
    """Record every queued row as sent, SMS with Twilio-like ids SM0, SM1 ..."""
    rows = lg.queued_rows(session, incident_id, "sms", None) + lg.queued_rows(
        session, incident_id, "email", None
    )
    outcomes = [lg.Outcome(r.id, "sent", f"SM{i}" if r.address in PHONES else "sg")
                for i, r in enumerate(rows)]  # fmt: skip
    lg.record_outcomes(session, outcomes, now=NOW, attempt=1)


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ({"MessageSid": "SM0", "MessageStatus": "delivered"}, ("delivered", None)),
        ({"MessageSid": "SM0", "MessageStatus": "undelivered", "ErrorCode": "30003"},
         ("failed", "twilio undelivered (error 30003)")),
        ({"MessageSid": "SM0", "MessageStatus": "failed", "ErrorCode": "30008"},
         ("failed", "twilio failed (error 30008)")),
        ({"MessageSid": "SM0", "MessageStatus": "sent"}, ("sent", None)),
        ({"MessageSid": "SM0", "MessageStatus": "queued"}, ("sent", None)),
        ({"MessageSid": "SMunknown", "MessageStatus": "delivered"}, ("sent", None)),
    ],
)  # fmt: skip
def test_twilio_status_callbacks(
    store: st.Store, form: dict[str, str], expected: tuple[str, str | None]
) -> None:
    """A status callback maps MessageSid to its row: delivered, or failed with the error code."""
    with store.session() as session:
        _send_all(session, seed(session))
        apply_twilio_status(session, form, now=NOW)
        assert statuses(session)[PHONES[0]] == expected


def test_late_callback_never_undoes_a_final_state(store: st.Store) -> None:
    """'failed' after 'delivered' (a retried or reordered callback) changes nothing."""
    with store.session() as session:
        _send_all(session, seed(session))
        assert apply_twilio_status(session, {"MessageSid": "SM0", "MessageStatus": "delivered"},
                                   now=NOW) == 1  # fmt: skip
        assert apply_twilio_status(session, {"MessageSid": "SM0", "MessageStatus": "failed"},
                                   now=NOW) == 0  # fmt: skip
        assert statuses(session)[PHONES[0]] == ("delivered", None)


def test_sendgrid_events_map_by_delivery_key(store: st.Store) -> None:
    """Events carry custom_args.delivery_key: delivered and bounced rows are updated by key."""
    with store.session() as session:
        incident_id = seed(session)
        [row] = lg.queued_rows(session, incident_id, "email", None)
        _send_all(session, incident_id)
        changed = apply_sendgrid_events(session, [
            {"event": "processed", "delivery_key": row.idempotency_key},
            {"event": "bounce", "type": "bounce", "status": "5.1.1",
             "custom_args": {"delivery_key": row.idempotency_key}},
        ], now=NOW)  # fmt: skip
        assert changed == 1
        assert statuses(session)["ann@example.org"] == ("failed", "sendgrid bounce (bounce)")


def test_sendgrid_unsubscribe_is_an_opt_out(store: st.Store) -> None:
    """An unsubscribe or spam report opts the address out of email for good."""
    with store.session() as session:
        seed(session)
        apply_sendgrid_events(session, [{"event": "unsubscribe", "email": "Ann@Example.org"}],
                              now=NOW)  # fmt: skip
        assert opted_out_addresses(session, "email") == {"ann@example.org"}
        assert statuses(session)["ann@example.org"] == ("suppressed", "opted out")


def test_recall_suppresses_queued_rows_and_flags_the_announcements(store: st.Store) -> None:
    """Recall: queued rows are suppressed 'recalled'; in-flight rows stay; announcements flagged."""
    with store.session() as session:
        incident_id = seed(session)
        [first, *_] = lg.queued_rows(session, incident_id, "sms", None)
        lg.mark_in_flight(session, [first.id], now=NOW)
        assert recall(session, f"INC-{incident_id}", now=NOW) == 2
        rows = statuses(session)
        assert rows[first.address or ""] == ("queued", IN_FLIGHT)
        assert sorted(rows.values()).count(("suppressed", "recalled")) == 2
        flags = session.execute(text("SELECT DISTINCT status FROM announcements")).scalars().all()
        assert flags == ["recalled"]
