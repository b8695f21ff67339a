"""The site banner's state: what the embeddable script shows, as frozen data and as banner.json.

Pure: no I/O, no clock. The publisher (``crisiscast.channels.banner``) writes what this module
builds. Text comes from the playbook's templates already rendered per language; the script puts
it on the page with ``textContent`` only, and links are limited to the schemes allowed here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal, get_args

from crisiscast.errors import PermanentChannelError

Level = Literal["info", "warning", "critical"]
Status = Literal["active", "ended"]
#: How a customer reaches the service for one need (technical -> live chat, account -> message
#: an agent, rescheduling -> self-service portal, emergency -> a staffed phone line).
RouteKind = Literal["live_chat", "message_agent", "self_service", "phone", "email", "web"]

LEVELS: tuple[Level, ...] = get_args(Level)
ROUTE_KINDS: tuple[RouteKind, ...] = get_args(RouteKind)
STATE_VERSION = 1

#: Foreground / background per level; each pair is checked >= 4.5:1 (WCAG 2.x AA) by the tests.
LEVEL_COLOURS: Mapping[Level, tuple[str, str]] = {
    "info": ("#ffffff", "#0b4f8a"),
    "warning": ("#1a1a1a", "#ffcc33"),
    "critical": ("#ffffff", "#a4001d"),
}

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
_URL = re.compile(r"^https?://[^\s<>\"']+$")
_EMAIL = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+$")
_INCIDENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

#: The script's own words, by primary language; a Wording may override each of them.
UI_STRINGS: Mapping[str, Mapping[str, str]] = {
    "en": {"dismiss": "Dismiss", "more": "Details and updates", "exercise": "EXERCISE",
           "routes": "How to reach us", "resources": "Useful resources", "updates": "Updates",
           "hours": "Hours", "ended": "This incident has ended.", "updated": "Updated",
           "feed": "Alert feed (Atom)", "skip": "Skip to content", "languages": "Languages",
           "reply": "Tell us what is happening",
           "reply_message": "What is happening, and what do you need?",
           "reply_contact": "Your phone (with country code) or email, so we can answer",
           "reply_name": "Your name (optional)", "reply_send": "Send"},
    "th": {"dismiss": "ปิด", "more": "รายละเอียดและความคืบหน้า", "exercise": "การฝึกซ้อม",
           "routes": "ช่องทางติดต่อเรา", "resources": "แหล่งข้อมูลที่เป็นประโยชน์",
           "updates": "ความคืบหน้า", "hours": "เวลาทำการ", "ended": "เหตุการณ์นี้สิ้นสุดแล้ว",
           "updated": "อัปเดต", "feed": "ฟีดประกาศ (Atom)", "skip": "ข้ามไปยังเนื้อหา",
           "languages": "ภาษา",
           "reply": "แจ้งเราว่าเกิดอะไรขึ้น", "reply_message": "เกิดอะไรขึ้น และคุณต้องการความช่วยเหลืออะไร",
           "reply_contact": "เบอร์โทรศัพท์ (พร้อมรหัสประเทศ) หรืออีเมล เพื่อให้เราตอบกลับ",
           "reply_name": "ชื่อของคุณ (ไม่บังคับ)", "reply_send": "ส่ง"},
    "lo": {"dismiss": "ປິດ", "more": "ລາຍລະອຽດ ແລະ ຄວາມຄືບໜ້າ", "exercise": "ການຝຶກຊ້ອມ",
           "routes": "ວິທີຕິດຕໍ່ພວກເຮົາ", "resources": "ແຫຼ່ງຂໍ້ມູນທີ່ເປັນປະໂຫຍດ",
           "updates": "ຄວາມຄືບໜ້າ", "hours": "ເວລາ", "ended": "ເຫດການນີ້ໄດ້ສິ້ນສຸດແລ້ວ",
           "updated": "ອັບເດດ", "feed": "ຟີດປະກາດ (Atom)", "skip": "ຂ້າມໄປຫາເນື້ອຫາ",
           "languages": "ພາສາ",
           "reply": "ແຈ້ງພວກເຮົາວ່າເກີດຫຍັງຂຶ້ນ", "reply_message": "ເກີດຫຍັງຂຶ້ນ ແລະ ທ່ານຕ້ອງການຫຍັງ",
           "reply_contact": "ເບີໂທ (ພ້ອມລະຫັດປະເທດ) ຫຼື ອີເມວ ເພື່ອໃຫ້ພວກເຮົາຕອບກັບ",
           "reply_name": "ຊື່ຂອງທ່ານ (ບໍ່ບັງຄັບ)", "reply_send": "ສົ່ງ"},
    "fr": {"dismiss": "Fermer", "more": "Détails et mises à jour", "exercise": "EXERCICE",
           "routes": "Comment nous joindre", "resources": "Ressources utiles",
           "updates": "Mises à jour", "hours": "Horaires", "ended": "Cet incident est terminé.",
           "updated": "Mis à jour", "feed": "Flux des alertes (Atom)",
           "skip": "Aller au contenu", "languages": "Langues",
           "reply": "Dites-nous ce qui se passe",
           "reply_message": "Que se passe-t-il, et de quoi avez-vous besoin ?",
           "reply_contact": "Votre téléphone (avec l'indicatif) ou e-mail, pour vous répondre",
           "reply_name": "Votre nom (facultatif)", "reply_send": "Envoyer"},
    "es": {"dismiss": "Cerrar", "more": "Detalles y novedades", "exercise": "SIMULACRO",
           "routes": "Cómo contactarnos", "resources": "Recursos útiles",
           "updates": "Novedades", "hours": "Horario", "ended": "Este incidente ha terminado.",
           "updated": "Actualizado", "feed": "Canal de alertas (Atom)",
           "skip": "Ir al contenido", "languages": "Idiomas",
           "reply": "Cuéntenos qué pasa", "reply_message": "¿Qué está pasando y qué necesita?",
           "reply_contact": "Su teléfono (con código de país) o correo, para responderle",
           "reply_name": "Su nombre (opcional)", "reply_send": "Enviar"},
}  # fmt: skip


@dataclass(frozen=True)
class Route:
    """The best way to reach the service for one need; ``label`` is in the default language."""

    need: str
    label: str
    kind: RouteKind
    target: str
    hours: str = ""

    @property
    def href(self) -> str:
        """The link the banner shows: tel: for phones, mailto: for email, else the URL."""
        if self.kind == "phone":
            return f"tel:{self.target}"
        if self.kind == "email":
            return f"mailto:{self.target}"
        return self.target


@dataclass(frozen=True)
class Resource:
    """A useful link (government aid, community groups, self-care, the knowledge base)."""

    title: str
    url: str


@dataclass(frozen=True)
class Wording:
    """The banner's text in one more language, with optional per-need route labels,
    per-url resource titles and overrides of the script's own words (keys of UI_STRINGS)."""

    language: str
    title: str
    headline: str
    body: str
    route_labels: Mapping[str, str] = field(default_factory=dict)
    resource_titles: Mapping[str, str] = field(default_factory=dict)
    ui: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BannerState:
    """Everything the banner, the incident page and the feeds say about one incident, now."""

    incident: str
    title: str
    headline: str
    body: str
    level: Level
    language: str
    routes: tuple[Route, ...]
    sent: datetime
    updated: datetime
    resources: tuple[Resource, ...] = ()
    status: Status = "active"
    exercise: bool = False
    translations: tuple[Wording, ...] = ()

    def __post_init__(self) -> None:
        # CAP and banner.json carry whole seconds; keep the same here so a state read back
        # from banner.json equals the one published.
        for name in ("sent", "updated"):
            value: datetime = getattr(self, name)
            object.__setattr__(self, name, value.replace(microsecond=0))
        problems = state_problems(self)
        if problems:
            raise PermanentChannelError(
                f"banner state for {self.incident!r} is invalid: " + "; ".join(problems)
            )

    @property
    def wordings(self) -> tuple[Wording, ...]:
        """The default language first, then the translations."""
        default = Wording(self.language, self.title, self.headline, self.body)
        return (default, *self.translations)

    def ended(self, now: datetime, all_clear: Sequence[Wording] = ()) -> BannerState:
        """The stand-down of this state at ``now``; ``all_clear`` wordings (any of the
        state's languages) replace the text, keeping route labels they do not give."""
        by_lang = {w.language: w for w in all_clear}
        unknown = set(by_lang) - {w.language for w in self.wordings}
        if unknown:
            raise PermanentChannelError(
                f"all-clear for {self.incident}: languages {sorted(unknown)} are not among the "
                "banner's; give wordings only in languages the banner already has"
            )
        texts = [_merge(w, by_lang.get(w.language)) for w in self.wordings]
        default, *others = texts
        return replace(
            self, status="ended", updated=now, title=default.title, headline=default.headline,
            body=default.body, translations=tuple(others),
        )  # fmt: skip


