"""Preparing a shard for sending: stream its contacts, build and queue its ledger rows, and
settle what an earlier, crashed run left behind (see ``crisiscast.flows.sending``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from crisiscast.channels.base import Channel
from crisiscast.channels.outbox import OutboxChannel
from crisiscast.incidents import ledger as lg
from crisiscast.incidents.broadcast import Content, Reach, pick_language

EVERYONE = "everyone"  # the recipient of broadcast-style channels in the idempotency key


def _address_column(channel: str) -> str:
    return "phone" if channel == "sms" else "email"


def stream_contacts(
    session: Session, reach: Reach, bounds: tuple[int, int]
) -> Iterator[tuple[int, str, str | None, bool]]:
    """(id, address, language, opted out of everything) of reached contacts, in id order."""
    column = _address_column(reach.channel)
    # Audience names are checked identifiers (playbook Name), so inlining them is safe.
    defined = ", ".join(f"'{name}'" for name in reach.defined)
    chosen = ", ".join(f"'{name}'" for name in reach.audiences)
    audience = ""
    if defined:
        audience = f"AND (audience NOT IN ({defined})"
        audience += f" OR audience IN ({chosen}))" if chosen else ")"
    connection = session.connection()
    sql = (
        f"SELECT id, {column}, language, opted_out_at IS NOT NULL FROM contacts "  # noqa: S608 - fixed SQL and checked names inlined; values bound
        f"WHERE id BETWEEN ? AND ? AND {column} IS NOT NULL {audience} ORDER BY id"
    )
    if connection.dialect.name == "postgresql":
        sql = sql.replace("?", "%s")
    cursor: Any = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, bounds)
        while batch := cursor.fetchmany(5_000):
            for row in batch:
                yield row[0], row[1], row[2], bool(row[3])
    finally:
        cursor.close()


def shard_rows(
    incident_id: int,
    channel: str,
    contacts: Sequence[tuple[int, str, str | None, bool]],
    contents: dict[str, Content],
    default_language: str,
) -> tuple[list[lg.QueuedDelivery], set[str]]:
    """Pure: one ledger row per contact, in contact order; and the keys of opted-out contacts."""
    rows: list[lg.QueuedDelivery] = []
    opted_out: set[str] = set()
    chosen: dict[str | None, Content] = {}  # a contact's language -> the message it gets
    for contact_id, address, language, out in contacts:
        content = chosen.get(language)
        if content is None:
            content = contents[pick_language(language, list(contents), default_language)]
            chosen[language] = content
        key = lg.contact_key(incident_id, content.row_id, channel, contact_id)
        rows.append(
            lg.QueuedDelivery(key, incident_id, content.row_id, channel, contact_id, address)
        )
        if out:
            opted_out.add(key)
    return rows, opted_out


def queue_shard(
    session: Session,
    incident_id: int,
    reach: Reach,
    bounds: tuple[int, int],
    contents: dict[str, Content],
    default_language: str,
    now: datetime,
) -> tuple[list[lg.QueuedDelivery], int, set[str]]:
    """Queue a row per reached contact; return (the rows, how many were new, opted-out keys)."""
    contacts = list(stream_contacts(session, reach, bounds))
    rows, opted = shard_rows(incident_id, reach.channel, contacts, contents, default_language)
    return rows, lg.queue_deliveries(session, sorted(rows), now=now), opted


def queue_everyone(
    session: Session, incident_id: int, channel: str, contents: dict[str, Content], now: datetime
) -> int:
    """Broadcast-style channels: one row per announcement x language, no contact."""
    rows = [
        lg.QueuedDelivery(
            lg.delivery_key(incident_id, c.row_id, channel, EVERYONE),
            incident_id, c.row_id, channel, None, None,
        )
        for c in contents.values()
    ]  # fmt: skip
    return lg.queue_deliveries(session, rows, now=now)


def outbox_keys(path: Path, wanted: set[str]) -> set[str]:
    """Which of ``wanted`` keys the outbox file at ``path`` already holds."""
    found: set[str] = set()
    if not wanted or not path.exists():
        return found
    prefix = b'{"key":"'
    with path.open("rb") as lines:
        for line in lines:
            if line.startswith(prefix) and line.endswith(b"\n"):
                key = line[len(prefix) : line.index(b'"', len(prefix))].decode()
                if key in wanted:
                    found.add(key)
    return found


def repair_outbox(path: Path) -> int:
    """Cut a torn last line (a write cut short by SIGKILL); return the bytes removed.

    Call before any shard appends to ``path`` (the flow does, in its first task): the torn
    message was never fully recorded, so its row is still queued and is written again whole.
    """
    if not path.is_file():  # missing, or not a file: the outbox channel reports that itself
        return 0
    with path.open("r+b") as handle:
        size = handle.seek(0, 2)
        end = size
        while end > 0:
            step = min(1 << 16, end)
            handle.seek(end - step)
            chunk = handle.read(step)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                end = end - step + newline + 1
                break
            end -= step
        if end < size:
            handle.truncate(end)
        return size - end


def settle_leftovers(
    session: Session, channel: Channel, rows: Sequence[lg.LedgerRow], now: datetime
) -> tuple[int, int]:
    """Settle rows an earlier run left queued; return (reconciled as sent, unknown outcome)."""
    if isinstance(channel, OutboxChannel):
        found = outbox_keys(channel.path, {r.idempotency_key for r in rows})
        done = [lg.Outcome(r.id, "sent", "outbox:reconciled") for r in rows
                if r.idempotency_key in found]  # fmt: skip
        lg.record_outcomes(session, done, now=now, attempt=1)
        return len(done), 0
    doubtful = [lg.Outcome(r.id, "failed", None, lg.UNKNOWN_AFTER_CRASH)
                for r in rows if r.last_error == lg.IN_FLIGHT]  # fmt: skip
    lg.record_outcomes(session, doubtful, now=now)
    return 0, len(doubtful)


def is_recalled(session: Session, row_ids: Sequence[int]) -> bool:
    """Whether the commander recalled any of these announcements (checked between batches)."""
    ids = ", ".join(str(int(i)) for i in row_ids) or "NULL"
    query = text(f"SELECT count(*) FROM announcements WHERE id IN ({ids}) AND status = 'recalled'")  # noqa: S608 - fixed SQL and checked names inlined; values bound
    return bool(session.execute(query).scalar())
