"""Pages to agents and short notes to customers: composed purely, sent through a channel.

A page tells an on-call agent, in at most two SMS segments, what they need to decide whether
to drop what they are doing: severity, the case number, the customer's own words in their
language (as many as fit), where they are if known, why triage thinks it matters, who
(masked: the full contact is on the console, not in an SMS that sits on a lock screen), a
signed link to the case (``case_link``) and the commands. What does not fit is
dropped in a fixed order (the why, the long command list, the contact, the link, the place)
before the words are cut; ``INFO 42`` sends all of it in up to four segments.

Pages stay GSM-7 whenever the customer's text allows: nothing of ours forces UCS-2 (no "…",
no "|"), and typographic quotes, dashes and ellipses in the customer's text are sent as their
plain GSM-7 forms. Thai and Lao words make a page UCS-2 (67 characters a segment), so fewer
parts fit; the segments are counted with ``channels.sms_segments``.

Every send is recorded on the incident's timeline with its outcome; a channel that fails is
recorded as a failed page (the sweep's no-ACK release then gives the case to someone else),
never swallowed.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisiscast.channels.base import Channel, ChannelKind, DeliveryResult, OutgoingMessage
from crisiscast.channels.masking import mask_address
from crisiscast.channels.registry import channel_for
from crisiscast.channels.sms_segments import (
    CONCATENATED,
    ELLIPSIS,
    Encoding,
    encoding_for,
    unit_cost,
)
from crisiscast.config import Settings
from crisiscast.errors import ChannelError, ConfigError, RetryableChannelError
from crisiscast.incidents.agents import case_link
from crisiscast.incidents.cases.conversation import add_entry
from crisiscast.incidents.store.database import add_event
from crisiscast.incidents.store.models import Agent, Case, Contact, InboundMessage
from crisiscast.playbook.schema import Playbook

log = logging.getLogger(__name__)

WHY_LIMIT = 90  # characters of triage reasons: the page should stay one or two segments
PAGE_WHY_LIMIT = 60  # on the page the words come first; INFO gives the whole why
PAGE_SEGMENTS = 2
INFO_SEGMENTS = 4
# Units of the customer's words a layout must leave room for, else a leaner one is tried
# (the why quotes the words; the link and the place are in INFO).
MIN_WORDS: Mapping[Encoding, int] = {"gsm7": 100, "ucs2": 40}
CUSTOMER_CHANNELS: Mapping[str, ChannelKind] = {"sms": "sms", "email": "email"}
# Typographic characters phones put in people's texts: each alone would make the page UCS-2.
PLAIN = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201c": '"', "\u201d": '"',
     "\u201e": '"', "\u2013": "-", "\u2014": "-", "\u2026": ELLIPSIS, "\u00a0": " "}
)  # fmt: skip

REMINDER: Mapping[str, str] = {
    "en": "About your case {case}: we are still waiting for your answer. Reply to this "
    "message so we can go on helping you.",
    "th": "เกี่ยวกับเคส {case} ของคุณ: เรายังรอคำตอบจากคุณอยู่ โปรดตอบกลับข้อความนี้เพื่อให้เราช่วยต่อได้",
    "lo": "ກ່ຽວກັບກໍລະນີ {case} ຂອງທ່ານ: ພວກເຮົາຍັງລໍຖ້າຄຳຕອບຈາກທ່ານ ກະລຸນາຕອບກັບຂໍ້ຄວາມນີ້",
}
CSAT_DEFAULT = "How well did we help you with case {case}? Reply 1 (poorly) to 5 (very well)."


def why_summary(why: Mapping[str, Any] | None, limit: int = WHY_LIMIT) -> str:
    """Triage's reasons in one short line (the newest raise first, when a follow-up raised it)."""
    if not why:
        return "no reason recorded"
    raised = why.get("raised")
    reasons = [*(raised.get("why", []) if isinstance(raised, Mapping) else []), *why.get("why", [])]
    text = "; ".join(str(r) for r in reasons) or f"decided by {why.get('decided_by', 'triage')}"
    return text if len(text) <= limit else text[: limit - len(ELLIPSIS)] + ELLIPSIS


def plain(text: str) -> str:
    """``text`` on one line, typographic punctuation as its GSM-7 form (the words stay)."""
    return " ".join(text.translate(PLAIN).split())


