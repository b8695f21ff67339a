"""Fixtures shared by every test folder: where the incident store lives during a test.

- ``db_url``: the same test runs twice, on SQLite (a fresh file) and on PostgreSQL (a fresh
  schema, in a database created for this test session and dropped after it). PostgreSQL comes
  from ``CRISISCAST_TEST_POSTGRES_URL`` (default: the local server, database ``test``). If it
  does not answer, the postgres variant is skipped locally but FAILS when ``CI`` is set.
- ``store``: a :class:`~crisiscast.incidents.store.database.Store` on ``db_url``, upgraded to head.

Sub-folders add their own fixtures in their own conftest.py files.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import URL

from crisiscast.incidents.store.database import Store, normalize_url

POSTGRES_ENV = "CRISISCAST_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _libpq(url: URL) -> str:
    """The URL as psycopg itself takes it (no SQLAlchemy driver suffix)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _admin(url: URL) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(_libpq(url), autocommit=True, connect_timeout=3)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[URL]:
    """A throwaway PostgreSQL database for this test session."""
    base = normalize_url(os.environ.get(POSTGRES_ENV, DEFAULT_POSTGRES_URL))
    try:
        admin = _admin(base)
    except psycopg.OperationalError as exc:
        reason = (
            f"PostgreSQL at {base.render_as_string(hide_password=True)} does not answer "
            f"({' '.join(str(exc).split())}); start it or set {POSTGRES_ENV}"
        )
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PostgreSQL tests: {reason}")
        pytest.skip(reason)
    name = f"crisiscast_test_{os.getpid()}_{secrets.token_hex(4)}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name)
    finally:
        with _admin(base) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url(postgres_database: URL) -> Iterator[str]:
    """A URL whose connections see only a fresh, empty schema (via ``search_path``)."""
    schema = f"t_{secrets.token_hex(6)}"
    with _admin(postgres_database) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    url = postgres_database.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with _admin(postgres_database) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A URL for a new SQLite file in the test's temporary folder."""
    return f"sqlite:///{tmp_path / 'crisiscast.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """An empty database, once on SQLite and once on PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """The incident store on ``db_url``, migrated to head; disposed after the test."""
    instance = Store(db_url)
    instance.upgrade()
    try:
        yield instance
    finally:
        instance.dispose()


def pytest_sessionfinish() -> None:
    """Quiet Prefect once the tests are done: a temporary API started by a test stops at exit,
    and its "Stopping temporary server" line, written to a stream pytest has closed, printed
    a logging traceback under the summary line, where a reader looks for the result."""
    logging.getLogger("prefect").setLevel(logging.WARNING)
