"""Intake of one inbound message from any channel: store it, then decide what it is.

The order is the invariant: the message is committed first, in its own transaction, so
whatever happens after (a playbook that no longer loads, a bug in triage) an accepted message
is never lost, and the webhook may answer 2xx. A provider that retries sends the same provider
id (Twilio MessageSid, an email's Message-ID): the unique ``(channel, provider_id)`` turns the
retry into a no-op that is neither stored nor answered twice.

Then, in a second transaction: STOP and its equivalents record an opt-out instead of opening a
case; anything else is triaged with the incident's playbook and opens a case (or joins the
sender's open one) with its SLA due times, and gets at most one auto-acknowledgement per case
per window.

Matching: the active incident whose announcement this address was sent (found through the
ledger's unique idempotency key, so it stays an index lookup with a million deliveries), else
the newest active incident. The contact is found by phone (E.164) or lower-case email.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crisiscast.errors import CrisiscastError
from crisiscast.incidents import acknowledge as ack
from crisiscast.incidents.cases import open_case, open_case_of, raise_severity, sla_due
from crisiscast.incidents.ledger import delivery_key
from crisiscast.incidents.models import (
    Announcement,
    Case,
    Contact,
    Delivery,
    InboundMessage,
    Incident,
    IncidentStatus,
    TimelineEvent,
)
from crisiscast.incidents.optout import handle_reply
from crisiscast.incidents.store import Store, add_event
from crisiscast.incidents.triage import (
    TriageConfig,
    TriageResult,
    config_from_playbook,
    default_config,
    detect_language,
    triage,
)
from crisiscast.playbook import Playbook, load_playbook

log = logging.getLogger(__name__)

Outcome = Literal["duplicate", "opted_out", "case"]
AUTO_REPLY = "auto_reply"
OPT_OUT_CHANNELS = frozenset({"sms", "email"})


@dataclass(frozen=True, slots=True)
class Inbound:
    """One message as a webhook or poller received it; ``sender`` is already normalised
    (E.164 phone, lower-case email, @handle)."""

    channel: str  # sms | email | web | social
    provider_id: str | None
    sender: str
    body: str
    automated: bool = False  # said by its headers to come from an auto-responder
    incident_id: int | None = None  # the web form names its incident; others are matched


@dataclass(frozen=True, slots=True)
class IntakeResult:
    """What became of a message; ``reply`` is the text to send back (None: send nothing)."""

    outcome: Outcome
    message_id: int | None
    incident_ref: str | None
    case_id: int | None = None
    severity: str | None = None
    language: str | None = None
    reply: str | None = None


class PlaybookCache:
    """Playbooks by path, reloaded when the file changes: validating one per message would
    cost more than the rest of intake together."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, Playbook, TriageConfig]] = {}

    def get(self, path: str) -> tuple[Playbook, TriageConfig]:
        """The playbook at ``path`` and its triage config; PlaybookError/ConfigError if unusable."""
        try:
            mtime = Path(path).stat().st_mtime
        except OSError:
            mtime = -1.0  # load_playbook reports the missing file precisely
        with self._lock:
            entry = self._entries.get(path)
        if entry is not None and entry[0] == mtime:
            return entry[1], entry[2]
        playbook = load_playbook(path)
        config = config_from_playbook(playbook)
        with self._lock:
            self._entries[path] = (mtime, playbook, config)
        return playbook, config


def find_contact(session: Session, channel: str, sender: str) -> Contact | None:
    """The known contact behind a phone number or email address (None for anyone else)."""
    if channel == "sms" or sender.startswith("+"):
        return session.scalars(select(Contact).where(Contact.phone == sender)).first()
    if "@" in sender and not sender.startswith("@"):
        return session.scalars(select(Contact).where(Contact.email == sender)).first()
    return None


