"""Staging: the announcements a broadcast sends, rendered once per channel and language and
recorded before anything is sent, each tied to the target it reaches.

A launch stages the playbook's launch announcements; an update stages new text or a playbook
announcement with new values under a new id (``update``, ``update-2``, ``rising-2``), so each
update is its own ledger identity and reaches each person once. A recalled announcement is
never staged again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisiscast.errors import ConfigError
from crisiscast.incidents.audience.directory import TargetSpec
from crisiscast.incidents.broadcast.decisions import exercise_marked
from crisiscast.incidents.store import database as st
from crisiscast.incidents.store.models import Announcement, AnnouncementStatus, Incident, Target
from crisiscast.playbook import Playbook, render_announcement, resolve_params


def stage(
    session: Session,
    incident: Incident,
    playbook: Playbook,
    *,
    when: str,
    announcement: str | None,
    now: datetime,
    target_id: int | None = None,
) -> dict[str, list[str]]:
    """Render and record the announcements not staged yet (for ``target_id``); return
    announcement -> channels.

    Recalled announcements are left out: a recall is for good.
    """
    wanted = (
        [announcement] if announcement else [a.id for a in playbook.announcements if a.when == when]
    )
    context = {"ref": incident.ref, "title": incident.title, "exercise": incident.exercise}
    plan: dict[str, list[str]] = {}
    for announcement_id in wanted:
        rows = list(session.scalars(select(Announcement).where(
            Announcement.incident_id == incident.id,
            Announcement.announcement_id == announcement_id)))  # fmt: skip
        if not rows:
            for m in render_announcement(playbook, announcement_id, incident.params, context):
                body = exercise_marked(m.text, m.language) if (
                    incident.exercise and m.channel == "sms") else m.text  # fmt: skip
                rows.append(st.add_announcement(
                    session, incident.id, announcement_id=m.announcement_id, when=m.when,
                    channel=m.channel, language=m.language, subject=m.subject, body=body,
                    html=m.html, now=now, target_id=target_id))  # fmt: skip
        if any(r.status == AnnouncementStatus.RECALLED for r in rows):
            continue
        plan[announcement_id] = sorted({r.channel for r in rows})
    return plan


def launch_spec(session: Session, incident_id: int) -> TargetSpec:
    """What the incident's launch was aimed at (its first target): updates reach the same."""
    first = session.scalar(
        select(Target).where(Target.incident_id == incident_id).order_by(Target.id).limit(1)
    )
    if first is None:
        raise ConfigError(f"INC-{incident_id} has no target yet; name one: --list NAME")
    return TargetSpec.from_json(first.spec)


def _raw_param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value.isoformat() if isinstance(value, datetime) else str(value)


def next_announcement_id(session: Session, incident_id: int, base: str) -> str:
    """``base`` when the incident has no announcement of that id yet, else ``base-2``, ``-3``..."""
    used = set(session.scalars(select(Announcement.announcement_id).where(
        Announcement.incident_id == incident_id)))  # fmt: skip
    if base not in used:
        return base
    return next(f"{base}-{n}" for n in range(2, len(used) + 3) if f"{base}-{n}" not in used)


