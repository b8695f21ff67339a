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
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisiscast.config import Settings, load_settings
from crisiscast.errors import StoreError
from crisiscast.incidents.agents import roster as ag
from crisiscast.incidents.agents.assignment import QueuedCase, ReleaseReason, excluded_agents
from crisiscast.incidents.agents.assignment import pick_for_agent as _pick
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
from crisiscast.incidents.agents.paging import Senders, case_contact, compose_page, message_customer
from crisiscast.incidents.cases import customer_wait as wait
from crisiscast.incidents.cases.opening import CLOSED_STATUSES
from crisiscast.incidents.cases.sla import SlaTimer, resume
from crisiscast.incidents.store.database import add_event
from crisiscast.incidents.store.models import Agent, Assignment, Case, Incident, IncidentStatus
from crisiscast.playbook import load_playbook

DEFAULT_LEVELS = ("urgent", "high", "medium", "low")
Handler = Callable[[Session, Agent, Command, datetime], str]


def handle_agent_message(
    session: Session,
    sender: str,
    body: str,
    *,
    now: datetime,
    languages: Collection[str] = ("en", "th", "lo"),
    settings: Settings | None = None,
) -> str | None:
    """Apply an agent's command; return the reply, or None when ``sender`` is not an agent.

    ``sender`` is the E.164 number of an SMS or the address of an email (for email, pass the
    command line from ``commands.from_email``). ``settings`` choose the channels an ``ASK``
    question goes out on (default: read from the environment when an ASK needs them).
    """
    agent = ag.find_agent(session, sender)
    if agent is None:
        return None
    parsed = parse(body, languages)
    if isinstance(parsed, Command) and parsed.verb is Verb.JOIN:
        return _join(session, agent, now)
    holders: dict[int, int | None] = {}
    if isinstance(parsed, Command) and parsed.verb in NEEDS_CASE and parsed.case_id is not None:
        case = session.get(Case, parsed.case_id)
        if case is not None and _closed(case):
            return f"Case {case.id} is already resolved: nothing to do. Send NEXT for another."
        if case is not None:
            held = ag.holder_of(session, case.id)
            holders[case.id] = held.agent_id if held else None
    checked = authorize(parsed, agent_id=agent.id, holders=holders)
    if isinstance(checked, Rejection):
        return checked.reply
    if checked.verb is Verb.ASK:
        return _ask(session, agent, checked, now, settings or load_settings())
    return HANDLERS[checked.verb](session, agent, checked, now)


def _closed(case: Case) -> bool:
    return case.resolved_at is not None or case.status in CLOSED_STATUSES


def _event(
    session: Session, case: Case, kind: str, message: str, now: datetime, **data: object
) -> None:
    if case.incident_id is not None:
        add_event(session, case.incident_id, kind, message, {"case_id": case.id, **data}, now=now)


def _held(session: Session, command: Command) -> tuple[Case, Assignment]:
    """The case and the sender's assignment (authorize has checked both exist)."""
    case_id = command.case_id or 0
    case = session.get(Case, case_id)
    held = ag.holder_of(session, case_id)
    if case is None or held is None:  # authorize said it is theirs; this is a race lost
        raise StoreError(f"case {case_id} changed hands while the command was applied")
    return case, held


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
        return (
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


def _next(session: Session, agent: Agent, command: Command, now: datetime) -> str:
    if not agent.active and (agent.pass_expires_at is None or now < agent.pass_expires_at):
        agent.active = True  # NEXT from someone who was OFF: they are back
    slot = ag.agent_slots(session)[agent.id]
    if not slot.available(now):
        return "Your pass has ended, so no cases can be given to you. Thank you for your help."
    if not slot.has_room():
        return f"You hold {slot.load} cases, your capacity. Send DONE or PASS on one first."
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
    return compose_page(case, incident_ref=ref, contact=case_contact(session, case))


def _join(session: Session, agent: Agent, now: datetime) -> str:
    incident = ag.accept_invitation(session, agent, now=now)
    if incident is None:
        return "There is no open invitation for you (it may have ended). Thank you anyway."
    return confirmation(Command(Verb.JOIN)) + f" Incident {incident.ref}."


HANDLERS: Mapping[Verb, Handler] = {
    Verb.ACK: _ack,
    Verb.DONE: _done,
    Verb.ESC: _release(ReleaseReason.ESCALATED, "case_escalated"),
    Verb.PASS: _release(ReleaseReason.PASSED, "case_passed"),
    Verb.NEXT: _next,
    Verb.OFF: _off,
    Verb.HELP: _help,
}
