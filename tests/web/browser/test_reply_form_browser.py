"""The public incident page's reply form in a real Chromium against the real app: a resident
reading the Thai page writes in Thai and is answered in Thai, with only the keyboard."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from console_support import axe_problems
from live_app import serve_app
from sqlalchemy import select

from crisiscast.channels.banner import BannerSite, publish_banner
from crisiscast.channels.banner_state import BannerState, Route, Wording
from crisiscast.config import Settings
from crisiscast.incidents.store.database import Store, create_incident
from crisiscast.incidents.store.models import Case, InboundMessage
from crisiscast.web.app import create_app

FLOOD = Path(__file__).resolve().parents[2] / "playbooks" / "regional-flood.yaml"
T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[Store]:
    instance = Store(sqlite_url)
    instance.upgrade()
    yield instance
    instance.dispose()


@pytest.fixture
def served(tmp_path: Path, sqlite_store: Store) -> Iterator[str]:
    """An incident in en/th/lo with its page published, served by the app on loopback."""
    with sqlite_store.session() as session:
        incident = create_incident(
            session, playbook_id="regional-flood", playbook_path=str(FLOOD), title="Flood",
            params={"area": "Riverside"}, languages=["en", "th", "lo"], exercise=False, now=T0,
        )  # fmt: skip
        ref = incident.ref
    settings = Settings(tmp_path, str(sqlite_store.url))
    state = BannerState(
        incident=ref, title="Flood", headline="Water is rising in Riverside", body="",
        level="critical", language="en",
        routes=(Route("emergency", "Emergency hotline", "phone", "+6621234567", "24/7"),),
        sent=T0, updated=T0,
        translations=(Wording("th", "น้ำท่วม", "น้ำกำลังขึ้นในริเวอร์ไซด์", ""),),
    )  # fmt: skip
    with serve_app(create_app(settings, "launch-token"), settings) as root:
        site = BannerSite(f"{root}/incidents/{ref}/", "alerts@example.org", "Example",
                          poll_seconds=60)  # fmt: skip
        publish_banner(tmp_path / "site" / ref, state, site)
        yield f"{root}/incidents/{ref}/"


def test_a_thai_reply_from_the_page_is_answered_in_thai(
    page: Any,
    served: str,
    sqlite_store: Store,
) -> None:
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(served + "index.th.html")
    assert axe_problems(page) == []  # the public page, in Thai, at phone size
    form = page.locator("form.reply-form")
    assert form.get_attribute("method") == "post"
    # Labelled fields in the page's language, reached and filled with the keyboard alone.
    message = page.get_by_label("เกิดอะไรขึ้น และคุณต้องการความช่วยเหลืออะไร")
    message.focus()
    page.keyboard.type("น้ำท่วมบ้าน มีคนติดอยู่บนหลังคา ช่วยด้วย")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "reply-contact"
    page.keyboard.type("+66812345678")
    page.keyboard.press("Tab")
    page.keyboard.type("สมชาย")
    page.keyboard.press("Tab")
    with page.expect_navigation():
        page.keyboard.press("Enter")

    assert page.locator("html").get_attribute("lang") == "th"
    status = page.get_by_role("status").inner_text()
    assert any("\u0e00" <= ch <= "\u0e7f" for ch in status), status  # Thai script
    assert axe_problems(page) == []  # the answer page
    with sqlite_store.session() as session:
        stored = session.scalars(select(InboundMessage)).all()
        assert [m.channel for m in stored] == ["web"]
        assert stored[0].sender == "+66812345678"
        assert stored[0].body.startswith("น้ำท่วมบ้าน")
        case = session.get(Case, stored[0].case_id)
        assert case is not None and case.language == "th"
