"""The console in a real Chromium: a live app on a store with one user of each role, signing
in through the real form, and axe-core's accessibility check on whatever page is open.

A browser test module imports ``browser`` and ``page`` from browser_support (its conftest
does) and uses these helpers; ``axe_problems`` needs ``npm ci`` (axe-core is in package.json).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from desk_support import make_agent
from live_app import serve_app

from crisiscast.config import Settings
from crisiscast.incidents.people.users import create_user
from crisiscast.web.app import create_app

PASSWORD = "correct horse battery"
# username: (role, display name); noi is also agent 1 on the roster (desk_support.make_agent)
USERS = {
    "ana": ("commander", "Ana Lima"),
    "bo": ("comms", "Bo Chen"),
    "cam": ("commander", "Cam Diaz"),
    "noi": ("agent", "Noi Phan"),
    "vic": ("viewer", "Vic Moss"),
}
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
SERVE_TOKEN = "serve-token"


@dataclass(frozen=True)
class Console:
    """A running console: its base URL, settings and app (``app.state.store`` is the store)."""

    base: str
    settings: Settings
    app: Any


@contextmanager
def running_console(settings: Settings) -> Iterator[Console]:
    """The whole ``serve`` app on loopback, its store upgraded, with the users in USERS; the
    flows it runs read ``CRISISCAST_HOME`` from the environment, so it is set to the settings'
    home meanwhile, as serve's own environment would be (nothing lands in ~/.crisiscast)."""
    before = os.environ.get("CRISISCAST_HOME")
    os.environ["CRISISCAST_HOME"] = str(settings.home)
    app = create_app(settings, SERVE_TOKEN)
    app.state.store.upgrade()
    now = datetime.now(UTC)
    with app.state.store.session() as session:
        agent = make_agent(session, 1, name="Noi Phan", languages=["en", "th"])
        session.flush()
        for username, (role, name) in USERS.items():
            create_user(session, username, role, now=now, password=PASSWORD, display_name=name,
                        agent_id=agent.id if username == "noi" else None)  # fmt: skip
    try:
        with serve_app(app, settings) as base:
            yield Console(base, settings, app)
    finally:
        app.state.store.dispose()
        if before is None:
            os.environ.pop("CRISISCAST_HOME", None)
        else:
            os.environ["CRISISCAST_HOME"] = before


def sign_in(page: Any, base: str, username: str, next_path: str = "/console") -> None:
    """Sign ``username`` in through the real form and wait for ``next_path``."""
    page.goto(f"{base}/login?next={next_path}")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{next_path}")


@dataclass(frozen=True)
class SignedIn:
    """An HTTP client (with a cookie jar) signed in as one console user, and the CSRF token
    its session's forms carry."""

    client: httpx.Client
    csrf: str


@contextmanager
def signed_client(base: str, username: str) -> Iterator[SignedIn]:
    """Sign ``username`` in through the real form over HTTP (no browser)."""
    with httpx.Client(base_url=base) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        assert token is not None
        fields = {"username": username, "password": PASSWORD, "csrf_token": token.group(1)}
        assert client.post("/login", data=fields).status_code == 303
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/console").text)
        assert csrf is not None
        yield SignedIn(client, csrf.group(1))


def axe_problems(page: Any) -> list[str]:
    """Serious and critical WCAG 2.1 A/AA violations on the open page, one line each
    (empty when there are none). ``evaluate`` is not subject to the page's CSP.

    Without axe-core (``npm ci`` not run) the test skips with the reason outside CI, and fails
    in CI (env CI set), as the browser itself does."""
    if not AXE.is_file():
        reason = f"{AXE} not found: run npm ci (axe-core is in package.json)"
        if os.environ.get("CI"):
            pytest.fail(f"accessibility checks must run in CI: {reason}")
        pytest.skip(reason)
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        """() => axe.run(document, {runOnly: {type: 'tag',
              values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"""
    )
    return [
        f"{v['impact']}: {v['id']}: {v['help']} at "
        + json.dumps([n["target"] for n in v["nodes"]][:3])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
