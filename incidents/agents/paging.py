"""Pages to agents and short notes to customers: composed purely, sent through a channel.

A page tells an on-call agent, in one SMS, what they need to decide whether to drop what they
are doing: severity, the case number, why triage thinks it matters, who (masked: the full
contact is on the agent queue, not in an SMS that sits on a lock screen), and the commands.
Every send is recorded on the incident's timeline with its outcome; a channel that fails is
recorded as a failed page (the sweep's no-ACK release then gives the case to someone else),
never swallowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisiscast.channels.base import Channel, ChannelKind, DeliveryResult, OutgoingMessage
from crisiscast.channels.masking import mask_address
from crisiscast.channels.registry import channel_for
from crisiscast.config import Settings
from crisiscast.errors import ChannelError, RetryableChannelError
from crisiscast.incidents.store.database import add_event
from crisiscast.incidents.store.models import Agent, Case, Contact, InboundMessage
from crisiscast.playbook.schema import Playbook

WHY_LIMIT = 90  # characters of triage reasons: the page should stay one or two segments
CUSTOMER_CHANNELS: Mapping[str, ChannelKind] = {"sms": "sms", "email": "email"}

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
    return text if len(text) <= limit else text[: limit - 1] + "…"


def compose_page(
    case: Case, *, incident_ref: str, contact: str | None, repage: bool = False
) -> str:
    """The page SMS for a case (pure): severity, number, why, masked contact, commands."""
    head = f"{'STILL WAITING: ' if repage else ''}{case.severity.upper()} case {case.id}"
    where = f" ({case.category})" if case.category else ""
    return "\n".join(
        [
            f"{head} {incident_ref}{where}",
            f"Why: {why_summary(case.why)}",
            f"Contact: {mask_address(contact)} via {case.channel}",
            f"Reply ACK {case.id} | DONE {case.id} note | ASK {case.id} question"
            f" | ESC {case.id} | PASS {case.id} | HELP",
        ]
    )


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
    text = compose_page(
        case, incident_ref=incident_ref, contact=case_contact(session, case), repage=repage
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
