"""The automatic acknowledgement of a reply: pure, per severity and language.

It tells the person their message arrived (with the case number agents use), the best route
for their need, the triage questions their message left open, and (where the playbook has them)
two options to stop the bleeding, reassurance and useful links. Out of a route's hours it says
so, and points to the emergency line when that one is open.

Two forms: ``short`` for SMS and social (each extra Thai or Lao SMS segment costs money and
arrives later, so it carries the actionable parts: route, the first open questions, the two
options for the severe levels or one link for the others) and ``long`` for email and the web
form (everything, reassurance included).

Loops with auto-responders are cut twice: at most one auto-reply per case per window
(``should_auto_reply``), and never one to a message that says it was sent by a machine
(``is_automated``, RFC 3834 headers).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Literal

from crisiscast.incidents.intake.triage import TriageResult
from crisiscast.playbook.schema import Playbook, Resource, Route

Form = Literal["short", "long"]
DEFAULT_WINDOW = timedelta(hours=1)
SHORT_QUESTIONS = 2
EMERGENCY = "emergency"
# Categories whose need has a route under another name (a route named like the category wins).
NEED_FOR_CATEGORY = {
    "rescue": EMERGENCY,
    "medical": EMERGENCY,
    "aid_claim": "account",
    "supplies": "account",
    "billing": "account",
    "security": "account",
}

PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "received": "We received your message (case {case}).",
        "call": "call {target}",
        "out_of_hours": "This route is staffed {hours}; we will answer as soon as it opens.",
        "emergency": "If someone is in danger, call {target} (24/7).",
        "questions": "To help you faster, please reply with:",
        "options": "Two ways forward now:",
        "resources": "Useful links:",
        "opted_out": "You are unsubscribed and will receive no more messages from us.",
        "thanks_title": "Message received",
        "thanks": "Thank you. Your message reached our team.",
    },
    "th": {
        "received": "เราได้รับข้อความของคุณแล้ว (เคส {case})",
        "call": "โทร {target}",
        "out_of_hours": "ช่องทางนี้เปิดให้บริการ {hours} เราจะตอบกลับทันทีที่เปิด",
        "emergency": "หากมีผู้ตกอยู่ในอันตราย โทร {target} (ตลอด 24 ชั่วโมง)",
        "questions": "เพื่อให้เราช่วยได้เร็วขึ้น โปรดตอบกลับ:",
        "options": "สองทางเลือกตอนนี้:",
        "resources": "ลิงก์ที่เป็นประโยชน์:",
        "opted_out": "คุณยกเลิกการรับข่าวสารแล้ว เราจะไม่ส่งข้อความถึงคุณอีก",
        "thanks_title": "ได้รับข้อความแล้ว",
        "thanks": "ขอบคุณ ข้อความของคุณถึงทีมงานของเราแล้ว",
    },
    "lo": {
        "received": "ພວກເຮົາໄດ້ຮັບຂໍ້ຄວາມຂອງທ່ານແລ້ວ (ກໍລະນີ {case})",
        "call": "ໂທ {target}",
        "out_of_hours": "ຊ່ອງທາງນີ້ເປີດໃຫ້ບໍລິການ {hours} ພວກເຮົາຈະຕອບກັບທັນທີທີ່ເປີດ",
        "emergency": "ຖ້າມີຄົນຕົກຢູ່ໃນອັນຕະລາຍ ໂທ {target} (ຕະຫຼອດ 24 ຊົ່ວໂມງ)",
        "questions": "ເພື່ອໃຫ້ພວກເຮົາຊ່ວຍໄດ້ໄວຂຶ້ນ ກະລຸນາຕອບກັບ:",
        "options": "ສອງທາງເລືອກຕອນນີ້:",
        "resources": "ລິ້ງທີ່ເປັນປະໂຫຍດ:",
        "opted_out": "ທ່ານໄດ້ຍົກເລີກການຮັບຂ່າວສານແລ້ວ ພວກເຮົາຈະບໍ່ສົ່ງຂໍ້ຄວາມຫາທ່ານອີກ",
        "thanks_title": "ໄດ້ຮັບຂໍ້ຄວາມແລ້ວ",
        "thanks": "ຂອບໃຈ ຂໍ້ຄວາມຂອງທ່ານຮອດທີມງານຂອງພວກເຮົາແລ້ວ",
    },
}

_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_ALWAYS = frozenset({"24/7", "24x7", "always"})


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """The text to send back, its language, and the route it recommends (for the timeline)."""

    text: str
    language: str
    route_need: str | None
    out_of_hours: bool


def phrase(language: str, key: str, **values: str) -> str:
    """A fixed phrase in ``language`` (English when crisiscast has no translation of it)."""
    table = PHRASES.get(language.split("-")[0], PHRASES["en"])
    return table.get(key, PHRASES["en"][key]).format(**values)


def reply_language(playbook: Playbook, detected: str) -> str:
    """The detected language when the playbook speaks it, else the playbook's first one."""
    return detected if detected in playbook.languages else playbook.default_language


def is_open(hours: str, at: time) -> bool:
    """Whether a route with ``hours`` ("24/7", "07:00-22:00", may wrap midnight) is open at ``at``.

    Hours in any other form cannot be checked, so they count as open: claiming a line is
    closed when it may not be would send people away from help.
    """
    if hours.strip().lower() in _ALWAYS:
        return True
    match = _HOURS.match(hours)
    if match is None:
        return True
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = time(h1 % 24, m1), time(h2 % 24, m2)
    if start <= end:
        return start <= at < end
    return at >= start or at < end


