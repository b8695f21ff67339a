"""The Atom feed of an incident's alerts: what feed readers and CAP aggregators rely on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree

from crisiscast.channels.atom_feed import ATOM_NS, FeedEntry, FeedInfo, build_atom
from crisiscast.channels.banner import BannerSite, publish_banner, take_down
from crisiscast.channels.banner_state import BannerState, Route
from crisiscast.errors import PermanentChannelError

A = f"{{{ATOM_NS}}}"
T0 = datetime(2026, 11, 25, 9, 40, 7, tzinfo=UTC)
SITE = BannerSite("https://status.example.com/inc-3/", "alerts@example.com", "Example & Co")
INFO = FeedInfo(
    id="https://s.example/feed.atom",
    title="INC-3: <Payment> outage",
    feed_url="https://s.example/feed.atom",
    page_url="https://s.example/",
    author="Example & Co",
    language="en",
)


def _entry(n: int, when: datetime) -> FeedEntry:
    url = f"https://s.example/cap/INC-3-{n}.xml"
    return FeedEntry(url, f"Update {n}", "text & <more>", when, url, "https://s.example/", "en")


def test_feed_has_the_elements_rfc4287_requires() -> None:
    """Feed and entries carry id, title, updated and author; entries link their CAP file."""
    feed = etree.fromstring(build_atom(INFO, [_entry(1, T0)]))
    assert feed.tag == f"{A}feed"
    assert feed.findtext(f"{A}id") == "https://s.example/feed.atom"
    assert feed.findtext(f"{A}title") == "INC-3: <Payment> outage"
    assert feed.findtext(f"{A}author/{A}name") == "Example & Co"
    assert feed.find(f"{A}link[@rel='self']").get("type") == "application/atom+xml"
    (entry,) = feed.findall(f"{A}entry")
    assert entry.findtext(f"{A}id") == "https://s.example/cap/INC-3-1.xml"
    assert entry.findtext(f"{A}summary") == "text & <more>"
    cap = entry.find(f"{A}link[@rel='alternate']")
    assert (cap.get("type"), cap.get("href")) == ("application/cap+xml", entry.findtext(f"{A}id"))


def test_entries_are_newest_first_and_feed_updated_is_the_newest() -> None:
    """Readers show the newest alert first; the feed's updated time is the newest entry's."""
    entries = [
        _entry(1, T0),
        _entry(3, T0 + timedelta(hours=2)),
        _entry(2, T0 + timedelta(hours=1)),
    ]
    feed = etree.fromstring(build_atom(INFO, entries))
    assert [e.findtext(f"{A}title") for e in feed.findall(f"{A}entry")] == [
        "Update 3",
        "Update 2",
        "Update 1",
    ]
    assert feed.findtext(f"{A}updated") == "2026-11-25T11:40:07+00:00"


def test_empty_feed_is_refused() -> None:
    """A feed with no alert would be invalid Atom (no updated time): it is refused with the fix."""
    with pytest.raises(PermanentChannelError, match="publish an alert first"):
        build_atom(INFO, [])


def test_published_feed_follows_the_incident(tmp_path: Path) -> None:
    """The directory's feed.atom lists every alert with absolute URLs; the all-clear says so."""
    state = BannerState(
        incident="INC-3",
        title="Payment outage",
        headline="Card payments are failing",
        body="",
        level="warning",
        language="en",
        routes=(Route("emergency", "Emergency line", "phone", "+6621234567"),),
        sent=T0,
        updated=T0,
    )
    publish_banner(tmp_path, state, SITE)
    take_down(tmp_path, SITE, T0 + timedelta(hours=1))
    feed = etree.parse(str(tmp_path / "feed.atom")).getroot()
    entries = feed.findall(f"{A}entry")
    assert [e.findtext(f"{A}id") for e in entries] == [
        "https://status.example.com/inc-3/cap/INC-3-2.xml",
        "https://status.example.com/inc-3/cap/INC-3-1.xml",
    ]
    assert entries[0].findtext(f"{A}title") == "This incident has ended. Card payments are failing"
    assert feed.findtext(f"{A}updated") == "2026-11-25T10:40:07+00:00"
    assert feed.get("{http://www.w3.org/XML/1998/namespace}lang") == "en"