def match_incident(
    session: Session, channel: str, sender: str
) -> tuple[Incident | None, int | None]:
    """The active incident (and announcement row) this sender was sent; else the newest active.

    Ledger rows are looked up by their unique idempotency key, one candidate key per staged
    announcement of the active incidents on this channel: an index lookup, not a scan.
    """
    staged = session.execute(
        select(Announcement.id, Announcement.incident_id)
        .join(Incident, Incident.id == Announcement.incident_id)
        .where(Incident.status == IncidentStatus.ACTIVE, Announcement.channel == channel)
    ).all()
    if staged:
        keys = [delivery_key(incident, row, channel, sender) for row, incident in staged]
        hit = session.execute(
            select(Delivery.incident_id, Delivery.announcement_id)
            .where(Delivery.idempotency_key.in_(keys))
            .order_by(Delivery.incident_id.desc(), Delivery.announcement_id.desc())
            .limit(1)
        ).first()
        if hit is not None:
            return session.get(Incident, hit[0]), hit[1]
    newest = session.scalars(
        select(Incident)
        .where(Incident.status == IncidentStatus.ACTIVE)
        .order_by(Incident.created_at.desc(), Incident.id.desc())
        .limit(1)
    ).first()
    return newest, None


def store_message(
    session: Session, message: Inbound, incident_id: int | None, now: datetime
) -> int | None:
    """Insert the message; its id, or None when this provider id was already stored."""
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    values = {
        "incident_id": incident_id,
        "channel": message.channel,
        "provider_id": message.provider_id,
        "sender": message.sender,
        "body": message.body,
        "received_at": now,
    }
    statement = (
        module.insert(InboundMessage)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["channel", "provider_id"])
        .returning(InboundMessage.id)
    )
    return session.execute(statement).scalar_one_or_none()


def _last_auto_reply(session: Session, incident_id: int, case_id: int) -> datetime | None:
    return session.scalar(
        select(func.max(TimelineEvent.at)).where(
            TimelineEvent.incident_id == incident_id,
            TimelineEvent.kind == AUTO_REPLY,
            TimelineEvent.message == f"case {case_id} auto-acknowledged",
        )
    )


