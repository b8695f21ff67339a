"""Ledger keys of contacts are ordered, and an upgrade moves existing rows to that form."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from crisiscast.incidents.broadcast.ledger import (
    contact_key,
    contact_keys,
    delivery_key,
    insert_for_contacts,
)
from crisiscast.incidents.store import migrate
from crisiscast.incidents.store.database import Store, upgrade

AT = "2026-11-25 09:00:00"


def test_contact_keys_follow_contact_order_and_name_no_address() -> None:
    """Keys of neighbouring contacts share their prefix and carry only ids."""
    assert contact_key(3, 7, "sms", 41) == "3:7:sms:c000000000041"
    assert contact_key(3, 7, "sms", 41) != contact_key(3, 7, "email", 41)


def test_contact_keys_sort_like_contact_ids_across_digit_counts() -> None:
    """String order is id order, so one key range covers exactly a batch of contacts."""
    ids = [1, 9, 10, 99, 100, 2001, 20001, 30000, 999_999, 1_000_000, 10**11]
    keys = [contact_key(1, 2, "sms", i) for i in ids]
    assert sorted(keys) == keys
    assert not contact_key(1, 2, "sms", 20001) < contact_key(1, 2, "sms", 2001)
    assert contact_keys(1, 2, "sms", ids) == keys


@pytest.mark.parametrize(
    ("revision", "old"),
    [("0002", delivery_key(1, 1, "sms", "+66800000001")), ("0005", "1:1:sms:c5")],
    ids=["hashed", "unpadded"],
)
def test_upgrade_rewrites_old_contact_keys_and_keeps_rows(
    db_url: str, revision: str, old: str
) -> None:
    """A row queued under an older key form (hashed, then unpadded) is found under its contact
    key after upgrading, so re-queueing the same recipient after the upgrade inserts nothing."""
    engine = create_engine(Store(db_url).url)
    try:
        with engine.begin() as connection:
            command.upgrade(migrate._config(connection), revision)
            for sql in (
                "INSERT INTO incidents (id, playbook_id, playbook_path, title, params, languages, "
                "status, exercise, created_at) VALUES (1, 'p', 'p.yaml', 'Flood', '{}', '[]', "
                "'active', true, :at)",
                'INSERT INTO announcements (id, incident_id, announcement_id, "when", channel, '
                "language, body, status, created_at) VALUES (1, 1, 'warn', 'launch', 'sms', 'en', "
                "'Flood', 'broadcasting', :at)",
                "INSERT INTO contacts (id, audience, phone) VALUES (5, 'all', '+66800000001')",
                "INSERT INTO deliveries (idempotency_key, incident_id, announcement_id, channel, "
                "contact_id, address, status, attempts, created_at, updated_at) VALUES "
                "(:old, 1, 1, 'sms', 5, '+66800000001', 'sent', 1, :at, :at), "
                "('1:1:banner:x', 1, 1, 'banner', NULL, NULL, 'sent', 1, :at, :at)",
            ):
                connection.execute(text(sql), {"at": AT, "old": old})
    finally:
        engine.dispose()
    upgrade(db_url)
    store = Store(db_url)
    try:
        with store.session() as session:
            keys = session.execute(
                text("SELECT idempotency_key, status FROM deliveries ORDER BY id")
            ).all()
        assert [tuple(k) for k in keys] == [(contact_key(1, 1, "sms", 5), "sent"),
                                             ("1:1:banner:x", "sent")]  # fmt: skip
        with store.session() as session:
            again = insert_for_contacts(session, 1, 1, "sms", [(5, "+66800000001")],
                                        now=datetime.now(UTC), status="sent")  # fmt: skip
        assert again == 0
    finally:
        store.dispose()
