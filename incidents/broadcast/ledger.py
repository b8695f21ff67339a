"""The delivery ledger's hot path: queue many deliveries at once, each at most once.

The ORM is about 3x slower than the driver for bulk rows (shared/PITFALLS.md), so queueing goes
straight to the driver's ``executemany`` with ``ON CONFLICT (idempotency_key) DO NOTHING``:
re-queueing after a crash or a re-launch inserts only the rows that are missing. It runs in
the caller's session transaction, so it commits or rolls back with everything else.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import text
from sqlalchemy.orm import Session

from crisiscast.incidents.broadcast.decisions import address_column
from crisiscast.incidents.store.models import IN_FLIGHT
from crisiscast.incidents.store.sqltypes import driver_timestamp, session_timestamp

# Constants of a batch (status, attempts, timestamps; NULL for an absent provider id or error)
# are part of the statement, so each row binds only its own six values.
_SQLITE_INSERT = (
    "INSERT INTO deliveries (idempotency_key, incident_id, announcement_id, channel, "
    "contact_id, address, status, provider_id, attempts, last_error, created_at, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, '{status}', {provider}, {attempts}, {error}, '{stamp}', "
    "'{stamp}') ON CONFLICT (idempotency_key) DO NOTHING"
)
# PostgreSQL: one statement per batch over arrays; executemany costs a round trip per row
# and measured ~3x slower here.
_POSTGRES_INSERT = (
    "INSERT INTO deliveries (idempotency_key, incident_id, announcement_id, channel, "
    "contact_id, address, status, provider_id, attempts, last_error, created_at, updated_at) "
    "SELECT k, i, a, c, p, d, '{status}', %s, {attempts}, %s, %s, %s "
    "FROM unnest(%s::text[], %s::int[], %s::int[], %s::text[], %s::int[], %s::text[]) "
    "AS r(k, i, a, c, p, d) "
    "ON CONFLICT (idempotency_key) DO NOTHING"
)
# Statuses a row may be inserted with: queued to send later, or already settled (the outbox
# path writes a row once, after its line is in the outbox file).
_INSERTABLE = frozenset({"queued", "sent", "suppressed"})


class QueuedDelivery(NamedTuple):
    """One recipient of one announcement on one channel, before it is sent."""

    idempotency_key: str
    incident_id: int
    announcement_id: int  # announcements.id, not the playbook's announcement id
    channel: str
    contact_id: int | None
    address: str | None


def contact_key(incident_id: int, announcement_id: int, channel: str, contact_id: int) -> str:
    """The idempotency key of a contact's delivery: one row per contact x message x channel.

    The contact id is zero-padded to 12 digits, so (for ids below 10**12) the keys' string
    order is the contact order a broadcast walks: a million inserts append to the unique
    index, and a batch of contacts spans one key range that a single index probe can check
    (``any_key_between``). Unpadded, "c2001" sorted between "c20001" and "c30000", and nearly
    every batch fell back to looking up each key. Keys name no address, so they are safe to
    log and to hand to providers as metadata.
    """
    return f"{contact_key_prefix(incident_id, announcement_id, channel)}{contact_id:012d}"


def contact_keys(
    incident_id: int, announcement_id: int, channel: str, contact_ids: Iterable[int]
) -> list[str]:
    """``contact_key`` of many contacts of one announcement on one channel: one call a batch,
    for the broadcast's hot loops."""
    prefix = contact_key_prefix(incident_id, announcement_id, channel)
    return [f"{prefix}{contact_id:012d}" for contact_id in contact_ids]


def contact_key_prefix(incident_id: int, announcement_id: int, channel: str) -> str:
    """What every ``contact_key`` of one announcement on one channel starts with: the padded
    contact id follows it."""
    return f"{incident_id}:{announcement_id}:{channel}:c"


def delivery_key(incident_id: int, announcement_id: int, channel: str, recipient: str) -> str:
    """The idempotency key of a delivery without a contact (``everyone`` of a broadcast-style
    channel, an agent's page): the same recipient of the same message gets one row.

    The recipient (a phone number or an address) is hashed, so keys are safe to log and to
    hand to providers as metadata.
    """
    digest = hashlib.sha256(recipient.strip().lower().encode()).hexdigest()[:24]
    return f"{incident_id}:{announcement_id}:{channel}:{digest}"


@contextmanager
def driver_cursor(session: Session) -> Iterator[tuple[Any, str]]:
    """A DB-API cursor on the session's connection (in its transaction) and the dialect name;
    closed after the block. The hot paths use it because SQLAlchemy's row objects and
    parameter handling cost more than the statements. Typed Any: the DB-API stubs want a
    Sequence of parameters where the drivers take any iterable."""
    connection = session.connection()
    cursor: Any = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        yield cursor, connection.dialect.name
    finally:
        cursor.close()


