"""The statements of intake, one per batch rather than one per message.

A burst of replies arrives as batches (see ``crisiscast.web.intake_queue``); each function here
answers for the whole batch with one statement, so the cost per message is a row, not a round
trip. Matching goes through the ledger's unique idempotency key (one candidate key per staged
announcement of each active incident), so it stays an index lookup with a million deliveries.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crisiscast.incidents.broadcast.ledger import contact_key, delivery_key
from crisiscast.incidents.cases.opening import CLOSED_STATUSES
from crisiscast.incidents.store.models import (
    Announcement,
    Case,
    Contact,
    Delivery,
    InboundMessage,
    Incident,
    IncidentStatus,
    TimelineEvent,
)

CHUNK = 500  # bound IN lists and multi-row statements (SQLite allows 32,766 parameters)


@dataclass(frozen=True, slots=True)
class IncidentInfo:
    """What intake needs of an incident (plain values: usable after the session ends)."""

    id: int
    playbook_path: str
    languages: tuple[str, ...]

    @property
    def ref(self) -> str:
        return f"INC-{self.id}"


@dataclass(frozen=True, slots=True)
class OpenCase:
    id: int
    severity: str
    opened_at: datetime
    why: dict[str, Any] | None


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _info(row: Any) -> IncidentInfo:
    return IncidentInfo(row.id, row.playbook_path, tuple(row.languages or ()))


def plan_per_execution(session: Session) -> None:
    """On PostgreSQL, plan these statements afresh each time, in this transaction only.

    psycopg prepares a statement after a few runs, and PostgreSQL then keeps a generic plan made
    while the tables were small (seq scans) until the next ANALYZE: measured here, finding the
    open cases went from 0.1 ms to 0.4-1.8 s per batch as messages piled up in a burst. A custom
    plan re-estimates from the tables' current size (about 0.5 ms of planning per batch).
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


def incidents_by_id(session: Session, ids: Iterable[int]) -> dict[int, IncidentInfo]:
    """The named incidents (the web form names its own)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    query = select(Incident.id, Incident.playbook_path, Incident.languages)
    rows = session.execute(query.where(Incident.id.in_(wanted))).all()
    return {row.id: _info(row) for row in rows}


def match_incidents(
    session: Session, senders: Sequence[tuple[str, str]]
) -> list[tuple[IncidentInfo | None, int | None]]:
    """Per (channel, sender): the active incident (and announcement row) that reached this
    address, else the newest active incident, else None."""
    active = session.execute(
        select(Incident.id, Incident.playbook_path, Incident.languages)
        .where(Incident.status == IncidentStatus.ACTIVE)
        .order_by(Incident.created_at.desc(), Incident.id.desc())
    ).all()
    if not active:
        return [(None, None)] * len(senders)
    infos = {row.id: _info(row) for row in active}
    newest = infos[active[0].id]
    staged = session.execute(
        select(Announcement.id, Announcement.incident_id, Announcement.channel).where(
            Announcement.incident_id.in_(list(infos))
        )
    ).all()
    # Broadcasts key a contact's delivery by contact id; rows without a contact by address.
    known = contacts(session, (sender for _, sender in senders))
    candidates: dict[str, tuple[int, int, tuple[str, str]]] = {}
    for who in set(senders):
        channel, sender = who
        for row in staged:
            if row.channel == channel:
                key = delivery_key(row.incident_id, row.id, channel, sender)
                candidates[key] = (row.incident_id, row.id, who)
                if sender in known:
                    key = contact_key(row.incident_id, row.id, channel, known[sender])
                    candidates[key] = (row.incident_id, row.id, who)
    best: dict[tuple[str, str], tuple[int, int]] = {}
    for chunk in _chunks(list(candidates)):
        query = select(Delivery.idempotency_key).where(Delivery.idempotency_key.in_(chunk))
        for key in session.scalars(query):
            incident_id, announcement, who = candidates[key]
            best[who] = max(best.get(who, (0, 0)), (incident_id, announcement))
    out: list[tuple[IncidentInfo | None, int | None]] = []
    for who in senders:
        hit = best.get(who)
        out.append((infos[hit[0]], hit[1]) if hit else (newest, None))
    return out


def insert_messages(session: Session, rows: Sequence[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """Insert messages, skipping provider ids already stored; (channel, provider_id) -> new id.

    ``rows`` must not repeat a (channel, provider_id) and must all carry a provider id.
    """
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stored: dict[tuple[str, str], int] = {}
    for chunk in _chunks(rows):
        statement = (
            module.insert(InboundMessage)
            .on_conflict_do_nothing(index_elements=["channel", "provider_id"])
            .returning(InboundMessage.id, InboundMessage.channel, InboundMessage.provider_id)
        )
        for row in session.execute(statement, list(chunk)):
            stored[(row.channel, row.provider_id)] = row.id
    return stored


def open_cases(
    session: Session, keys: Iterable[tuple[int | None, str, str]]
) -> dict[tuple[int | None, str, str], OpenCase]:
    """(incident, channel, sender) -> that sender's newest open case there."""
    wanted = set(keys)
    senders = sorted({sender for _, _, sender in wanted})
    found: dict[tuple[int | None, str, str], OpenCase] = {}
    for chunk in _chunks(senders):
        query = (
            select(InboundMessage.sender, InboundMessage.channel, Case.incident_id, Case.id,
                   Case.severity, Case.opened_at, Case.why)
            .join(Case, InboundMessage.case_id == Case.id)
            .where(InboundMessage.sender.in_(chunk), Case.status.not_in(CLOSED_STATUSES),
                   Case.resolved_at.is_(None))
            .order_by(Case.id)
        )  # fmt: skip
        for row in session.execute(query):
            key = (row.incident_id, row.channel, row.sender)
            if key in wanted:  # ordered by id: the newest case wins
                found[key] = OpenCase(row.id, row.severity, row.opened_at, row.why)
    return found


