"""The embeddable banner in a real browser: what a customer on the site sees and can do."""

from __future__ import annotations

import os
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crisiscast.channels.banner import BannerSite, publish_banner, take_down
from crisiscast.channels.banner_state import BannerState, Resource, Route, Wording, contrast_ratio

T0 = datetime(2026, 11, 25, 9, 40, 7, tzinfo=UTC)
ROUTES = (
    Route(
        "technical",
        "Technical problems: live chat",
        "live_chat",
        "https://example.com/chat",
        "24/7",
    ),
    Route(
        "account", "Account questions: message an agent", "message_agent", "https://example.com/msg"
    ),
    Route("rescheduling", "Reschedule online", "self_service", "https://example.com/reschedule"),
    Route("emergency", "Emergency line", "phone", "+6621234567", "24/7, staffed"),
)
HOST_PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><title>Example shop</title></head>
<body><header><a id="home" href="/">Home</a></header>
<main><h1>Example shop</h1><p>Welcome to our shop.</p></main>
<script src="/inc/crisiscast-banner.js" data-state="/inc/banner.json" data-poll="1" async></script>
</body></html>
"""
BANNER = "#crisiscast-banner"


@pytest.fixture
def state() -> BannerState:
    return BannerState(
        incident="INC-3",
        title="Payment outage",
        headline="Card payments are failing",
        body="We are fixing it. <img src=x onerror=alert(1)> stays text.",
        level="critical",
        language="en",
        routes=ROUTES,
        sent=T0,
        updated=T0,
        resources=(Resource("Government aid", "https://gov.example/aid"),),
        translations=(
            Wording(
                "th",
                "ระบบชำระเงินขัดข้อง",
                "การชำระด้วยบัตรล้มเหลว",
                "เรากำลังแก้ไข",
                route_labels={"emergency": "สายด่วน"},
            ),
        ),
    )


@pytest.fixture
def site(site_root: tuple[Path, str]) -> tuple[Path, BannerSite, str]:
    """The published directory under /inc/ of the local server, polled every second."""
    root, base = site_root
    banner_site = BannerSite(base + "inc/", "alerts@example.com", "Example Co", poll_seconds=1)
    return root / "inc", banner_site, base


def _open_host(page: Any, site: tuple[Path, BannerSite, str], lang: str = "en") -> None:
    directory, _, base = site
    (directory.parent / f"shop-{lang}.html").write_text(HOST_PAGE.format(lang=lang))
    page.goto(f"{base}shop-{lang}.html")
    page.wait_for_selector(BANNER, timeout=5000)


def _rgb(css: str) -> str:
    r, g, b = (int(v) for v in re.findall(r"\d+", css)[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def test_banner_shows_text_routes_and_roles(
    page: Any, site: tuple[Path, BannerSite, str], state: BannerState
) -> None:
    """An active incident shows an assertive alert with the text and one link per route,
    tel: for the phone line, and the untrusted-looking body stays plain text."""
    publish_banner(site[0], state, site[1])
    _open_host(page, site)
    banner = page.locator(BANNER)
    assert banner.get_attribute("role") == "alert"
    assert banner.get_attribute("aria-live") == "assertive"
    assert banner.get_attribute("lang") == "en"
    text = banner.inner_text()
    assert "Payment outage" in text and "Card payments are failing" in text
    assert "<img src=x onerror=alert(1)> stays text." in text
    assert banner.locator("img").count() == 0
    hrefs = banner.locator("ul a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert hrefs == [
        "https://example.com/chat",
        "https://example.com/msg",
        "https://example.com/reschedule",
        "tel:+6621234567",
    ]
    assert banner.get_by_role("link", name="Emergency line: +6621234567").count() == 1
    more = banner.get_by_role("link", name="Details and updates")
    assert more.get_attribute("href") == site[1].base_url + "index.html"
    assert page.evaluate("document.body.firstElementChild.id") == "crisiscast-banner"
    page.screenshot(path=os.environ.get("CRISISCAST_SCREENSHOT", "/tmp/crisiscast-banner.png"))


@pytest.mark.parametrize(
    ("page_lang", "banner_lang", "title"),
    [("th-TH", "th", "ระบบชำระเงินขัดข้อง"), ("de", "en", "Payment outage")],
)
def test_banner_speaks_the_page_language(
    page: Any,
    site: tuple[Path, BannerSite, str],
    state: BannerState,
    page_lang: str,
    banner_lang: str,
    title: str,
) -> None:
    """The banner picks the translation matching <html lang> (th-TH -> th), else the default."""
    publish_banner(site[0], state, site[1])
    _open_host(page, site, page_lang)
    banner = page.locator(BANNER)
    assert banner.get_attribute("lang") == banner_lang
    assert title in banner.inner_text()
    if banner_lang == "th":
        assert banner.get_by_role("button").inner_text() == "ปิด"
        assert banner.get_by_role("link", name="สายด่วน: +6621234567").count() == 1


def test_info_banner_is_polite(
    page: Any, site: tuple[Path, BannerSite, str], state: BannerState
) -> None:
    """An info-level banner is a polite status, not an interrupting alert."""
    publish_banner(site[0], replace(state, level="info"), site[1])
    _open_host(page, site)
    banner = page.locator(BANNER)
    assert (banner.get_attribute("role"), banner.get_attribute("aria-live")) == ("status", "polite")


def test_tab_then_enter_dismisses_and_focus_is_not_trapped(
    page: Any, site: tuple[Path, BannerSite, str], state: BannerState
) -> None:
    """Tab reaches the Dismiss button after the banner's links, Tab moves on to the page,
    and Enter on the button removes the banner, which stays dismissed on reload."""
    publish_banner(site[0], state, site[1])
    _open_host(page, site)
    focused = []
    for _ in range(6):
        page.keyboard.press("Tab")
        focused.append(page.evaluate("document.activeElement.textContent"))
    assert focused[-1] == "Dismiss"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"  # a visible focus ring
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "home"
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    page.wait_for_selector(BANNER, state="detached", timeout=2000)
    page.reload()
    page.wait_for_timeout(1500)
    assert page.locator(BANNER).count() == 0


def test_escape_dismisses_and_an_update_brings_it_back(
    page: Any, site: tuple[Path, BannerSite, str], state: BannerState
) -> None:
    """Escape inside the banner dismisses it; a later update shows the new text again."""
    publish_banner(site[0], state, site[1])
    _open_host(page, site)
    page.keyboard.press("Tab")
    page.keyboard.press("Escape")
    page.wait_for_selector(BANNER, state="detached", timeout=2000)
    update = replace(
        state, headline="Fix deployed, payments recovering", updated=T0 + timedelta(minutes=20)
    )
    publish_banner(site[0], update, site[1])
    page.wait_for_selector(f"{BANNER} >> text=Fix deployed, payments recovering", timeout=5000)


def test_banner_colours_meet_wcag_aa_in_the_browser(
    page: Any, site: tuple[Path, BannerSite, str], state: BannerState
) -> None:
    """Rendered text, links and button keep >= 4.5:1 contrast against the banner background."""
    publish_banner(site[0], state, site[1])
    _open_host(page, site)
    background = _rgb(page.locator(BANNER).evaluate("e => getComputedStyle(e).backgroundColor"))
    colours = page.locator(f"{BANNER}, {BANNER} a, {BANNER} button, {BANNER} p").evaluate_all(
        "els => els.map(e => getComputedStyle(e).color)"
    )
    assert len(colours) >= 8
    for colour in colours:
        assert contrast_ratio(_rgb(colour), background) >= 4.5, colour


def test_stand_down_and_missing_state_remove_the_banner(
    page: Any, site: tuple[Path, BannerSite, str], state: BannerState
) -> None:
    """take_down removes the banner on the next poll; so does a state file that is gone (404)."""
    directory, banner_site, _ = site
    publish_banner(directory, state, banner_site)
    _open_host(page, site)
    take_down(directory, banner_site, T0 + timedelta(hours=1))
    page.wait_for_selector(BANNER, state="detached", timeout=5000)

    publish_banner(directory, replace(state, updated=T0 + timedelta(hours=2)), banner_site)
    page.wait_for_selector(BANNER, timeout=5000)
    (directory / "banner.json").unlink()
    page.wait_for_selector(BANNER, state="detached", timeout=5000)


def test_incident_page_is_accessible_and_shows_the_banner(
    page: Any, site: tuple[Path, BannerSite, str], state: BannerState
) -> None:
    """The public incident page loads the banner, fits a phone screen without sideways
    scrolling, and its headings and landmarks are in place."""
    publish_banner(site[0], state, site[1])
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(site[1].base_url + "index.th.html")
    page.wait_for_selector(BANNER, timeout=5000)
    assert page.locator(BANNER).get_attribute("lang") == "th"
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert page.get_by_role("heading", level=1).inner_text() == "ระบบชำระเงินขัดข้อง"
    assert page.get_by_role("main").count() == 1
    assert (
        page.get_by_role("link", name="+6621234567", exact=True).get_attribute("href")
        == "tel:+6621234567"
    )
