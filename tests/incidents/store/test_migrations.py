"""Schema migrations: any database reaches head, upgrades keep data, strangers are refused."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from crisiscast.errors import StoreError
from crisiscast.incidents.store import migrate
from crisiscast.incidents.store.database import Store, get_incident, upgrade
from crisiscast.incidents.store.models import Base

TABLES = {
    "incidents",
    "announcements",
    "contacts",
    "opt_outs",
    "deliveries",
    "cases",
    "inbound_messages",
    "agents",
    "assignments",
    "timeline_events",
    "outbox_marks",
    "contact_lists",
    "contact_list_members",
    "saved_filters",
    "targets",
    "target_members",
}


def _first_revision() -> str:
    base = migrate._scripts().get_base()
    assert base is not None
    return base


def test_upgrade_creates_every_table_at_head(db_url: str) -> None:
    """An empty database gets every table and is stamped with the head revision."""
    assert upgrade(db_url) == migrate.head_revision()
    store = Store(db_url)
    try:
        with store.engine.connect() as connection:
            assert set(inspect(connection).get_table_names()) >= TABLES
            assert migrate.current_revision(connection) == migrate.head_revision()
        store.check()
    finally:
        store.dispose()


def test_upgrade_twice_is_harmless_and_keeps_rows(store: Store) -> None:
    """Running the upgrade on every start does nothing to an up-to-date database."""
    with store.session() as session:
        session.execute(
            text(
                "INSERT INTO incidents (playbook_id, playbook_path, title, params, languages, "
                "status, exercise, created_at) VALUES ('p', 'p.yaml', 'Kept', '{}', '[]', "
                "'active', false, '2026-11-25 09:00:00')"
            )
        )
    assert store.upgrade() == migrate.head_revision()
    assert store.upgrade() == migrate.head_revision()
    with store.session() as session:
        assert get_incident(session, 1).title == "Kept"


def test_rows_written_at_the_first_revision_survive_upgrade_to_head(db_url: str) -> None:
    """Data written by the oldest schema is still there after upgrading to the newest."""
    engine = create_engine(Store(db_url).url)
    try:
        with engine.begin() as connection:
            command.upgrade(migrate._config(connection), _first_revision())
            connection.execute(
                text(
                    "INSERT INTO incidents (id, playbook_id, playbook_path, title, params, "
                    "languages, status, exercise, created_at) VALUES (7, 'flood', "
                    "'playbooks/flood.yaml', 'River flood', '{\"river\": \"Aare\"}', "
                    "'[\"de\"]', 'active', true, '2026-11-25 09:00:00')"
                )
            )
    finally:
        engine.dispose()
    upgrade(db_url)
    store = Store(db_url)
    try:
        with store.session() as session:
            incident = get_incident(session, "INC-7")
            assert (incident.title, incident.params, incident.languages) == (
                "River flood",
                {"river": "Aare"},
                ["de"],
            )
            assert incident.exercise is True
    finally:
        store.dispose()


def test_models_match_the_migrations(store: Store) -> None:
    """The models and the migrated schema agree, so nobody forgot to write a migration."""
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_unknown_revision_is_refused_with_a_clear_error(store: Store) -> None:
    """A database upgraded by a newer crisiscast is refused instead of being guessed at."""
    with store.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'f00dfacef00d'"))
    with pytest.raises(StoreError, match=r"'f00dfacef00d'.*does not know.*upgrade crisiscast"):
        store.upgrade()
    with pytest.raises(StoreError, match="does not know"):
        store.check()


def test_check_asks_for_an_upgrade_when_the_schema_is_missing(db_url: str) -> None:
    """Start-up on an empty database says to run the upgrade."""
    store = Store(db_url)
    try:
        with pytest.raises(StoreError, match=r"no crisiscast schema yet.*upgrade it first"):
            store.check()
    finally:
        store.dispose()


def test_tables_without_a_version_stamp_are_refused(db_url: str) -> None:
    """Tables made outside the migrations are not silently adopted or overwritten."""
    engine = create_engine(Store(db_url).url)
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE incidents (id INTEGER PRIMARY KEY)"))
    finally:
        engine.dispose()
    with pytest.raises(StoreError, match="no alembic_version"):
        upgrade(db_url)
