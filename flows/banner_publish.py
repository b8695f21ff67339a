"""The banner leg of a broadcast: build the banner state from the playbook and publish it.

The banner is broadcast-style: one publish carries every language (translations), so the
ledger rows (one per language) are all marked with the published alert's identifier.
Publishing is idempotent (same state: no new alert), so a crashed run simply publishes again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisiscast.channels.banner import BannerSite, current_state, publish_banner, take_down
from crisiscast.channels.banner_state import BannerState, Resource, Route, RouteKind, Wording
from crisiscast.channels.cap_feed import CapArea
from crisiscast.errors import NotFoundError
from crisiscast.incidents.store.models import Announcement, Target
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


def cap_area(area: Mapping[str, Any] | None) -> CapArea | None:
    """The CAP ``<area>`` of a target's area as its spec stores it (None: no area)."""
    if not area:
        return None
    # imported here: shapely and numpy (0.15 s) only when a target has an area
    from crisiscast.incidents.audience import areas

    target = areas.area_from_json(area, "target area")
    return CapArea(
        description=target.description, polygons=areas.cap_polygons(target),
        circles=areas.cap_circles(target), geocodes=areas.cap_geocodes(target),
    )  # fmt: skip


def target_area(session: Session, announcement_rows: Iterable[int]) -> CapArea | None:
    """The CAP area of the target these staged announcement rows reach (None: no area)."""
    spec = session.scalar(
        select(Target.spec)
        .join(Announcement, Announcement.target_id == Target.id)
        .where(Announcement.id.in_(list(announcement_rows)))
        .limit(1)
    )
    return cap_area((spec or {}).get("area"))


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
    area: CapArea | None = None,
) -> str:
    """Publish (or, for the all-clear, take down) the banner; return the CAP alert id.

    ``area`` (see :func:`target_area`) becomes the CAP alert's ``<area>``."""
    if all_clear:
        try:
            current_state(directory)
        except NotFoundError:
            return "nothing-to-take-down"
        wordings = [_wording(playbook, lang, title, t) for lang, t in texts.items()]
        return take_down(directory, site, now, all_clear=wordings, area=area).identifier
    sent = None
    try:
        sent = current_state(directory).sent
    except NotFoundError:
        sent = None
    state = banner_state(playbook, ref, title, exercise, texts, level, now, sent)
    return publish_banner(directory, state, site, area=area).identifier
