"""The SLA sweep flow: run every minute (prefect.yaml schedule) or once (`crisiscast sweep`).

Day passes that ended are released first, for every incident at once (agents are global); then
each active incident, and each stood-down incident that still has open cases, is swept in its
own task and transaction, by the steps in ``crisiscast.incidents.agents.sweep``. Stand-down
keeps open cases on their incident, so closing it never takes them out of the sweep.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from prefect import flow, get_run_logger, task

from crisiscast.flows.stores import open_store, settings_for
from crisiscast.incidents.agents import roster as ag
from crisiscast.incidents.agents import sweep as sweep_rules
from crisiscast.incidents.agents.paging import Senders
from crisiscast.incidents.agents.sweep import (
    DEFAULT_ACK_TIMEOUT_MINUTES,
    DEFAULT_PAGE_RANKS,
    Sweep,
    sweep_one,
)
from crisiscast.incidents.store.models import Incident
from crisiscast.playbook import load_playbook


@task(name="expire-passes")
def expire_passes(at: datetime, database_url: str | None) -> int:
    """Release temporary agents whose day pass has ended (their cases go back to the queue)."""
    store = open_store(database_url)
    try:
        with store.session() as session:
            return len(ag.expire_passes(session, now=at))
    finally:
        store.dispose()


@task(name="sweep-incident")
def sweep_incident(incident_id: int, at: datetime, options: dict[str, Any]) -> dict[str, int]:
    """Sweep one incident in one transaction; returns what it did, by kind."""
    store = open_store(options["database_url"])
    try:
        with store.session() as session:
            incident = session.get_one(Incident, incident_id)
            settings = settings_for(options["database_url"], incident.exercise)
            senders = Senders(settings, settings.outbox_dir / incident.ref)
            try:
                return sweep_one(
                    Sweep(
                        session,
                        incident,
                        load_playbook(incident.playbook_path),
                        senders,
                        at,
                        timedelta(minutes=options["ack_timeout_minutes"]),
                        options["page_ranks"],
                        options["commander"],
                    )
                )
            finally:
                senders.close()
    finally:
        store.dispose()


def incidents_to_sweep(database_url: str | None) -> list[int]:
    """Active incidents, and stood-down ones whose open cases the sweep still watches."""
    store = open_store(database_url)
    try:
        with store.session() as session:
            return sweep_rules.incidents_to_sweep(session)
    finally:
        store.dispose()


@flow(name="sla-sweep")
def sla_sweep(
    database_url: str | None = None,
    now: datetime | None = None,
    ack_timeout_minutes: int = DEFAULT_ACK_TIMEOUT_MINUTES,
    page_ranks: int = DEFAULT_PAGE_RANKS,
    commander: str | None = None,
) -> dict[str, dict[str, int]]:
    """Sweep every active incident (and closed ones' open cases) once; per incident ref what
    was done.

    ``now`` is for tests and replays (default: the clock); ``commander`` is a phone number or
    email that gets breach notices besides the timeline.
    """
    at = now or datetime.now(UTC)
    expired = expire_passes(at, database_url)
    options = {
        "database_url": database_url,
        "ack_timeout_minutes": ack_timeout_minutes,
        "page_ranks": page_ranks,
        "commander": commander,
    }
    summary = {"all": {"passes_expired": expired}}
    for incident_id in incidents_to_sweep(database_url):
        summary[f"INC-{incident_id}"] = sweep_incident(incident_id, at, options)
    get_run_logger().info("sla sweep at %s: %s", at.isoformat(), summary)
    return summary
