"""The delivery ledger's hot path: queue many deliveries at once, each at most once.

The ORM is about 3x slower than the driver for bulk rows (shared/PITFALLS.md), so queueing goes
straight to the driver's ``executemany`` with ``ON CONFLICT (idempotency_key) DO NOTHING``:
re-queueing after a crash or a re-launch inserts only the rows that are missing. It runs in
the caller's session transaction, so it commits or rolls back with everything else.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy.orm import Session

_SQLITE_INSERT = (
    "INSERT INTO deliveries (idempotency_key, incident_id, announcement_id, channel, "
    "contact_id, address, status, attempts, created_at, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, 'queued', 0, ?, ?) "
    "ON CONFLICT (idempotency_key) DO NOTHING"
)
# PostgreSQL: one statement per batch over arrays; executemany costs a round trip per row
# and measured ~3x slower here.
_POSTGRES_INSERT = (
    "INSERT INTO deliveries (idempotency_key, incident_id, announcement_id, channel, "
    "contact_id, address, status, attempts, created_at, updated_at) "
    "SELECT k, i, a, c, p, d, 'queued', 0, %s, %s "
    "FROM unnest(%s::text[], %s::int[], %s::int[], %s::text[], %s::int[], %s::text[]) "
    "AS r(k, i, a, c, p, d) "
    "ON CONFLICT (idempotency_key) DO NOTHING"
)


class QueuedDelivery(NamedTuple):
    """One recipient of one announcement on one channel, before it is sent."""

    idempotency_key: str
    incident_id: int
    announcement_id: int  # announcements.id, not the playbook's announcement id
    channel: str
    contact_id: int | None
    address: str | None


def delivery_key(incident_id: int, announcement_id: int, channel: str, recipient: str) -> str:
    """The ledger's idempotency key: the same recipient of the same message gets one row.

    The recipient (a phone number or an address) is hashed, so keys are safe to log and to
    hand to providers as metadata.
    """
    digest = hashlib.sha256(recipient.strip().lower().encode()).hexdigest()[:24]
    return f"{incident_id}:{announcement_id}:{channel}:{digest}"


def _driver_timestamp(now: datetime, dialect: str) -> Any:
    """``now`` as the column type would have stored it (naive UTC text on SQLite)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("queue_deliveries needs a timezone-aware `now`, e.g. datetime.now(UTC)")
    utc = now.astimezone(UTC)
    return utc.strftime("%Y-%m-%d %H:%M:%S.%f") if dialect == "sqlite" else utc


def queue_deliveries(session: Session, rows: Iterable[QueuedDelivery], *, now: datetime) -> int:
    """Insert queued deliveries, skipping keys already in the ledger; return how many were new.

    Pass batches (1k-10k rows): each call is one statement on PostgreSQL.
    """
    connection = session.connection()
    dialect = connection.dialect.name
    stamp = _driver_timestamp(now, dialect)
    # Typed as Any: the DB-API stubs want a Sequence, but the drivers take any iterable.
    cursor: Any = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        if dialect == "postgresql":
            columns = [list(column) for column in zip(*rows, strict=True)] or [[]] * 6
            cursor.execute(_POSTGRES_INSERT, (stamp, stamp, *columns))
        else:
            cursor.executemany(_SQLITE_INSERT, ((*row, stamp, stamp) for row in rows))
        return max(int(cursor.rowcount), 0)
    finally:
        cursor.close()
