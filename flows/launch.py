"""Launch an incident from a playbook: validate, open the incident, stage every announcement.

The flow is thin on purpose: the decisions live in crisiscast.playbook (what to say) and
crisiscast.incidents (what is recorded). Prefect gives the run its history, retries and UI.
Tasks take references (paths, ids), never large data: Prefect hashes task inputs.
"""

from __future__ import annotations

from datetime import UTC, datetime

from prefect import flow, get_run_logger, task
from prefect.runtime import flow_run

from crisiscast.config import load_settings
from crisiscast.flows.broadcast import DEFAULT_PUBLIC_URL, broadcast
from crisiscast.flows.stores import open_store
from crisiscast.incidents.agents.roster import load_roster
from crisiscast.incidents.store import database as st
from crisiscast.playbook import load_playbook, render_all, render_title, resolve_params


@task(name="open-incident")
def open_incident(
    playbook_path: str, raw_params: dict[str, str], exercise: bool, database_url: str | None
) -> int:
    """Create the incident, its timeline and pending announcements, and load the playbook's
    roster of agents, in one transaction.

    One transaction, so a failure (a bad parameter, the database going away) leaves no
    half-opened incident behind. Returns the incident id.
    """
    playbook = load_playbook(playbook_path)
    params = resolve_params(playbook, raw_params)
    title = render_title(playbook, params)
    now = datetime.now(UTC)
    store = open_store(database_url)
    try:
        with store.session() as session:
            incident = st.create_incident(
                session,
                playbook_id=playbook.id,
                playbook_path=playbook_path,
                title=title,
                params=params,
                languages=list(playbook.languages),
                exercise=exercise,
                now=now,
            )
            session.flush()
            context = {"ref": incident.ref, "title": title, "exercise": exercise}
            messages = render_all(playbook, params, context, when="launch")
            for m in messages:
                st.add_announcement(
                    session,
                    incident.id,
                    announcement_id=m.announcement_id,
                    when=m.when,
                    channel=m.channel,
                    language=m.language,
                    subject=m.subject,
                    body=m.text,
                    html=m.html,
                    now=now,
                )
            channels = sorted({m.channel for m in messages})
            st.add_event(
                session,
                incident.id,
                "launched",
                f"Launched from playbook {playbook.id}" + (" as an exercise" if exercise else ""),
                data={"flow_run_id": str(flow_run.get_id() or ""), "flow_run": flow_run.get_name()},
                now=now,
            )
            roster = load_roster(session, playbook)
            if roster.added or roster.updated or roster.warnings:
                st.add_event(
                    session,
                    incident.id,
                    "roster_loaded",
                    f"roster: {roster.added} agents added, {roster.updated} updated"
                    + "".join(f"; {w}" for w in roster.warnings),
                    data={"added": roster.added, "updated": roster.updated},
                    now=now,
                )
            st.add_event(
                session,
                incident.id,
                "announcements_staged",
                f"{len(messages)} messages staged on {', '.join(channels) or 'no channel'}",
                data={"count": len(messages), "channels": channels},
                now=now,
            )
            return incident.id
    finally:
        store.dispose()


@flow(name="launch-incident")
def launch_incident(
    playbook_path: str,
    params: dict[str, str] | None = None,
    exercise: bool = False,
    database_url: str | None = None,
    audience: str | None = None,
    default_region: str = "US",
    send: bool = True,
) -> str:
    """Open an incident from ``playbook_path``, stage its launch announcements and send them.

    ``audience`` is a contacts CSV to import first; ``send=False`` only stages (pending), so a
    commander can look before ``crisiscast broadcast``. Returns the ``INC-<n>`` reference.
    """
    incident_id = open_incident(playbook_path, dict(params or {}), exercise, database_url)
    ref = f"INC-{incident_id}"
    if send:
        broadcast(
            ref,
            when="launch",
            audience=audience,
            default_region=default_region,
            database_url=database_url,
            public_url=public_url(),
        )
    get_run_logger().info("incident=%s exercise=%s sent=%s", ref, exercise, send)
    return ref


def public_url() -> str:
    """Where the web app is reachable: links in banners and CAP alerts point there."""
    return load_settings().public_url or DEFAULT_PUBLIC_URL
