"""Run the store's Alembic migrations from code: users never need an alembic.ini.

``upgrade_engine`` brings any database to head inside one transaction (PostgreSQL and SQLite
both have transactional DDL here), so a failed upgrade leaves the database as it was.
A database stamped with a revision this release does not know (written by a newer crisiscast)
is refused with a StoreError instead of being guessed at.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

from crisiscast.errors import StoreError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Any constant works: it only has to be the same for every crisiscast process.
_PG_UPGRADE_LOCK = 0x43524953  # "CRIS"


def _config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


@cache
def head_revision() -> str:
    """The newest revision this release of crisiscast knows."""
    head = _scripts().get_current_head()
    if head is None:  # pragma: no cover - the package always ships migrations
        raise StoreError(f"no migrations found in {MIGRATIONS_DIR}: reinstall crisiscast")
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database is stamped with, or None for a database never migrated."""
    heads = MigrationContext.configure(connection).get_current_heads()
    return heads[0] if heads else None


def _where(connection: Connection) -> str:
    return connection.engine.url.render_as_string(hide_password=True)


def check_known(connection: Connection) -> str | None:
    """Return the database's revision; raise StoreError if crisiscast cannot work with it."""
    revision = current_revision(connection)
    if revision is None:
        if "incidents" in inspect(connection).get_table_names():
            raise StoreError(
                f"{_where(connection)} has crisiscast tables but no alembic_version: it was not "
                "created by crisiscast's migrations. Point CRISISCAST_DATABASE_URL at an empty "
                "database, or move these tables away."
            )
        return None
    known = {script.revision for script in _scripts().walk_revisions()}
    if revision not in known:
        raise StoreError(
            f"{_where(connection)} is at schema revision {revision!r}, which this crisiscast "
            f"does not know (newest known: {head_revision()!r}). It was probably upgraded by a "
            "newer crisiscast: upgrade crisiscast, or use another database."
        )
    return revision


def check_current(connection: Connection) -> None:
    """Raise StoreError unless the database is exactly at head (for start-up checks)."""
    revision = check_known(connection)
    head = head_revision()
    if revision == head:
        return
    state = "has no crisiscast schema yet" if revision is None else f"is at revision {revision!r}"
    raise StoreError(
        f"{_where(connection)} {state}, not {head!r}: upgrade it first with Store(url).upgrade() "
        "or crisiscast.incidents.store.database.upgrade(url) (idempotent; keeps every row)."
    )


def upgrade_engine(engine: Engine) -> str:
    """Migrate the database behind ``engine`` to head, idempotently; return the head revision."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Two processes starting at once must not both create the tables.
            lock = text("SELECT pg_advisory_xact_lock(:key)")
            connection.execute(lock, {"key": _PG_UPGRADE_LOCK})
        check_known(connection)
        command.upgrade(_config(connection), "head")
    return head_revision()
