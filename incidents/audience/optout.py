"""Opt-outs: STOP, UNSUBSCRIBE and their equivalents, honoured at once and for good.

A reply is an opt-out only when the whole message is one of the words (after trimming
spaces and punctuation, any case): "please stop the water" is a cry for help, not an
opt-out. Carriers (and Twilio) treat the English words the same way.

Once recorded, an opt-out is permanent (``opt_outs`` row per address x channel): every later
broadcast suppresses that address in the ledger, and rows of running broadcasts that are
still queued are suppressed at once.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crisiscast.incidents.store.models import IN_FLIGHT, Contact, OptOut
from crisiscast.incidents.store.sqltypes import session_timestamp

# Per language, the whole-message words that mean "never message me again".
OPT_OUT_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "optout", "opt out", "revoke"}
    ),
    # หยุด stop; ยกเลิก cancel; เลิกรับ stop receiving; ยกเลิกการรับ(ข่าวสาร) unsubscribe
    "th": frozenset({"หยุด", "ยกเลิก", "เลิกรับ", "ยกเลิกการรับ", "ยกเลิกการรับข่าวสาร", "หยุดส่ง"}),
    # ຢຸດ stop; ຍົກເລີກ cancel; ເຊົາ quit; ເຊົາຮັບ stop receiving; ຢຸດສົ່ງ stop sending
    "lo": frozenset({"ຢຸດ", "ຍົກເລີກ", "ເຊົາ", "ເຊົາຮັບ", "ຢຸດສົ່ງ", "ຍົກເລີກການຮັບ"}),
    "fr": frozenset({"arret", "arrêt", "stop", "desabonner", "désabonner", "desinscrire"}),
    "es": frozenset({"baja", "alto", "parar", "cancelar", "stop"}),
}

OPTED_OUT = "opted out"


def _canonical(message: str) -> str:
    """NFC, case-folded, inner spaces collapsed, surrounding spaces/punctuation removed."""
    folded = unicodedata.normalize("NFC", message).casefold()
    words = " ".join(folded.split())
    return words.strip(" .!?,;:-_'\"()[]")


def opt_out_keyword(message: str, languages: Sequence[str]) -> str | None:
    """The opt-out word ``message`` consists of, or None. English words always count."""
    wanted = _canonical(message)
    if not wanted:
        return None
    for language in ("en", *languages):
        words = OPT_OUT_WORDS.get(language.split("-")[0], frozenset())
        if wanted in words:
            return wanted
    return None


def _insert_opt_out(
    session: Session, address: str, channel: str, keyword: str, now: datetime
) -> bool:
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(OptOut.__table__).on_conflict_do_nothing()
    values = {"address": address, "channel": channel, "keyword": keyword, "created_at": now}
    result = session.execute(statement, [values])
    return bool(getattr(result, "rowcount", 0))


def record_opt_out(
    session: Session, address: str, channel: str, keyword: str, *, now: datetime
) -> int:
    """Opt ``address`` out of ``channel`` for good; suppress its queued deliveries now.

    ``address`` is E.164 for sms, lower-case for email. Returns how many queued ledger rows
    were suppressed (rows already handed to a provider cannot be called back).
    """
    _insert_opt_out(session, address, channel, keyword, now)
    result = session.execute(
        text(
            "UPDATE deliveries SET status = 'suppressed', last_error = :reason, "
            "updated_at = :now WHERE incident_id IN (SELECT id FROM incidents "
            "WHERE status != 'closed') AND status = 'queued' AND channel = :channel "
            "AND address = :address AND (last_error IS NULL OR last_error != :in_flight)"
        ),
        {
            "reason": OPTED_OUT,
            "now": session_timestamp(session, now),
            "channel": channel,
            "address": address,
            "in_flight": IN_FLIGHT,
        },
    )
    return max(int(getattr(result, "rowcount", 0) or 0), 0)


def handle_reply(
    session: Session,
    channel: str,
    sender: str,
    message: str,
    languages: Sequence[str],
    *,
    now: datetime,
) -> str | None:
    """If ``message`` is an opt-out word, opt ``sender`` out of ``channel``; return the word.

    Call for every inbound SMS/email before triage: an opt-out is honoured, not triaged.
    """
    keyword = opt_out_keyword(message, languages)
    if keyword is None:
        return None
    address = sender.strip().lower() if channel == "email" else sender.strip()
    record_opt_out(session, address, channel, keyword, now=now)
    return keyword


def opted_out_addresses(session: Session, channel: str) -> set[str]:
    """Every address opted out of ``channel`` (the broadcast suppresses these)."""
    rows = session.scalars(select(OptOut.address).where(OptOut.channel == channel))
    return set(rows)


def opted_out_contacts(session: Session, contact_ids: Iterable[int]) -> set[int]:
    """Of ``contact_ids``, those opted out of everything (``contacts.opted_out_at`` set)."""
    ids = list(contact_ids)
    if not ids:
        return set()
    query = select(Contact.id).where(Contact.id.in_(ids), Contact.opted_out_at.is_not(None))
    return set(session.scalars(query))
