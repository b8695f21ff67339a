"""Banner state, incident page and publisher: what the website part of a broadcast writes."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import html as lxml_html

from crisiscast.channels.banner import (
    BannerSite,
    current_state,
    publish_banner,
    read_history,
    take_down,
    write_atomic,
)
from crisiscast.channels.banner_state import (
    LEVEL_COLOURS,
    BannerState,
    Resource,
    Route,
    Wording,
    contrast_ratio,
    state_from_json,
    state_to_json,
)
from crisiscast.errors import NotFoundError, PermanentChannelError

T0 = datetime(2026, 11, 25, 9, 40, 7, 250_000, tzinfo=UTC)
SITE = BannerSite("https://status.example.com/inc-3/", "alerts@example.com", "Example Co")
ROUTES = (
    Route("technical", "Technical problems", "live_chat", "https://example.com/chat", "24/7"),
    Route("account", "Account and billing", "message_agent", "https://example.com/msg", "8-20"),
    Route("rescheduling", "Reschedule", "self_service", "https://example.com/reschedule"),
    Route("emergency", "Emergency line", "phone", "+6621234567", "24/7, staffed"),
)


@pytest.fixture
def state() -> BannerState:
    return BannerState(
        incident="INC-3",
        title="Payment outage",
        headline="Card payments are failing",
        body="We are fixing it <b>now</b> & will post updates here.",
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


@pytest.mark.parametrize(("level", "colours"), sorted(LEVEL_COLOURS.items()))
def test_level_colours_meet_wcag_aa(level: str, colours: tuple[str, str]) -> None:
    """Every banner level's text/background pair has a contrast ratio of at least 4.5:1."""
    assert contrast_ratio(*colours) >= 4.5, level