def stage_update(
    session: Session,
    incident: Incident,
    playbook: Playbook,
    *,
    announcement: str | None,
    texts: dict[str, str] | None,
    params: dict[str, str] | None,
    target_id: int,
    now: datetime,
) -> dict[str, list[str]]:
    """Stage one new update, its own ledger identity (``progress``, ``progress-2``, ...,
    ``update-1``...): a playbook announcement rendered with new parameter values, or new
    ``texts`` per language (sent on SMS and email). Returns announcement -> channels."""
    context = {"ref": incident.ref, "title": incident.title, "exercise": incident.exercise}
    messages: list[dict[str, Any]] = []
    if texts:
        fallback = incident.languages[0] if incident.languages else "en"
        if fallback not in texts:
            raise ConfigError(
                f"the update has no text in {fallback}, {incident.ref}'s fallback language: "
                f"give --text '...' (or --text {fallback}=...) as well"
            )
        base = "update"
        subject = f"[{incident.ref}] {incident.title}: update"
        for language, body in sorted(texts.items()):
            for channel in ("sms", "email"):
                text_ = exercise_marked(body, language) if incident.exercise and (
                    channel == "sms") else body  # fmt: skip
                messages.append(dict(when="update", channel=channel, language=language,
                                     subject=subject if channel == "email" else None,
                                     body=text_, html=None))  # fmt: skip
    else:
        if announcement is None:
            raise ConfigError("an update needs new text (--text) or a playbook --announcement")
        raw = {k: _raw_param(v) for k, v in incident.params.items() if v is not None}
        values = resolve_params(playbook, {**raw, **(params or {})})
        base = announcement
        for m in render_announcement(playbook, announcement, values, context):
            body = exercise_marked(m.text, m.language) if (
                incident.exercise and m.channel == "sms") else m.text  # fmt: skip
            messages.append(dict(when=m.when, channel=m.channel, language=m.language,
                                 subject=m.subject, body=body, html=m.html))  # fmt: skip
    channels = sorted({m["channel"] for m in messages})
    again = repeated_update(session, incident.id, base, messages, target_id)
    if again is not None:  # the same update, stopped by Ctrl-C: finish it, each person once
        return {again: channels}
    name = next_announcement_id(session, incident.id, base)
    for fields in messages:
        st.add_announcement(session, incident.id, announcement_id=name, now=now,
                            target_id=target_id, **fields)  # fmt: skip
    return {name: channels}


def repeated_update(
    session: Session, incident_id: int, base: str, messages: list[dict[str, Any]], target_id: int
) -> str | None:
    """The id of an update cut short (still ``broadcasting``) with the very same messages for
    the same target, if any: running the same ``crisiscast update`` again finishes that one
    rather than sending a new update to everyone it already reached."""
    wanted = {(m["channel"], m["language"], m["subject"], m["body"]) for m in messages}
    spec = session.get_one(Target, target_id).spec
    found: dict[str, set[tuple[str, str, str | None, str]]] = {}
    aimed: dict[str, int | None] = {}
    for row in session.scalars(select(Announcement).where(
            Announcement.incident_id == incident_id, Announcement.when != "launch",
            Announcement.status == AnnouncementStatus.BROADCASTING)):  # fmt: skip
        stem, _, number = row.announcement_id.rpartition("-")
        if row.announcement_id == base or (stem == base and number.isdigit()):
            found.setdefault(row.announcement_id, set()).add(
                (row.channel, row.language, row.subject, row.body)
            )
            aimed[row.announcement_id] = row.target_id
    for announcement_id, staged in sorted(found.items()):
        target = aimed[announcement_id]
        if staged == wanted and target is not None and session.get_one(Target, target).spec == spec:
            return announcement_id
    return None


def playbook_id_of(playbook: Playbook, announcement_id: str) -> str:
    """The playbook announcement a staged one came from: ``rising-2`` (a second update) is
    ``rising``."""
    known = {a.id for a in playbook.announcements}
    if announcement_id in known:
        return announcement_id
    base, _, number = announcement_id.rpartition("-")
    return base if number.isdigit() and base in known else announcement_id


def cut_short_updates(session: Session, incident_id: int) -> dict[str, list[str]]:
    """Updates and all-clears still broadcasting (a run cut short): ``broadcast`` resumes them."""
    rows = session.execute(select(Announcement.announcement_id, Announcement.channel).where(
        Announcement.incident_id == incident_id, Announcement.when != "launch",
        Announcement.status == AnnouncementStatus.BROADCASTING))  # fmt: skip
    found: dict[str, set[str]] = {}
    for announcement_id, channel in rows:
        found.setdefault(announcement_id, set()).add(channel)
    return {k: sorted(v) for k, v in found.items()}


def targets_of(
    session: Session, incident_id: int, staged: dict[str, list[str]]
) -> dict[str, int | None]:
    """announcement -> the target its rows reach (None: everyone, explicitly)."""
    found: dict[str, int | None] = {}
    for announcement_id in staged:
        target_id = session.scalar(select(Announcement.target_id).where(
            Announcement.incident_id == incident_id,
            Announcement.announcement_id == announcement_id).limit(1))  # fmt: skip
        target = session.get(Target, target_id) if target_id is not None else None
        if target is None:
            raise ConfigError(
                f"INC-{incident_id}: announcement {announcement_id!r} has no target; send it "
                "with a target: --list NAME, --filter ..., or --everyone"
            )
        found[announcement_id] = None if target.everyone else target.id
    return found