def _merge(old: Wording, new: Wording | None) -> Wording:
    """``new``'s text with ``old``'s labels where ``new`` gives none."""
    if new is None:
        return old
    return replace(
        new,
        route_labels=new.route_labels or old.route_labels,
        resource_titles=new.resource_titles or old.resource_titles,
        ui=new.ui or old.ui,
    )


def state_problems(state: BannerState) -> list[str]:
    """Every problem with ``state``, each naming the field and the fix (empty when valid)."""
    problems: list[str] = []
    if not _INCIDENT.match(state.incident):
        problems.append("incident: use letters, digits, '-', '_' or '.', like 'INC-3'")
    if state.level not in LEVELS:
        problems.append(f"level {state.level!r}: use one of {', '.join(LEVELS)}")
    if state.status not in get_args(Status):
        problems.append(f"status {state.status!r}: use 'active' or 'ended'")
    for name in ("sent", "updated"):
        value: datetime = getattr(state, name)
        if value.tzinfo is None or value.utcoffset() is None:
            problems.append(f"{name}: give a timezone-aware datetime (CAP needs an offset)")
    languages = [w.language for w in state.wordings]
    for lang in languages:
        if not _LANGUAGE.match(lang):
            problems.append(f"language {lang!r}: use a BCP-47 tag such as 'en' or 'th-TH'")
    if len({lang.lower() for lang in languages}) != len(languages):
        problems.append("translations: each language may appear once")
    for i, wording in enumerate(state.wordings):
        if not wording.title.strip() or not wording.headline.strip():
            problems.append(f"wording {i} ({wording.language}): title and headline are required")
    for i, route in enumerate(state.routes):
        problems.extend(f"routes[{i}] ({route.need}): {p}" for p in route_problems(route))
    for i, res in enumerate(state.resources):
        if not _URL.match(res.url):
            problems.append(f"resources[{i}].url: use an http(s) URL")
    return problems