def _attempts(status: str) -> int:
    """Attempts a row inserted with ``status`` has had: a settled row one, a queued row none."""
    if status not in _INSERTABLE:
        raise ValueError(f"deliveries are inserted as one of {sorted(_INSERTABLE)}, not {status!r}")
    return 0 if status == "queued" else 1


def queue_deliveries(session: Session, rows: Iterable[QueuedDelivery], *, now: datetime) -> int:
    """Insert queued deliveries, skipping keys already in the ledger; return how many were new.

    Pass batches (1k-10k rows): each call is one statement on PostgreSQL.
    """
    return insert_deliveries(session, rows, now=now)


def insert_deliveries(
    session: Session,
    rows: Iterable[QueuedDelivery],
    *,
    now: datetime,
    status: str = "queued",
    provider_id: str | None = None,
    error: str | None = None,
) -> int:
    """Insert deliveries with ``status``, skipping keys already in the ledger; return how many
    were new. A settled status (sent, suppressed) counts one attempt; queued counts none."""
    attempts = _attempts(status)
    with driver_cursor(session) as (cursor, dialect):
        stamp = driver_timestamp(now, dialect)
        if dialect == "postgresql":
            sql = _POSTGRES_INSERT.format(status=status, attempts=attempts)
            columns = [list(column) for column in zip(*rows, strict=True)] or [[]] * 6
            cursor.execute(sql, (provider_id, error, stamp, stamp, *columns))
        else:
            extra = tuple(v for v in (provider_id, error) if v is not None)
            sql = _SQLITE_INSERT.format(
                status=status, attempts=attempts, stamp=stamp,
                provider="NULL" if provider_id is None else "?",
                error="NULL" if error is None else "?",
            )  # fmt: skip
            cursor.executemany(sql, ((*row, *extra) for row in rows) if extra else rows)
        return max(int(cursor.rowcount), 0)


# SQLite builds a broadcast batch's rows itself from the contacts it was handed the ids of: no
# per-row binding from Python, about twice as fast as the executemany floor.
_SQLITE_FROM_CONTACTS = (
    "INSERT INTO deliveries (idempotency_key, incident_id, announcement_id, channel, "
    "contact_id, address, status, provider_id, attempts, last_error, created_at, updated_at) "
    "SELECT '{prefix}' || printf('%012d', id), {incident}, {announcement}, '{channel}', id, "
    "{column}, '{status}', NULL, {attempts}, {error}, '{stamp}', '{stamp}' "
    "FROM contacts WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id "
    "ON CONFLICT (idempotency_key) DO NOTHING"
)


def insert_for_contacts(
    session: Session,
    incident_id: int,
    announcement_id: int,
    channel: str,
    recipients: Sequence[tuple[int, str | None]],
    *,
    now: datetime,
    status: str,
    error: str | None = None,
) -> int:
    """Insert one announcement's rows for these contacts, keyed by ``contact_key``; return how
    many were new. Settled (sent, suppressed) rows count one attempt.

    ``recipients`` are (contact id, address) as the caller read them *in this transaction*:
    on SQLite the rows are built from the contacts table by id, and the caller's transaction
    (``BEGIN IMMEDIATE``, the write lock) guarantees the addresses are the ones it read. On
    PostgreSQL the caller's addresses are inserted as given.
    """
    attempts = _attempts(status)
    column = address_column(channel)
    if not recipients:
        return 0
    if session.get_bind().dialect.name != "sqlite":
        rows = [QueuedDelivery(contact_key(incident_id, announcement_id, channel, contact),
                               incident_id, announcement_id, channel, contact, address)
                for contact, address in recipients]  # fmt: skip
        return insert_deliveries(session, rows, now=now, status=status, error=error)
    sql = _SQLITE_FROM_CONTACTS.format(
        prefix=contact_key_prefix(incident_id, announcement_id, channel),
        incident=int(incident_id), announcement=int(announcement_id), channel=channel,
        column=column, status=status, attempts=attempts,
        error="NULL" if error is None else "?", stamp=driver_timestamp(now, "sqlite"),
    )  # fmt: skip
    ids = json.dumps([contact for contact, _ in recipients])
    with driver_cursor(session) as (cursor, _):
        cursor.execute(sql, (ids,) if error is None else (error, ids))
        return max(int(cursor.rowcount), 0)


