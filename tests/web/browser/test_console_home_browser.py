"""The console's home in Chromium: signing in lands on the incidents, the navigation shows
only what the role may open, and the page passes axe-core's WCAG 2.1 AA check."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from console_support import PASSWORD, Console, axe_problems, running_console, sign_in
from desk_support import make_incident

from crisiscast.config import Settings


@pytest.fixture
def console(tmp_path: Path, sqlite_url: str) -> Iterator[Console]:
    with running_console(Settings(tmp_path, sqlite_url)) as running:
        with running.app.state.store.session() as session:
            make_incident(session, now=datetime.now(UTC))
        yield running


def test_a_commander_sees_the_incidents_and_every_screen(page: Any, console: Console) -> None:
    sign_in(page, console.base, "ana")
    assert page.locator("#who").inner_text() == "Signed in as ana, role commander."
    assert page.get_by_role("link", name="INC-1").get_attribute("href") == (
        "/console/incidents/INC-1"
    )
    nav = page.get_by_role("navigation", name="Console")
    assert nav.get_by_role("link").all_inner_texts() == [
        "Incidents", "Cases", "Launch", "Approvals"
    ]  # fmt: skip
    assert axe_problems(page) == []


def test_a_viewer_is_not_offered_launch_or_approvals(page: Any, console: Console) -> None:
    sign_in(page, console.base, "vic")
    nav = page.get_by_role("navigation", name="Console")
    assert nav.get_by_role("link").all_inner_texts() == ["Incidents", "Cases"]


def test_signed_out_pages_send_to_sign_in_and_back(page: Any, console: Console) -> None:
    page.goto(f"{console.base}/console?from=sms")
    assert page.url == f"{console.base}/login?next=/console%3Ffrom%3Dsms"
    page.fill("#username", "vic")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{console.base}/console?from=sms")
