"""An agent's SMS or email command, applied to the store: the reply text comes back.

``handle_agent_message`` is what the inbound SMS webhook (and the inbound email handler) call
before treating a message as a customer's: None means the sender is not an agent, so the
message is a customer's. For an agent, every message gets an answer: a confirmation once the
command is applied, or an error that says what to send instead. A command only ever touches a
case the sender holds.

Rules chosen here (the issue leaves them open):
- ``ACK`` counts as the case's first response: the agent has taken ownership and the customer
  already got the automatic acknowledgement; it stops the first-response clock.
- ``DONE`` resolves the case (first response too, if there was none), ends a running pause, and
  puts the note on the timeline.
- ``ESC`` and ``PASS`` release the case; the next assignment round (the SLA sweep) gives it to
  someone else, never back to this agent. ``ESC`` is also a timeline event the commander sees.
- ``NEXT`` gives the agent the first waiting case they fit and answers with its page; an agent
  who was OFF (and whose pass, if any, has not ended) is back on duty with it.
- ``OFF`` takes the agent off duty and puts every case they hold back in the queue.
- ``ASK 42 question`` sends the question to the customer on the case's channel (an exercise's
  only to the outbox), pauses the SLA clocks and sets the case waiting on the customer; their
  answer resumes the clocks (intake). A question is a response to the customer, so like ``ACK``
  it takes the case and stops the first-response clock. A question that could not be sent
  changes nothing: the clocks keep running while nobody is actually waiting on the customer.
  The question is kept in the case's conversation (``ask``); the customer's answer is sent to
  the agent by SMS (``relay``).
- ``INFO 42`` answers with the case's details (``paging.compose_info``), up to four segments;
  it and ``STATUS`` live in ``case_commands``, with the audit entry.
- ``STATUS 42 dispatched`` sets any status the playbook names (``cases.status``); a status
  the playbook lacks is refused with the list. ``waiting_on_customer`` comes only with an
  ``ASK`` (which pauses the clocks); a closing status (``resolved``, ``closed``) ends the
  agent's assignment like ``DONE``; any status set while the case waited ends the wait.
- Every command applied, held (an email waiting for its CONFIRM) or refused is written to the
  audit log (``agent.<verb>``) in the same transaction, with the case and the outcome; never
  a phone number or address (the reason is scrubbed of them).

At most once, and only from the agent (issue 12):
- Every command that carries an ``Origin`` (the webhooks always pass one) is stored in
  ``inbound_messages`` under its provider id (SMS MessageSid, email Message-ID) in the same
  transaction that applies it: a retry or a replay of the same id is answered with ``""``
  (nothing applied, nothing to send), and a command that fails applies nothing and stores
  nothing, so the provider's retry can still apply it.
- An email command counts only when the email is authenticated: SendGrid's SPF and DKIM
  verdicts pass for the agent's own domain (the web layer decides, ``Origin.authenticated``),
  AND the agent confirms it from their registered phone. An authenticated email command is
  checked, stored, and an SMS asks the agent to reply ``CONFIRM n`` (n: the stored message's
  id) within ``CONFIRM_WINDOW``; only that SMS applies it, once (a marker row under channel
  ``email-confirm`` and provider id n, on the same unique index). An email that fails
  authentication, or an agent without a phone, is refused: the answer says why and names no
  case data, and an ``agent_command_refused`` timeline event records the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crisiscast.channels.base import OutgoingMessage
from crisiscast.channels.masking import mask_address
from crisiscast.config import Settings, load_settings
from crisiscast.incidents.agents import roster as ag
from crisiscast.incidents.agents.assignment import QueuedCase, ReleaseReason, excluded_agents
from crisiscast.incidents.agents.assignment import pick_for_agent as _pick
from crisiscast.incidents.agents.case_commands import (
    Held,
    Refused,
    audit_command,
    info,
    set_status,
)
from crisiscast.incidents.agents.case_commands import case_event as _event
from crisiscast.incidents.agents.case_commands import held_case as _held
from crisiscast.incidents.agents.commands import (
    HELP_TEXT,
    NEEDS_CASE,
    Command,
    Rejection,
    Verb,
    authorize,
    confirmation,
    parse,
)
from crisiscast.incidents.agents.paging import (
    Senders,
    message_customer,
    page_text,
    send_one,
)
from crisiscast.incidents.cases import customer_wait as wait
from crisiscast.incidents.cases.conversation import add_entry
from crisiscast.incidents.cases.opening import CLOSED_STATUSES
from crisiscast.incidents.cases.sla import SlaTimer, resume
from crisiscast.incidents.people.audit import Actor
from crisiscast.incidents.store.database import add_event
from crisiscast.incidents.store.models import (
    Agent,
    Assignment,
    Case,
    InboundMessage,
    Incident,
    IncidentStatus,
)
from crisiscast.playbook import load_playbook

log = logging.getLogger(__name__)

DEFAULT_LEVELS = ("urgent", "high", "medium", "low")
Handler = Callable[[Session, Agent, Command, datetime], str]
CONFIRM_WINDOW = timedelta(minutes=30)  # an email command waits this long for its CONFIRM SMS
CONFIRMED = "email-confirm"  # inbound_messages channel of the "applied once" markers
REFUSED = "agent_command_refused"
ALREADY_APPLIED = ""  # the reply to a provider retry or replay: nothing applied, nothing sent


@dataclass(frozen=True)
class Origin:
    """Where a command came from: its channel and provider id (for at-most-once), and for an
    email whether it is authenticated (SPF and DKIM pass for the sender's domain) and, if
    not, why (said to the sender and recorded)."""

    channel: str  # sms | email
    provider_id: str
    authenticated: bool = True
    why_not: str = ""


def handle_agent_message(
    session: Session,
    sender: str,
    body: str,
    *,
    now: datetime,
    languages: Collection[str] = ("en", "th", "lo"),
    settings: Settings | None = None,
    origin: Origin | None = None,
) -> str | None:
    """Apply an agent's command; return the reply, or None when ``sender`` is not an agent.

    ``sender`` is the E.164 number of an SMS or the address of an email (for email, pass the
    command line from ``commands.from_email``). ``settings`` choose the channels an ``ASK``
    question (and an email command's confirmation SMS) goes out on, and sign the case links
    in ``NEXT`` and ``INFO`` answers (default: read from the environment when needed).
    ``origin`` carries the provider id that makes the command apply
    at most once (``ALREADY_APPLIED`` comes back for a repeat) and an email's authentication;
    an email without one is refused as unauthenticated.
    """
    agent = ag.find_agent(session, sender)
    if agent is None:
        return None
    parsed = parse(body, languages)
    claimed = None
    if origin is not None:
        # An unauthenticated email's text is not kept: there is nothing in it to confirm later.
        kept = body if origin.authenticated else ""
        claimed = _claim(session, origin.channel, origin.provider_id, sender, kept, now)
        if claimed is None:
            log.warning("agent %s: %s %s already seen: not applied again", agent.id,
                        origin.channel, origin.provider_id[:60])  # fmt: skip
            return ALREADY_APPLIED
    if "@" in sender:
        reply = _by_email(session, agent, parsed, origin, claimed, now, settings)
        audit_command(session, agent, parsed, reply, "email", now)
        return reply
    if isinstance(parsed, Command) and parsed.verb is Verb.CONFIRM:
        reply = _confirm(session, agent, parsed, now, languages, settings)
        audit_command(session, agent, parsed, reply, "sms", now)
        return reply
    return _apply(session, agent, parsed, now, settings, "sms")


def _apply(
    session: Session,
    agent: Agent,
    parsed: Command | Rejection,
    now: datetime,
    settings: Settings | None,
    via: str,
) -> str:
    """Check ``parsed`` against the store and apply it, audited: the reply."""
    reply = _carry_out(session, agent, parsed, now, settings, via)
    audit_command(session, agent, parsed, reply, via, now)
    return reply


def _carry_out(
    session: Session,
    agent: Agent,
    parsed: Command | Rejection,
    now: datetime,
    settings: Settings | None,
    via: str,
) -> str:
    if isinstance(parsed, Command) and parsed.verb is Verb.JOIN:
        return _join(session, agent, now)
    checked = _check(session, agent, parsed)
    if isinstance(checked, str):
        return checked
    if checked.verb is Verb.CONFIRM:  # a CONFIRM inside a confirmed email: nothing to apply
        return Refused("CONFIRM works only by SMS from your registered phone.")
    if checked.verb is Verb.ASK:
        return _ask(session, agent, checked, now, settings or load_settings())
    if checked.verb is Verb.INFO:
        return info(session, agent, checked, now, settings or load_settings())
    if checked.verb is Verb.STATUS:
        return set_status(session, agent, checked, now, via)
    if checked.verb is Verb.NEXT:
        return _next(session, agent, now, settings or load_settings())
    return HANDLERS[checked.verb](session, agent, checked, now)


def _claim(
    session: Session, channel: str, provider_id: str, sender: str, body: str, now: datetime
) -> int | None:
    """Store a message under its provider id; its row id, or None if that id is stored already.

    The unique (channel, provider_id) decides, so two concurrent deliveries of one message
    cannot both apply it. NUL is dropped (PostgreSQL text refuses it).
    """
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    row = {
        "channel": channel,
        "provider_id": provider_id.replace("\x00", "")[:200],
        "sender": sender[:320],
        "body": body.replace("\x00", ""),
        "received_at": now,
    }
    statement = (
        module.insert(InboundMessage)
        .values(row)
        .on_conflict_do_nothing(index_elements=["channel", "provider_id"])
        .returning(InboundMessage.id)
    )
    stored: int | None = session.scalar(statement)
    return stored


def _by_email(
    session: Session,
    agent: Agent,
    parsed: Command | Rejection,
    origin: Origin | None,
    pending: int | None,
    now: datetime,
    settings: Settings | None,
) -> str:
    """An email command: refused unless authenticated; otherwise checked, then held (as the
    stored message ``pending``) until the agent confirms it by SMS from their phone."""
    if origin is None or pending is None or not origin.authenticated:
        why = origin.why_not if origin is not None else "its authentication was not checked"
        _refuse(session, agent, parsed, now, f"email not authenticated: {why}")
        return Refused(
            f"Your command was not applied: this email could not be verified as sent from "
            f"your address ({why}). Commands by email need SPF and DKIM to pass for your "
            "domain. Send the command by SMS from your registered phone instead."
        )
    if isinstance(parsed, Command) and parsed.verb is Verb.CONFIRM:
        return Refused("CONFIRM works only by SMS from your registered phone.")
    checked = _check(session, agent, parsed)
    if isinstance(checked, str):
        return checked
    if checked.verb is Verb.HELP:
        return HELP_TEXT
    if agent.phone is None:
        _refuse(session, agent, parsed, now, "email command: the agent has no phone to confirm")
        return Refused(
            "Your command was not applied: commands by email are confirmed by SMS, and no "
            "phone is registered for you. Ask the incident commander to add your phone."
        )
    what = f"{checked.verb} {checked.case_id}" if checked.case_id is not None else checked.verb
    text = (
        f"crisiscast: an email from {agent.email} asks {what}. To apply it, reply CONFIRM "
        f"{pending} within {int(CONFIRM_WINDOW.total_seconds() // 60)} min. If you did not "
        "send it, ignore this and tell the incident commander."
    )
    result = _sms_agent(session, agent, checked, text, f"confirm:{pending}", settings)
    if result is not None:
        _refuse(session, agent, parsed, now, f"confirmation SMS not sent: {result}")
        return Refused(
            f"Your command was not applied: the confirmation SMS to your phone could not be "
            f"sent ({result}). Send the command by SMS instead."
        )
    return Held(
        f"Received {what}. It is applied once you confirm it: reply CONFIRM {pending} to the "
        f"SMS we sent to {mask_address(agent.phone)} within "
        f"{int(CONFIRM_WINDOW.total_seconds() // 60)} minutes."
    )


def _check(session: Session, agent: Agent, parsed: Command | Rejection) -> Command | str:
    """``parsed`` checked against the store (case exists, open, held by the agent), or the
    reply that says why not."""
    holders: dict[int, int | None] = {}
    if isinstance(parsed, Command) and parsed.verb in NEEDS_CASE and parsed.case_id is not None:
        case = session.get(Case, parsed.case_id)
        if case is not None and _closed(case):
            return Refused(
                f"Case {case.id} is already {case.status}: nothing to do. Send NEXT for another."
            )
        if case is not None:
            held = ag.holder_of(session, case.id)
            holders[case.id] = held.agent_id if held else None
    checked = authorize(parsed, agent_id=agent.id, holders=holders)
    return Refused(checked.reply) if isinstance(checked, Rejection) else checked


def _sms_agent(
    session: Session,
    agent: Agent,
    command: Command,
    text: str,
    key: str,
    settings: Settings | None,
) -> str | None:
    """Send ``text`` to the agent's phone; None when sent, else why not.

    The channels are those of the named case's incident, else of the newest active incident
    (so an exercise's confirmation stays in its outbox, like its pages).
    """
    case = session.get(Case, command.case_id) if command.case_id is not None else None
    if case is not None and case.incident_id is not None:
        incident = session.get(Incident, case.incident_id)
    else:
        newest = select(Incident).where(Incident.status == IncidentStatus.ACTIVE)
        incident = session.scalars(newest.order_by(Incident.id.desc()).limit(1)).first()
    senders = customer_senders(settings or load_settings(), incident)
    try:
        result = send_one(senders.get("sms"), OutgoingMessage(key, agent.phone or "", "en", text))
    finally:
        senders.close()
    return None if result.status == "sent" else (result.error or result.status)


def _confirm(
    session: Session,
    agent: Agent,
    command: Command,
    now: datetime,
    languages: Collection[str],
    settings: Settings | None,
) -> str:
    """``CONFIRM n`` by SMS: apply the agent's own email command n, once, if still fresh."""
    number = command.case_id or 0
    pending = session.get(InboundMessage, number)
    if (
        pending is None
        or pending.channel != "email"
        or pending.case_id is not None  # a message intake took (an auto-reply), not a command
        or pending.incident_id is not None
        or agent.email is None
        or pending.sender.lower() != agent.email.lower()
        or _aware(pending.received_at, now) < now - CONFIRM_WINDOW
    ):
        return Refused(
            f"No email command {number} of yours is waiting for confirmation (they expire after "
            f"{int(CONFIRM_WINDOW.total_seconds() // 60)} minutes). Send the command by SMS."
        )
    if _claim(session, CONFIRMED, str(number), agent.phone or "", "", now) is None:
        return Refused(f"Email command {number} was already applied.")
    return _apply(session, agent, parse(pending.body, languages), now, settings, "email")


def _aware(at: datetime, now: datetime) -> datetime:
    """``at`` comparable with ``now`` (SQLite gives naive datetimes back)."""
    return at.replace(tzinfo=now.tzinfo) if at.tzinfo is None and now.tzinfo else at


def _refuse(
    session: Session, agent: Agent, parsed: Command | Rejection, now: datetime, reason: str
) -> None:
    """Record a refused command: on the timeline of the named case's incident (else of every
    active incident), with the reason; never the command's text."""
    case_id = parsed.case_id if isinstance(parsed, Command) else None
    case = session.get(Case, case_id) if case_id is not None else None
    if case is not None and case.incident_id is not None:
        incidents = [case.incident_id]
    else:
        query = select(Incident.id).where(Incident.status == IncidentStatus.ACTIVE)
        incidents = list(session.scalars(query))
    verb = parsed.verb.value if isinstance(parsed, Command) else None
    data = {"agent_id": agent.id, "verb": verb, "case_id": case_id, "reason": reason}
    for incident_id in incidents:
        add_event(session, incident_id, REFUSED,
                  f"command from agent {agent.id} refused: {reason}", data, now=now)  # fmt: skip
    log.warning("agent %s: command refused: %s", agent.id, reason)


def _closed(case: Case) -> bool:
    return case.resolved_at is not None or case.status in CLOSED_STATUSES


def _ack(session: Session, agent: Agent, command: Command, now: datetime) -> str:
    case, held = _held(session, command)
    held.acked_at = held.acked_at or now
    case.first_responded_at = case.first_responded_at or now
    if case.status == "new":
        case.status = "acknowledged"
    _event(
        session,
        case,
        "case_acked",
        f"case {case.id} acknowledged by agent {agent.id}",
        now,
        agent_id=agent.id,
    )
    return confirmation(command)


def _done(session: Session, agent: Agent, command: Command, now: datetime) -> str:
    case, held = _held(session, command)
    if case.paused_at is not None:  # the wait on the customer ends with the case
        for key, value in resume(SlaTimer.from_case(case), now).fields().items():
            setattr(case, key, value)
    case.first_responded_at = case.first_responded_at or now
    case.resolved_at, case.status = now, "resolved"
    held.acked_at = held.acked_at or now
    ag.end_assignment(session, held, ReleaseReason.RESOLVED, now=now)
    _event(
        session,
        case,
        "case_resolved",
        f"case {case.id} resolved by agent {agent.id}: {command.note or 'no note'}",
        now,
        agent_id=agent.id,
        note=command.note,
    )
    return confirmation(command)


def customer_senders(settings: Settings, incident: Incident | None) -> Senders:
    """Channels for a note to a customer; an exercise never leaves the machine (outbox)."""
    if incident is not None and incident.exercise:
        settings = settings.offline()
    ref = incident.ref if incident is not None else "unmatched"
    return Senders(settings, settings.outbox_dir / ref)


def _ask(
    session: Session, agent: Agent, command: Command, now: datetime, settings: Settings
) -> str:
    case, held = _held(session, command)
    incident = session.get(Incident, case.incident_id) if case.incident_id else None
    senders = customer_senders(settings, incident)
    try:
        result = message_customer(
            session,
            senders,
            case,
            command.note,
            key=f"ask:{case.id}:{now.isoformat()}",
            subject=f"A question about your case {case.id}",
        )
    finally:
        senders.close()
    if result.status != "sent":
        _event(session, case, "question_failed", f"case {case.id}: question not sent "
               f"({result.status}: {result.error})", now, agent_id=agent.id)  # fmt: skip
        return Refused(
            f"Case {case.id}: the question could not be sent ({result.error or result.status}), "
            "so the SLA keeps running. Reach the customer another way, or send ASK again."
        )
    for key, value in wait.paused_values(SlaTimer.from_case(case), now).items():
        setattr(case, key, value)
    case.first_responded_at = case.first_responded_at or now
    held.acked_at = held.acked_at or now
    _event(
        session,
        case,
        "case_waiting",
        f"case {case.id}: agent {agent.id} asked the customer; SLA paused",
        now,
        agent_id=agent.id,
        question=command.note,
        provider_id=result.provider_id,
    )
    author = Actor.agent(agent.id, agent.name, "sms").name  # as the audit log names them
    data = {"agent_id": agent.id, "provider_id": result.provider_id}
    add_entry(session, case.id, "ask", command.note, author=author, now=now,
              channel=case.channel, data=data)  # fmt: skip
    return confirmation(command)


def _release(reason: ReleaseReason, kind: str) -> Handler:
    def handler(session: Session, agent: Agent, command: Command, now: datetime) -> str:
        case, held = _held(session, command)
        ag.end_assignment(session, held, reason, now=now)
        note = f": {command.note}" if command.note else ""
        _event(
            session,
            case,
            kind,
            f"case {case.id} {reason} by agent {agent.id}{note}",
            now,
            agent_id=agent.id,
            note=command.note,
        )
        return confirmation(command)

    return handler


def _off(session: Session, agent: Agent, command: Command, now: datetime) -> str:
    released = ag.release_agent(session, agent, now=now, reason=ReleaseReason.AGENT_OFF)
    if released:
        return f"{confirmation(command)} Cases back in the queue: {_ids(released)}."
    return confirmation(command)


def _help(session: Session, agent: Agent, command: Command, now: datetime) -> str:
    return HELP_TEXT


def _ids(ids: list[int]) -> str:
    return ", ".join(str(i) for i in ids)


def _ranks(session: Session, incident_ids: set[int]) -> dict[int, list[str]]:
    """Severity level names per incident, most severe first (from each playbook)."""
    levels: dict[int, list[str]] = {}
    for incident in session.scalars(select(Incident).where(Incident.id.in_(incident_ids))):
        playbook = load_playbook(incident.playbook_path)
        levels[incident.id] = [level.name for level in playbook.severity.levels]
    return levels


def waiting_cases(session: Session) -> list[Case]:
    """Open cases of active incidents that nobody holds."""
    held = select(Assignment.case_id).where(Assignment.released_at.is_(None))
    query = (
        select(Case)
        .join(Incident, Incident.id == Case.incident_id)
        .where(
            Incident.status == IncidentStatus.ACTIVE,
            Case.resolved_at.is_(None),
            Case.status.not_in(CLOSED_STATUSES),
            Case.id.not_in(held),
        )
        .order_by(Case.id)
    )
    return list(session.scalars(query))


def queued(cases: list[Case], levels: Mapping[int, list[str]]) -> list[QueuedCase]:
    """Cases as assignment sees them, ranked by their own playbook's levels."""
    out = []
    for case in cases:
        names = levels.get(case.incident_id or 0, list(DEFAULT_LEVELS))
        rank = names.index(case.severity) if case.severity in names else len(names)
        out.append(QueuedCase.of(case, rank))
    return out


def _next(session: Session, agent: Agent, now: datetime, settings: Settings) -> str:
    if not agent.active and (agent.pass_expires_at is None or now < agent.pass_expires_at):
        agent.active = True  # NEXT from someone who was OFF: they are back
    slot = ag.agent_slots(session)[agent.id]
    if not slot.available(now):
        return Refused(
            "Your pass has ended, so no cases can be given to you. Thank you for your help."
        )
    if not slot.has_room():
        return Refused(
            f"You hold {slot.load} cases, your capacity. Send DONE or PASS on one first."
        )
    cases = waiting_cases(session)
    levels = _ranks(session, {c.incident_id for c in cases if c.incident_id is not None})
    exclude = excluded_agents(ag.history(session, [c.id for c in cases]))
    pick = _pick(slot, queued(cases, levels), now, exclude)
    if pick is None:
        return "No case is waiting for you right now. You stay on duty; pages will follow."
    case = next(c for c in cases if c.id == pick.id)
    ag.assign_case(session, case, agent, now=now)
    incident = session.get(Incident, case.incident_id)
    ref = incident.ref if incident else "-"
    return page_text(session, settings, case, agent, incident_ref=ref)


def _join(session: Session, agent: Agent, now: datetime) -> str:
    incident = ag.accept_invitation(session, agent, now=now)
    if incident is None:
        return Refused("There is no open invitation for you (it may have ended). Thank you anyway.")
    return confirmation(Command(Verb.JOIN)) + f" Incident {incident.ref}."


HANDLERS: Mapping[Verb, Handler] = {
    Verb.ACK: _ack,
    Verb.DONE: _done,
    Verb.ESC: _release(ReleaseReason.ESCALATED, "case_escalated"),
    Verb.PASS: _release(ReleaseReason.PASSED, "case_passed"),
    Verb.OFF: _off,
    Verb.HELP: _help,
}
