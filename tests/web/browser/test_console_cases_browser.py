"""The case queue and the case view in a real Chromium against the real app: a customer's SMS
opens a case through intake, Noi (an agent) works it from the console with the keyboard alone,
the customer's next SMS appears without a reload, the contact is masked for a viewer, and
both pages pass axe-core's WCAG 2.1 AA check, on a desk and at phone width."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from console_support import Console, axe_problems, running_console, sign_in
from desk_support import make_incident
from pydantic import SecretStr
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from crisiscast.channels.outbox import outbox_path, read_outbox
from crisiscast.config import Settings, TwilioSettings
from crisiscast.incidents.agents.roster import assign_case
from crisiscast.incidents.store.models import Agent, Case

TWILIO_TOKEN = "twilio-auth-token-for-tests"
CUSTOMER = "+66812345678"
MASKED = "+6681****678"
FIRST = "Help, water is rising fast, trapped on the roof with 3 children"
SECOND = "The water reached the second floor now"
REPLY = "A rescue boat is on its way to you"
# Everything Tab can reach, in document order: the reading order.
FOCUSABLE = """() => { window.reading = Array.from(document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea, [tabindex]:not([tabindex="-1"])'
  )).filter(e => !e.disabled); return window.reading.length; }"""
FOCUSED = "() => window.reading.indexOf(document.activeElement)"
NAME = "() => { const e = document.activeElement; return e.id || e.textContent.trim(); }"


@dataclass(frozen=True)
class Live:
    console: Console
    case_id: int

    @property
    def base(self) -> str:
        return self.console.base


def customer_sms(console: Console, body: str, sid: str) -> None:
    """The customer's SMS through the real webhook and intake, signed as Twilio signs it."""
    url = f"{console.base}/webhooks/twilio/sms"
    form = {"MessageSid": sid, "From": CUSTOMER, "To": "+15005550006", "Body": body}
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, form)
    response = httpx.post(url, data=form, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200, response.text


@pytest.fixture
def live(tmp_path: Path, sqlite_url: str) -> Iterator[Live]:
    """The console with Twilio's signature configured, an exercise incident (every SMS to its
    outbox), and the case a customer's SMS opened, given to Noi as the sweep gives it."""
    twilio = TwilioSettings("AC" + "0" * 32, SecretStr(TWILIO_TOKEN), from_number="+15005550006")
    with running_console(Settings(tmp_path, sqlite_url, twilio=twilio)) as console:
        with console.app.state.store.session() as session:
            make_incident(session, now=datetime.now(UTC))
        customer_sms(console, FIRST, "SM" + "1" * 32)
        with console.app.state.store.session() as session:
            case = session.scalars(select(Case)).one()
            assign_case(session, case, session.scalars(select(Agent)).one(), now=datetime.now(UTC))
            case_id = case.id
        yield Live(console, case_id)


def tab_to(page: Any, name: str, limit: int = 60) -> list[int]:
    """Press Tab until the control named ``name`` has focus; the reading-order positions of
    everything focused on the way (so the caller can check the order)."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        seen.append(page.evaluate(FOCUSED))
        if page.evaluate(NAME) == name:
            return seen
    raise AssertionError(f"Tab never reached {name!r}")


def in_reading_order(seen: list[int]) -> bool:
    """Each Tab moved to the next focusable element of the document, none skipped."""
    return seen == list(range(seen[0], seen[0] + len(seen))) and seen[0] == 0


def test_an_agent_works_a_case_with_the_keyboard_alone(page: Any, live: Live) -> None:
    # Sign in: the user name has focus, Tab to the password, Enter sends.
    page.goto(f"{live.base}/login?next=/console/cases")
    page.keyboard.type("noi")
    page.keyboard.press("Tab")
    page.keyboard.type("correct horse battery")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == f"{live.base}/console/cases"

    # The queue: Tab in reading order to the case, Enter opens it.
    page.evaluate(FOCUSABLE)
    assert in_reading_order(tab_to(page, f"Case {live.case_id}"))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == f"{live.base}/console/cases/{live.case_id}"
    assert FIRST in page.locator("blockquote").first.inner_text()  # the customer's words

    # The case: Tab goes through the page in reading order to the reply, typed and sent.
    page.evaluate(FOCUSABLE)
    seen = tab_to(page, "reply-text")
    assert in_reading_order(seen)
    page.keyboard.type(REPLY)
    page.keyboard.press("Tab")
    assert page.evaluate(NAME) == "Send reply"
    seen.append(page.evaluate(FOCUSED))
    assert in_reading_order(seen)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_role("status").first.inner_text() == "Reply sent to the customer."
    outbox = outbox_path(live.console.settings.outbox_dir / "INC-1", "sms")
    assert REPLY in [m["text"] for m in read_outbox(outbox) if m["address"] == CUSTOMER]

    page.evaluate(FOCUSABLE)
    assert in_reading_order(tab_to(page, "Acknowledge (ACK): I am on it"))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_role("status").first.inner_text() == "Case acknowledged: it is yours."

    page.evaluate(FOCUSABLE)
    assert in_reading_order(tab_to(page, "Resolve (DONE)"))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_role("status").first.inner_text() == "Case resolved. Thank you."
    with live.console.app.state.store.session() as session:
        assert session.get_one(Case, live.case_id).status == "resolved"
    # Released: no agent buttons any more, and the page still passes axe.
    assert page.get_by_role("button", name="Resolve (DONE)").count() == 0
    assert axe_problems(page) == []


def test_the_customers_reply_appears_without_a_reload(page: Any, live: Live) -> None:
    sign_in(page, live.base, "noi", f"/console/cases/{live.case_id}")
    conversation = page.locator("#conversation")
    assert conversation.get_attribute("aria-live") == "polite"
    assert axe_problems(page) == []
    page.evaluate("window.notReloaded = true")
    customer_sms(live.console, SECOND, "SM" + "2" * 32)
    conversation.locator("li", has_text=SECOND).wait_for(timeout=8000)
    assert page.evaluate("window.notReloaded") is True
    assert conversation.locator("li").first.inner_text().endswith(FIRST)


def test_the_queue_passes_axe_and_fits_a_phone(page: Any, live: Live) -> None:
    sign_in(page, live.base, "ana", "/console/cases")
    assert page.locator("#queue-summary").inner_text() == (
        "1 case: 1 urgent, 0 breached, 0 due soon."
    )
    assert page.get_by_label("Severity").count() == 1  # every filter is labelled
    assert axe_problems(page) == []
    page.set_viewport_size({"width": 360, "height": 740})
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert axe_problems(page) == []
    page.goto(f"{live.base}/console/cases/{live.case_id}")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert axe_problems(page) == []


def test_a_filter_chosen_in_the_form_narrows_the_queue(page: Any, live: Live) -> None:
    sign_in(page, live.base, "vic", "/console/cases")
    page.get_by_label("SLA").select_option("breached")
    with page.expect_navigation():
        page.get_by_role("button", name="Show cases").click()
    assert page.url == f"{live.base}/console/cases?severity=&sla=breached&language=&agent=" + (
        "&incident=&status="
    )
    assert "No case matches these filters." in page.locator("#queue-table").inner_text()


@pytest.mark.parametrize(("who", "shown"), [("vic", MASKED), ("noi", CUSTOMER), ("ana", CUSTOMER)])
def test_the_contact_is_masked_for_a_viewer_only(
    browser: Any, live: Live, who: str, shown: str
) -> None:
    context = browser.new_context()
    try:
        tab = context.new_page()
        sign_in(tab, live.base, who, f"/console/cases/{live.case_id}")
        contact = tab.locator("dl.facts dt", has_text="Contact").locator(
            "xpath=following-sibling::dd[1]"
        )
        assert contact.inner_text().startswith(shown)
        assert (CUSTOMER in tab.content()) is (shown == CUSTOMER)
    finally:
        context.close()