def units(text: str, encoding: Encoding | None = None) -> int:
    """What ``text`` costs in ``encoding`` (default: the one it needs), in septets or UTF-16
    code units."""
    kind = encoding or encoding_for(text)
    return sum(unit_cost(char, kind) for char in text)


def cut(text: str, room: int, encoding: Encoding) -> str:
    """``text`` in at most ``room`` units of ``encoding``, ending "..." when cut (at a space
    when one is near the end, else mid-word: Thai and Lao have no spaces between words);
    empty when not even that fits."""
    if units(text, encoding) <= room:
        return text
    room -= len(ELLIPSIS)
    if room <= 0:
        return ""
    used = end = 0
    for end, char in enumerate(text):  # noqa: B007 (end is where the room ran out)
        used += unit_cost(char, encoding)
        if used > room:
            break
    while end > 0 and unicodedata.category(text[end]).startswith("M"):
        end -= 1  # keep a Thai or Lao syllable whole: its vowel and tone marks follow it
    head = text[:end]
    space = head.rfind(" ")
    if space > end - 12:
        head = head[:space]
    return head.rstrip() + ELLIPSIS


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """What an agent is told about a case beyond the case row (read by :func:`case_facts`)."""

    words: tuple[str, ...] = ()  # the customer's messages, oldest first
    location: str | None = None
    contact: str | None = None  # unmasked: masked when composed
    link: str | None = None


def location_text(contact: Contact | None, why: Mapping[str, Any] | None) -> str | None:
    """Where the customer is, as known: the contact's coordinates and area codes, else a
    location triage found in the text (``why["location"]``)."""
    parts = []
    if contact is not None and contact.latitude is not None and contact.longitude is not None:
        parts.append(f"{contact.latitude:.5f},{contact.longitude:.5f}")
    if contact is not None and contact.area_codes:
        parts.append(" ".join(contact.area_codes))
    found = (why or {}).get("location")
    if isinstance(found, str) and found.strip():
        parts.append(plain(found))
    return " ".join(parts) or None


def _head(case: Case, incident_ref: str, repage: bool) -> str:
    head = f"{'STILL WAITING: ' if repage else ''}{case.severity.upper()} case {case.id}"
    return f"{head} {incident_ref}{f' ({case.category})' if case.category else ''}"


def _commands(case_id: int, form: str) -> str:
    if form == "full":
        return (f"Reply ACK {case_id}, DONE {case_id} note, ASK {case_id} question, "
                f"INFO {case_id}, ESC {case_id}, PASS {case_id}, HELP")  # fmt: skip
    if form == "short":
        return f"Reply ACK {case_id}, ASK {case_id} question, INFO {case_id} or HELP"
    return f"ACK {case_id}, INFO {case_id}, HELP"


# Page layouts, richest first: (why, where, contact, link, commands). The first that leaves
# room for MIN_WORDS of the customer's words (or all of them) is used.
_LAYOUTS = (
    (True, True, True, True, "full"),
    (True, True, True, True, "short"),
    (False, True, True, True, "short"),
    (False, True, False, True, "short"),
    (False, True, False, True, "tiny"),
    (False, True, False, False, "tiny"),
    (False, False, False, False, "tiny"),
)


def fit(lines: Sequence[str], words: str, at: int, segments: int, minimum: int) -> str | None:
    """``lines`` with the quoted ``words`` as line ``at``, the words cut so the text fits in
    ``segments``; None when fewer than ``minimum`` units of them would fit."""
    whole = "\n".join([*lines[:at], f'"{words}"', *lines[at:]] if words else lines)
    encoding = encoding_for(whole)
    limit = CONCATENATED[encoding] * segments
    if units(whole, encoding) <= limit:
        return whole
    bare = units("\n".join(lines), encoding)
    room = limit - bare - 3  # two quotes and a newline
    said = cut(words, room, encoding) if room >= minimum else ""
    if said:
        return "\n".join([*lines[:at], f'"{said}"', *lines[at:]])
    return None if minimum or bare > limit else "\n".join(lines)


