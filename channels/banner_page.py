"""The public incident page: routes by need, the latest updates and resources, per language.

Static HTML rendered with Jinja2 autoescaping (user text is always escaped), one file per
language (``index.html`` in the default language, ``index.<lang>.html`` for the others, linked
with ``hreflang``), and the banner script included so the page follows a stand-down.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib.resources import files
from typing import Any

import jinja2

from crisiscast.channels.banner_state import BannerState, Wording, ui_strings

_RTL = {"ar", "fa", "he", "ur", "ps", "ckb", "dv", "yi"}
# Language names in their own language, for the switcher; unknown tags show the tag itself.
_ENDONYMS = {
    "en": "English", "th": "ไทย", "lo": "ລາວ", "fr": "Français", "es": "Español",
    "de": "Deutsch", "vi": "Tiếng Việt", "zh": "中文", "ja": "日本語", "km": "ខ្មែរ", "my": "မြန်မာ",
}  # fmt: skip


@dataclass(frozen=True)
class PageUpdate:
    """One published announcement as the page lists it."""

    identifier: str
    sent: datetime
    state: BannerState
    cap_href: str


def static_text(name: str) -> str:
    """A file shipped in ``crisiscast.channels/static`` (the script, the page template, CSS)."""
    return files("crisiscast.channels").joinpath("static", name).read_text(encoding="utf-8")


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(static_text("incident.html.j2"))


def page_name(state: BannerState, language: str) -> str:
    """``index.html`` for the default language, ``index.<lang>.html`` for a translation."""
    if language == state.language:
        return "index.html"
    return f"index.{language}.html"


def _wording_for(state: BannerState, language: str) -> Wording:
    """The state's wording in ``language``, else its default wording."""
    for wording in state.wordings:
        if wording.language == language:
            return wording
    return state.wordings[0]


def _when(value: datetime) -> str:
    """Readable in any language: ``2026-11-25 09:40 UTC+07:00`` (the offset the state gave)."""
    offset = value.isoformat()[-6:]
    return value.strftime("%Y-%m-%d %H:%M UTC") + ("" if offset == "+00:00" else offset)


def _update_row(update: PageUpdate, language: str) -> dict[str, Any]:
    wording = _wording_for(update.state, language)
    return {
        "identifier": update.identifier, "sent_iso": update.sent.isoformat(timespec="seconds"),
        "sent_text": _when(update.sent), "headline": wording.headline, "body": wording.body,
        "cap_href": update.cap_href,
    }  # fmt: skip


def render_page(
    state: BannerState, language: str, updates: Sequence[PageUpdate], poll_seconds: int
) -> str:
    """The incident page in ``language`` (one of the state's languages)."""
    wording = _wording_for(state, language)
    alternates = [
        {"language": w.language, "href": page_name(state, w.language),
         "name": _ENDONYMS.get(w.language.split("-")[0].lower(), w.language)}
        for w in state.wordings
    ]  # fmt: skip
    routes = [
        {"label": wording.route_labels.get(r.need, r.label), "kind": r.kind, "href": r.href,
         "target": r.target, "hours": r.hours}
        for r in state.routes
    ]  # fmt: skip
    resources = [
        {"title": wording.resource_titles.get(r.url, r.title), "url": r.url}
        for r in state.resources
    ]
    newest_first = sorted(updates, key=lambda u: u.sent, reverse=True)
    return _template().render(
        lang=wording.language,
        dir="rtl" if wording.language.split("-")[0].lower() in _RTL else "ltr",
        ui=ui_strings(wording), incident=state.incident, exercise=state.exercise,
        level=state.level, ended=state.status == "ended", title=wording.title,
        headline=wording.headline, body=wording.body,
        updated_iso=state.updated.isoformat(timespec="seconds"), updated_text=_when(state.updated),
        routes=routes, resources=resources, alternates=alternates, poll=poll_seconds,
        updates=[_update_row(u, wording.language) for u in newest_first],
    )  # fmt: skip