def route_problems(route: Route) -> list[str]:
    """Problems with one route: the kind must be known and the target must fit the kind."""
    if route.kind not in ROUTE_KINDS:
        return [f"kind {route.kind!r}: use one of {', '.join(ROUTE_KINDS)}"]
    if not route.label.strip():
        return ["label: say which need this route serves"]
    if route.kind == "phone" and not _E164.match(route.target):
        return ["target: a phone route needs an E.164 number such as +6621234567"]
    if route.kind == "email" and not _EMAIL.match(route.target):
        return ["target: an email route needs an address such as help@example.com"]
    if route.kind not in ("phone", "email") and not _URL.match(route.target):
        return [f"target: a {route.kind} route needs an http(s) URL"]
    return []


def ui_strings(wording: Wording) -> dict[str, str]:
    """The script's own words for ``wording``'s language, overridden by the wording's ``ui``."""
    primary = wording.language.split("-")[0].lower()
    words = dict(UI_STRINGS["en"])
    words.update(UI_STRINGS.get(primary, {}))
    words.update(wording.ui)
    return words


def _text_json(state: BannerState, wording: Wording, page_url: str) -> dict[str, Any]:
    routes = [
        {
            "need": r.need, "kind": r.kind, "href": r.href, "target": r.target,
            "hours": r.hours, "label": wording.route_labels.get(r.need, r.label),
        }
        for r in state.routes
    ]  # fmt: skip
    resources = [
        {"title": wording.resource_titles.get(r.url, r.title), "url": r.url}
        for r in state.resources
    ]
    return {
        "language": wording.language, "title": wording.title, "headline": wording.headline,
        "body": wording.body, "ui": ui_strings(wording), "routes": routes,
        "resources": resources, "page": page_url,
    }  # fmt: skip


