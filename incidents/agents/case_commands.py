"""INFO and STATUS by SMS, and the audit entry every agent command leaves (``desk`` applies
the commands; these are the parts it shares and the two that read or set a case's details).

A handler answers with a plain ``str`` when the command was applied, a :class:`Refused` when
it was not (why and what to send instead) and a :class:`Held` for an email command waiting for
its CONFIRM: :func:`audit_command` records which, with the case, in the command's transaction.
The audit log is exported with reports, so its reasons are scrubbed of phone numbers and email
addresses (:func:`scrub`), and a command's free text (notes, questions) is never copied to it.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime

from sqlalchemy.orm import Session

from crisiscast.channels.masking import mask_email, mask_phone
from crisiscast.config import Settings
from crisiscast.errors import CrisiscastError, StoreError
from crisiscast.incidents.agents import roster as ag
from crisiscast.incidents.agents.assignment import ReleaseReason
from crisiscast.incidents.agents.commands import Command, Rejection, Verb, confirmation
from crisiscast.incidents.agents.paging import case_facts, compose_info, status_line
from crisiscast.incidents.cases import customer_wait as wait
from crisiscast.incidents.cases.opening import CLOSED_STATUSES
from crisiscast.incidents.cases.sla import SlaTimer, resume
from crisiscast.incidents.cases.status import case_statuses, set_case_status
from crisiscast.incidents.people.audit import Actor, record
from crisiscast.incidents.store.database import add_event
from crisiscast.incidents.store.models import Agent, Assignment, Case, Incident
from crisiscast.playbook import load_playbook

log = logging.getLogger(__name__)

_PHONE = re.compile(r"\+?\d[\d ().-]{6,}\d")
_EMAIL = re.compile(r"[^\s@<>\"']+@[^\s@<>\"']+")


class Refused(str):
    """A reply saying the command was not applied: the audit log records it as refused."""

    __slots__ = ()


class Held(str):
    """A reply saying an email command waits for its CONFIRM by SMS (audited as held)."""

    __slots__ = ()


def audit_command(
    session: Session,
    agent: Agent,
    parsed: Command | Rejection,
    reply: str,
    via: str,
    now: datetime,
) -> None:
    """One audit entry per command: what, on which case, and whether it was applied."""
    outcome = "refused" if isinstance(reply, Refused) else "held" if isinstance(reply, Held) \
        else "applied"  # fmt: skip
    command = parsed if isinstance(parsed, Command) else None
    case_id = command.case_id if command and command.verb is not Verb.CONFIRM else None
    case = session.get(Case, case_id) if case_id is not None else None
    detail: dict[str, object] = {"outcome": outcome, "case_id": case_id}
    if command is not None and command.verb is Verb.CONFIRM:
        detail["email_command"] = command.case_id
    if command is not None and command.verb is Verb.STATUS:
        detail["status"] = scrub(command.note)[:50]
    if outcome == "refused":
        detail["reason"] = scrub(reply)[:300]
    record(
        session,
        Actor.agent(agent.id, agent.name, via),
        f"agent.{command.verb.name.lower() if command else 'unreadable'}",
        now=now,
        incident_id=case.incident_id if case is not None else None,
        subject=f"case {case_id}" if case_id is not None else None,
        detail=detail,
    )


def scrub(text: str) -> str:
    """``text`` with phone numbers and email addresses masked (for the audit log)."""
    text = _EMAIL.sub(lambda m: mask_email(m.group(0)), text)
    return _PHONE.sub(lambda m: mask_phone(re.sub(r"[^\d+]", "", m.group(0))), text)


def case_event(
    session: Session, case: Case, kind: str, message: str, now: datetime, **data: object
) -> None:
    """One line on the case's incident timeline (a case without an incident has none)."""
    if case.incident_id is not None:
        add_event(session, case.incident_id, kind, message, {"case_id": case.id, **data}, now=now)


def held_case(session: Session, command: Command) -> tuple[Case, Assignment]:
    """The case and the sender's assignment (authorize has checked both exist)."""
    case_id = command.case_id or 0
    case = session.get(Case, case_id)
    held = ag.holder_of(session, case_id)
    if case is None or held is None:  # authorize said it is theirs; this is a race lost
        raise StoreError(f"case {case_id} changed hands while the command was applied")
    return case, held


def info(
    session: Session, agent: Agent, command: Command, now: datetime, settings: Settings
) -> str:
    """``INFO 42``: the case's words, severity and why, status and clocks, place, masked
    contact and the agent's link, in up to four segments."""
    case, _ = held_case(session, command)
    incident = session.get(Incident, case.incident_id) if case.incident_id else None
    facts = case_facts(session, settings, case, agent)
    ref = incident.ref if incident else "-"
    return compose_info(case, incident_ref=ref, facts=facts, status_line=status_line(case, now))


def _status_key(name: str) -> str:
    return re.sub(r"[\s_-]+", "_", name.strip().casefold())


def set_status(session: Session, agent: Agent, command: Command, now: datetime, via: str) -> str:
    """``STATUS 42 dispatched``: any status the case's playbook names (see the docstring)."""
    case, held = held_case(session, command)
    incident = session.get(Incident, case.incident_id) if case.incident_id else None
    try:
        named = load_playbook(incident.playbook_path).statuses if incident else None
    except CrisiscastError as exc:
        log.warning("case %s: playbook unreadable for STATUS: %s", case.id, type(exc).__name__)
        return Refused(
            f"Case {case.id}: its playbook cannot be read now, so its statuses are unknown. "
            "Tell the incident commander; DONE, ASK and ESC still work."
        )
    allowed = case_statuses(named)
    wanted = next((s for s in allowed if _status_key(s) == _status_key(command.note)), None)
    if wanted is None:
        shown = command.note if len(command.note) <= 30 else command.note[:30] + "..."
        return Refused(
            f"Case {case.id}: {shown!r} is not a status of this incident. Send STATUS "
            f"{case.id} followed by one of: {', '.join(allowed)}."
        )
    if wanted == wait.WAITING_STATUS:
        return Refused(
            f"Case {case.id}: to wait on the customer, send ASK {case.id} followed by your "
            "question (it pauses the SLA until they answer)."
        )
    if wanted == case.status:
        return f"Case {case.id} is already {wanted}."
    if case.paused_at is not None:  # the agent moved on: the wait on the customer ends
        for key, value in resume(SlaTimer.from_case(case), now).fields().items():
            setattr(case, key, value)
    actor = Actor.agent(agent.id, agent.name, via)
    previous = set_case_status(session, case, wanted, allowed=allowed, actor=actor, now=now)
    case.first_responded_at = case.first_responded_at or now
    held.acked_at = held.acked_at or now
    if wanted in CLOSED_STATUSES:
        ag.end_assignment(session, held, ReleaseReason.RESOLVED, now=now)
    text = f"case {case.id}: {previous} -> {wanted} by agent {agent.id}"
    case_event(session, case, "case_status", text, now, agent_id=agent.id, previous=previous,
               status=wanted)  # fmt: skip
    return confirmation(Command(Verb.STATUS, case.id, wanted))
