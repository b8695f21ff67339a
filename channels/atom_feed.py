"""An Atom (RFC 4287) feed of one incident's alerts, newest first, each linking its CAP file.

Feed readers and alert aggregators follow the CAP link (``type="application/cap+xml"``), the
convention of CAP-over-Atom feeds. Built with ElementTree: user text is never spliced into XML.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from crisiscast.channels.cap_feed import CAP_MIME, cap_time
from crisiscast.errors import PermanentChannelError

ATOM_NS = "http://www.w3.org/2005/Atom"
ATOM_MIME = "application/atom+xml"


@dataclass(frozen=True)
class FeedEntry:
    """One alert as the feed shows it (in the incident's default language)."""

    id: str
    title: str
    summary: str
    published: datetime
    cap_url: str
    page_url: str
    language: str


@dataclass(frozen=True)
class FeedInfo:
    """The feed itself: its stable id, where it lives and who publishes it."""

    id: str
    title: str
    feed_url: str
    page_url: str
    author: str
    language: str


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    child = ET.SubElement(parent, tag, attrs)
    if text is not None:
        child.text = text
    return child


def _entry(feed: ET.Element, entry: FeedEntry) -> None:
    node = _sub(feed, "entry")
    node.set("{http://www.w3.org/XML/1998/namespace}lang", entry.language)
    _sub(node, "id", entry.id)
    _sub(node, "title", entry.title)
    _sub(node, "published", cap_time(entry.published))
    _sub(node, "updated", cap_time(entry.published))
    _sub(node, "link", rel="alternate", type=CAP_MIME, href=entry.cap_url)
    _sub(node, "link", rel="related", type="text/html", href=entry.page_url)
    if entry.summary:
        _sub(node, "summary", entry.summary)


def build_atom(info: FeedInfo, entries: Sequence[FeedEntry]) -> bytes:
    """The feed as UTF-8 bytes; ``updated`` is the newest entry's time (RFC 4287 4.2.15)."""
    if not entries:
        raise PermanentChannelError(
            f"feed {info.id}: an Atom feed needs at least one entry; publish an alert first"
        )
    newest = sorted(entries, key=lambda e: e.published, reverse=True)
    # The namespace is declared once on the root; children are unprefixed, as Atom readers
    # expect (ElementTree's default_namespace option refuses unqualified attributes).
    feed = ET.Element("feed", {"xmlns": ATOM_NS})
    feed.set("{http://www.w3.org/XML/1998/namespace}lang", info.language)
    _sub(feed, "id", info.id)
    _sub(feed, "title", info.title)
    _sub(feed, "updated", cap_time(newest[0].published))
    author = _sub(feed, "author")
    _sub(author, "name", info.author)
    _sub(feed, "link", rel="self", type=ATOM_MIME, href=info.feed_url)
    _sub(feed, "link", rel="alternate", type="text/html", href=info.page_url)
    for entry in newest:
        _entry(feed, entry)
    ET.indent(feed)
    body: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return body + b"\n"
