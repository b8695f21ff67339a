"""Broadcast an incident's announcements on every channel, from the delivery ledger.

One Prefect task per shard (a channel x a contact id range of ``shard_size``), never one per
recipient; tasks get ids and bounds, never contacts. Channels run as separate tasks, so one
provider failing is recorded with its reason while the others complete. The ledger makes the
whole flow safe to run again: see ``crisiscast.incidents.broadcast.sending`` for how
at-most-once holds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.futures import PrefectFuture
from prefect.task_runners import ThreadPoolTaskRunner
from sqlalchemy import update

from crisiscast.channels.base import ChannelKind
from crisiscast.channels.registry import channel_for
from crisiscast.config import Settings
from crisiscast.flows import banner_publish
from crisiscast.flows.stores import open_store, settings_for
from crisiscast.incidents.audience.csv_import import audience_list, import_contacts, rejects_path
from crisiscast.incidents.audience.directory import TargetSpec, create_target, require_target
from crisiscast.incidents.broadcast import ledger as lg
from crisiscast.incidents.broadcast.decisions import (
    DEFAULT_SHARD_SIZE,
    PER_RECIPIENT,
    Content,
    reach,
    shards,
)
from crisiscast.incidents.broadcast.delivery import (
    contact_bounds,
    finish_broadcast,
    load_contents,
    start_broadcast,
)
from crisiscast.incidents.broadcast.queueing import EVERYONE, reconcile_marks, repair_outbox
from crisiscast.incidents.broadcast.sending import (
    RetryPolicy,
    Shard,
    ShardReport,
    run_shard,
    run_totals,
)
from crisiscast.incidents.broadcast.staging import (
    cut_short_updates,
    launch_spec,
    playbook_id_of,
    stage,
    stage_update,
    targets_of,
)
from crisiscast.incidents.store import database as st
from crisiscast.incidents.store.models import Announcement, AnnouncementStatus
from crisiscast.playbook import load_playbook

DEFAULT_PUBLIC_URL = "http://127.0.0.1:8765/"  # `crisiscast serve` on its default port
# Shards in flight at once: enough to overlap one shard's Python work with another's database
# writes (and keep slow providers from holding up fast ones); each holds one shard in memory.
SHARD_WORKERS = 2


@task(name="prepare-broadcast")
def prepare(
    incident: str | int,
    when: str,
    announcement: str | None,
    audience: str | None,
    default_region: str,
    database_url: str | None,
    target: dict[str, Any] | None = None,
    texts: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Import the audience, resolve the target, stage what is not staged yet (an update: a new
    one each time), mark it broadcasting; plan shards per announcement within its target."""
    now = datetime.now(UTC)
    store = open_store(database_url)
    try:
        with store.session() as session:
            row = st.get_incident(session, incident)
            playbook = load_playbook(row.playbook_path)
            imported = None
            spec = TargetSpec.from_json(target) if target else None
            if audience:
                name = audience_list(audience)
                report = import_contacts(
                    session, audience, default_region=default_region,
                    languages=playbook.languages, list_name=name,
                    rejects=rejects_path(audience), now=now, replace=True,
                )  # fmt: skip
                imported = report.summary()
                st.add_event(session, row.id, "audience_imported", imported, now=now)
                spec = (spec or TargetSpec()).merged(TargetSpec(lists=(name,)))
            outbox = outbox_directory(settings_for(database_url), row.ref)
            for path in sorted(outbox.glob("*.jsonl")):
                repair_outbox(path)  # before any shard appends: see queueing.repair_outbox
            reconciled = reconcile_marks(session, outbox, row.id, now)
            if when == "launch" and announcement is None and not texts:
                aimed = None
                if spec is not None:  # held announcements go to the target named now
                    aimed = create_target(session, require_target(spec), incident_id=row.id,
                                          now=now).id  # fmt: skip
                staged = stage(session, row, playbook, when=when, announcement=None, now=now,
                               target_id=aimed)  # fmt: skip
                if aimed is not None:
                    session.execute(update(Announcement).where(
                        Announcement.incident_id == row.id, Announcement.when == "launch",
                        Announcement.status == AnnouncementStatus.PENDING,
                    ).values(target_id=aimed))  # fmt: skip
                for cut_short, channels in cut_short_updates(session, row.id).items():
                    staged.setdefault(cut_short, channels)
            else:
                chosen = create_target(
                    session, require_target(spec or launch_spec(session, row.id)),
                    incident_id=row.id, now=now,
                )  # fmt: skip
                if when == "update":
                    staged = stage_update(
                        session, row, playbook, announcement=announcement, texts=texts,
                        params=params, target_id=chosen.id, now=now,
                    )  # fmt: skip
                else:
                    staged = stage(session, row, playbook, when=when, announcement=announcement,
                                   now=now, target_id=chosen.id)  # fmt: skip
            start_broadcast(session, row.id, list(staged))
            targets = targets_of(session, row.id, staged)
            bounds = {a: contact_bounds(session, t) for a, t in targets.items()}
            return {"incident_id": row.id, "ref": row.ref, "plan": staged,
                    "targets": targets, "bounds": bounds,
                    "audiences": {n: list(a.channels) for n, a in playbook.audiences.items()},
                    "imported": imported, "exercise": row.exercise,
                    "reconciled": reconciled}  # fmt: skip
    finally:
        store.dispose()