def best_route(playbook: Playbook, result: TriageResult) -> Route:
    """The route for this reply: the emergency line for the most severe level, else the route
    named for its category (or that category's need), else messaging an agent, else the first."""
    by_need = {route.need: route for route in playbook.routes}
    if result.severity == playbook.severity.levels[0].name and EMERGENCY in by_need:
        return by_need[EMERGENCY]
    for need in (result.category, result.subcategory, NEED_FOR_CATEGORY.get(result.category)):
        if need and need in by_need:
            return by_need[need]
    agent = next((r for r in playbook.routes if r.channel == "agent_message"), None)
    return agent or playbook.routes[0]


def _route_line(route: Route, language: str) -> str:
    label = route.label.get(language) or next(iter(route.label.values()))
    target = route.target
    if route.channel == "phone":
        target = phrase(language, "call", target=route.target)
    hours = "" if route.hours.strip().lower() in _ALWAYS else f" ({route.hours})"
    return f"{label}: {target}{hours}"


def _severe(playbook: Playbook, severity: str) -> bool:
    """The more severe half of the playbook's levels (urgent and high in a four-level scale)."""
    names = [level.name for level in playbook.severity.levels]
    return severity in names and names.index(severity) < max(len(names) // 2, 1)


def _out_of_hours(playbook: Playbook, route: Route, language: str, at: time) -> list[str]:
    lines = [phrase(language, "out_of_hours", hours=route.hours)]
    emergency = next((r for r in playbook.routes if r.need == EMERGENCY), None)
    if emergency is not None and emergency is not route and is_open(emergency.hours, at):
        lines.append(phrase(language, "emergency", target=emergency.target))
    return lines


def _bleeding_first(playbook: Playbook, question_ids: set[str]) -> list[str]:
    """Open questions, the most urgent first: a question ranks by the most urgent signal that
    answers it ("is anyone injured?" before "which loss hurts your income?"); ties keep the
    playbook's order."""
    severity = playbook.severity
    urgency = {s.name: severity.urgency.index(s.urgency) for s in severity.signals if s.urgency}
    worst = len(severity.urgency)
    ranked = [
        (min((urgency.get(name, worst) for name in q.answered_by), default=worst), n, q.id)
        for n, q in enumerate(playbook.triage_questions)
        if q.id in question_ids
    ]
    return [qid for _, _, qid in sorted(ranked)]


def _questions(
    playbook: Playbook, unanswered: Sequence[str], language: str, limit: int
) -> list[str]:
    texts = {q.id: q.text[language] for q in playbook.triage_questions}
    ordered = _bleeding_first(playbook, set(unanswered))
    if not ordered:
        return []
    return [phrase(language, "questions"), *(f"- {texts[q]}" for q in ordered[:limit])]


def _resources(resources: Sequence[Resource], language: str, limit: int) -> list[str]:
    if not resources:
        return []
    # The knowledge base answers most questions; it goes first when a short form has room for one.
    ordered = sorted(resources, key=lambda r: r.kind != "knowledge_base")
    chosen = ordered[:limit]
    return [phrase(language, "resources"), *(f"- {r.title[language]}: {r.url}" for r in chosen)]


def compose(
    playbook: Playbook,
    result: TriageResult,
    *,
    case_id: int,
    local_time: time,
    form: Form,
) -> Acknowledgement:
    """The acknowledgement for case ``case_id`` at ``local_time`` (the routes' hours' clock)."""
    language = reply_language(playbook, result.language)
    route = best_route(playbook, result)
    closed = not is_open(route.hours, local_time)
    severe = _severe(playbook, result.severity)
    short = form == "short"
    lines = [phrase(language, "received", case=str(case_id)), _route_line(route, language)]
    if closed:
        lines += _out_of_hours(playbook, route, language, local_time)
    limit = SHORT_QUESTIONS if short else len(playbook.triage_questions)
    lines += _questions(playbook, result.unanswered, language, limit)
    if playbook.reassurance and not short:
        lines.append(playbook.reassurance[language])
    if playbook.two_options and (severe or not short):
        lines.append(phrase(language, "options"))
        lines += [f"{n}) {o[language]}" for n, o in enumerate(playbook.two_options, 1)]
    if not (short and severe):
        lines += _resources(playbook.resources, language, 1 if short else len(playbook.resources))
    return Acknowledgement("\n".join(lines), language, route.need, closed)


def opt_out_confirmation(language: str) -> str:
    """What a person who sent STOP (or its equivalent) is told, in their language."""
    return phrase(language, "opted_out")


def should_auto_reply(
    last_auto_reply_at: datetime | None, now: datetime, window: timedelta = DEFAULT_WINDOW
) -> bool:
    """At most one auto-reply per case per ``window``: an auto-responder on the other side
    answering our answer would otherwise make a loop."""
    return last_auto_reply_at is None or now - last_auto_reply_at >= window


_AUTO_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})


def is_automated(headers: Mapping[str, str]) -> bool:
    """True for mail that says a machine sent it (RFC 3834 ``Auto-Submitted`` and the usual
    vacation-reply headers): such mail is stored and triaged but never auto-answered."""
    lowered = {k.lower(): v.strip().lower() for k, v in headers.items()}
    if lowered.get("auto-submitted", "no") != "no":
        return True
    if lowered.get("precedence") in _AUTO_PRECEDENCE:
        return True
    return any(k in lowered for k in ("x-autoreply", "x-autorespond", "x-auto-response-suppress"))
