"""Fixtures of the ``/api/v1`` tests: the app on a real store (SQLite and PostgreSQL), its
settings and home, and a checking client with a token per role (``api_support``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_support import SERVE_TOKEN, Api, add_users
from fastapi import FastAPI
from fastapi.testclient import TestClient

from crisiscast.config import Settings, load_settings
from crisiscast.incidents.store.database import Store
from crisiscast.web.app import create_app


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """CRISISCAST_HOME in the test's folder, no provider credentials: outbox only (flows read
    the environment too)."""
    path = tmp_path / "home"
    monkeypatch.setenv("CRISISCAST_HOME", str(path))
    for name in (
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "SENDGRID_API_KEY",
        "SENDGRID_FROM_EMAIL",
        "X_BEARER_TOKEN",
        "CRISISCAST_APPRISE_URLS",
        "CRISISCAST_PUBLIC_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    return path


@pytest.fixture
def settings(home: Path, store: Store) -> Settings:
    url = store.url.render_as_string(hide_password=False)
    return load_settings({"CRISISCAST_HOME": str(home), "CRISISCAST_DATABASE_URL": url})


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    web = create_app(settings, SERVE_TOKEN)
    yield web
    web.state.store.dispose()


@pytest.fixture
def api(app: FastAPI, store: Store) -> Iterator[Api]:
    tokens = add_users(store)
    with TestClient(app) as client:
        yield Api(client, app.openapi(), tokens)