def compose_page(
    case: Case,
    *,
    incident_ref: str,
    contact: str | None,
    repage: bool = False,
    words: Sequence[str] = (),
    location: str | None = None,
    link: str | None = None,
    segments: int = PAGE_SEGMENTS,
) -> str:
    """The page SMS for a case (pure), within ``segments``: severity, number, the customer's
    words, where, why, masked contact, link, commands (see the module docstring)."""
    said = plain(" / ".join(words))
    for with_why, with_where, with_contact, with_link, form in _LAYOUTS:
        lines = [_head(case, incident_ref, repage)]
        if with_where and location:
            lines.append(f"Where: {location}")
        if with_why:
            lines.append(f"Why: {plain(why_summary(case.why, PAGE_WHY_LIMIT))}")
        if with_contact:
            lines.append(f"Contact: {mask_address(contact)} via {case.channel}")
        if with_link and link:
            lines.append(link)
        lines.append(_commands(case.id, form))
        page = fit(lines, said, 1, segments, min(MIN_WORDS[encoding_for(said)], len(said)))
        if page is not None:
            return page
    lines = [_head(case, incident_ref, repage), _commands(case.id, "tiny")]
    return fit(lines, said, 1, segments, 0) or "\n".join(lines)


def compose_info(case: Case, *, incident_ref: str, facts: CaseFacts, status_line: str) -> str:
    """``INFO 42``'s answer (pure): the page's facts, the status and times, and the why, in at
    most INFO_SEGMENTS segments; the customer's words come first and get the most room."""
    said = plain(" / ".join(facts.words))
    for why_limit in (200, WHY_LIMIT, 0):
        lines = [
            _head(case, incident_ref, repage=False),
            status_line,
            f"Where: {facts.location or 'not known'}",
            f"Contact: {mask_address(facts.contact)} via {case.channel}",
        ]
        if facts.link:
            lines.append(facts.link)
        if why_limit:
            lines.append(f"Why: {plain(why_summary(case.why, why_limit))}")
        minimum = min(2 * MIN_WORDS[encoding_for(said)], len(said))
        page = fit(lines, said, 1, INFO_SEGMENTS, minimum if why_limit else 0)
        if page is not None:
            return page
    return "\n".join(lines)


def span(delta: timedelta) -> str:
    """A duration as agents read it: ``7 min``, ``2 h 5 min`` (never negative)."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


def status_line(case: Case, now: datetime) -> str:
    """The case's status and clocks: how long open, how long waiting on the customer, and
    the next SLA due time (in or overdue by)."""
    parts = [f"Status: {case.status}", f"open {span(now - _aware(case.opened_at, now))}"]
    if case.paused_at is not None:
        parts.append(f"waiting on the customer {span(now - _aware(case.paused_at, now))}")
    if case.first_responded_at is None:
        due, what = case.first_response_due, "first response"
    else:
        due, what = case.resolution_due, "resolution"
    if due is not None and case.resolved_at is None and case.paused_at is None:
        left = _aware(due, now) - now
        late = left < timedelta(0)
        parts.append(f"{what} {'overdue by' if late else 'due in'} {span(abs(left))}")
    return "; ".join(parts)


def _aware(at: datetime, now: datetime) -> datetime:
    """``at`` comparable with ``now`` (SQLite gives naive datetimes back, in UTC)."""
    return at.replace(tzinfo=now.tzinfo) if at.tzinfo is None and now.tzinfo else at


def reminder_text(case_id: int, language: str | None) -> str:
    """The nudge to a customer whose case has waited on them (their language, else English)."""
    table = REMINDER.get((language or "en").split("-")[0], REMINDER["en"])
    return table.format(case=case_id)


def csat_text(playbook: Playbook, case_id: int, language: str | None) -> str:
    """The satisfaction question of the playbook's stand-down, in the customer's language."""
    question = playbook.stand_down.csat_question if playbook.stand_down else None
    if question is None:
        return CSAT_DEFAULT.format(case=case_id)
    lang = language if language in question else playbook.default_language
    return question.get(lang) or next(iter(question.values()))


def case_contact(session: Session, case: Case) -> str | None:
    """The address to reach a case's customer on its own channel (contact, else last sender)."""
    contact = session.get(Contact, case.contact_id) if case.contact_id else None
    if contact is not None:
        address = contact.email if case.channel == "email" else contact.phone
        if address:
            return address
    query = (
        select(InboundMessage.sender)
        .where(InboundMessage.case_id == case.id)
        .order_by(InboundMessage.received_at.desc(), InboundMessage.id.desc())
        .limit(1)
    )
    return session.scalar(query)