def contacts(session: Session, addresses: Iterable[str]) -> dict[str, int]:
    """Known contacts by E.164 phone or lower-case email -> contact id."""
    wanted = sorted(set(addresses))
    found: dict[str, int] = {}
    for chunk in _chunks(wanted):
        query = select(Contact.id, Contact.phone, Contact.email).where(
            or_(Contact.phone.in_(chunk), Contact.email.in_(chunk))
        )
        for row in session.execute(query):
            for address in (row.phone, row.email):
                if address in chunk:
                    found[address] = row.id
    return found


def last_auto_replies(
    session: Session, cases: Iterable[tuple[int, int]], kind: str
) -> dict[int, datetime]:
    """(incident, case) -> when the case was last auto-acknowledged (its timeline event)."""
    wanted = dict((f"case {case} auto-acknowledged", case) for _, case in cases)
    incidents = sorted({incident for incident, _ in cases})
    if not wanted:
        return {}
    query = (
        select(TimelineEvent.message, func.max(TimelineEvent.at))
        .where(TimelineEvent.incident_id.in_(incidents), TimelineEvent.kind == kind,
               TimelineEvent.message.in_(list(wanted)))
        .group_by(TimelineEvent.message)
    )  # fmt: skip
    return {wanted[message]: at for message, at in session.execute(query)}


def insert_cases(session: Session, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert cases; their ids, in the order of ``rows``."""
    if not rows:
        return []
    # render_nulls: rows with None in different columns stay one statement (without it the ORM
    # splits the batch by which values are None: 3-5 round trips on PostgreSQL instead of 1).
    statement = (
        insert(Case)
        .returning(Case.id, sort_by_parameter_order=True)
        .execution_options(render_nulls=True)
    )
    return [row.id for row in session.execute(statement, list(rows))]


def link_messages(session: Session, links: Sequence[tuple[int, int]]) -> None:
    """Set each (message id, case id)."""
    if links:
        # ORM bulk UPDATE by primary key: one executemany.
        session.execute(update(InboundMessage), [{"id": m, "case_id": c} for m, c in links])


def add_events(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Append timeline events in one statement (the timeline is append-only)."""
    if rows:
        session.execute(insert(TimelineEvent), list(rows))


def raise_case(session: Session, case_id: int, values: dict[str, Any]) -> None:
    """Store a case's raised severity, why and due times."""
    session.execute(update(Case).where(Case.id == case_id).values(**values))
