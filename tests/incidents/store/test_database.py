"""The store API the launch flow and the CLI use, on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crisiscast.config import load_settings
from crisiscast.errors import NotFoundError, StoreError
from crisiscast.incidents.store.database import (
    Store,
    add_announcement,
    add_event,
    create_incident,
    get_incident,
    list_incidents,
    normalize_url,
)
from crisiscast.incidents.store.models import (
    AnnouncementStatus,
    Incident,
    IncidentStatus,
    TimelineEvent,
)

NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)


def _incident(session: Session, title: str = "Payments down", **changes: Any) -> Incident:
    fields: dict[str, Any] = {
        "playbook_id": "payments-outage",
        "playbook_path": "playbooks/payments_outage.yaml",
        "title": title,
        "params": {"service": "Payments API"},
        "languages": ["en", "th"],
        "exercise": False,
        "now": NOW,
    }
    fields.update(changes)
    return create_incident(session, **fields)


def test_create_incident_starts_active_with_a_ref(store: Store) -> None:
    """A new incident is active, named INC-<id>, with its playbook, languages and flags."""
    with store.session() as session:
        incident = _incident(session, exercise=True)
    with store.session() as session:
        found = get_incident(session, incident.ref)
    assert found.ref == f"INC-{found.id}"
    assert found.status is IncidentStatus.ACTIVE
    assert (found.playbook_id, found.exercise) == ("payments-outage", True)
    assert found.languages == ["en", "th"]
    assert found.created_at == NOW and found.created_at.tzinfo is not None
    assert found.stood_down_at is None


def test_session_on_a_database_never_upgraded_says_to_upgrade(db_url: str) -> None:
    """Using a store before its schema exists fails clearly instead of "no such table"."""
    store = Store(db_url)
    try:
        with (
            pytest.raises(StoreError, match=r"no crisiscast schema yet.*upgrade\(\)"),
            store.session() as session,
        ):
            list_incidents(session)
    finally:
        store.dispose()


@pytest.mark.parametrize("form", ["INC-{id}", "inc-{id}", "{id}", " INC{id} ", "int"])
def test_get_incident_accepts_every_ref_form(store: Store, form: str) -> None:
    """People type INC-3, inc-3, 3, or the code passes the int id: all find the incident."""
    with store.session() as session:
        incident_id = _incident(session).id
    ref: str | int = incident_id if form == "int" else form.format(id=incident_id)
    with store.session() as session:
        assert get_incident(session, ref).id == incident_id


def test_get_incident_unknown_id_names_the_ref_and_the_list_command(store: Store) -> None:
    """An id that does not exist says which one and how to see the real ones."""
    with store.session() as session, pytest.raises(NotFoundError) as caught:
        get_incident(session, "INC-404")
    assert "INC-404" in str(caught.value)
    assert "crisiscast list" in str(caught.value)


@pytest.mark.parametrize(
    "ref", ["", "INC-", "incident 3", "INC-3a", "-3", "INC-" + "9" * 30, "INC-2147483648", "INC-๓"]
)
def test_get_incident_malformed_ref_explains_the_format(store: Store, ref: str) -> None:
    """A malformed ref is a NotFoundError that shows the expected INC-<number> form."""
    with store.session() as session, pytest.raises(NotFoundError, match=r"INC-<number>"):
        get_incident(session, ref)


def test_list_incidents_newest_first_and_limited(store: Store) -> None:
    """The list shows the latest incidents first and stops at the limit."""
    with store.session() as session:
        for hours in range(4):
            _incident(session, title=f"incident {hours}", now=NOW + timedelta(hours=hours))
    with store.session() as session:
        titles = [i.title for i in list_incidents(session, limit=3)]
    assert titles == ["incident 3", "incident 2", "incident 1"]


def test_params_round_trip_datetimes_and_nested_json(store: Store) -> None:
    """Typed parameters come back as they went in, datetimes included, at any depth."""
    bangkok = timezone(timedelta(hours=7))
    params = {
        "service": "Payments API",
        "eta": datetime(2026, 11, 25, 18, 0, tzinfo=bangkok),
        "affected": 12000,
        "ratio": 0.25,
        "urgent": True,
        "windows": [{"from": NOW, "note": "2026 plan"}],
        "text_date": "2026-11-25",
    }
    with store.session() as session:
        incident_id = _incident(session, params=params).id
    with store.session() as session:
        assert get_incident(session, incident_id).params == params


def test_naive_datetime_is_refused(store: Store) -> None:
    """A timestamp without a timezone is rejected rather than guessed, and nothing is saved."""
    with pytest.raises(StoreError, match="timezone-aware"), store.session() as session:
        _incident(session, now=datetime(2026, 11, 25, 9, 30))
    with store.session() as session:
        assert list_incidents(session) == []


def test_timestamps_come_back_in_utc(store: Store) -> None:
    """Any aware time is stored as the same instant and read back in UTC."""
    local = datetime(2026, 11, 25, 16, 30, tzinfo=timezone(timedelta(hours=7)))
    with store.session() as session:
        incident_id = _incident(session, now=local).id
    with store.session() as session:
        created = get_incident(session, incident_id).created_at
    assert created == local
    assert created.utcoffset() == timedelta(0)


def test_session_rolls_back_everything_when_the_block_fails(store: Store) -> None:
    """An error inside a session block leaves no half-applied changes."""
    with pytest.raises(RuntimeError), store.session() as session:
        _incident(session)
        raise RuntimeError("boom")
    with store.session() as session:
        assert list_incidents(session) == []


def test_add_announcement_is_pending_and_unique_per_channel_and_language(store: Store) -> None:
    """One announcement per incident x announcement id x channel x language."""
    fields: dict[str, Any] = {
        "announcement_id": "first-notice",
        "when": "launch",
        "channel": "sms",
        "language": "en",
        "subject": None,
        "body": "Payments are down. Status: https://status.example",
        "html": None,
        "now": NOW,
    }
    with store.session() as session:
        incident_id = _incident(session).id
        announcement = add_announcement(session, incident_id, **fields)
        add_announcement(session, incident_id, **{**fields, "language": "th"})
    assert announcement.status is AnnouncementStatus.PENDING
    with pytest.raises(IntegrityError), store.session() as session:
        add_announcement(session, incident_id, **fields)


def test_timeline_is_ordered_by_time_then_insertion(store: Store) -> None:
    """Events read back in time order; events at the same instant keep their insertion order."""
    with store.session() as session:
        incident_id = _incident(session).id
        add_event(session, incident_id, "note", "late", now=NOW + timedelta(minutes=5))
        add_event(session, incident_id, "note", "same-1", now=NOW + timedelta(minutes=1))
        add_event(session, incident_id, "note", "same-2", {"n": 2}, now=NOW + timedelta(minutes=1))
    with store.session() as session:
        query = (
            select(TimelineEvent)
            .where(TimelineEvent.incident_id == incident_id)
            .order_by(TimelineEvent.at, TimelineEvent.id)
        )
        messages = [(e.message, e.data) for e in session.scalars(query)]
    assert messages == [("same-1", None), ("same-2", {"n": 2}), ("late", None)]


@pytest.mark.parametrize("change", ["update", "delete"])
def test_timeline_events_cannot_be_changed_or_deleted(store: Store, change: str) -> None:
    """The timeline is append-only: editing or deleting an event raises and keeps it."""
    with store.session() as session:
        incident_id = _incident(session).id
        event_id = add_event(session, incident_id, "note", "original", now=NOW).id
    with pytest.raises(StoreError, match="append-only"), store.session() as session:
        event = session.get_one(TimelineEvent, event_id)
        if change == "update":
            event.message = "rewritten"
        else:
            session.delete(event)
        session.flush()
    with store.session() as session:
        assert session.get_one(TimelineEvent, event_id).message == "original"


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("postgresql://u@db:5432/crisis", "postgresql+psycopg"),
        ("postgres://u@db/crisis", "postgresql+psycopg"),
        ("postgresql+psycopg://u@db/crisis", "postgresql+psycopg"),
        ("sqlite:////var/lib/crisiscast/crisiscast.db", "sqlite"),
    ],
)
def test_normalize_url_uses_psycopg3_for_plain_postgres_urls(given: str, driver: str) -> None:
    """A plain postgresql:// URL works without naming the driver."""
    assert normalize_url(given).drivername == driver


