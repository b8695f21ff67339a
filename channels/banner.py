"""Site banner channel: publishes an incident's banner, page and feeds into a served directory.

``publish_banner`` writes, each file atomically (temp file + rename, so a reader never sees a
half-written file), in this order so nothing ever points at a file not yet there::

    cap/<identifier>.xml      the CAP 1.2 alert of this announcement
    index.html                the public incident page (index.<lang>.html per translation)
    incident.css, crisiscast-banner.js
    feed.atom                 Atom feed of every alert of the incident
    alerts.json               the publisher's memory of earlier alerts (public facts only)
    banner.json               the state the embeddable script polls; written last

Publishing the same state again (a retried task) adds no alert. ``take_down`` publishes the
stand-down: the script removes the banner on its next poll. The web app serves the directory
as it is (dot-files are temp files: do not serve them).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from crisiscast.channels.atom_feed import FeedEntry, FeedInfo, build_atom
from crisiscast.channels.banner_page import PageUpdate, page_name, render_page, static_text
from crisiscast.channels.banner_state import (
    BannerState,
    Wording,
    state_from_json,
    state_to_json,
    ui_strings,
)
from crisiscast.channels.cap_feed import AlertMeta, CapArea, MsgType, build_cap, reference
from crisiscast.errors import NotFoundError, PermanentChannelError

log = logging.getLogger(__name__)

SCRIPT_NAME = "crisiscast-banner.js"
STATE_NAME = "banner.json"
HISTORY_NAME = "alerts.json"
FEED_NAME = "feed.atom"
HISTORY_VERSION = 1


@dataclass(frozen=True)
class BannerSite:
    """Where the directory is served and who signs the alerts.

    ``base_url`` is the public URL of the directory (absolute, ending in ``/``); ``sender`` is
    the CAP sender id (an address or domain, no spaces or commas).
    """

    base_url: str
    sender: str
    sender_name: str
    category: str = "Other"
    poll_seconds: int = 60

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("https://", "http://")) or not self.base_url.endswith("/"):
            raise PermanentChannelError(
                f"banner base_url {self.base_url!r}: give the absolute http(s) URL the "
                "directory is served at, ending in '/'"
            )
        if not 1 <= self.poll_seconds <= 3600:
            raise PermanentChannelError(
                f"banner poll_seconds={self.poll_seconds}: use 1..3600 (60 is a good default)"
            )

    def url(self, name: str) -> str:
        """The public URL of a file in the directory."""
        return self.base_url + name

    def page_urls(self, state: BannerState) -> dict[str, str]:
        """Each language's incident page."""
        return {w.language: self.url(page_name(state, w.language)) for w in state.wordings}