def existing_statuses(session: Session, keys: Sequence[str]) -> dict[str, str]:
    """The ledger status of those of ``keys`` that have a row (index lookups, 500 at a time)."""
    found: dict[str, str] = {}
    with driver_cursor(session) as (cursor, dialect):
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            sql = _placeholders(
                "SELECT idempotency_key, status FROM deliveries "  # noqa: S608 - placeholders only; values bound
                f"WHERE idempotency_key IN ({marks})",
                dialect,
            )
            cursor.execute(sql, chunk)
            found.update(cursor.fetchall())
    return found


def any_key_between(session: Session, lowest: str, highest: str) -> bool:
    """Whether any ledger row's key lies in ``lowest..highest`` (string order): one index
    probe that tells a batch nobody recorded any of its keys yet."""
    row = session.execute(
        text("SELECT 1 FROM deliveries WHERE idempotency_key BETWEEN :lo AND :hi LIMIT 1"),
        {"lo": lowest, "hi": highest},
    ).first()
    return row is not None


def lock_channel(session: Session, incident_id: int, channel: str) -> None:
    """Serialise the broadcast batches of one incident and channel until this transaction
    ends, so two runs at once cannot both take the same contacts for unsent. SQLite needs
    nothing: every transaction holds its write lock (``BEGIN IMMEDIATE``)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:incident, hashtext(:channel))"),
                        {"incident": incident_id, "channel": channel})  # fmt: skip


# --- Sending and settling (added with the broadcast flow) -----------------------------------
# A row handed to a provider but whose outcome is not recorded yet stays ``queued`` with
# ``last_error = IN_FLIGHT``: after a crash, the broadcast knows exactly which rows are in
# doubt. The outbox reconciles them from its own file; an SDK channel without idempotency keys
# must not resend blindly, so they become ``failed`` with UNKNOWN_AFTER_CRASH and are reported.
UNKNOWN_AFTER_CRASH = "outcome unknown after crash: not resent; check the provider's log"
RECALLED = "recalled"
MAX_ID = 2**62  # an id range's open end

_SQLITE_OUTCOME = (
    "UPDATE deliveries SET status = ?, provider_id = COALESCE(?, provider_id), last_error = ?, "
    "attempts = attempts + ?, updated_at = ? WHERE id = ? AND status = 'queued'"
)
_POSTGRES_OUTCOME = (
    "UPDATE deliveries AS d SET status = r.s, provider_id = COALESCE(r.p, d.provider_id), "
    "last_error = r.e, attempts = d.attempts + %s, updated_at = %s "
    "FROM unnest(%s::int[], %s::text[], %s::text[], %s::text[]) AS r(i, s, p, e) "
    "WHERE d.id = r.i AND d.status = 'queued'"
)


class LedgerRow(NamedTuple):
    """A queued delivery as the sender needs it (no personal data beyond the address)."""

    id: int
    idempotency_key: str
    address: str | None
    announcement_id: int
    last_error: str | None


class Outcome(NamedTuple):
    """What to record for one row: a final status, or ``queued`` again to retry it later."""

    id: int
    status: str  # sent | failed | suppressed | queued (retry later)
    provider_id: str | None = None
    error: str | None = None


def _placeholders(sql: str, dialect: str) -> str:
    """Statements here are written with ``?``; psycopg takes ``%s``."""
    return sql.replace("?", "%s") if dialect == "postgresql" else sql


def _shard_filter(contacts: tuple[int, int] | None) -> tuple[str, int, int]:
    """The SQL that picks a shard's rows and its two bound values: contacts ``lo..hi``, or the
    rows without a contact. One definition, so reading and marking a shard cannot disagree."""
    if contacts:
        return "contact_id BETWEEN ? AND ?", contacts[0], contacts[1]
    return "contact_id IS NULL AND ? = ?", 0, 0


def queued_rows(
    session: Session,
    incident_id: int,
    channel: str,
    contacts: tuple[int, int] | None,
    *,
    after_id: int = 0,
    limit: int = 10_000,
    announcements: Sequence[int] = (),
) -> list[LedgerRow]:
    """Queued rows of one channel, in id order: of contacts ``lo..hi`` (inclusive), or the
    broadcast-style rows (no contact) when ``contacts`` is None; only of the announcement rows
    ``announcements`` when given (an update's shard must not pick up a launch's queued rows:
    it has not their texts). Driver-level: it is the hot path's read, and SQLAlchemy's row
    objects cost more than the query."""
    where, lo, hi = _shard_filter(contacts)
    ids = tuple(int(a) for a in announcements)
    only = f"AND announcement_id IN ({', '.join('?' * len(ids))}) " if ids else ""
    with driver_cursor(session) as (cursor, dialect):
        sql = _placeholders(
            "SELECT id, idempotency_key, address, announcement_id, last_error FROM deliveries "  # noqa: S608 - fixed SQL and checked names inlined; values bound
            f"WHERE incident_id = ? AND status = 'queued' AND channel = ? AND {where} "
            f"{only}AND id > ? ORDER BY id LIMIT ?",
            dialect,
        )
        cursor.execute(sql, (incident_id, channel, lo, hi, *ids, after_id, limit))
        return [LedgerRow(*row) for row in cursor.fetchall()]


def mark_sent_range(
    session: Session,
    incident_id: int,
    channel: str,
    contacts: tuple[int, int] | None,
    ids: tuple[int, int],
    *,
    now: datetime,
) -> int:
    """Mark sent, in one statement, exactly the rows ``queued_rows`` returned for ``ids``
    (first, last): the same filter over an id range, with no per-row parameters.

    The outbox's fast path; the outbox line (found by key) is the provider's record.
    """
    where, lo, hi = _shard_filter(contacts)
    with driver_cursor(session) as (cursor, dialect):
        sql = _placeholders(
            "UPDATE deliveries SET status = 'sent', attempts = attempts + 1, last_error = NULL, "  # noqa: S608 - fixed SQL and checked names inlined; values bound
            f"updated_at = ? WHERE incident_id = ? AND status = 'queued' AND channel = ? "
            f"AND {where} AND id >= ? AND id <= ?",
            dialect,
        )
        stamp = driver_timestamp(now, dialect)
        cursor.execute(sql, (stamp, incident_id, channel, lo, hi, ids[0], ids[1]))
        return max(int(cursor.rowcount), 0)


def mark_in_flight(session: Session, ids: Sequence[int], *, now: datetime) -> None:
    """Record that these rows are being handed to a provider (one more attempt)."""
    outcomes = [Outcome(i, "queued", None, IN_FLIGHT) for i in ids]
    record_outcomes(session, outcomes, now=now, attempt=1)


def record_outcomes(
    session: Session, outcomes: Sequence[Outcome], *, now: datetime, attempt: int = 0
) -> int:
    """Record many outcomes in one statement (PostgreSQL) or one executemany (SQLite).

    Only rows still ``queued`` change, so a late duplicate never overwrites a receipt.
    ``attempt=1`` counts an attempt that was not counted by ``mark_in_flight``.
    """
    if not outcomes:
        return 0
    with driver_cursor(session) as (cursor, dialect):
        stamp = driver_timestamp(now, dialect)
        if dialect == "postgresql":
            ids, statuses, providers, errors = (list(c) for c in zip(*outcomes, strict=True))
            cursor.execute(_POSTGRES_OUTCOME, (attempt, stamp, ids, statuses, providers, errors))
        else:
            cursor.executemany(
                _SQLITE_OUTCOME, ((o.status, o.provider_id, o.error, attempt, stamp, o.id)
                                  for o in outcomes),
            )  # fmt: skip
        return max(int(cursor.rowcount), 0)


def suppress_queued(
    session: Session, incident_id: int, reason: str, *, now: datetime, channel: str | None = None
) -> int:
    """Suppress every queued, not in-flight row of an incident (recall); return how many."""
    result = session.execute(
        text(
            "UPDATE deliveries SET status = 'suppressed', last_error = :reason, updated_at = :now "  # noqa: S608 - fixed SQL and checked names inlined; values bound
            "WHERE incident_id = :incident AND status = 'queued' "
            "AND (last_error IS NULL OR last_error != :in_flight) "
            + ("AND channel = :channel" if channel else "")
        ),
        {"reason": reason, "now": session_timestamp(session, now), "incident": incident_id,
         "in_flight": IN_FLIGHT, "channel": channel},
    )  # fmt: skip
    return max(int(getattr(result, "rowcount", 0) or 0), 0)


def suppress_keys(session: Session, keys: Sequence[str], reason: str, *, now: datetime) -> int:
    """Suppress the queued rows with these idempotency keys (opted out before sending)."""
    with driver_cursor(session) as (cursor, dialect):
        sql = _placeholders(
            "UPDATE deliveries SET status = 'suppressed', last_error = ?, updated_at = ? "
            "WHERE idempotency_key = ? AND status = 'queued'",
            dialect,
        )
        stamp = driver_timestamp(now, dialect)
        cursor.executemany(sql, [(reason, stamp, key) for key in keys])
        return max(int(cursor.rowcount), 0)
