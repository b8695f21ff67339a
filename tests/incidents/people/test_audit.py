"""The audit log: entries in order, filtered and paged, and append-only (no change, no delete)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select, update

from crisiscast.errors import StoreError
from crisiscast.incidents.people.audit import Actor, events, record
from crisiscast.incidents.store.database import Store
from crisiscast.incidents.store.models import AuditEvent

T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


def fill(store: Store) -> None:
    with store.session() as session:
        record(session, Actor.cli(), "user.add", now=T0, subject="user 1",
               detail={"username": "ana", "role": "commander"})  # fmt: skip
        record(session, Actor("user:1 ana", "console 10.0.0.7", 1), "login", now=T0)
        record(session, Actor.agent(3, "Noi", "sms"), "case.ack", now=T0 + timedelta(minutes=1),
               incident_id=7, subject="case 42")  # fmt: skip
        record(session, Actor.system(), "sla.escalate", now=T0 + timedelta(minutes=2),
               incident_id=7, subject="case 42")  # fmt: skip


def test_entries_say_who_what_when_and_from_where(store: Store) -> None:
    """Each entry keeps its actor, source, action, time and detail, in the order written."""
    fill(store)
    with store.session() as session:
        rows = events(session)
        assert [(e.actor, e.source, e.action) for e in rows] == [
            ("cli", "cli", "user.add"),
            ("user:1 ana", "console 10.0.0.7", "login"),
            ("agent:3 Noi", "sms", "case.ack"),
            ("crisiscast", "system", "sla.escalate"),
        ]
        assert rows[0].detail == {"username": "ana", "role": "commander"}
        assert rows[1].user_id == 1 and rows[0].user_id is None
        assert rows[2].at == T0 + timedelta(minutes=1)


def test_events_filter_by_incident_and_action_and_page_by_id(store: Store) -> None:
    """``incident_id`` and ``action`` filter; ``after_id`` + ``limit`` page through in order."""
    fill(store)
    with store.session() as session:
        assert [e.action for e in events(session, incident_id=7)] == ["case.ack", "sla.escalate"]
        assert [e.action for e in events(session, action="login")] == ["login"]
        first = events(session, limit=2)
        rest = events(session, after_id=first[-1].id, limit=10)
        assert [e.action for e in (*first, *rest)] == [e.action for e in events(session)]
        assert len(rest) == 2


def test_an_entry_cannot_be_changed_or_deleted(store: Store) -> None:
    """Changing or deleting a loaded entry fails, and the entry stays as written."""
    fill(store)
    with pytest.raises(StoreError, match="append-only"), store.session() as session:
        session.scalars(select(AuditEvent)).first().action = "nothing happened"  # type: ignore[union-attr]
    with pytest.raises(StoreError, match="append-only"), store.session() as session:
        session.delete(session.scalars(select(AuditEvent)).first())
    with store.session() as session:
        assert events(session)[0].action == "user.add"
        assert len(events(session)) == 4


@pytest.mark.parametrize("statement", ["update", "delete"])
def test_bulk_update_or_delete_is_refused_too(store: Store, statement: str) -> None:
    """``update(AuditEvent)`` / ``delete(AuditEvent)`` skip the model's listeners; they are
    refused all the same and nothing changes."""
    fill(store)
    bulk = (update(AuditEvent).values(actor="someone else") if statement == "update"
            else delete(AuditEvent))  # fmt: skip
    with pytest.raises(StoreError, match="append-only"), store.session() as session:
        session.execute(bulk)
    with store.session() as session:
        assert [e.actor for e in events(session)] == ["cli", "user:1 ana", "agent:3 Noi",
                                                        "crisiscast"]  # fmt: skip
