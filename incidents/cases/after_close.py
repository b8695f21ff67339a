"""Replies that arrive after an incident closed: the satisfaction answer, and everything else.

Stand-down asks each customer whose case was resolved how well we helped (``csat_sent`` on the
timeline names the case). Their "5" comes in after the incident closed, when intake's usual
matching (the *active* incident that reached the address, else the newest active one) would
open a low case in some other incident. So, before that fallback, intake asks
:func:`closed_matches`: is this sender's newest case in an incident stood down within
:data:`REPLY_WINDOW`, or (no case) did such an incident's broadcast reach them (the ledger's
keys, as intake matches active incidents)? If so, the message belongs to that incident, and
:func:`answer` decides:

- a bare score (``5``, ``๕``, ``໕``, ``4/5``) on a case that was asked is recorded as CSAT on
  that case (``csat_score``, ``csat_at``, an ``answer`` entry, a ``csat_response`` event);
- a message from someone whose case there is still open, or that triage finds urgent or high,
  takes intake's normal path on that incident (it joins the open case, or opens one the SLA
  sweep still watches after the closure);
- anything else ("thanks, all fine now") is kept on the customer's last case there (or on the
  incident, for someone who had none) and answered with a short note, in their language, that
  the incident has ended.

Only a message that is nothing but a score counts as one: "5 people trapped" is not a rating.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from crisiscast.incidents.broadcast.ledger import contact_key, delivery_key
from crisiscast.incidents.cases.conversation import add_entry
from crisiscast.incidents.cases.opening import CLOSED_STATUSES
from crisiscast.incidents.store.database import add_event
from crisiscast.incidents.store.models import (
    Announcement,
    Case,
    Contact,
    Delivery,
    InboundMessage,
    Incident,
    IncidentStatus,
    TimelineEvent,
)

REPLY_WINDOW = timedelta(days=14)  # after this, a reply is about something new
CSAT_ASKED_EVENT = "csat_sent"  # written by stand-down's ask_csat: data {"case_id": n}
CSAT_RESPONSE_EVENT = "csat_response"  # what the report reads: data {"score": n, "case_id": n}
REPLY_AFTER_CLOSE_EVENT = "reply_after_close"
CHUNK = 500

_DIGITS = str.maketrans("๑๒๓๔๕໑໒໓໔໕", "1234512345")
_SCORE = re.compile(r"([1-5])\s*(?:/\s*5|out of 5|จาก 5)?[\s.!]*")

THANKS = {
    "en": "Thank you: we recorded your rating of {score} for case {case}.",
    "th": "ขอบคุณ เราบันทึกคะแนน {score} สำหรับเคส {case} แล้ว",
    "lo": "ຂອບໃຈ: ພວກເຮົາບັນທຶກຄະແນນ {score} ສຳລັບກໍລະນີ {case} ແລ້ວ",
}
ENDED = {
    "en": "{ref} has ended. We added your message to case {case}. If you need help now, "
    "call your local emergency number.",
    "th": "{ref} สิ้นสุดแล้ว เราเพิ่มข้อความของคุณในเคส {case} แล้ว "
    "หากต้องการความช่วยเหลือตอนนี้ โทรเบอร์ฉุกเฉินในพื้นที่ของคุณ",
    "lo": "{ref} ໄດ້ສິ້ນສຸດແລ້ວ ພວກເຮົາເພີ່ມຂໍ້ຄວາມຂອງທ່ານໃສ່ກໍລະນີ {case} ແລ້ວ "
    "ຖ້າຕ້ອງການຄວາມຊ່ວຍເຫຼືອດຽວນີ້ ໂທຫາເບີສຸກເສີນໃນທ້ອງຖິ່ນ",
}
ENDED_NO_CASE = {
    "en": "{ref} has ended. Thank you for your message. If you need help now, call your local "
    "emergency number.",
    "th": "{ref} สิ้นสุดแล้ว ขอบคุณสำหรับข้อความ หากต้องการความช่วยเหลือตอนนี้ โทรเบอร์ฉุกเฉินในพื้นที่ของคุณ",
    "lo": "{ref} ໄດ້ສິ້ນສຸດແລ້ວ ຂອບໃຈສຳລັບຂໍ້ຄວາມ ຖ້າຕ້ອງການຄວາມຊ່ວຍເຫຼືອດຽວນີ້ ໂທຫາເບີສຸກເສີນໃນທ້ອງຖິ່ນ",
}


@dataclass(frozen=True, slots=True)
class ClosedMatch:
    """A sender's latest case in a recently stood-down incident (plain values)."""

    incident_id: int
    playbook_path: str
    languages: tuple[str, ...]
    case_id: int | None  # their newest case there (None: the broadcast reached them, no case)
    language: str | None  # that case's language
    open_case_id: int | None  # their newest case there still open (kept at stand-down)
    csat_case_id: int | None  # their newest case there that was asked the CSAT question

    @property
    def ref(self) -> str:
        return f"INC-{self.incident_id}"