@task(name="send-shard")
def send_shard(
    incident_id: int,
    announcement: str,
    channel: str,
    bounds: tuple[int, int] | None,
    audiences: dict[str, list[str]],
    exercise: bool,
    database_url: str | None,
    batch_size: int | None = None,
    rate_per_second: float | None = None,
    target_id: int | None = None,
) -> dict[str, Any]:
    """Send one channel's shard (or its single broadcast-style post) from the ledger, to the
    contacts of ``target_id`` (None: a target that is explicitly everyone)."""
    settings = settings_for(database_url)
    store = open_store(database_url)
    kind: ChannelKind = channel  # type: ignore[assignment]  # checked by the playbook schema
    try:
        with store.session() as session:
            contents, default = load_contents(session, incident_id, announcement, channel)
            ref = st.get_incident(session, incident_id).ref
        outbox = outbox_directory(settings, ref)
        target = channel_for(kind, settings.offline() if exercise else settings, outbox_dir=outbox)
        shard = Shard(incident_id, channel, bounds,
                      reach(audiences, channel, target_id) if bounds else None)  # fmt: skip
        # A pooled channel paces each sender itself, shared by this process's shards.
        own = None if target.paces_itself else target.rate_per_second
        policy = RetryPolicy(rate_per_second=shard_rate(rate_per_second or own))
        with target:
            report = run_shard(store, shard, target, contents, default, policy, batch_size)
        return dataclasses.asdict(report)
    finally:
        store.dispose()


@task(name="publish-banner")
def publish_banner_task(
    incident_id: int, announcement: str, all_clear: bool, public_url: str, database_url: str | None
) -> dict[str, Any]:
    """Publish (or take down) the incident's banner and record its ledger rows."""
    settings = settings_for(database_url)
    store = open_store(database_url)
    now = datetime.now(UTC)
    try:
        with store.session() as session:
            incident = st.get_incident(session, incident_id)
            playbook = load_playbook(incident.playbook_path)
            contents, _ = load_contents(session, incident_id, announcement, "banner")
            queued = lg.queue_deliveries(session, _banner_rows(incident_id, contents), now=now)
            mine = {c.row_id for c in contents.values()}
            rows = [r for r in lg.queued_rows(session, incident_id, "banner", None, limit=1000)
                    if r.announcement_id in mine]  # fmt: skip
            if not rows:  # published by an earlier run: publishing again would add an alert
                return dataclasses.asdict(ShardReport("banner", queued=queued))
            texts = {lang: (c.subject or "", c.text) for lang, c in contents.items()}
            spec = playbook.announcement(playbook_id_of(playbook, announcement)).channels.banner
            directory = settings.home / "site" / incident.ref
            alert = banner_publish.publish(
                directory, banner_publish.site_for(public_url, incident.ref), playbook,
                ref=incident.ref, title=incident.title, exercise=incident.exercise, texts=texts,
                level=spec.level if spec else "warning", all_clear=all_clear, now=now,
                area=banner_publish.target_area(session, mine),
            )  # fmt: skip
            done = [lg.Outcome(r.id, "sent", alert) for r in rows]
            lg.record_outcomes(session, done, now=now, attempt=1)
        return dataclasses.asdict(ShardReport("banner", queued=queued, sent=len(done)))
    finally:
        store.dispose()


def _banner_rows(incident_id: int, contents: dict[str, Content]) -> list[lg.QueuedDelivery]:
    return [
        lg.QueuedDelivery(lg.delivery_key(incident_id, c.row_id, "banner", EVERYONE),
                          incident_id, c.row_id, "banner", None, None)
        for c in contents.values()
    ]  # fmt: skip


