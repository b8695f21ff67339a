"""The delivery ledger and the other "at most once" tables, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crisiscast.incidents.broadcast.ledger import (
    QueuedDelivery,
    any_key_between,
    contact_key,
    delivery_key,
    existing_statuses,
    insert_deliveries,
    queue_deliveries,
)
from crisiscast.incidents.store.database import Store, add_announcement, create_incident
from crisiscast.incidents.store.models import (
    Contact,
    Delivery,
    DeliveryStatus,
    InboundMessage,
    OptOut,
)

NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)


def _announcement_ids(session: Session) -> tuple[int, int]:
    incident = create_incident(
        session,
        playbook_id="p",
        playbook_path="playbooks/p.yaml",
        title="t",
        params={},
        languages=["en"],
        exercise=False,
        now=NOW,
    )
    announcement = add_announcement(
        session,
        incident.id,
        announcement_id="first-notice",
        when="launch",
        channel="sms",
        language="en",
        subject=None,
        body="b",
        html=None,
        now=NOW,
    )
    return incident.id, announcement.id


def _rows(incident_id: int, announcement_id: int, phones: list[str]) -> list[QueuedDelivery]:
    return [
        QueuedDelivery(
            delivery_key(incident_id, announcement_id, "sms", phone),
            incident_id,
            announcement_id,
            "sms",
            None,
            phone,
        )
        for phone in phones
    ]


def test_queue_deliveries_inserts_each_recipient_once_across_retries(store: Store) -> None:
    """Re-queueing after a crash inserts only the recipients not already in the ledger."""
    phones = [f"+1555010{n:04d}" for n in range(500)]
    with store.session() as session:
        incident_id, announcement_id = _announcement_ids(session)
        first = queue_deliveries(
            session, _rows(incident_id, announcement_id, phones[:300]), now=NOW
        )
    with store.session() as session:
        again = queue_deliveries(session, _rows(incident_id, announcement_id, phones), now=NOW)
    with store.session() as session:
        total = session.scalar(select(func.count()).select_from(Delivery))
        sample = session.scalars(select(Delivery).limit(1)).one()
    assert (first, again, total) == (300, 200, 500)
    assert sample.status is DeliveryStatus.QUEUED and sample.attempts == 0
    assert sample.created_at == NOW == sample.updated_at


def test_rows_written_once_are_inserted_settled_and_found_again(store: Store) -> None:
    """The outbox path inserts rows as sent (one attempt); a rerun finds them by key and by the
    announcement's key range, and an unknown status is refused."""
    with store.session() as session:
        incident_id, announcement_id = _announcement_ids(session)
        contact = session.scalar(select(func.min(Contact.id)))  # none yet: keys need no contact
        assert contact is None
        assert not any_key_between(session, "0", "9")
        rows = [
            QueuedDelivery(contact_key(incident_id, announcement_id, "sms", n), incident_id,
                           announcement_id, "sms", None, f"+1555010{n:04d}")
            for n in (7, 8)
        ]  # fmt: skip
        assert insert_deliveries(session, rows, now=NOW, status="sent") == 2
        assert insert_deliveries(session, rows, now=NOW, status="sent") == 0
        with pytest.raises(ValueError, match="not 'delivered'"):
            insert_deliveries(session, rows, now=NOW, status="delivered")
    with store.session() as session:
        sample = session.scalars(select(Delivery).limit(1)).one()
        keys = [r.idempotency_key for r in rows] + ["1:1:sms:c999"]
        assert existing_statuses(session, keys) == {k: "sent" for k in keys[:2]}
        assert any_key_between(session, keys[1], keys[1] + "9")
        assert not any_key_between(session, keys[1] + "0", keys[1] + "9")
    assert sample.status is DeliveryStatus.SENT and sample.attempts == 1


def test_one_probe_tells_a_new_batch_from_one_with_rows_across_digit_counts(store: Store) -> None:
    """With contact 2001 recorded, the key range of contacts 20001..30000 holds no row, while
    the range of 1..9999 does. (Unpadded, "c2001" fell inside "c20001".."c30000", and nearly
    every batch of a broadcast looked up each of its keys.)"""
    with store.session() as session:
        incident_id, announcement_id = _announcement_ids(session)
        key = contact_key(incident_id, announcement_id, "sms", 2001)
        row = QueuedDelivery(key, incident_id, announcement_id, "sms", None, "+15550102001")
        assert insert_deliveries(session, [row], now=NOW, status="sent") == 1
    with store.session() as session:

        def probe(lo: int, hi: int) -> bool:
            def key(contact: int) -> str:
                return contact_key(incident_id, announcement_id, "sms", contact)

            return any_key_between(session, key(lo), key(hi))

        assert (probe(20001, 30000), probe(1, 9999), probe(2001, 2001)) == (False, True, True)


