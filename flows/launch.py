"""Launch an incident from a playbook: validate, open the incident, stage every announcement.

The flow is thin on purpose: the decisions live in crisiscast.playbook (what to say) and
crisiscast.incidents (what is recorded). Prefect gives the run its history, retries and UI.
Tasks take references (paths, ids), never large data: Prefect hashes task inputs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.runtime import flow_run

from crisiscast.config import load_settings
from crisiscast.flows.broadcast import DEFAULT_PUBLIC_URL, broadcast
from crisiscast.flows.stores import open_store
from crisiscast.incidents.agents.roster import load_roster
from crisiscast.incidents.audience.csv_import import audience_list, import_contacts, rejects_path
from crisiscast.incidents.audience.directory import TargetSpec, create_target, require_target
from crisiscast.incidents.broadcast.decisions import exercise_marked
from crisiscast.incidents.store import database as st
from crisiscast.playbook import load_playbook, render_all, render_title, resolve_params


@task(name="open-incident")
def open_incident(
    playbook_path: str,
    raw_params: dict[str, str],
    exercise: bool,
    database_url: str | None,
    target: dict[str, Any] | None = None,
    audience: str | None = None,
    default_region: str = "US",
) -> int:
    """Import ``audience`` (a contacts CSV, onto the list named after it), create the incident,
    resolve its target, stage its pending announcements for that target, and load the
    playbook's roster of agents, in one transaction.

    One transaction, so a failure (a bad file or list, a bad parameter, the database going
    away) leaves no half-opened incident behind. Returns the incident id.
    """
    playbook = load_playbook(playbook_path)
    params = resolve_params(playbook, raw_params)
    title = render_title(playbook, params)
    now = datetime.now(UTC)
    spec = TargetSpec.from_json(target)
    if spec.empty and not audience:  # the playbook's default selector: its audiences' lists
        spec = TargetSpec(tuple(sorted({n for a in playbook.audiences.values() for n in a.lists})))
    if audience:
        spec = spec.merged(TargetSpec(lists=(audience_list(audience),)))
    store = open_store(database_url)
    try:
        with store.session() as session:
            imported = None
            if audience:
                imported = import_contacts(
                    session, audience, default_region=default_region,
                    languages=playbook.languages, list_name=audience_list(audience),
                    rejects=rejects_path(audience), now=now, replace=True,
                )  # fmt: skip
            chosen = create_target(session, require_target(spec), incident_id=None, now=now)
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
            chosen.incident_id = incident.id
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
                    body=exercise_marked(m.text, m.language)
                    if exercise and m.channel == "sms"
                    else m.text,
                    html=m.html,
                    now=now,
                    target_id=chosen.id,
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
            if imported is not None:
                st.add_event(session, incident.id, "audience_imported", imported.summary(),
                             now=now)  # fmt: skip
            st.add_event(
                session,
                incident.id,
                "targeted",
                f"target: {chosen.description} ({chosen.size} contacts)",
                data={"target_id": chosen.id, "spec": chosen.spec, "size": chosen.size},
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
    target: dict[str, Any] | None = None,
) -> str:
    """Open an incident from ``playbook_path``, stage its launch announcements and send them.

    ``target`` names who they reach (see ``TargetSpec``: lists, filter, area, or everyone);
    ``audience`` is a contacts CSV imported first onto the list named after the file and
    added to the target. A launch without either is refused. ``send=False`` only stages
    (pending, also after importing), so a commander can look before ``crisiscast broadcast``.
    Returns the ``INC-<n>`` reference.
    """
    incident_id = open_incident(
        playbook_path, dict(params or {}), exercise, database_url, target, audience,
        default_region,
    )  # fmt: skip
    ref = f"INC-{incident_id}"
    if send:
        broadcast(ref, when="launch", database_url=database_url, public_url=public_url())
    get_run_logger().info("incident=%s exercise=%s sent=%s", ref, exercise, send)
    return ref


def public_url() -> str:
    """Where the web app is reachable: links in banners and CAP alerts point there."""
    return load_settings().public_url or DEFAULT_PUBLIC_URL
