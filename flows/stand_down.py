"""Stand an incident down: all-clear everywhere, banner off, extra hands released, CSAT, closed.

Steps, each safe to run again after a crash (the flow picks up an incident left
``standing_down``): the incident moves to ``standing_down``; the playbook's stand-down
announcement goes out on every channel through the broadcast flow (its ledger sends only what
was not sent); the banner is taken down even if that announcement has no banner text; temporary
agents are released; open cases are kept (``stand_down.keep_open_cases``) or handed to the
normal queue; customers whose cases were resolved get the satisfaction question once; the
incident is closed.

Kept cases stay on the incident with their permanent holders (agents finish them with DONE);
cases a released temporary agent held go back to waiting. Handing to the normal queue detaches
a case from the incident (``incident_id`` cleared, holders released); the timeline lists the
case numbers so the report still knows them.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger, task
from sqlalchemy import select
from sqlalchemy.orm import Session

from crisiscast.channels.banner import current_state, take_down
from crisiscast.errors import NotFoundError
from crisiscast.flows.banner_publish import site_for
from crisiscast.flows.broadcast import DEFAULT_PUBLIC_URL, broadcast
from crisiscast.flows.stores import open_store, settings_for
from crisiscast.incidents import agents as ag
from crisiscast.incidents.assignment import ReleaseReason
from crisiscast.incidents.cases import CLOSED_STATUSES
from crisiscast.incidents.lifecycle import change_status
from crisiscast.incidents.models import Case, Incident, IncidentStatus, TimelineEvent
from crisiscast.incidents.paging import Senders, csat_text, message_customer
from crisiscast.incidents.store import add_event, get_incident
from crisiscast.playbook import Playbook, load_playbook

CSAT_EVENT = "csat_sent"


@task(name="begin-stand-down")
def begin(incident_ref: str, database_url: str | None) -> dict[str, Any]:
    """Move the incident to standing_down (or find it there); say what to announce."""
    store = open_store(database_url)
    try:
        with store.session() as session:
            incident = get_incident(session, incident_ref)
            playbook = load_playbook(incident.playbook_path)
            status = IncidentStatus(incident.status)
            if status is IncidentStatus.ACTIVE:
                change_status(
                    session,
                    incident,
                    IncidentStatus.STANDING_DOWN,
                    now=datetime.now(UTC),
                    reason="stand-down started",
                )
            announcement = playbook.stand_down.announcement if playbook.stand_down else None
            return {
                "id": incident.id,
                "ref": incident.ref,
                "announcement": announcement,
                "closed": status is IncidentStatus.CLOSED,
            }
    finally:
        store.dispose()


def banner_off(ref: str, database_url: str | None, public_url: str, now: datetime) -> bool:
    """Take the incident's banner down if one was published (already down: nothing added)."""
    settings = settings_for(database_url)
    directory = settings.home / "site" / ref
    try:
        current_state(directory)
    except NotFoundError:
        return False
    take_down(directory, site_for(public_url, ref), now)
    return True


def release_temporary(session: Session, incident: Incident, now: datetime) -> int:
    """Release temporary agents not holding a case of another active incident."""
    released = 0
    for agent in ag.active_temporary(session):
        held = ag.open_assignments(session, agent_id=agent.id)
        cases = [session.get_one(Case, a.case_id) for a in held]
        others = [c for c in cases if c.incident_id not in (None, incident.id)]
        if any(_active(session, c.incident_id) for c in others):
            continue
        ag.release_agent(session, agent, now=now, reason=ReleaseReason.AGENT_OFF)
        released += 1
    return released


def _active(session: Session, incident_id: int | None) -> bool:
    other = session.get(Incident, incident_id) if incident_id is not None else None
    return other is not None and other.status == IncidentStatus.ACTIVE