@pytest.mark.parametrize("url", ["mysql://u@db/crisis", "not a url"])
def test_unsupported_or_malformed_urls_say_what_works(url: str) -> None:
    """Only SQLite and PostgreSQL are supported, and the error shows both forms."""
    with pytest.raises(StoreError, match=r"sqlite:///.*postgresql://"):
        normalize_url(url)


def test_unreachable_database_gives_store_error_without_the_password() -> None:
    """A database that does not answer is a StoreError that never shows the password."""
    store = Store("postgresql://crisis:hunter2@127.0.0.1:1/crisis?connect_timeout=2")
    try:
        with pytest.raises(
            StoreError, match=r"(?s)127\.0\.0\.1:1.*CRISISCAST_DATABASE_URL"
        ) as caught:
            store.upgrade()
    finally:
        store.dispose()
    assert "hunter2" not in str(caught.value)
    assert "hunter2" not in repr(store)


def test_from_settings_creates_the_sqlite_folder_and_sets_pragmas(tmp_path: Path) -> None:
    """The default SQLite store makes its folder and runs with WAL, foreign keys, busy timeout."""
    settings = load_settings({"CRISISCAST_HOME": str(tmp_path / "new" / "home")})
    store = Store.from_settings(settings)
    try:
        store.upgrade()
        with store.engine.connect() as connection:
            pragma = connection.exec_driver_sql
            assert pragma("PRAGMA journal_mode").scalar() == "wal"
            assert pragma("PRAGMA foreign_keys").scalar() == 1
            assert pragma("PRAGMA busy_timeout").scalar() == 10_000
    finally:
        store.dispose()
    assert (tmp_path / "new" / "home" / "crisiscast.db").is_file()


def test_the_default_store_is_private_to_its_owner(tmp_path: Path) -> None:
    """crisiscast.db (and its WAL) holds phone numbers and emails: 0600, in a 0700 home whose
    outbox is 0700 too, whatever the umask."""
    home = tmp_path / "home"
    settings = load_settings({"CRISISCAST_HOME": str(home)})
    old = os.umask(0o022)
    try:
        store = Store.from_settings(settings)
        try:
            store.upgrade()
        finally:
            store.dispose()
    finally:
        os.umask(old)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE(settings.outbox_dir.stat().st_mode) == 0o700
    for path in home.glob("crisiscast.db*"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def test_foreign_keys_are_enforced(store: Store) -> None:
    """An announcement for an incident that does not exist is refused on both databases."""
    with pytest.raises(IntegrityError), store.session() as session:
        add_announcement(
            session,
            999,
            announcement_id="a",
            when="launch",
            channel="sms",
            language="en",
            subject=None,
            body="b",
            html=None,
            now=NOW,
        )