@dataclass(frozen=True, slots=True)
class Answer:
    """What :func:`answer` did: ``outcome`` "csat" or "closed", and the text to send back."""

    outcome: Literal["csat", "closed"]
    case_id: int | None
    language: str
    reply: str


def score(text: str) -> int | None:
    """The 1-5 rating a message is, if it is nothing but one (Thai and Lao digits too)."""
    match = _SCORE.fullmatch(text.strip().translate(_DIGITS).lower())
    return int(match.group(1)) if match else None


def _language(language: str | None) -> str:
    base = (language or "en").split("-")[0]
    return base if base in THANKS else "en"


def closed_matches(
    session: Session, senders: Collection[tuple[str, str]], now: datetime
) -> dict[tuple[str, str], ClosedMatch]:
    """(channel, sender) -> their case in an incident stood down within the window, if any.

    Only when that is the sender's newest case: someone who wrote since about an active
    incident is talking about that one.
    """
    wanted = set(senders)
    addresses = sorted({sender for _, sender in wanted})
    rows = []
    ended = func.coalesce(Incident.closed_at, Incident.stood_down_at)
    recent = or_(Incident.status == IncidentStatus.ACTIVE, ended >= now - REPLY_WINDOW)
    for start in range(0, len(addresses), CHUNK):
        query = (
            select(InboundMessage.channel, InboundMessage.sender, Case.id, Case.language,
                   Case.status, Case.resolved_at, Incident.id.label("incident_id"),
                   Incident.status.label("incident_status"), Incident.playbook_path,
                   Incident.languages)
            .join(Case, InboundMessage.case_id == Case.id)
            .join(Incident, Case.incident_id == Incident.id)
            .where(InboundMessage.sender.in_(addresses[start : start + CHUNK]), recent)
            .order_by(Case.id)
        )  # fmt: skip
        rows += [row for row in session.execute(query) if (row.channel, row.sender) in wanted]
    newest = {(row.channel, row.sender): row for row in rows}  # ordered: the newest case wins
    ended_rows = [row for row in rows if newest[(row.channel, row.sender)].incident_id
                  == row.incident_id and row.incident_status != IncidentStatus.ACTIVE]  # fmt: skip
    reached = _reached(session, wanted - set(newest), now)
    if not ended_rows:
        return reached
    asked = _asked(session, {row.incident_id for row in ended_rows})
    found: dict[tuple[str, str], ClosedMatch] = {}
    for row in ended_rows:
        key, before = (row.channel, row.sender), found.get((row.channel, row.sender))
        is_open = row.resolved_at is None and row.status not in CLOSED_STATUSES
        found[key] = ClosedMatch(
            row.incident_id, row.playbook_path, tuple(row.languages or ()), row.id, row.language,
            row.id if is_open else (before.open_case_id if before else None),
            row.id if row.id in asked else (before.csat_case_id if before else None),
        )  # fmt: skip
    return {**reached, **found}


