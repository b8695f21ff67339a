"""Stand an incident down: all-clear everywhere, banner off, extra hands released, CSAT, closed.

Steps, each safe to run again after a crash (the flow picks up an incident left
``standing_down``): the incident moves to ``standing_down``; the playbook's stand-down
announcement goes out on every channel through the broadcast flow (its ledger sends only what
was not sent); the banner is taken down even if that announcement has no banner text; temporary
agents are released; open cases are kept (``stand_down.keep_open_cases``) or handed to the
normal queue; customers whose cases were resolved get the satisfaction question once; the
incident is closed.

What happens to people and cases is in ``crisiscast.incidents.agents.stand_down``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger, task

from crisiscast.channels.banner import current_state, take_down
from crisiscast.errors import NotFoundError
from crisiscast.flows.banner_publish import site_for
from crisiscast.flows.broadcast import DEFAULT_PUBLIC_URL, broadcast
from crisiscast.flows.stores import open_store, settings_for
from crisiscast.incidents.agents.paging import Senders
from crisiscast.incidents.agents.stand_down import ask_csat, hand_over, release_temporary
from crisiscast.incidents.lifecycle import change_status
from crisiscast.incidents.store.database import get_incident
from crisiscast.incidents.store.models import Incident, IncidentStatus
from crisiscast.playbook import load_playbook


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
