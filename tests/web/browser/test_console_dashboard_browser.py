"""The commander dashboard in Chromium against the real app: the delivery counters move while
a broadcast runs (the ledger's own sending code, shard by shard), a customer's SMS shows in
the inbound figures and the cases within one refresh, all without a reload; the page passes
axe-core's WCAG 2.1 AA check and fits a 360 px phone."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from console_support import Console, axe_problems, running_console, sign_in
from desk_support import FLOOD
from playwright.sync_api import expect
from pydantic import SecretStr
from twilio.request_validator import RequestValidator

from crisiscast.config import Settings, TwilioSettings
from crisiscast.flows.broadcast import prepare, send_shard
from crisiscast.flows.launch import open_incident
from crisiscast.incidents.broadcast.decisions import shards
from crisiscast.incidents.broadcast.ledger_counts import ledger_counts
from crisiscast.incidents.store.models import Contact

TWILIO_TOKEN = "twilio-auth-token-for-tests"
CONTACTS = 1500
SHARD = 500
DASH = "/console/incidents/INC-1"
REFRESH_MS = 2000  # console.js polls the live parts this often (layout.LIVE_EVERY_MS)


@pytest.fixture
def console(tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Console]:
    """The console with an exercise incident launched to everyone (all to the outbox) and
    CONTACTS people with a phone, nothing sent yet; Twilio's webhook signature configured."""
    monkeypatch.setenv("CRISISCAST_HOME", str(tmp_path))  # the flows' own settings
    twilio = TwilioSettings("AC" + "0" * 32, SecretStr(TWILIO_TOKEN), from_number="+15005550006")
    with running_console(Settings(tmp_path, sqlite_url, twilio=twilio)) as running:
        with running.app.state.store.session() as session:
            session.add_all(
                Contact(audience="all", phone=f"+6690{i:07d}", language=("en", "th", "lo")[i % 3])
                for i in range(CONTACTS)
            )
        # The launch's own first step (without Prefect): the incident, its target, staged.
        open_incident.fn(FLOOD, {"area": "Riverside"}, True, sqlite_url, {"everyone": True})
        yield running


def broadcast_shard_by_shard(database_url: str, pause: float) -> None:
    """The launch broadcast on SMS through the broadcast flow's own steps (prepare, then each
    shard), without Prefect; ``pause`` between shards stands for a provider's pace."""
    plan = prepare.fn("INC-1", "launch", None, None, "US", database_url)
    for announcement, channels in plan["plan"].items():
        if "sms" not in channels:
            continue
        lo, hi = plan["bounds"][announcement]
        for bounds in shards(lo, hi, SHARD):
            send_shard.fn(plan["incident_id"], announcement, "sms", bounds, plan["audiences"],
                          plan["exercise"], database_url, 100, None,
                          plan["targets"][announcement])  # fmt: skip
            time.sleep(pause)


def customer_sms(console: Console, body: str) -> None:
    """A customer's SMS through the real webhook and intake, signed as Twilio signs it."""
    url = f"{console.base}/webhooks/twilio/sms"
    form = {"MessageSid": "SM" + "5" * 32, "From": "+66812345678", "To": "+15005550006",
            "Body": body}  # fmt: skip
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, form)
    answer = httpx.post(url, data=form, headers={"X-Twilio-Signature": signature})
    assert answer.status_code == 200, answer.text


def test_the_counters_move_while_the_broadcast_runs(page: Any, console: Console) -> None:
    sign_in(page, console.base, "ana", DASH)
    assert page.locator("#count-sent").inner_text() == "0"
    page.evaluate("""() => { window.notReloaded = true; window.seen = [];
        new MutationObserver(() => window.seen.push(
            document.getElementById('count-sent').textContent))
          .observe(document.getElementById('delivery-totals'),
                   {childList: true, subtree: true, characterData: true}); }""")
    url = console.settings.database_url
    sending = threading.Thread(target=broadcast_shard_by_shard, args=(url, 2.5))
    sending.start()
    try:
        expect(page.locator("#count-sent")).not_to_have_text("0", timeout=8000)
    finally:
        sending.join()
    with console.app.state.store.session() as session:
        sent = sum(c.get("sent", 0) for c in ledger_counts(session, 1).values())
    assert sent == CONTACTS
    expect(page.locator("#count-sent")).to_have_text(f"{sent:,}", timeout=4000)
    seen = [int(v.replace(",", "")) for v in page.evaluate("window.seen")]
    assert len(set(seen)) >= 2 and 0 < min(seen) < sent  # it moved in steps, not at the end
    assert page.evaluate("window.notReloaded") is True
    assert "Deliveries per language" in page.locator("#part-deliveries").inner_text()
    assert axe_problems(page) == []


def test_a_customer_sms_shows_within_one_refresh(page: Any, console: Console) -> None:
    page.set_viewport_size({"width": 360, "height": 740})
    sign_in(page, console.base, "ana", DASH)
    page.evaluate("window.notReloaded = true")
    assert "Open cases: 0" in page.locator("#live-summary").inner_text()
    customer_sms(console, "Help, water is rising fast, trapped on the roof with 3 children")
    summary = page.locator("#live-summary")
    # One refresh (every 2 s) and its answer; the slack is for a busy shared CI machine.
    expect(summary).to_contain_text("Open cases: 1", timeout=REFRESH_MS + 2000)
    expect(summary).to_contain_text("Inbound messages: 1")
    assert page.locator("#part-inbound table td").nth(1).inner_text() == "1"
    assert "1" in page.locator("#part-cases table tbody").inner_text()
    assert page.evaluate("window.notReloaded") is True
    assert page.locator("#live-summary").evaluate("e => e.parentElement.ariaLive") == "polite"
    # Readable on a phone: nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert axe_problems(page) == []


def test_a_viewer_sees_no_stand_down_and_a_clean_page(page: Any, console: Console) -> None:
    sign_in(page, console.base, "vic", DASH)
    links = page.get_by_role("navigation", name="This incident").get_by_role("link")
    assert links.all_inner_texts() == ["Cases"]
    assert axe_problems(page) == []
