"""CAP 1.2 alerts for the banner's announcements, and a hardened parser for CAP we receive.

One alert per announcement: the first is ``Alert``, later ones ``Update`` (referencing every
earlier alert of the incident), and the all-clear is an ``Update`` with ``responseType``
``AllClear``: CAP 1.2 reserves ``Cancel`` for retracting messages sent in error, so a
retraction is ``Cancel``. Exercises carry ``<status>Exercise</status>``. XML is built with
ElementTree (never by string concatenation) and times have no fractional seconds and no ``Z``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from crisiscast.channels.banner_state import BannerState, Level, Wording
from crisiscast.errors import PermanentChannelError

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
CAP_MIME = "application/cap+xml"
MsgType = Literal["Alert", "Update", "Cancel"]
CAP_CATEGORIES = (
    "Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env", "Transport",
    "Infra", "CBRNE", "Other",
)  # fmt: skip

# (urgency, severity, certainty) by banner level; an ended incident is in the past.
_GRADING: dict[Level, tuple[str, str, str]] = {
    "info": ("Expected", "Minor", "Observed"),
    "warning": ("Expected", "Moderate", "Observed"),
    "critical": ("Immediate", "Severe", "Observed"),
}
_ENDED_GRADING = ("Past", "Minor", "Observed")
# CAP 1.2 section 3.2.1: sender and identifier "MUST NOT include spaces, commas or restricted
# characters (< and &)".
_CAP_TOKEN = re.compile(r"^[^\s,<&]+$")


@dataclass(frozen=True)
class CapArea:
    """Where the alert applies (CAP ``<area>``), as plain data the flow passes in.

    ``polygons``: closed rings of (latitude, longitude) pairs (first = last, >= 4 pairs; CAP
    1.2 cannot say holes); ``circles``: (latitude, longitude, radius_km); ``geocodes``:
    (valueName, value), e.g. ``("ISO3166-2", "TH-10")``. ``description`` is ``<areaDesc>``.
    """

    description: str
    polygons: tuple[tuple[tuple[float, float], ...], ...] = ()
    circles: tuple[tuple[float, float, float], ...] = ()
    geocodes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class AlertMeta:
    """Who sends the alert and how it relates to earlier ones of the same incident."""

    identifier: str
    sender: str
    sender_name: str
    msg_type: MsgType
    references: tuple[str, ...] = ()
    page_urls: Mapping[str, str] = field(default_factory=dict)
    category: str = "Other"
    area: CapArea | None = None


@dataclass(frozen=True)
class CapInfo:
    """The parts of one ``<info>`` block that crisiscast reads back."""

    language: str
    event: str
    urgency: str
    severity: str
    certainty: str
    headline: str
    description: str
    instruction: str
    web: str
    response_types: tuple[str, ...]


@dataclass(frozen=True)
class CapAlert:
    """A parsed CAP 1.2 alert (only what crisiscast needs; the XSD is the full check)."""

    identifier: str
    sender: str
    sent: datetime
    status: str
    msg_type: str
    scope: str
    references: tuple[str, ...]
    incidents: tuple[str, ...]
    infos: tuple[CapInfo, ...]


def cap_time(value: datetime) -> str:
    """CAP's dateTime: ``YYYY-MM-DDThh:mm:ss+hh:mm``, whole seconds, an offset and never ``Z``."""
    if value.utcoffset() is None:
        raise PermanentChannelError(
            f"CAP time {value!r} has no timezone: pass an aware datetime (e.g. tz=timezone.utc)"
        )
    return value.replace(microsecond=0).isoformat()


def reference(sender: str, identifier: str, sent: datetime) -> str:
    """One entry of ``<references>``: ``sender,identifier,sent``."""
    return f"{sender},{identifier},{cap_time(sent)}"


def _sub(parent: ET.Element, tag: str, text: str) -> ET.Element:
    child = ET.SubElement(parent, f"{{{CAP_NS}}}{tag}")
    child.text = text
    return child


def _instruction(state: BannerState, wording: Wording) -> str:
    """One line per route: which need, how, where and when (plain text, no markup)."""
    lines = []
    for route in state.routes:
        label = wording.route_labels.get(route.need, route.label)
        hours = f" ({route.hours})" if route.hours else ""
        lines.append(f"{label}: {route.target}{hours}")
    return "\n".join(lines)