class Intake:
    """Receives messages for one store; thread-safe (one session per call)."""

    def __init__(
        self,
        store: Store,
        *,
        local_tz: tzinfo | None = None,
        window: timedelta = ack.DEFAULT_WINDOW,
        playbooks: PlaybookCache | None = None,
    ) -> None:
        self.store = store
        # Route hours ("07:00-22:00") are read on this clock; the server's own zone by default.
        self.local_tz = local_tz
        self.window = window
        self.playbooks = playbooks or PlaybookCache()

    def receive(self, message: Inbound, *, now: datetime, form: ack.Form = "short") -> IntakeResult:
        """Store ``message`` (committed), then opt out, or triage and open/join a case."""
        with self.store.session() as session:
            incident, announcement = self._incident(session, message)
            message_id = store_message(session, message, incident.id if incident else None, now)
            ref = incident.ref if incident else None
            incident_id = incident.id if incident else None
            playbook_path = incident.playbook_path if incident else None
            languages = list(incident.languages) if incident else []
        if message_id is None:
            log.info("inbound duplicate channel=%s incident=%s", message.channel, ref)
            return IntakeResult("duplicate", None, ref)
        playbook, config = self._playbook(playbook_path, ref)
        if playbook is not None:
            languages = list(playbook.languages)
        with self.store.session() as session:
            if message.channel in OPT_OUT_CHANNELS:
                keyword = handle_reply(
                    session, message.channel, message.sender, message.body, languages, now=now
                )
                if keyword is not None:
                    return self._opted_out(
                        session, message_id, (incident_id, ref), message.body, languages, now
                    )
            result = triage(message.body, config)
            return self._case(
                session,
                message,
                message_id,
                (incident_id, ref, announcement),
                (playbook, result),
                now,
                form,
            )

    def _incident(self, session: Session, message: Inbound) -> tuple[Incident | None, int | None]:
        if message.incident_id is not None:
            return session.get(Incident, message.incident_id), None
        return match_incident(session, message.channel, message.sender)

    def _playbook(self, path: str | None, ref: str | None) -> tuple[Playbook | None, TriageConfig]:
        """The incident's playbook, or the built-in triage when there is none or it broke."""
        if path is None:
            return None, default_config()
        try:
            playbook, config = self.playbooks.get(path)
        except CrisiscastError as exc:
            # The message is already stored; triage it with the built-in rules and say why.
            log.warning(
                "incident=%s playbook %s unusable, built-in triage used, no auto-reply: %s",
                ref,
                path,
                str(exc).splitlines()[0],
            )
            return None, default_config()
        return playbook, config

    def _opted_out(
        self,
        session: Session,
        message_id: int,
        where: tuple[int | None, str | None],
        body: str,
        languages: list[str],
        now: datetime,
    ) -> IntakeResult:
        incident_id, ref = where
        default = languages[0] if languages else "en"
        # "หยุด" deserves its confirmation in Thai, whatever the playbook's first language.
        language = detect_language(body, tuple(languages) or (default,), default)
        if incident_id is not None:
            add_event(session, incident_id, "opt_out", f"message {message_id} opted out", now=now)
        log.info("inbound opt-out incident=%s message=%s", ref, message_id)
        reply = ack.opt_out_confirmation(language)
        return IntakeResult("opted_out", message_id, ref, language=language, reply=reply)

    def _case(
        self,
        session: Session,
        message: Inbound,
        message_id: int,
        where: tuple[int | None, str | None, int | None],
        triaged: tuple[Playbook | None, TriageResult],
        now: datetime,
        form: ack.Form,
    ) -> IntakeResult:
        incident_id, ref, announcement = where
        playbook, result = triaged
        case = open_case_of(
            session, incident_id=incident_id, channel=message.channel, sender=message.sender
        )
        why: dict[str, Any] = {
            "why": list(result.why),
            "signals": list(result.signals),
            "decided_by": result.decided_by,
            "unanswered": list(result.unanswered),
        }
        if announcement is not None:
            why["announcement"] = announcement
        if case is None:
            case = self._open(session, message, incident_id, playbook, result, why, now)
        elif playbook is not None:
            ranks = [level.name for level in playbook.severity.levels]
            due = sla_due(playbook.severity, result.severity, case.opened_at)
            raise_severity(case, result.severity, why, ranks, due)
        session.execute(
            update(InboundMessage).where(InboundMessage.id == message_id).values(case_id=case.id)
        )
        reply = self._reply(session, message, case, incident_id, playbook, result, now, form)
        log.info(
            "inbound case=%s incident=%s channel=%s severity=%s replied=%s",
            case.id, ref, message.channel, case.severity, reply is not None,
        )  # fmt: skip
        return IntakeResult("case", message_id, ref, case.id, case.severity, result.language, reply)

    def _open(
        self,
        session: Session,
        message: Inbound,
        incident_id: int | None,
        playbook: Playbook | None,
        result: TriageResult,
        why: dict[str, Any],
        now: datetime,
    ) -> Case:
        contact = find_contact(session, message.channel, message.sender)
        case = open_case(
            session,
            incident_id=incident_id,
            contact_id=contact.id if contact else None,
            channel=message.channel,
            severity=result.severity,
            category=result.category,
            subcategory=result.subcategory,
            language=result.language,
            why=why,
            due=sla_due(playbook.severity, result.severity, now) if playbook else None,
            status=playbook.statuses[0] if playbook else "new",
            now=now,
        )
        if incident_id is not None:
            text = f"case {case.id} opened: {result.severity} {result.category}"
            data = {"case": case.id, "severity": result.severity, "channel": message.channel}
            add_event(session, incident_id, "case_opened", text, data, now=now)
        return case

    def _reply(
        self,
        session: Session,
        message: Inbound,
        case: Case,
        incident_id: int | None,
        playbook: Playbook | None,
        result: TriageResult,
        now: datetime,
        form: ack.Form,
    ) -> str | None:
        """The acknowledgement, unless there is no playbook to answer from, the sender is a
        machine, or this case was already answered within the window."""
        if playbook is None or incident_id is None or message.automated:
            return None
        if not ack.should_auto_reply(
            _last_auto_reply(session, incident_id, case.id), now, self.window
        ):
            return None
        local = now.astimezone(self.local_tz).time()
        reply = ack.compose(playbook, result, case_id=case.id, local_time=local, form=form)
        data = {"case": case.id, "language": reply.language, "route": reply.route_need,
                "out_of_hours": reply.out_of_hours, "channel": message.channel}  # fmt: skip
        add_event(
            session, incident_id, AUTO_REPLY, f"case {case.id} auto-acknowledged", data, now=now
        )
        return reply.text