def test_queue_deliveries_rolls_back_with_the_session(store: Store) -> None:
    """Bulk rows belong to the caller's transaction: an error later in the block undoes them."""
    with store.session() as session:
        ids = _announcement_ids(session)
    with pytest.raises(RuntimeError), store.session() as session:
        queue_deliveries(session, _rows(*ids, ["+15550100001"]), now=NOW)
        raise RuntimeError("crash before commit")
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) == 0


def test_duplicate_idempotency_key_is_refused_by_the_database(store: Store) -> None:
    """Even outside the bulk path, the same key can never be stored twice."""
    with store.session() as session:
        incident_id, announcement_id = _announcement_ids(session)
    row = {
        "idempotency_key": "k1",
        "incident_id": incident_id,
        "announcement_id": announcement_id,
        "channel": "sms",
        "created_at": NOW,
        "updated_at": NOW,
    }
    with store.session() as session:
        session.add(Delivery(**row))
    with pytest.raises(IntegrityError), store.session() as session:
        session.add(Delivery(**row))


def test_delivery_key_is_stable_and_does_not_reveal_the_recipient() -> None:
    """Keys are the same for the same recipient (any case/spacing) and carry no address."""
    key = delivery_key(3, 7, "email", "Ana@Example.org")
    assert key == delivery_key(3, 7, "email", " ana@example.org ")
    assert key != delivery_key(3, 7, "sms", "ana@example.org")
    assert key.startswith("3:7:email:") and "example" not in key


def test_queue_deliveries_refuses_a_naive_now(store: Store) -> None:
    """The bulk path has the same timezone rule as the ORM."""
    with pytest.raises(ValueError, match="timezone-aware"), store.session() as session:
        queue_deliveries(session, [], now=datetime(2026, 11, 25, 9, 30))


def test_inbound_message_is_stored_once_per_provider_id(store: Store) -> None:
    """A provider retrying its webhook cannot create a second copy of the same message."""

    def message() -> InboundMessage:
        return InboundMessage(
            channel="sms", provider_id="SM123", sender="+15550100001", body="HELP", received_at=NOW
        )

    with store.session() as session:
        session.add(message())
    with pytest.raises(IntegrityError), store.session() as session:
        session.add(message())


def test_opt_out_is_unique_per_address_and_channel(store: Store) -> None:
    """A second STOP from the same number on the same channel is a duplicate, not a new row."""
    with store.session() as session:
        session.add(OptOut(address="+15550100001", channel="sms", keyword="STOP", created_at=NOW))
        session.add(OptOut(address="+15550100001", channel="whatsapp", created_at=NOW))
    with pytest.raises(IntegrityError), store.session() as session:
        session.add(OptOut(address="+15550100001", channel="sms", keyword="STOPP", created_at=NOW))


def test_contacts_unique_phone_and_email_but_many_without_email(store: Store) -> None:
    """Phones and emails identify one contact; contacts without an email do not clash."""
    with store.session() as session:
        session.add(Contact(name="A", phone="+15550100001"))
        session.add(Contact(name="B", phone="+15550100002"))
    with pytest.raises(IntegrityError), store.session() as session:
        session.add(Contact(name="C", phone="+15550100001"))
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 2


def test_queue_deliveries_with_no_rows_inserts_nothing(store: Store) -> None:
    """An empty batch (a channel with no recipients left) is a no-op, not an error."""
    with store.session() as session:
        assert queue_deliveries(session, [], now=NOW) == 0


def test_schema_takes_driver_executemany_with_on_conflict_do_nothing(store: Store) -> None:
    """The ledger's unique key supports the driver's executemany + ON CONFLICT DO NOTHING."""
    with store.session() as session:
        incident_id, announcement_id = _announcement_ids(session)
        connection = session.connection()
        sqlite = connection.dialect.name == "sqlite"
        stamp: object = NOW.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else NOW
        sql = (
            "INSERT INTO deliveries (idempotency_key, incident_id, announcement_id, channel, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (idempotency_key) DO NOTHING"
        )
        if not sqlite:
            sql = sql.replace("?", "%s")  # psycopg's placeholder
        rows = [(f"k{n % 3}", incident_id, announcement_id, "sms", stamp, stamp) for n in range(9)]
        cursor = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cursor.executemany(sql, rows)
        cursor.close()
    with store.session() as session:
        keys = session.scalars(select(Delivery.idempotency_key).order_by(Delivery.id)).all()
        statuses = set(session.scalars(select(Delivery.status)))
    assert keys == ["k0", "k1", "k2"]
    assert statuses == {DeliveryStatus.QUEUED}
