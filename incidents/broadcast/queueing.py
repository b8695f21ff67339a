"""Preparing a shard for sending: stream its contacts, build and queue its ledger rows, and
settle what an earlier, crashed run left behind (see ``crisiscast.incidents.broadcast.sending``)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from crisiscast.channels.base import Channel
from crisiscast.channels.outbox import OutboxChannel
from crisiscast.incidents.broadcast import ledger as lg
from crisiscast.incidents.broadcast.decisions import Content, Reach, address_column, pick_language
from crisiscast.incidents.broadcast.outbox_marks import marks_of, remove_mark
from crisiscast.incidents.store.models import IN_FLIGHT

EVERYONE = "everyone"  # the recipient of broadcast-style channels in the idempotency key
RECONCILED = "outbox:reconciled"  # provider id of rows recorded from the outbox after a crash


def contacts_page(
    session: Session, reach: Reach, after: int, hi: int, limit: int
) -> list[tuple[int, str, str | None, bool]]:
    """(id, address, language, opted out of everything) of reached contacts with
    ``after < id <= hi``, in id order, at most ``limit`` of them."""
    column = address_column(reach.channel)
    # Audience names are checked identifiers (playbook Name), so inlining them is safe.
    defined = ", ".join(f"'{name}'" for name in reach.defined)
    chosen = ", ".join(f"'{name}'" for name in reach.audiences)
    audience = ""
    if defined:
        audience = f"AND (audience NOT IN ({defined})"
        audience += f" OR audience IN ({chosen}))" if chosen else ")"
    # The target was resolved once into target_members: walk its primary key (target, contact)
    # over the page's id range, in order, and look each contact up by id. The range is on
    # target_members.contact_id so both databases scan the key, never the whole target a page.
    source, key = "contacts", "contacts.id"
    if reach.target_id is not None:
        source = (
            "target_members JOIN contacts ON contacts.id = target_members.contact_id "
            f"AND target_members.target_id = {int(reach.target_id)}"
        )
        key = "target_members.contact_id"
    sql = (
        f"SELECT contacts.id, {column}, language, opted_out_at IS NOT NULL FROM {source} "  # noqa: S608 - fixed SQL and checked names inlined; values bound
        f"WHERE {key} > ? AND {key} <= ? AND {column} IS NOT NULL "
        f"{audience} ORDER BY {key} LIMIT ?"
    )
    with lg.driver_cursor(session) as (cursor, dialect):
        cursor.execute(sql.replace("?", "%s") if dialect == "postgresql" else sql,
                       (after, hi, limit))  # fmt: skip
        rows: list[tuple[int, str, str | None, bool]] = cursor.fetchall()  # SQLite: 0/1 for bool
        return rows


def stream_contacts(
    session: Session, reach: Reach, bounds: tuple[int, int]
) -> Iterator[tuple[int, str, str | None, bool]]:
    """Every reached contact of ``bounds`` (inclusive), in id order, a page at a time."""
    after = bounds[0] - 1
    while page := contacts_page(session, reach, after, bounds[1], 5_000):
        yield from page
        after = page[-1][0]


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
    if not wanted or not path.is_file():  # missing, or a device: nothing recorded there
        return found
    prefix = b'{"key":"'
    with path.open("rb") as lines:
        for line in lines:
            line = whole_line(line)
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


def outbox_rows_after(
    path: Path, offset: int, incident_id: int, channel: str, contacts: tuple[int, int]
) -> list[lg.QueuedDelivery]:
    """Ledger rows for the lines of one shard (this incident and channel, contacts ``lo..hi``)
    written to the outbox file at or after byte ``offset``.

    Other shards append to the same file, so ``offset`` may fall inside one of their lines:
    that partial line is skipped (this shard's lines all begin at or after ``offset``).
    """
    rows: list[lg.QueuedDelivery] = []
    if not path.is_file():
        return rows
    wanted = f"{incident_id}:"
    with path.open("rb") as lines:
        if offset > 0:
            lines.seek(offset - 1)
            if lines.read(1) != b"\n":
                lines.readline()  # the rest of another shard's line
        for line in lines:
            if not line.endswith(b"\n"):
                continue  # torn by a kill: never fully recorded, so it is sent again
            line = whole_line(line)
            if not line:
                continue
            record = json.loads(line)
            key = str(record.get("key", ""))
            parts = key.split(":")
            if len(parts) != 4 or not key.startswith(wanted) or parts[2] != channel:
                continue
            if not parts[3].startswith("c") or not parts[3][1:].isdigit():
                continue
            contact, announcement = int(parts[3][1:]), int(parts[1])
            if contacts[0] <= contact <= contacts[1]:  # the key as this release writes it
                key = lg.contact_key(incident_id, announcement, channel, contact)
                rows.append(lg.QueuedDelivery(key, incident_id, announcement, channel, contact,
                                              record.get("address")))  # fmt: skip
    return rows


def whole_line(line: bytes) -> bytes:
    """A line without the torn start a killed writer left in front of it.

    Shard runners on several workers append to one outbox file; one killed mid-write leaves a
    partial line that the next writer's line continues. A line's only unescaped ``{"key":"``
    is its start (JSON escapes quotes inside strings), so the last one is where it begins.
    """
    start = line.rfind(_LINE_START)
    return line[start:] if start > 0 else line


_LINE_START = b'{"key":"'


def reconcile_shard_marks(
    session: Session, outbox_dir: Path, incident_id: int, channel: str,
    contacts: tuple[int, int], now: datetime,
) -> int:  # fmt: skip
    """Before a shard taken over from a dead runner starts: record as sent what that runner
    wrote to the outbox but not to the ledger; return how many rows that added.

    Holds the channel's lock, so a live runner's batch is committed or not begun. The marks
    stay: one may belong to a live shard of another announcement over the same contacts, which
    removes its own; the coordinator clears the rest once every shard is done.
    """
    lg.lock_channel(session, incident_id, channel)
    added = 0
    for mark in marks_of(session, incident_id):
        if (mark.channel, mark.contact_lo, mark.contact_hi) != (channel, *contacts):
            continue
        rows = outbox_rows_after(outbox_dir / f"{channel}.jsonl", mark.offset, incident_id,
                                 channel, contacts)  # fmt: skip
        added += lg.insert_deliveries(
            session, sorted(rows), now=now, status="sent", provider_id=RECONCILED
        )
    return added


def reconcile_marks(session: Session, outbox_dir: Path, incident_id: int, now: datetime) -> int:
    """Record as sent what interrupted shards wrote to the outbox but not to the ledger, and
    clear their marks; return how many rows that added. Run before any shard starts."""
    added = 0
    for mark in marks_of(session, incident_id):
        path = outbox_dir / f"{mark.channel}.jsonl"
        rows = outbox_rows_after(
            path, mark.offset, incident_id, mark.channel, (mark.contact_lo, mark.contact_hi)
        )
        added += lg.insert_deliveries(
            session, sorted(rows), now=now, status="sent", provider_id=RECONCILED
        )
        remove_mark(session, mark.id)
    return added


def settle_leftovers(
    session: Session, channel: Channel, rows: Sequence[lg.LedgerRow], now: datetime
) -> tuple[int, int]:
    """Settle rows an earlier run left queued; return (reconciled as sent, unknown outcome)."""
    if isinstance(channel, OutboxChannel):
        found = outbox_keys(channel.path, {r.idempotency_key for r in rows})
        done = [lg.Outcome(r.id, "sent", RECONCILED) for r in rows
                if r.idempotency_key in found]  # fmt: skip
        lg.record_outcomes(session, done, now=now, attempt=1)
        return len(done), 0
    doubtful = [lg.Outcome(r.id, "failed", None, lg.UNKNOWN_AFTER_CRASH)
                for r in rows if r.last_error == IN_FLIGHT]  # fmt: skip
    lg.record_outcomes(session, doubtful, now=now)
    return 0, len(doubtful)


def is_recalled(session: Session, row_ids: Sequence[int]) -> bool:
    """Whether the commander recalled any of these announcements (checked between batches)."""
    ids = ", ".join(str(int(i)) for i in row_ids) or "NULL"
    query = text(f"SELECT count(*) FROM announcements WHERE id IN ({ids}) AND status = 'recalled'")  # noqa: S608 - fixed SQL and checked names inlined; values bound
    return bool(session.execute(query).scalar())