def _contact(state: BannerState) -> str:
    """The staffed phone line when there is one (what CAP's contact is for), else the first."""
    phones = [r.target for r in state.routes if r.kind == "phone"]
    if phones:
        return phones[0]
    return state.routes[0].target if state.routes else ""


def _degrees(value: float) -> str:
    """Decimal degrees to 6 places (0.1 m), without trailing zeros: ``13.75``, ``-120.1``."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _area(info: ET.Element, area: CapArea) -> None:
    """``<area>``: areaDesc, then polygons, circles and geocodes (the XSD's order)."""
    node = ET.SubElement(info, f"{{{CAP_NS}}}area")
    _sub(node, "areaDesc", area.description)
    for ring in area.polygons:
        _sub(node, "polygon", " ".join(f"{_degrees(lat)},{_degrees(lon)}" for lat, lon in ring))
    for lat, lon, radius in area.circles:
        _sub(node, "circle", f"{_degrees(lat)},{_degrees(lon)} {_degrees(radius)}")
    for name, value in area.geocodes:
        geocode = ET.SubElement(node, f"{{{CAP_NS}}}geocode")
        _sub(geocode, "valueName", name)
        _sub(geocode, "value", value)


def _area_problems(area: CapArea) -> list[str]:
    """CAP 1.2 section 3.3.5's rules the XSD does not check (it types these as plain strings)."""
    problems = [] if area.description.strip() else ["areaDesc: describe the area in words"]
    points = [p for ring in area.polygons for p in ring] + [(c[0], c[1]) for c in area.circles]
    for lat, lon in points:
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            problems.append(f"point {lat},{lon}: latitude within -90..90, longitude -180..180")
    for i, ring in enumerate(area.polygons):
        if len(ring) < 4 or ring[0] != ring[-1]:
            problems.append(f"polygon {i + 1}: give >= 4 pairs, the first repeated as the last")
    problems.extend(
        f"circle {lat},{lon}: radius {radius} km must be above 0"
        for lat, lon, radius in area.circles
        if not radius > 0
    )
    problems.extend(
        f"geocode {name!r}={value!r}: valueName and value are both required"
        for name, value in area.geocodes
        if not (name.strip() and value.strip())
    )
    return problems


def _info(alert: ET.Element, state: BannerState, wording: Wording, meta: AlertMeta) -> None:
    info = ET.SubElement(alert, f"{{{CAP_NS}}}info")
    _sub(info, "language", wording.language)
    _sub(info, "category", meta.category)
    _sub(info, "event", wording.title)
    if state.status == "ended" and meta.msg_type != "Cancel":
        _sub(info, "responseType", "AllClear")
    urgency, severity, certainty = (
        _ENDED_GRADING if state.status == "ended" else _GRADING[state.level]
    )
    _sub(info, "urgency", urgency)
    _sub(info, "severity", severity)
    _sub(info, "certainty", certainty)
    _sub(info, "senderName", meta.sender_name)
    _sub(info, "headline", wording.headline)
    if wording.body:
        _sub(info, "description", wording.body)
    if state.routes:
        _sub(info, "instruction", _instruction(state, wording))
    page_url = meta.page_urls.get(wording.language)
    if page_url:
        _sub(info, "web", page_url)
    contact = _contact(state)
    if contact:
        _sub(info, "contact", contact)
    for res in state.resources:
        resource = ET.SubElement(info, f"{{{CAP_NS}}}resource")
        _sub(resource, "resourceDesc", wording.resource_titles.get(res.url, res.title))
        _sub(resource, "mimeType", "text/html")
        _sub(resource, "uri", res.url)
    if meta.area is not None:
        _area(info, meta.area)


def _check_meta(meta: AlertMeta) -> None:
    for name in ("identifier", "sender"):
        if not _CAP_TOKEN.match(getattr(meta, name)):
            raise PermanentChannelError(
                f"CAP {name} {getattr(meta, name)!r}: remove spaces, commas, '<' and '&' "
                "(CAP 1.2 section 3.2.1)"
            )
    if meta.category not in CAP_CATEGORIES:
        raise PermanentChannelError(
            f"CAP category {meta.category!r}: use one of {', '.join(CAP_CATEGORIES)}"
        )
    problems = _area_problems(meta.area) if meta.area is not None else []
    if problems:
        raise PermanentChannelError("CAP <area>: " + "; ".join(problems))


def build_cap(state: BannerState, meta: AlertMeta, sent: datetime) -> bytes:
    """The CAP 1.2 alert for one announcement, one ``<info>`` per language, as UTF-8 bytes."""
    _check_meta(meta)
    alert = ET.Element(f"{{{CAP_NS}}}alert")
    _sub(alert, "identifier", meta.identifier)
    _sub(alert, "sender", meta.sender)
    _sub(alert, "sent", cap_time(sent))
    _sub(alert, "status", "Exercise" if state.exercise else "Actual")
    _sub(alert, "msgType", meta.msg_type)
    _sub(alert, "scope", "Public")
    if state.exercise:
        _sub(alert, "note", "Exercise: this is not a real incident.")
    if meta.references:
        _sub(alert, "references", " ".join(meta.references))
    _sub(alert, "incidents", state.incident)
    for wording in state.wordings:
        _info(alert, state, wording, meta)
    ET.indent(alert)
    body: bytes = ET.tostring(
        alert, encoding="utf-8", xml_declaration=True, default_namespace=CAP_NS
    )
    return body + b"\n"


def _hardened_parser() -> Any:
    from lxml import etree  # imported here: only parsing and validation need lxml

    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False, remove_pis=True,
    )  # fmt: skip


