"""The broadcast's report: ledger rows per channel and status, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from crisiscast.incidents.broadcast.ledger import (
    QueuedDelivery,
    contact_key,
    delivery_key,
    insert_deliveries,
)
from crisiscast.incidents.broadcast.ledger_counts import ledger_counts
from crisiscast.incidents.store.database import Store, add_announcement, create_incident

NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)


def _incident(session: Session) -> tuple[int, dict[str, int]]:
    """An incident with one announcement row on SMS, one on email and one on the banner."""
    incident = create_incident(session, playbook_id="p", playbook_path="p.yaml", title="t",
                               params={}, languages=["en"], exercise=False, now=NOW)  # fmt: skip
    rows = {}
    for channel in ("sms", "email", "banner"):
        row = add_announcement(session, incident.id, announcement_id="warn", when="launch",
                               channel=channel, language="en", subject=None, body="b",
                               html=None, now=NOW)  # fmt: skip
        rows[channel] = row.id
    return incident.id, rows


def _add(session: Session, incident: int, row: int, channel: str, contacts: range,
         status: str) -> None:  # fmt: skip
    deliveries = [QueuedDelivery(contact_key(incident, row, channel, c), incident, row, channel,
                                 None, f"a{c}") for c in contacts]  # fmt: skip
    assert insert_deliveries(session, deliveries, now=NOW, status=status) == len(contacts)


def test_counts_each_channel_by_status(store: Store) -> None:
    """Mixed statuses on two channels, one post on the banner, and a second incident that must
    not be counted: each channel's figures are its own."""
    with store.session() as session:
        incident, rows = _incident(session)
        other, other_rows = _incident(session)
        _add(session, incident, rows["sms"], "sms", range(1, 8), "sent")
        _add(session, incident, rows["sms"], "sms", range(8, 10), "suppressed")
        _add(session, incident, rows["email"], "email", range(1, 5), "sent")
        _add(session, incident, rows["email"], "email", range(5, 8), "queued")
        _add(session, other, other_rows["sms"], "sms", range(1, 4), "sent")
        banner = QueuedDelivery(delivery_key(incident, rows["banner"], "banner", "everyone"),
                                incident, rows["banner"], "banner", None, None)  # fmt: skip
        insert_deliveries(session, [banner], now=NOW, status="sent")
        session.execute(text("UPDATE deliveries SET status = 'delivered' WHERE incident_id = :i "
                             "AND channel = 'sms' AND contact_id IS NULL AND address IN "
                             "('a1', 'a2')"), {"i": incident})  # fmt: skip
    with store.session() as session:
        assert ledger_counts(session, incident) == {
            "banner": {"sent": 1},
            "email": {"queued": 3, "sent": 4},
            "sms": {"delivered": 2, "sent": 5, "suppressed": 2},
        }
        assert ledger_counts(session, other) == {"sms": {"sent": 3}}
        assert ledger_counts(session, other + 1) == {}


@pytest.mark.parametrize("key", ["legacy-key-1", "1:99:sms:c1"], ids=["no prefix", "other row"])
def test_counts_rows_whose_key_names_no_announcement_of_theirs(store: Store, key: str) -> None:
    """A row keyed otherwise than ``<incident>:<announcement>:<channel>:`` is still counted,
    under its own channel."""
    with store.session() as session:
        incident, rows = _incident(session)
        _add(session, incident, rows["sms"], "sms", range(1, 4), "sent")
        odd = QueuedDelivery(key, incident, rows["email"], "email", None, "x@example.org")
        insert_deliveries(session, [odd], now=NOW, status="suppressed")
    with store.session() as session:
        assert ledger_counts(session, incident) == {"email": {"suppressed": 1},
                                                    "sms": {"sent": 3}}  # fmt: skip
