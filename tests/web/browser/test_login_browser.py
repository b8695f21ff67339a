"""Signing in and out in Chromium with the keyboard alone: what someone who cannot use a
mouse (or a screen reader user) does."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from console_support import axe_problems
from live_app import serve_app

from crisiscast.config import Settings
from crisiscast.incidents.people.users import create_user
from crisiscast.web.app import create_app

PASSWORD = "correct horse battery"


@pytest.fixture
def base(tmp_path: Path, sqlite_url: str) -> Iterator[str]:
    """The live app on a store with one commander, ana."""
    settings = Settings(tmp_path, sqlite_url)
    app = create_app(settings, "serve-token")
    app.state.store.upgrade()
    with app.state.store.session() as session:
        create_user(session, "ana", "commander", now=datetime.now(UTC), password=PASSWORD,
                    display_name="Ana Lima")  # fmt: skip
    with serve_app(app, settings) as url:
        yield url
    app.state.store.dispose()


def test_sign_in_and_out_with_the_keyboard_only(page: Any, base: str) -> None:
    """The username box has focus on arrival; Tab reaches the password, Enter signs in; a
    wrong password is announced and focus waits in the password box; Tab and Enter sign out."""
    page.goto(f"{base}/console")  # not signed in: sent to the sign-in page
    assert page.url == f"{base}/login?next=/console"
    assert page.evaluate("document.activeElement.id") == "username"
    assert axe_problems(page) == []
    page.keyboard.type("ana")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.type("not the password")
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    assert page.get_by_role("alert").inner_text() == "Wrong username or password."
    assert axe_problems(page) == []  # the form with its problem announced
    assert page.evaluate("document.activeElement.id") == "password"  # username kept
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Sign in"
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/console")
    assert page.locator("#who").inner_text() == "Signed in as ana, role commander."
    cookie = next(c for c in page.context.cookies() if c["name"] == "crisiscast_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    reached = []  # the console's focus order: skip link, navigation, sign out
    while not reached or reached[-1] != "Sign out":
        assert len(reached) < 10, f"Sign out not reached by Tab: {reached}"
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.textContent"))
    assert reached == ["Skip to content", "Incidents", "Cases", "Launch", "Approvals", "Sign out"]
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/login?out=1")
    assert page.get_by_role("status").inner_text() == "You are signed out."
    page.goto(f"{base}/console")
    assert page.url == f"{base}/login?next=/console"
