"""The phone link in a real Chromium at phone size, against the real app: a customer's SMS
opens a case through intake, the agent is paged (the page SMS lands in the exercise's outbox),
opens the link from that SMS, reads the customer's words, replies, sees the customer's next
SMS appear without a reload, and resolves the case; the link then says the case is closed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from console_support import axe_problems
from desk_support import make_agent, make_incident
from live_app import serve_app
from pydantic import SecretStr
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from crisiscast.channels.outbox import outbox_path, read_outbox
from crisiscast.config import Settings, TwilioSettings
from crisiscast.incidents.agents.desk import customer_senders
from crisiscast.incidents.agents.paging import page_agent
from crisiscast.incidents.agents.roster import assign_case
from crisiscast.incidents.store.models import Agent, Case, Incident
from crisiscast.web.app import create_app

TWILIO_TOKEN = "twilio-auth-token-for-tests"
CUSTOMER = "+66812345678"
FIRST = "Help, water is rising fast, trapped on the roof with 3 children"
SECOND = "The water reached the second floor now"
REPLY = "A rescue boat is on its way to you"


@dataclass(frozen=True)
class Live:
    base: str
    settings: Settings
    app: Any
    ref: str


@pytest.fixture
def live(tmp_path: Path, sqlite_url: str) -> Iterator[Live]:
    """The app on loopback with Twilio's signature configured and an exercise incident
    (every SMS to the outbox) with one agent on duty, Noi."""
    twilio = TwilioSettings("AC" + "0" * 32, SecretStr(TWILIO_TOKEN), from_number="+15005550006")
    settings = Settings(tmp_path, sqlite_url, twilio=twilio)
    app = create_app(settings, "serve-token")
    app.state.store.upgrade()
    with app.state.store.session() as session:
        ref = make_incident(session, now=datetime.now(UTC)).ref
        make_agent(session, 1, name="Noi", languages=["en"])
    with serve_app(app, settings) as base:
        yield Live(base, settings, app, ref)
    app.state.store.dispose()


def customer_sms(live: Live, body: str, sid: str) -> None:
    """The customer's SMS through the real webhook and intake, signed as Twilio signs it."""
    url = f"{live.base}/webhooks/twilio/sms"
    form = {"MessageSid": sid, "From": CUSTOMER, "To": "+15005550006", "Body": body}
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, form)
    response = httpx.post(url, data=form, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200, response.text


def page_noi(live: Live) -> str:
    """Give the customer's case to Noi and page her as the sweep does; her page's link."""
    now = datetime.now(UTC)
    paging = replace(live.settings, public_url=live.base)  # the address in the link
    with live.app.state.store.session() as session:
        case = session.scalars(select(Case)).one()
        noi = session.scalars(select(Agent)).one()
        incident = session.get_one(Incident, case.incident_id)
        assign_case(session, case, noi, now=now)
        senders = customer_senders(paging, incident)
        try:
            assert page_agent(session, senders, case, noi, incident_ref=live.ref,
                              now=now).status == "sent"  # fmt: skip
        finally:
            senders.close()
        phone = noi.phone
    outbox = outbox_path(live.settings.outbox_dir / live.ref, "sms")
    pages = [m for m in read_outbox(outbox) if m["address"] == phone]
    assert len(pages) == 1
    found = re.search(rf"{re.escape(live.base)}/c/\S+", str(pages[0]["text"]))
    assert found is not None, pages[0]["text"]
    return found.group(0)


def sent_to_customer(live: Live) -> list[str]:
    outbox = outbox_path(live.settings.outbox_dir / live.ref, "sms")
    return [str(m["text"]) for m in read_outbox(outbox) if m["address"] == CUSTOMER]


def test_an_agent_works_a_case_from_the_phone_link(page: Any, live: Live) -> None:
    customer_sms(live, FIRST, "SM" + "1" * 32)
    url = page_noi(live)

    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(url)
    assert page.locator("h1").inner_text().startswith("Case ")
    assert FIRST in page.locator("blockquote").first.inner_text()
    assert CUSTOMER in page.get_by_role("link", name=CUSTOMER).inner_text()  # unmasked
    # Readable on a phone: nothing wider than the screen; no WCAG 2.1 AA problem axe finds.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert axe_problems(page) == []

    page.get_by_label("Your reply").fill(REPLY)
    with page.expect_navigation():
        page.get_by_role("button", name="Send reply").click()
    assert "Reply sent to the customer." in page.locator("main").inner_text()
    assert axe_problems(page) == []
    assert REPLY in sent_to_customer(live)

    # The customer answers by SMS: the line appears in the open page, without a reload.
    page.evaluate("window.notReloaded = true")
    customer_sms(live, SECOND, "SM" + "2" * 32)
    conversation = page.locator("#conversation")
    conversation.locator("li", has_text=SECOND).wait_for(timeout=8000)
    assert page.evaluate("window.notReloaded") is True
    assert conversation.get_attribute("aria-live") == "polite"

    page.get_by_label("Resolution note").fill("Family picked up by the boat")
    with page.expect_navigation():
        page.get_by_role("button", name="Resolve (DONE)").click()
    assert page.locator("h1").inner_text() == "Case closed"
    assert "the case is closed" in page.get_by_role("alert").inner_text()
    with live.app.state.store.session() as session:
        case = session.scalars(select(Case)).one()
        assert case.status == "resolved"


def test_the_case_view_works_with_the_keyboard_alone(page: Any, live: Live) -> None:
    """Tab goes through the page in reading order, each control named; Enter sends."""
    customer_sms(live, FIRST, "SM" + "3" * 32)
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(page_noi(live))
    focused = """(() => { const e = document.activeElement;
        return e.id || e.textContent.trim(); })()"""
    order = []
    for _ in range(11):
        page.keyboard.press("Tab")
        order.append(page.evaluate(focused))
    assert order == [
        CUSTOMER,  # the contact, a tel: link
        "reply-text",
        "Send reply",
        "Acknowledge (ACK): I am on it",
        "done-note",
        "Resolve (DONE)",
        "status-choice",
        "Set status",
        "esc-note",
        "Escalate (ESC)",
        "Pass it on (PASS)",
    ]
    for _ in range(7):  # back from PASS to ACK
        page.keyboard.press("Shift+Tab")
    assert page.evaluate(focused) == "Acknowledge (ACK): I am on it"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_role("status").first.inner_text() == "Case acknowledged: it is yours."
    with live.app.state.store.session() as session:
        assert session.scalars(select(Case)).one().status == "acknowledged"