@task(name="finish-broadcast")
def finish(
    incident_id: int, reports: list[dict[str, Any]], database_url: str | None, reconciled: int = 0
) -> dict[str, Any]:
    """Sum the shards per channel, close the announcements, write the timeline event."""
    store = open_store(database_url)
    try:
        with store.session() as session:
            return finish_broadcast(
                session, incident_id, reports, now=datetime.now(UTC), reconciled=reconciled
            )
    finally:
        store.dispose()


def _submit_all(
    plan: dict[str, Any], shard_size: int, options: dict[str, Any]
) -> list[PrefectFuture[dict[str, Any]]]:
    futures: list[PrefectFuture[dict[str, Any]]] = []
    incident_id = plan["incident_id"]
    for announcement, channels in plan["plan"].items():
        for channel in channels:
            if channel == "banner":
                futures.append(publish_banner_task.submit(
                    incident_id, announcement, options["all_clear"], options["public_url"],
                    options["database_url"]))  # fmt: skip
                continue
            lo, hi = plan["bounds"][announcement]
            ranges: Sequence[tuple[int, int] | None] = (
                shards(lo, hi, shard_size) if channel in PER_RECIPIENT else [None]
            )
            for bounds in ranges:
                futures.append(send_shard.submit(
                    incident_id, announcement, channel, bounds, plan["audiences"],
                    options["exercise"], options["database_url"], options["batch_size"],
                    options["rate_per_second"], plan["targets"][announcement]))  # fmt: skip
    return futures


def _collect(futures: Sequence[PrefectFuture[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Every shard's report; a shard that crashed is reported with its reason, not raised."""
    reports = []
    for future in futures:
        state = future.wait() or future.state
        if state.is_completed():
            reports.append(future.result())
        else:
            reason = str(state.message or state.name)
            reports.append({"channel": "?", "error": f"shard task {state.name}: {reason}"})
    return reports


# Prefect types ``task_runner`` as an invariant TaskRunner[PrefectFuture]; its own runner does
# not match that annotation, hence the ignore (the documented usage).
@flow(name="broadcast", task_runner=ThreadPoolTaskRunner(max_workers=SHARD_WORKERS))  # type: ignore[arg-type]
def broadcast(
    incident: str,
    when: str = "launch",
    announcement: str | None = None,
    audience: str | None = None,
    default_region: str = "US",
    database_url: str | None = None,
    shard_size: int = DEFAULT_SHARD_SIZE,
    public_url: str = DEFAULT_PUBLIC_URL,
    batch_size: int | None = None,
    rate_per_second: float | None = None,
    channels: list[str] | None = None,
    target: dict[str, Any] | None = None,
    texts: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Send an incident's ``when`` announcements (or one ``announcement``) to their target.

    The launch's announcements keep the target they were staged for (``target`` re-aims
    those still pending, e.g. after ``launch --hold``). An update or the all-clear reaches
    ``target`` or, by default, what the launch was aimed at; each update (new ``texts`` per
    language, or ``announcement`` with new ``params``) is a new announcement: sent again.
    Safe to run again after a crash or by mistake: only deliveries not yet sent are sent.
    ``channels`` restricts the run to some channel kinds (e.g. ``["sms"]``).
    Returns per-channel counts by ledger status, plus shard errors.
    """
    plan = prepare(incident, when, announcement, audience, default_region, database_url,
                   target, texts, params)  # fmt: skip
    if channels:
        plan["plan"] = {a: [c for c in kinds if c in channels] for a, kinds in plan["plan"].items()}
    options = {
            "exercise": plan["exercise"], "database_url": database_url,
            "batch_size": batch_size, "rate_per_second": rate_per_second,
            "public_url": public_url, "all_clear": when == "all_clear",
    }  # fmt: skip
    reports = _collect(_submit_all(plan, shard_size, options))
    summary = finish(plan["incident_id"], reports, database_url, plan["reconciled"])
    summary["this_run"] = run_totals(reports)  # the counts are the incident's running totals
    summary["stopped"] = any(r.get("stopped") for r in reports)
    get_run_logger().info("incident=%s broadcast this run %s", plan["ref"], summary["this_run"])
    return summary


def shard_rate(channel_rate: float | None) -> float | None:
    """Each shard's share of a channel's rate: up to SHARD_WORKERS shards of one channel run at
    once, and together they must stay within the provider's limit (None: no limit)."""
    return channel_rate / SHARD_WORKERS if channel_rate else None


def outbox_directory(settings: Settings, ref: str) -> Path:
    """Where an incident's outbox files are: ``<home>/outbox/<INC-ref>/<kind>.jsonl``."""
    return settings.outbox_dir / ref