def test_contrast_ratio_matches_wcag_reference_values() -> None:
    """The contrast formula gives WCAG's known values (21:1 black/white, 1:1 equal colours)."""
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#777777", "#777777") == pytest.approx(1.0)
    assert contrast_ratio("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)


@pytest.mark.parametrize(
    ("route", "problem"),
    [
        (Route("emergency", "Call us", "phone", "02 123 4567"), "E.164"),
        (Route("technical", "Chat", "live_chat", "javascript:alert(1)"), "http(s) URL"),
        (Route("account", "Mail", "email", "not-an-address"), "email route"),
        (Route("account", "", "message_agent", "https://example.com"), "label"),
        (Route("x", "X", "pigeon", "https://example.com"), "kind 'pigeon'"),  # type: ignore[arg-type]
    ],
)
def test_invalid_routes_are_refused_with_the_fix(
    state: BannerState, route: Route, problem: str
) -> None:
    """A route whose target does not fit its kind is refused, naming the field and the fix."""
    with pytest.raises(PermanentChannelError, match="routes\\[0\\]") as info:
        replace(state, routes=(route,))
    assert problem in str(info.value)


def test_naive_datetimes_and_bad_languages_are_refused(state: BannerState) -> None:
    """A datetime without timezone or a malformed language tag is refused before publishing."""
    with pytest.raises(PermanentChannelError) as info:
        replace(state, sent=datetime(2026, 11, 25, 9, 0), language="english!")
    assert "sent: give a timezone-aware datetime" in str(info.value)
    assert "language 'english!'" in str(info.value)


def test_state_json_round_trips(state: BannerState) -> None:
    """banner.json read back gives the same banner (take-down rebuilds the state from it)."""
    data = state_to_json(state, SITE.page_urls(state))
    again = state_from_json(json.loads(json.dumps(data)))
    assert state_to_json(again, SITE.page_urls(again)) == data


def test_state_json_resolves_each_language(state: BannerState) -> None:
    """Each language gets its own route labels, page link and script words, falling back to
    the default language's labels where a translation gives none."""
    data = state_to_json(state, SITE.page_urls(state))
    en, th = data["texts"]
    assert (en["language"], th["language"]) == ("en", "th")
    assert [r["label"] for r in th["routes"]][2:] == ["Reschedule", "สายด่วน"]
    assert th["routes"][3]["href"] == "tel:+6621234567"
    assert th["page"] == "https://status.example.com/inc-3/index.th.html"
    assert th["ui"]["dismiss"] == "ปิด"
    assert en["ui"]["dismiss"] == "Dismiss"
    assert data["colours"] == {"foreground": "#ffffff", "background": "#a4001d"}


def test_publish_writes_every_file(tmp_path: Path, state: BannerState) -> None:
    """One publish writes the state, the script, a page per language, the CAP alert, the feed."""
    alert = publish_banner(tmp_path, state, SITE)
    names = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert names == [
        "alerts.json", "banner.json", "cap/INC-3-1.xml", "crisiscast-banner.js", "feed.atom",
        "incident.css", "index.html", "index.th.html",
    ]  # fmt: skip
    assert (alert.identifier, alert.msg_type) == ("INC-3-1", "Alert")
    assert json.loads((tmp_path / "banner.json").read_text())["status"] == "active"


def test_republishing_the_same_state_adds_no_alert(tmp_path: Path, state: BannerState) -> None:
    """A retried publish of the current state is idempotent: still one alert."""
    first = publish_banner(tmp_path, state, SITE)
    again = publish_banner(tmp_path, state, SITE)
    assert (again.identifier, again.msg_type) == (first.identifier, first.msg_type)
    assert [a.identifier for a in read_history(tmp_path)] == ["INC-3-1"]


def test_update_then_take_down_builds_the_alert_history(tmp_path: Path, state: BannerState) -> None:
    """An update becomes alert 2 (Update); take-down becomes alert 3, ended, and is idempotent."""
    publish_banner(tmp_path, state, SITE)
    later = T0 + timedelta(minutes=30)
    update = replace(state, headline="Fix deployed, recovering", updated=later)
    publish_banner(tmp_path, update, SITE)
    down = take_down(tmp_path, SITE, later + timedelta(hours=1))
    again = take_down(tmp_path, SITE, later + timedelta(hours=2))
    history = read_history(tmp_path)
    assert [(a.identifier, a.msg_type) for a in history] == [
        ("INC-3-1", "Alert"), ("INC-3-2", "Update"), ("INC-3-3", "Update"),
    ]  # fmt: skip
    assert again == down
    assert current_state(tmp_path).status == "ended"
    assert current_state(tmp_path).headline == "Fix deployed, recovering"


def test_take_down_with_all_clear_text_keeps_route_labels(
    tmp_path: Path, state: BannerState
) -> None:
    """All-clear wording replaces the text per language and keeps the translated route labels."""
    publish_banner(tmp_path, state, SITE)
    th = Wording("th", "กลับมาใช้งานได้แล้ว", "ชำระเงินได้ตามปกติ", "")
    take_down(tmp_path, SITE, T0 + timedelta(hours=3), all_clear=(th,))
    ended = current_state(tmp_path)
    assert ended.headline == "Card payments are failing"
    assert ended.translations[0].headline == "ชำระเงินได้ตามปกติ"
    assert ended.translations[0].route_labels["emergency"] == "สายด่วน"


def test_take_down_without_a_banner_says_what_to_do(tmp_path: Path) -> None:
    """Taking down a directory where nothing was published names the missing file and the fix."""
    with pytest.raises(NotFoundError, match=r"banner\.json: no banner has been published"):
        take_down(tmp_path, SITE, T0)


def test_one_directory_holds_one_incident(tmp_path: Path, state: BannerState) -> None:
    """Publishing another incident into a used directory is refused rather than mixed."""
    publish_banner(tmp_path, state, SITE)
    other = replace(state, incident="INC-4")
    with pytest.raises(PermanentChannelError, match="holds incident INC-3, not INC-4"):
        publish_banner(tmp_path, other, SITE)


def test_readers_never_see_a_half_written_state(tmp_path: Path) -> None:
    """While banner.json is rewritten over and over, every read parses as complete JSON."""
    target = tmp_path / "banner.json"
    write_atomic(target, b'{"n": 0}')
    stop = threading.Event()
    bad: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            text = target.read_text()
            try:
                json.loads(text)
            except json.JSONDecodeError:
                bad.append(text[:40])

    thread = threading.Thread(target=reader)
    thread.start()
    for n in range(300):
        write_atomic(target, json.dumps({"n": n, "pad": "x" * 50_000}).encode())
    stop.set()
    thread.join()
    assert bad == []
    assert [p.name for p in tmp_path.iterdir()] == ["banner.json"]  # no temp files left


def test_incident_page_escapes_text_and_lists_routes(tmp_path: Path, state: BannerState) -> None:
    """The page escapes user text, lists every route by need with tel: for phones, and
    includes the banner script pointing at banner.json."""
    publish_banner(tmp_path, state, SITE)
    raw = (tmp_path / "index.html").read_text()
    assert "<b>now</b>" not in raw and "&lt;b&gt;now&lt;/b&gt;" in raw
    doc = lxml_html.fromstring(raw)
    assert doc.get("lang") == "en"
    routes = doc.xpath('//ul[@class="routes"]/li')
    assert [li.findtext("h3") for li in routes] == [r.label for r in ROUTES]
    assert [li.find(".//a").get("href") for li in routes][3] == "tel:+6621234567"
    (script,) = doc.xpath("//script[@data-state]")
    assert (script.get("src"), script.get("data-state")) == ("crisiscast-banner.js", "banner.json")
    assert doc.xpath('//meta[@name="viewport"]')
    assert [a.get("href") for a in doc.xpath('//ul[@class="resources"]//a')] == [
        "https://gov.example/aid"
    ]


def test_translated_page_is_in_its_language(tmp_path: Path, state: BannerState) -> None:
    """index.th.html is lang="th", uses the Thai labels and links both languages by hreflang."""
    publish_banner(tmp_path, state, SITE)
    doc = lxml_html.fromstring((tmp_path / "index.th.html").read_text())
    assert doc.get("lang") == "th"
    assert doc.findtext(".//h1") == "ระบบชำระเงินขัดข้อง"
    assert doc.xpath('//ul[@class="routes"]//h3')[3].text == "สายด่วน"
    hreflangs = {link.get("hreflang"): link.get("href") for link in doc.xpath("//link[@hreflang]")}
    assert hreflangs == {"en": "index.html", "th": "index.th.html"}
    assert doc.xpath('//nav//a[@aria-current="page"]')[0].get("hreflang") == "th"


def test_dropped_translation_page_is_removed(tmp_path: Path, state: BannerState) -> None:
    """A language dropped from the banner no longer has a page serving old text."""
    publish_banner(tmp_path, state, SITE)
    english_only = replace(state, translations=(), updated=T0 + timedelta(minutes=5))
    publish_banner(tmp_path, english_only, SITE)
    assert not (tmp_path / "index.th.html").exists()


def test_ended_page_says_the_incident_is_over(tmp_path: Path, state: BannerState) -> None:
    """After take-down the page says the incident has ended and lists every update, newest first."""
    publish_banner(tmp_path, state, SITE)
    take_down(tmp_path, SITE, T0 + timedelta(hours=1))
    doc = lxml_html.fromstring((tmp_path / "index.html").read_text())
    assert doc.xpath('//*[@class="ended"]')[0].text_content() == "This incident has ended."
    caps = [a.get("href") for a in doc.xpath('//ol[@class="updates"]//a')]
    assert caps == ["cap/INC-3-2.xml", "cap/INC-3-1.xml"]


@pytest.mark.parametrize(
    ("base_url", "poll", "problem"),
    [
        ("status.example.com/", 60, "absolute http(s) URL"),
        ("https://status.example.com", 60, "ending in '/'"),
        ("https://status.example.com/", 0, "poll_seconds=0"),
    ],
)
def test_site_settings_are_checked(base_url: str, poll: int, problem: str) -> None:
    """A relative base URL or an out-of-range poll interval is refused with the fix."""
    with pytest.raises(
        PermanentChannelError, match=problem.replace("(", "\\(").replace(")", "\\)")
    ):
        BannerSite(base_url, "alerts@example.com", "Example Co", poll_seconds=poll)


def test_script_never_parses_text_as_html(tmp_path: Path, state: BannerState) -> None:
    """The published script uses no HTML-parsing sinks, eval or inline handlers, and stays
    small enough to include on any page."""
    publish_banner(tmp_path, state, SITE)
    script = (tmp_path / "crisiscast-banner.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                 "new Function", "setAttribute(\"on", ".onclick", ".onkeydown"):  # fmt: skip
        assert sink not in script, sink
    assert "textContent" in script
    assert len(script.encode()) < 10_000


def test_page_has_no_inline_scripts_styles_or_handlers(tmp_path: Path, state: BannerState) -> None:
    """The incident page works under a strict Content-Security-Policy: nothing inline."""
    publish_banner(tmp_path, state, SITE)
    doc = lxml_html.fromstring((tmp_path / "index.html").read_text())
    assert doc.xpath("//script[not(@src)]") == []
    assert doc.xpath("//style | //*[@style]") == []
    assert doc.xpath("//@*[starts-with(name(), 'on')]") == []


def test_hand_edited_state_file_gets_a_clear_error(tmp_path: Path, state: BannerState) -> None:
    """A banner.json missing a field is reported with the field and the fix, not a KeyError."""
    publish_banner(tmp_path, state, SITE)
    data = json.loads((tmp_path / "banner.json").read_text())
    del data["texts"][0]["headline"]
    (tmp_path / "banner.json").write_text(json.dumps(data))
    with pytest.raises(PermanentChannelError, match="field 'headline' is missing or malformed"):
        take_down(tmp_path, SITE, T0)
