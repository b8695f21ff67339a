"""Stand an incident down: all-clear everywhere, banner off, extra hands released, CSAT, closed.

Steps, each safe to run again after a crash (the flow picks up an incident left
``standing_down``): the incident moves to ``standing_down``; the playbook's stand-down
announcement goes out on every channel through the broadcast flow (its ledger sends only what
was not sent); the banner is taken down even if that announcement has no banner text; temporary
agents are released; open cases are kept (``stand_down.keep_open_cases``) or handed to the
normal queue; open urgent and high cases are listed in the result (``pressing``) and either
handed to one agent (``hand_over_to``) or kept under the SLA sweep, which keeps escalating
them after the closure; customers whose cases were resolved get the satisfaction question
once; the incident is closed, with what was done in words on its timeline.

``now`` is for tests and replays (the demo's simulated clock): every step is stamped with it.

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
from crisiscast.incidents.agents.stand_down import (
    ask_csat,
    check_hand_over_agent,
    describe,
    hand_over,
    hand_pressing_to,
    keep_pressing,
    pressing_cases,
    pressing_levels,
    release_temporary,
)
from crisiscast.incidents.lifecycle import change_status
from crisiscast.incidents.store.database import get_incident
from crisiscast.incidents.store.models import Incident, IncidentStatus
from crisiscast.playbook import load_playbook


@task(name="begin-stand-down")
def begin(
    incident_ref: str, database_url: str | None, hand_over_to: int | None, now: datetime
) -> dict[str, Any]:
    """Move the incident to standing_down (or find it there); say what to announce.

    An agent named to take the open urgent cases is checked first: a typo must not leave the
    incident half stood down.
    """
    store = open_store(database_url)
    try:
        with store.session() as session:
            incident = get_incident(session, incident_ref)
            playbook = load_playbook(incident.playbook_path)
            status = IncidentStatus(incident.status)
            if hand_over_to is not None:
                check_hand_over_agent(session, hand_over_to)
            if status is IncidentStatus.ACTIVE:
                change_status(
                    session,
                    incident,
                    IncidentStatus.STANDING_DOWN,
                    now=now,
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
def wrap_up(
    incident_id: int,
    database_url: str | None,
    hand_over_to: int | None,
    now: datetime,
    done: dict[str, Any],
) -> dict[str, Any]:
    """Release temporary agents, keep or hand over open cases, ask CSAT, close the incident.

    ``done`` is what the flow did before (all-clear counts, banner): the closing timeline
    line says all of it in words.
    """
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
                pressing = [p.as_dict() for p in pressing_cases(session, incident, playbook)]
                released = release_temporary(session, incident, now)
                if hand_over_to is not None:
                    hand_pressing_to(session, incident, playbook, hand_over_to, senders, now)
                else:
                    keep_pressing(session, incident, playbook, now)
            finally:
                senders.close()
            summary = {
                "temporary_released": released,
                "open_cases": hand_over(session, incident, keep, now, pressing_levels(playbook)),
                "open_cases_kept": keep,
                "pressing": pressing,
                "handed_to": hand_over_to,
                "csat": dict(csat),
            }
            words = " ".join(describe({**done, **summary}))
            change_status(
                session, incident, IncidentStatus.CLOSED, now=now, reason=f"stood down. {words}"
            )
            return summary
    finally:
        store.dispose()


@task(name="hand-over-after-closure")
def hand_over_closed(
    incident_id: int, database_url: str | None, agent_id: int, now: datetime
) -> list[dict[str, Any]]:
    """Give a closed incident's open urgent and high cases to an agent (they were kept under
    the sweep at stand-down, and someone has now been found to take them)."""
    store = open_store(database_url)
    try:
        with store.session() as session:
            incident = session.get_one(Incident, incident_id)
            playbook = load_playbook(incident.playbook_path)
            pressing = [p.as_dict() for p in pressing_cases(session, incident, playbook)]
            settings = settings_for(database_url, incident.exercise)
            senders = Senders(settings, settings.outbox_dir / incident.ref)
            try:
                hand_pressing_to(session, incident, playbook, agent_id, senders, now)
            finally:
                senders.close()
            return pressing
    finally:
        store.dispose()


@flow(name="stand-down")
def stand_down(
    incident_ref: str,
    database_url: str | None = None,
    public_url: str = DEFAULT_PUBLIC_URL,
    hand_over_to: int | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Stand ``incident_ref`` down and close it; returns what was sent, released and kept.

    ``pressing`` in the result lists the open urgent and high cases; ``hand_over_to`` (an agent
    id) gives them to that agent, else they stay under the SLA sweep (``handed_to`` None).
    """
    at = now or datetime.now(UTC)
    started = begin(incident_ref, database_url, hand_over_to, at)
    if started["closed"]:
        if hand_over_to is None:
            get_run_logger().info("incident=%s is already closed: nothing to do", started["ref"])
            return {"ref": started["ref"], "already_closed": True}
        pressing = hand_over_closed(started["id"], database_url, hand_over_to, at)
        return {"ref": started["ref"], "already_closed": True, "pressing": pressing,
                "handed_to": hand_over_to}  # fmt: skip
    sent = broadcast(
        started["ref"],
        when="all_clear",
        announcement=started["announcement"],
        database_url=database_url,
        public_url=public_url,
    )
    banner = banner_off(started["ref"], database_url, public_url, at)
    done = {"all_clear": sent.get("counts", {}), "banner_taken_down": banner}
    summary = wrap_up(started["id"], database_url, hand_over_to, at, done)
    result = {"ref": started["ref"], **done, **summary}
    get_run_logger().info("incident=%s stood down: %s", started["ref"], " ".join(describe(result)))
    return result