def state_to_json(state: BannerState, page_urls: Mapping[str, str]) -> dict[str, Any]:
    """banner.json: one fully resolved text per language so the script only picks one.

    ``page_urls`` maps each language to its incident page (missing: the default's page).
    """
    fg, bg = LEVEL_COLOURS[state.level]
    page_url = page_urls.get(state.language, "")
    return {
        "version": STATE_VERSION,
        "incident": state.incident,
        "status": state.status,
        "level": state.level,
        "exercise": state.exercise,
        "sent": state.sent.isoformat(timespec="seconds"),
        "updated": state.updated.isoformat(timespec="seconds"),
        "page": page_url,
        "colours": {"foreground": fg, "background": bg},
        "default_language": state.language,
        "texts": [
            _text_json(state, w, page_urls.get(w.language, page_url)) for w in state.wordings
        ],
    }


def state_from_json(data: Mapping[str, Any]) -> BannerState:
    """Rebuild the state from banner.json (the publisher reads its own file on take-down)."""
    try:
        return _state_from_json(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise PermanentChannelError(
            f"banner.json: field {exc} is missing or malformed; republish the banner with "
            "publish_banner instead of editing the file"
        ) from exc


def _state_from_json(data: Mapping[str, Any]) -> BannerState:
    if data.get("version") != STATE_VERSION:
        raise PermanentChannelError(
            f"banner.json version {data.get('version')!r} is not {STATE_VERSION}: "
            "republish the banner with this version of crisiscast"
        )
    default, *others = data["texts"]
    routes = tuple(
        Route(r["need"], r["label"], r["kind"], r["target"], r["hours"]) for r in default["routes"]
    )
    resources = tuple(Resource(r["title"], r["url"]) for r in default["resources"])
    translations = tuple(
        Wording(
            language=t["language"], title=t["title"], headline=t["headline"], body=t["body"],
            route_labels={r["need"]: r["label"] for r in t["routes"]},
            resource_titles={r["url"]: r["title"] for r in t["resources"]},
        )
        for t in others
    )  # fmt: skip
    return BannerState(
        incident=data["incident"], title=default["title"], headline=default["headline"],
        body=default["body"], level=data["level"], language=default["language"],
        routes=routes, resources=resources, status=data["status"], exercise=data["exercise"],
        sent=datetime.fromisoformat(data["sent"]), updated=datetime.fromisoformat(data["updated"]),
        translations=translations,
    )  # fmt: skip


def relative_luminance(colour: str) -> float:
    """WCAG 2.x relative luminance of a ``#rrggbb`` colour."""
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", colour):
        raise ValueError(f"colour {colour!r}: use #rrggbb")
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(foreground: str, background: str) -> float:
    """WCAG contrast ratio (1..21) between two ``#rrggbb`` colours; AA body text needs 4.5."""
    a, b = relative_luminance(foreground), relative_luminance(background)
    lighter, darker = max(a, b), min(a, b)
    return (lighter + 0.05) / (darker + 0.05)
