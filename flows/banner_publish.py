"""The banner leg of a broadcast: build the banner state from the playbook and publish it.

The banner is broadcast-style: one publish carries every language (translations), so the
ledger rows (one per language) are all marked with the published alert's identifier.
Publishing is idempotent (same state: no new alert), so a crashed run simply publishes again.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from crisiscast.channels.banner import BannerSite, current_state, publish_banner, take_down
from crisiscast.channels.banner_state import BannerState, Resource, Route, RouteKind, Wording
from crisiscast.errors import NotFoundError
from crisiscast.playbook import Playbook

# Playbook route channels -> banner route kinds (an SMS route is reached by phone number).
_KINDS: dict[str, RouteKind] = {
    "live_chat": "live_chat",
    "agent_message": "message_agent",
    "self_service": "self_service",
    "phone": "phone",
    "sms": "phone",
    "email": "email",
    "web": "web",
}


def site_for(public_url: str, ref: str, sender_name: str = "crisiscast") -> BannerSite:
    """Where the lead's web app serves the incident directory: ``<public>/incidents/<ref>/``."""
    base = f"{public_url.rstrip('/')}/incidents/{ref}/"
    host = base.split("//", 1)[1].split("/", 1)[0].split(":")[0] or "localhost"
    return BannerSite(base_url=base, sender=f"crisiscast@{host}", sender_name=sender_name)


def _wording(playbook: Playbook, language: str, title: str, text: tuple[str, str]) -> Wording:
    return Wording(
        language=language,
        title=title,
        headline=text[0],
        body=text[1],
        route_labels={r.need: r.label.get(language, "") for r in playbook.routes},
        resource_titles={r.url: r.title.get(language, "") for r in playbook.resources},
    )


def banner_state(
    playbook: Playbook,
    ref: str,
    title: str,
    exercise: bool,
    texts: Mapping[str, tuple[str, str]],
    level: str,
    now: datetime,
    sent: datetime | None = None,
) -> BannerState:
    """The banner for ``texts`` (language -> (headline, body)), routes and resources."""
    default = playbook.default_language if playbook.default_language in texts else next(iter(texts))
    lang = default
    headline, body = texts[default]
    return BannerState(
        incident=ref,
        title=title,
        headline=headline,
        body=body,
        level=level,  # type: ignore[arg-type]  # the playbook schema allows the same three
        language=default,
        routes=tuple(
            Route(r.need, r.label[lang], _KINDS[r.channel], r.target, r.hours)
            for r in playbook.routes
        ),
        sent=sent or now,
        updated=now,
        resources=tuple(Resource(r.title[lang], r.url) for r in playbook.resources),
        exercise=exercise,
        translations=tuple(
            _wording(playbook, language, title, text)
            for language, text in texts.items()
            if language != default
        ),
    )


def publish(
    directory: Path,
    site: BannerSite,
    playbook: Playbook,
    *,
    ref: str,
    title: str,
    exercise: bool,
    texts: Mapping[str, tuple[str, str]],
    level: str,
    all_clear: bool,
    now: datetime,
) -> str:
    """Publish (or, for the all-clear, take down) the banner; return the CAP alert id."""
    if all_clear:
        try:
            current_state(directory)
        except NotFoundError:
            return "nothing-to-take-down"
        wordings = [_wording(playbook, lang, title, t) for lang, t in texts.items()]
        return take_down(directory, site, now, all_clear=wordings).identifier
    sent = None
    try:
        sent = current_state(directory).sent
    except NotFoundError:
        sent = None
    state = banner_state(playbook, ref, title, exercise, texts, level, now, sent)
    return publish_banner(directory, state, site).identifier