@dataclass(frozen=True)
class PublishedAlert:
    """One announcement as published: its CAP identifier, type, time and state."""

    identifier: str
    msg_type: MsgType
    sent: datetime
    state: BannerState

    @property
    def cap_name(self) -> str:
        """The CAP file's path inside the directory."""
        return f"cap/{self.identifier}.xml"


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.chmod(0o644)  # mkstemp makes 0600; the web server must be able to read it
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _json_bytes(data: Any) -> bytes:
    return (json.dumps(data, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def read_history(directory: Path) -> list[PublishedAlert]:
    """The alerts published so far into ``directory`` (empty for a new directory)."""
    path = directory / HISTORY_NAME
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise PermanentChannelError(
            f"{path}:{exc.lineno}: not valid JSON ({exc.msg}); restore it or publish into a "
            "new directory"
        ) from exc
    if data.get("version") != HISTORY_VERSION:
        raise PermanentChannelError(
            f"{path}: version {data.get('version')!r} is not {HISTORY_VERSION}; "
            "publish into a new directory"
        )
    return [
        PublishedAlert(
            identifier=row["identifier"], msg_type=row["msg_type"],
            sent=datetime.fromisoformat(row["sent"]), state=state_from_json(row["state"]),
        )
        for row in data["alerts"]
    ]  # fmt: skip


def _history_json(history: list[PublishedAlert], site: BannerSite) -> dict[str, Any]:
    return {
        "version": HISTORY_VERSION,
        "alerts": [
            {
                "identifier": a.identifier, "msg_type": a.msg_type,
                "sent": a.sent.isoformat(timespec="seconds"),
                "state": state_to_json(a.state, site.page_urls(a.state)),
            }
            for a in history
        ],
    }  # fmt: skip


def next_alert(
    history: list[PublishedAlert], state: BannerState, *, retract: bool = False
) -> PublishedAlert:
    """The alert ``state`` becomes: the first is an Alert, later ones Updates (the all-clear
    too, with responseType AllClear); a retraction of alerts sent in error is a Cancel."""
    msg_type: MsgType = "Cancel" if retract else ("Update" if history else "Alert")
    identifier = f"{state.incident}-{len(history) + 1}"
    return PublishedAlert(identifier, msg_type, state.updated, state)


def _same(a: BannerState, b: BannerState) -> bool:
    return state_to_json(a, {}) == state_to_json(b, {})


def _write_pages(directory: Path, state: BannerState, history: list[PublishedAlert],
                 site: BannerSite) -> None:  # fmt: skip
    updates = [PageUpdate(a.identifier, a.sent, a.state, a.cap_name) for a in history]
    wanted = set()
    for wording in state.wordings:
        name = page_name(state, wording.language)
        wanted.add(name)
        html = render_page(state, wording.language, updates, site.poll_seconds)
        write_atomic(directory / name, html.encode("utf-8"))
    for stale in directory.glob("index.*.html"):
        if stale.name not in wanted:  # a translation that was dropped: don't serve old text
            stale.unlink()


def _entry_title(state: BannerState) -> str:
    """The headline; a stand-down says so first, in the incident's default language."""
    if state.status == "ended":
        return f"{ui_strings(state.wordings[0])['ended']} {state.headline}"
    return state.headline


def _feed(history: list[PublishedAlert], site: BannerSite) -> bytes:
    latest = history[-1].state
    info = FeedInfo(
        id=site.url(FEED_NAME), title=f"{latest.incident}: {latest.title}",
        feed_url=site.url(FEED_NAME), page_url=site.url(page_name(latest, latest.language)),
        author=site.sender_name, language=latest.language,
    )  # fmt: skip
    entries = [
        FeedEntry(
            id=site.url(a.cap_name), title=_entry_title(a.state),
            summary=a.state.body, published=a.sent, cap_url=site.url(a.cap_name),
            page_url=site.url(page_name(a.state, a.state.language)), language=a.state.language,
        )
        for a in history
    ]  # fmt: skip
    return build_atom(info, entries)


def _write_all(
    directory: Path, history: list[PublishedAlert], site: BannerSite, area: CapArea | None = None
) -> None:
    """Write every file for ``history`` (its last alert is the current state), banner.json last."""
    alert = history[-1]
    state = alert.state
    meta = AlertMeta(
        identifier=alert.identifier, sender=site.sender, sender_name=site.sender_name,
        msg_type=alert.msg_type, page_urls=site.page_urls(state),
        category=site.category, area=area,
        references=tuple(reference(site.sender, a.identifier, a.sent) for a in history[:-1]),
    )  # fmt: skip
    write_atomic(directory / alert.cap_name, build_cap(state, meta, alert.sent))
    write_atomic(directory / "incident.css", static_text("incident.css").encode("utf-8"))
    write_atomic(directory / SCRIPT_NAME, static_text(SCRIPT_NAME).encode("utf-8"))
    _write_pages(directory, state, history, site)
    write_atomic(directory / FEED_NAME, _feed(history, site))
    write_atomic(directory / HISTORY_NAME, _json_bytes(_history_json(history, site)))
    write_atomic(directory / STATE_NAME, _json_bytes(state_to_json(state, site.page_urls(state))))


def publish_banner(
    directory: Path, state: BannerState, site: BannerSite, *, retract: bool = False,
    area: CapArea | None = None,
) -> PublishedAlert:  # fmt: skip
    """Publish ``state`` as the incident's current announcement; returns the alert it became.

    Idempotent: publishing the state that is already current rewrites the files and adds no
    alert. ``retract=True`` publishes a CAP Cancel (for alerts sent in error). ``area`` (the
    broadcast's target area, if any) becomes the CAP alert's ``<area>``.
    """
    history = read_history(directory)
    if history and history[-1].state.incident != state.incident:
        raise PermanentChannelError(
            f"{directory}: holds incident {history[-1].state.incident}, not {state.incident}; "
            "publish each incident into its own directory"
        )
    if history and _same(history[-1].state, state) and not retract:
        alert = history[-1]
    else:
        alert = next_alert(history, state, retract=retract)
        history = [*history, alert]
    _write_all(directory, history, site, area)
    log.info(
        "incident=%s channel=banner alert=%s msg_type=%s status=%s languages=%d",
        state.incident, alert.identifier, alert.msg_type, state.status, len(state.wordings),
    )  # fmt: skip
    return alert


def current_state(directory: Path) -> BannerState:
    """The state banner.json holds now."""
    path = directory / STATE_NAME
    if not path.exists():
        raise NotFoundError(f"{path}: no banner has been published here; call publish_banner first")
    return state_from_json(json.loads(path.read_text(encoding="utf-8")))


def take_down(
    directory: Path, site: BannerSite, now: datetime, *, all_clear: Sequence[Wording] = (),
    retract: bool = False, area: CapArea | None = None,
) -> PublishedAlert:  # fmt: skip
    """Stand the banner down at ``now``: the script removes it on its next poll, the page says
    the incident has ended, and the feeds get the all-clear (or a Cancel when ``retract``).

    Taking down a banner that is already down adds nothing.
    """
    state = current_state(directory)
    if state.status == "ended":
        return read_history(directory)[-1]
    return publish_banner(directory, state.ended(now, all_clear), site, retract=retract, area=area)
