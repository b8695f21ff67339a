"""Outbox marks: the outbox path's crash record.

The outbox path writes a batch's lines to the outbox file first and then inserts the batch
into the ledger as sent, so each delivery is written to the database once. A shard killed
between the two leaves lines that the ledger lacks. Before its first line, the shard records
the file's size here; the next run reads the file from that byte, records what it finds as
sent, and only then sends the rest (``crisiscast.incidents.broadcast.queueing.reconcile_marks``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from crisiscast.incidents.store.models import OutboxMark


def add_mark(
    session: Session,
    incident_id: int,
    channel: str,
    contacts: tuple[int, int],
    offset: int,
    *,
    now: datetime,
) -> int:
    """Record that a shard of contacts ``lo..hi`` writes to ``channel``'s outbox from ``offset``."""
    mark = OutboxMark(
        incident_id=incident_id, channel=channel, contact_lo=contacts[0],
        contact_hi=contacts[1], offset=offset, created_at=now,
    )  # fmt: skip
    session.add(mark)
    session.flush()
    return mark.id


def remove_mark(session: Session, mark_id: int) -> None:
    """The shard's rows are all in the ledger: its outbox lines need no reading back."""
    session.execute(delete(OutboxMark).where(OutboxMark.id == mark_id))


def marks_of(session: Session, incident_id: int) -> list[OutboxMark]:
    """The marks an earlier, interrupted run of this incident left, oldest first."""
    query = select(OutboxMark).where(OutboxMark.incident_id == incident_id).order_by(OutboxMark.id)
    return list(session.scalars(query))
