"""A case's conversation in order: the customer's messages (``inbound_messages``) and every
entry we added (``case_entries``: what we sent them, relays to agents, notes, status changes).

Whoever sends something to a customer about a case, or notes something on it, appends an
entry here in the same transaction, so the console and the API show one history.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisiscast.incidents.store.models import CaseEntry, InboundMessage

ENTRY_KINDS = frozenset(
    {"note", "reply", "ask", "answer", "auto_reply", "reminder", "csat_question", "relay",
     "status", "page"}
)  # fmt: skip


def add_entry(
    session: Session,
    case_id: int,
    kind: str,
    body: str,
    *,
    author: str,
    now: datetime,
    channel: str | None = None,
    data: Mapping[str, Any] | None = None,
) -> CaseEntry:
    """Append one entry to a case's conversation (never changed afterwards)."""
    if kind not in ENTRY_KINDS:
        raise ValueError(f"unknown case entry kind {kind!r}; one of {sorted(ENTRY_KINDS)}")
    entry = CaseEntry(
        case_id=case_id,
        at=now,
        kind=kind,
        author=author[:200],
        channel=channel,
        body=body,
        data=None if data is None else dict(data),
    )
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True, slots=True)
class Line:
    """One line of the conversation as people read it."""

    at: datetime
    kind: str  # "incoming" for the customer's messages, else the entry's kind
    author: str  # "customer" or the entry's author
    channel: str | None
    body: str


def conversation(session: Session, case_id: int) -> list[Line]:
    """Everything said on a case, oldest first (ties: the customer's message first)."""
    incoming = session.scalars(
        select(InboundMessage).where(InboundMessage.case_id == case_id)
    ).all()
    entries = session.scalars(select(CaseEntry).where(CaseEntry.case_id == case_id)).all()
    lines = [(m.received_at, 0, m.id, Line(m.received_at, "incoming", "customer", m.channel,
              m.body)) for m in incoming]  # fmt: skip
    lines += [(e.at, 1, e.id, Line(e.at, e.kind, e.author, e.channel, e.body)) for e in entries]
    return [line for *_, line in sorted(lines, key=lambda item: item[:3])]