def hand_over(session: Session, incident: Incident, keep: bool, now: datetime) -> int:
    """Keep the open cases on the incident, or hand them to the normal queue; return how many."""
    query = select(Case).where(
        Case.incident_id == incident.id,
        Case.resolved_at.is_(None),
        Case.status.not_in(CLOSED_STATUSES),
    )
    cases = list(session.scalars(query.order_by(Case.id)))
    if keep or not cases:
        return len(cases)
    for held in ag.open_assignments(session, case_ids=[c.id for c in cases]):
        ag.end_assignment(session, held, ReleaseReason.AGENT_OFF, now=now)
    for case in cases:
        case.incident_id = None
    add_event(
        session,
        incident.id,
        "cases_handed_over",
        f"{len(cases)} open cases handed to the normal queue",
        {"cases": [c.id for c in cases]},
        now=now,
    )
    return len(cases)


def ask_csat(
    session: Session, incident: Incident, playbook: Playbook, senders: Senders, now: datetime
) -> Counter[str]:
    """The satisfaction question, once, to each customer whose case was resolved."""
    asked_query = select(TimelineEvent.data).where(
        TimelineEvent.incident_id == incident.id, TimelineEvent.kind == CSAT_EVENT
    )
    asked = {int(d["case_id"]) for d in session.scalars(asked_query) if d}
    query = select(Case).where(Case.incident_id == incident.id, Case.resolved_at.is_not(None))
    outcome: Counter[str] = Counter()
    for case in session.scalars(query.order_by(Case.id)):
        if case.id in asked:
            continue
        text = csat_text(playbook, case.id, case.language)
        result = message_customer(
            session,
            senders,
            case,
            text,
            key=f"csat:{case.id}",
            subject=f"{incident.ref}: how did we do?",
        )
        outcome[result.status] += 1
        if result.status == "sent":
            add_event(
                session,
                incident.id,
                CSAT_EVENT,
                f"satisfaction question to case {case.id}",
                {"case_id": case.id},
                now=now,
            )
    return outcome


@task(name="wrap-up")
def wrap_up(incident_id: int, database_url: str | None) -> dict[str, Any]:
    """Release temporary agents, keep or hand over open cases, ask CSAT, close the incident."""
    now = datetime.now(UTC)
    store = open_store(database_url)
    try:
        with store.session() as session:
            incident = session.get_one(Incident, incident_id)
            playbook = load_playbook(incident.playbook_path)
            keep = playbook.stand_down.keep_open_cases if playbook.stand_down else True
            settings = settings_for(database_url, incident.exercise)
            senders = Senders(settings, settings.outbox_dir / incident.ref)
            try:
                csat = ask_csat(session, incident, playbook, senders, now)
            finally:
                senders.close()
            summary = {
                "temporary_released": release_temporary(session, incident, now),
                "open_cases": hand_over(session, incident, keep, now),
                "open_cases_kept": keep,
                "csat": dict(csat),
            }
            change_status(
                session, incident, IncidentStatus.CLOSED, now=now, reason=f"stood down: {summary}"
            )
            return summary
    finally:
        store.dispose()


@flow(name="stand-down")
def stand_down(
    incident_ref: str, database_url: str | None = None, public_url: str = DEFAULT_PUBLIC_URL
) -> dict[str, Any]:
    """Stand ``incident_ref`` down and close it; returns what was sent, released and kept."""
    started = begin(incident_ref, database_url)
    if started["closed"]:
        get_run_logger().info("incident=%s is already closed: nothing to do", started["ref"])
        return {"ref": started["ref"], "already_closed": True}
    sent = broadcast(
        started["ref"],
        when="all_clear",
        announcement=started["announcement"],
        database_url=database_url,
        public_url=public_url,
    )
    banner = banner_off(started["ref"], database_url, public_url, datetime.now(UTC))
    summary = wrap_up(started["id"], database_url)
    result = {
        "ref": started["ref"],
        "all_clear": sent.get("counts", {}),
        "banner_taken_down": banner,
        **summary,
    }
    get_run_logger().info("incident=%s stood down: %s", started["ref"], result)
    return result