def _reached(
    session: Session, senders: Collection[tuple[str, str]], now: datetime
) -> dict[tuple[str, str], ClosedMatch]:
    """Senders with no case whom a recently stood-down incident's broadcast reached (the
    newest such incident), found by the ledger's unique keys: an index lookup per key."""
    if not senders:
        return {}
    ended = func.coalesce(Incident.closed_at, Incident.stood_down_at)
    staged = session.execute(
        select(Announcement.id, Announcement.channel, Incident.id.label("incident_id"),
               Incident.playbook_path, Incident.languages)
        .join(Incident, Announcement.incident_id == Incident.id)
        .where(Incident.status != IncidentStatus.ACTIVE, ended >= now - REPLY_WINDOW)
    ).all()  # fmt: skip
    if not staged:
        return {}
    addresses = sorted({sender for _, sender in senders})
    known: dict[str, int] = {}
    for start in range(0, len(addresses), CHUNK):
        chunk = addresses[start : start + CHUNK]
        query = select(Contact.id, Contact.phone, Contact.email).where(
            or_(Contact.phone.in_(chunk), Contact.email.in_(chunk))
        )
        for contact in session.execute(query):
            for address in (contact.phone, contact.email):
                if address in chunk:
                    known[address] = contact.id
    candidates: dict[str, tuple[Any, tuple[str, str]]] = {}
    for who in senders:
        channel, sender = who
        for row in staged:
            if row.channel != channel:
                continue
            candidates[delivery_key(row.incident_id, row.id, channel, sender)] = (row, who)
            if sender in known:
                key = contact_key(row.incident_id, row.id, channel, known[sender])
                candidates[key] = (row, who)
    found: dict[tuple[str, str], ClosedMatch] = {}
    keys = list(candidates)
    for start in range(0, len(keys), CHUNK):
        hits = select(Delivery.idempotency_key).where(
            Delivery.idempotency_key.in_(keys[start : start + CHUNK])
        )
        for key in session.scalars(hits):
            row, who = candidates[key]
            if who not in found or found[who].incident_id < row.incident_id:
                languages = tuple(row.languages or ())
                found[who] = ClosedMatch(
                    row.incident_id, row.playbook_path, languages, None, None, None, None
                )
    return found


def _asked(session: Session, incident_ids: Collection[int]) -> set[int]:
    """Cases that were asked the satisfaction question (stand-down's ``csat_sent`` events)."""
    query = select(TimelineEvent.data).where(
        TimelineEvent.incident_id.in_(sorted(incident_ids)),
        TimelineEvent.kind == CSAT_ASKED_EVENT,
    )
    return {int(data["case_id"]) for data in session.scalars(query) if data}


def record_csat(
    session: Session, case: Case, rating: int, *, text: str, channel: str, now: datetime
) -> None:
    """Store the customer's rating on the case, its conversation and its incident's timeline."""
    if not 1 <= rating <= 5:
        raise ValueError(f"a CSAT rating is 1 to 5, not {rating}")
    case.csat_score, case.csat_at = rating, now
    add_entry(session, case.id, "answer", text, author="customer", now=now, channel=channel,
              data={"score": rating, "csat": True})  # fmt: skip
    if case.incident_id is not None:
        add_event(session, case.incident_id, CSAT_RESPONSE_EVENT,
                  f"case {case.id}: satisfaction {rating} of 5", {"score": rating,
                                                                 "case_id": case.id},
                  now=now)  # fmt: skip


def answer(
    session: Session,
    match: ClosedMatch,
    *,
    message_id: int,
    text: str,
    channel: str,
    severity: str,
    pressing: Sequence[str],
    language: str | None,
    now: datetime,
) -> Answer | None:
    """Handle a reply matched to a closed incident; None: intake's normal path takes it.

    ``severity`` is triage's verdict, ``pressing`` the severities that still need a person
    (the playbook's two most severe levels), ``language`` what triage detected.
    """
    rating = score(text)
    if rating is not None and match.csat_case_id is not None:
        case = session.get_one(Case, match.csat_case_id)
        record_csat(session, case, rating, text=text, channel=channel, now=now)
        _link(session, message_id, case.id)
        lang = _language(case.language or language)
        return Answer("csat", case.id, lang, THANKS[lang].format(score=rating, case=case.id))
    if match.open_case_id is not None or severity in pressing:
        return None
    lang = _language(match.language or language)
    if match.case_id is None:
        add_event(session, match.incident_id, REPLY_AFTER_CLOSE_EVENT,
                  f"message {message_id} after the closure (no case: the broadcast reached them)",
                  {"message": message_id, "severity": severity}, now=now)  # fmt: skip
        return Answer("closed", None, lang, ENDED_NO_CASE[lang].format(ref=match.ref))
    _link(session, message_id, match.case_id)
    add_event(session, match.incident_id, REPLY_AFTER_CLOSE_EVENT,
              f"message {message_id} after the closure kept on case {match.case_id}",
              {"case_id": match.case_id, "message": message_id, "severity": severity},
              now=now)  # fmt: skip
    return Answer("closed", match.case_id, lang,
                  ENDED[lang].format(ref=match.ref, case=match.case_id))  # fmt: skip


def _link(session: Session, message_id: int, case_id: int) -> None:
    session.execute(
        update(InboundMessage).where(InboundMessage.id == message_id).values(case_id=case_id)
    )