def customer_words(session: Session, case_id: int) -> tuple[str, ...]:
    """The customer's messages on a case, oldest first (what intake linked to it)."""
    query = (
        select(InboundMessage.body)
        .where(InboundMessage.case_id == case_id)
        .order_by(InboundMessage.received_at, InboundMessage.id)
    )
    return tuple(body for body in session.scalars(query) if body.strip())


def case_facts(session: Session, settings: Settings, case: Case, agent: Agent) -> CaseFacts:
    """The customer's words, where they are, their address and ``agent``'s signed link."""
    contact = session.get(Contact, case.contact_id) if case.contact_id else None
    try:
        token = case_link.sign(case_link.link_secret(settings), case.id, agent.id)
    except ConfigError as exc:  # a page without its link still goes out
        log.warning("case %s: page sent without a case link: %s", case.id, exc)
        link = None
    else:
        link = case_link.case_url(settings.public_url, token)
    return CaseFacts(
        words=customer_words(session, case.id),
        location=location_text(contact, case.why),
        contact=case_contact(session, case),
        link=link,
    )


def page_text(
    session: Session,
    settings: Settings,
    case: Case,
    agent: Agent,
    *,
    incident_ref: str,
    repage: bool = False,
) -> str:
    """The page for ``case`` as ``agent`` gets it (with their own signed link)."""
    facts = case_facts(session, settings, case, agent)
    return compose_page(
        case,
        incident_ref=incident_ref,
        contact=facts.contact,
        repage=repage,
        words=facts.words,
        location=facts.location,
        link=facts.link,
    )


@dataclass
class Senders:
    """Channels built on first use (outbox without credentials), closed together at the end."""

    settings: Settings
    outbox_dir: Path
    _open: dict[ChannelKind, Channel] = field(default_factory=dict)

    def get(self, kind: ChannelKind) -> Channel:
        if kind not in self._open:
            self._open[kind] = channel_for(kind, self.settings, outbox_dir=self.outbox_dir)
        return self._open[kind]

    def close(self) -> None:
        for channel in self._open.values():
            channel.close()
        self._open.clear()


def send_one(channel: Channel, message: OutgoingMessage) -> DeliveryResult:
    """Send one message; a whole-channel failure becomes a failed result with its reason."""
    try:
        return channel.send([message])[0]
    except ChannelError as exc:  # recorded by the caller, with the reason, never dropped
        retryable = isinstance(exc, RetryableChannelError)
        return DeliveryResult.failed(message.key, str(exc), retryable=retryable)


def page_agent(
    session: Session,
    senders: Senders,
    case: Case,
    agent: Agent,
    *,
    incident_ref: str,
    now: datetime,
    repage: bool = False,
) -> DeliveryResult:
    """Send the page for ``case`` to ``agent`` by SMS and record the outcome on the timeline."""
    key = f"page:{case.id}:{agent.id}:{now.isoformat()}"
    text = page_text(
        session, senders.settings, case, agent, incident_ref=incident_ref, repage=repage
    )
    if agent.phone is None:
        result = DeliveryResult.suppressed(key, "agent has no phone: reachable on the web queue")
    else:
        result = send_one(senders.get("sms"), OutgoingMessage(key, agent.phone, "en", text))
    if case.incident_id is not None:
        kind = "agent_paged" if result.status == "sent" else "page_failed"
        add_event(
            session,
            case.incident_id,
            kind,
            f"case {case.id} {'re-' if repage else ''}paged to agent {agent.id}: "
            f"{result.status}{f' ({result.error})' if result.error else ''}",
            {
                "case_id": case.id,
                "agent_id": agent.id,
                "status": result.status,
                "repage": repage,
                "provider_id": result.provider_id,
            },
            now=now,
        )
    data = {"agent_id": agent.id, "status": result.status, "repage": repage}
    add_entry(session, case.id, "page", text, author="crisiscast", now=now, channel="sms",
              data=data)  # fmt: skip
    return result


def message_customer(
    session: Session, senders: Senders, case: Case, text: str, *, key: str, subject: str
) -> DeliveryResult:
    """Send ``text`` to the case's customer on the case's channel (SMS or email only)."""
    kind = CUSTOMER_CHANNELS.get(case.channel)
    address = case_contact(session, case)
    if kind is None or address is None:
        why = "no address" if address is None else f"channel {case.channel} takes no direct note"
        return DeliveryResult.suppressed(key, why)
    message = OutgoingMessage(
        key, address, case.language or "en", text, subject=subject if kind == "email" else None
    )
    return send_one(senders.get(kind), message)