def _parse_tree(data: bytes, origin: str) -> Any:
    """Parse with entities, DTD loading and network access off; refuse any DOCTYPE at all.

    CAP needs no DTD, and a DOCTYPE is how entity attacks (XXE, billion laughs) arrive.
    """
    from lxml import etree

    try:
        root = etree.fromstring(data, parser=_hardened_parser())
    except etree.XMLSyntaxError as exc:
        raise PermanentChannelError(f"{origin}: not well-formed XML: {exc}") from exc
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise PermanentChannelError(
            f"{origin}: CAP must not carry a DOCTYPE (entities are refused); "
            "ask the sender to remove the <!DOCTYPE ...> declaration"
        )
    return root


def _text(parent: Any, tag: str) -> str:
    node = parent.find(f"{{{CAP_NS}}}{tag}")
    if node is None or node.text is None:
        return ""
    return str(node.text).strip()


def _info_of(node: Any) -> CapInfo:
    return CapInfo(
        language=_text(node, "language") or "en-US", event=_text(node, "event"),
        urgency=_text(node, "urgency"), severity=_text(node, "severity"),
        certainty=_text(node, "certainty"), headline=_text(node, "headline"),
        description=_text(node, "description"), instruction=_text(node, "instruction"),
        web=_text(node, "web"),
        response_types=tuple(
            str(n.text).strip() for n in node.findall(f"{{{CAP_NS}}}responseType")
        ),
    )  # fmt: skip


def parse_cap(data: bytes, origin: str = "<cap>") -> CapAlert:
    """Read a CAP 1.2 alert safely (no entities, no DTD, no network); ``origin`` names the
    file or URL in error messages."""
    root = _parse_tree(data, origin)
    if root.tag != f"{{{CAP_NS}}}alert":
        raise PermanentChannelError(
            f"{origin}: root element is {root.tag!r}, expected CAP 1.2 <alert> in {CAP_NS}"
        )
    sent_text = _text(root, "sent")
    try:
        sent = datetime.fromisoformat(sent_text)
    except ValueError as exc:
        raise PermanentChannelError(
            f"{origin}: <sent> {sent_text!r} is not YYYY-MM-DDThh:mm:ss+hh:mm"
        ) from exc
    return CapAlert(
        identifier=_text(root, "identifier"), sender=_text(root, "sender"), sent=sent,
        status=_text(root, "status"), msg_type=_text(root, "msgType"),
        scope=_text(root, "scope"), references=tuple(_text(root, "references").split()),
        incidents=tuple(_text(root, "incidents").split()),
        infos=tuple(_info_of(n) for n in root.findall(f"{{{CAP_NS}}}info")),
    )  # fmt: skip


def cap_schema_errors(data: bytes, xsd: Path, origin: str = "<cap>") -> Sequence[str]:
    """Problems found by the CAP 1.2 XSD, each with its line (empty when the alert is valid).

    The XSD is a floor, not the whole standard (PITFALLS.md): it does not check, say, that
    ``<references>`` points at real alerts.
    """
    from lxml import etree

    schema = etree.XMLSchema(etree.parse(str(xsd), parser=_hardened_parser()))
    root = _parse_tree(data, origin)
    if schema.validate(root):
        return []
    return [f"{origin}:{e.line}: {e.message}" for e in schema.error_log]
