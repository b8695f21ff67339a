"""Broadcast an incident's announcements on every channel, from the delivery ledger.

One Prefect task per shard (a channel x a contact id range of ``shard_size``), never one per
recipient; tasks get ids and bounds, never contacts. Channels run as separate tasks, so one
provider failing is recorded with its reason while the others complete. The ledger makes the
whole flow safe to run again: see ``crisiscast.incidents.broadcast.sending`` for how
at-most-once holds. With ``workers``, the shards run on the Prefect work pool's workers
instead, shared through claims in the store (``send_shards``,
``crisiscast.incidents.broadcast.shard_claims``).
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.deployments import run_deployment
from prefect.futures import PrefectFuture
from prefect.task_runners import ThreadPoolTaskRunner
from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError

from crisiscast.channels.base import ChannelKind
from crisiscast.channels.registry import channel_for
from crisiscast.config import Settings
from crisiscast.errors import CrisiscastError
from crisiscast.flows import banner_publish
from crisiscast.flows.stores import open_store, settings_for
from crisiscast.incidents.audience.csv_import import audience_list, import_contacts, rejects_path
from crisiscast.incidents.audience.directory import TargetSpec, create_target, require_target
from crisiscast.incidents.broadcast import ledger as lg
from crisiscast.incidents.broadcast import sending
from crisiscast.incidents.broadcast import shard_claims as sc
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
from crisiscast.incidents.broadcast.queueing import (
    EVERYONE,
    reconcile_marks,
    reconcile_shard_marks,
    repair_outbox,
)
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
# With ``workers``: the deployment of ``send_shards`` (prefect.yaml), and how long a shard
# runner's claim lasts without renewal before another runner takes its shard over.
SHARD_DEPLOYMENT = "send-shards/send-shards"
DEFAULT_LEASE_SECONDS = 30.0
# A broadcast on workers gives up when no worker has claimed or renewed a shard for this long.
IDLE_LIMIT_SECONDS = 300.0


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
    share: int = SHARD_WORKERS,
) -> dict[str, Any]:
    """Send one channel's shard (or its single broadcast-style post) from the ledger, to the
    contacts of ``target_id`` (None: a target that is explicitly everyone). ``share``: how
    many shards of the channel send at once, which split the channel's rate."""
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
        policy = RetryPolicy(rate_per_second=shard_rate(rate_per_second or own, share))
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
    workers: int = 0,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
) -> dict[str, Any]:
    """Send an incident's ``when`` announcements (or one ``announcement``) to their target.

    The launch's announcements keep the target they were staged for (``target`` re-aims
    those still pending, e.g. after ``launch --hold``). An update or the all-clear reaches
    ``target`` or, by default, what the launch was aimed at; each update (new ``texts`` per
    language, or ``announcement`` with new ``params``) is a new announcement: sent again.
    Safe to run again after a crash or by mistake: only deliveries not yet sent are sent.
    ``channels`` restricts the run to some channel kinds (e.g. ``["sms"]``).
    ``workers`` (0: every shard in this process) starts that many shard runners on the Prefect
    work pool (deployment ``send-shards``), which share the shards and take over a dead
    runner's shard once its lease of ``lease_seconds`` has passed: see ``send_shards``.
    Returns per-channel counts by ledger status, plus shard errors.
    """
    if workers > 0 and lease_seconds < 1:
        raise CrisiscastError(
            f"broadcast: lease_seconds must be at least 1 (got {lease_seconds}); a runner "
            "renews its lease a few times per lease, so 30 (the default) suits most networks."
        )
    plan = prepare(incident, when, announcement, audience, default_region, database_url,
                   target, texts, params)  # fmt: skip
    if channels:
        plan["plan"] = {a: [c for c in kinds if c in channels] for a, kinds in plan["plan"].items()}
    options = {
            "exercise": plan["exercise"], "database_url": database_url,
            "batch_size": batch_size, "rate_per_second": rate_per_second,
            "public_url": public_url, "all_clear": when == "all_clear",
    }  # fmt: skip
    if workers > 0:
        reports, reconciled = _on_workers(plan, shard_size, options, workers, lease_seconds)
        plan["reconciled"] += reconciled
    else:
        reports = _collect(_submit_all(plan, shard_size, options))
    summary = finish(plan["incident_id"], reports, database_url, plan["reconciled"])
    summary["this_run"] = run_totals(reports)  # the counts are the incident's running totals
    summary["stopped"] = any(r.get("stopped") for r in reports)
    get_run_logger().info("incident=%s broadcast this run %s", plan["ref"], summary["this_run"])
    return summary


def _shard_work(plan: dict[str, Any], shard_size: int) -> list[sc.ShardWork]:
    """The plan's shards for the workers, taking channels in turn (SMS 1, email 1, SMS 2, ...):
    runners claim in this order, and runners on different channels do not wait for each other
    (one channel's batches take turns: ``ledger.lock_channel``). The banner is published by
    the broadcast itself."""
    lanes: list[list[sc.ShardWork]] = []  # one per announcement x channel
    for announcement, channels in plan["plan"].items():
        lo, hi = plan["bounds"][announcement]
        for channel in channels:
            if channel == "banner":
                continue
            ranges: Sequence[tuple[int, int] | None] = (
                shards(lo, hi, shard_size) if channel in PER_RECIPIENT else [None]
            )
            lanes.append([sc.ShardWork(announcement, channel, bounds) for bounds in ranges])
    return [w for turn in itertools.zip_longest(*lanes) for w in turn if w is not None]


def _on_workers(
    plan: dict[str, Any], shard_size: int, options: dict[str, Any], workers: int,
    lease_seconds: float,
) -> tuple[list[dict[str, Any]], int]:  # fmt: skip
    """Send the plan's shards on the work pool's workers and wait until every one is done;
    return the shards' reports and how many rows dead runners' outbox lines added."""
    banners = [
        publish_banner_task.submit(plan["incident_id"], announcement, options["all_clear"],
                                   options["public_url"], options["database_url"])
        for announcement, channels in plan["plan"].items() if "banner" in channels
    ]  # fmt: skip
    work = _shard_work(plan, shard_size)
    run = uuid.uuid4().hex
    runners = max(1, min(workers, len(work)))
    runner = {
        "run": run, "incident_id": plan["incident_id"], "database_url": options["database_url"],
        "audiences": plan["audiences"], "targets": plan["targets"],
        "exercise": options["exercise"], "batch_size": options["batch_size"],
        "rate_per_second": options["rate_per_second"], "lease_seconds": lease_seconds,
        "share": runners,
    }  # fmt: skip
    store = open_store(options["database_url"])
    try:
        with store.session() as session:
            sc.plan_run(session, run, plan["incident_id"], work, now=datetime.now(UTC))
        if work:
            for _ in range(runners):
                run_deployment(SHARD_DEPLOYMENT, parameters=runner, timeout=0)
            _wait_for_shards(store, run, runner, lease_seconds)
        with store.session() as session:
            reports = sc.reports_of(session, run)
            # Every shard is done: the marks left are dead runners', their lines read back.
            outbox = outbox_directory(settings_for(options["database_url"]), plan["ref"])
            reconciled = reconcile_marks(session, outbox, plan["incident_id"], datetime.now(UTC))
    finally:
        store.dispose()
    return reports + _collect(banners), reconciled


def _wait_for_shards(
    store: st.Store, run: str, runner: dict[str, Any], lease_seconds: float
) -> None:
    """Poll the run's shards until all are done; start another runner when shards are left
    with nobody taking them over (every runner dead); give up when nothing moves for long."""
    poll = min(1.0, lease_seconds / 5)
    seen: datetime | None = None
    moved = started = time.monotonic()
    extra = 0
    while True:
        now = datetime.now(UTC)
        with store.session() as session:
            progress = sc.progress_of(session, run, lease_seconds, now=now)
            latest = sc.last_claimed(session, run)
        if progress.finished:
            return
        if latest != seen:
            seen, moved = latest, time.monotonic()
        idle = time.monotonic() - moved
        if idle > IDLE_LIMIT_SECONDS:
            raise CrisiscastError(
                f"broadcast: no Prefect worker has taken or renewed a shard for {idle:.0f} s "
                f"({progress.done} of {progress.total} shards done). Start one with "
                "`prefect worker start --pool crisiscast` and run the same broadcast again: "
                "only what was not sent is sent."
            )
        quiet = min(idle, time.monotonic() - started)
        if sc.needs_runner(progress, quiet, patience=2 * lease_seconds) and extra < progress.total:
            run_deployment(SHARD_DEPLOYMENT, parameters=runner, timeout=0)
            started, extra = time.monotonic(), extra + 1
        time.sleep(poll)


@contextmanager
def _renewing(
    store: st.Store, shard_id: int, owner: str, lease_seconds: float
) -> Iterator[threading.Event]:
    """Renew a claim's lease on a thread while its shard sends. The event is set when the
    claim was lost (another runner took it over): the shard is stopped at its next batch."""
    lost, done = threading.Event(), threading.Event()

    def renew() -> None:
        while not done.wait(lease_seconds / 3):
            try:
                with store.session() as session:
                    kept = sc.renew(session, shard_id, owner, lease_seconds, now=datetime.now(UTC))
            except SQLAlchemyError:  # a database hiccup: the lease has slack for the next try
                continue
            if not kept:
                lost.set()
                sending.STOP.set()
                return

    thread = threading.Thread(target=renew, name="shard-lease", daemon=True)
    thread.start()
    try:
        yield lost
    finally:
        done.set()
        thread.join()
        if lost.is_set():
            sending.STOP.clear()


def _send_claimed(store: st.Store, claim: sc.Claim, owner: str, shared: dict[str, Any]) -> None:
    """Send one claimed shard as a task of this runner and record how it ended."""
    work, incident_id = claim.work, shared["incident_id"]
    reconciled = 0
    if claim.taken_over and work.bounds:  # its dead runner's lines come first
        with store.session() as session:
            ref = st.get_incident(session, incident_id).ref
            outbox = outbox_directory(settings_for(shared["database_url"]), ref)
            reconciled = reconcile_shard_marks(session, outbox, incident_id, work.channel,
                                               work.bounds, datetime.now(UTC))  # fmt: skip
    lost = threading.Event()
    try:
        with _renewing(store, claim.id, owner, shared["lease_seconds"]) as lost:
            report = send_shard(
                incident_id, work.announcement, work.channel, work.bounds, shared["audiences"],
                shared["exercise"], shared["database_url"], shared["batch_size"],
                shared["rate_per_second"], shared["targets"][work.announcement], shared["share"],
            )  # fmt: skip
    except Exception as exc:  # reported like a crashed shard task in the embedded path
        report = {"channel": work.channel, "error": f"shard failed: {exc}"}
    report["reconciled"] = int(report.get("reconciled", 0)) + reconciled
    with store.session() as session:
        if lost.is_set() or report.get("stopped"):
            sc.release(session, claim.id, owner, now=datetime.now(UTC))
        else:
            sc.complete(session, claim.id, report, now=datetime.now(UTC))


@flow(name="send-shards")
def send_shards(
    run: str,
    incident_id: int,
    database_url: str | None,
    audiences: dict[str, list[str]],
    targets: dict[str, int | None],
    exercise: bool,
    batch_size: int | None = None,
    rate_per_second: float | None = None,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    share: int = 1,
) -> int:
    """A shard runner on a Prefect worker: claim a shard of broadcast ``run``, send it, repeat.

    Started by ``broadcast(workers=N)``. When nothing is left to claim but other runners'
    shards are still sending, it waits, so that a shard whose runner died (lease passed) is
    taken over; it ends when every shard is done. Returns how many shards it sent.
    """
    owner = sc.owner_name()
    shared = {"incident_id": incident_id, "database_url": database_url, "audiences": audiences,
              "targets": targets, "exercise": exercise, "batch_size": batch_size,
              "rate_per_second": rate_per_second, "lease_seconds": lease_seconds,
              "share": share}  # fmt: skip
    store = open_store(database_url)
    sent = 0
    try:
        while True:
            with store.session() as session:
                claim = sc.claim_next(session, run, owner, lease_seconds, now=datetime.now(UTC))
            if claim is not None:
                _send_claimed(store, claim, owner, shared)
                sent += 1
                continue
            with store.session() as session:
                progress = sc.progress_of(session, run, lease_seconds, now=datetime.now(UTC))
            if progress.pending == 0 and progress.running == 0:
                get_run_logger().info("run=%s shard runner %s sent %d shards", run, owner, sent)
                return sent
            time.sleep(min(1.0, lease_seconds / 5))
    finally:
        store.dispose()


def shard_rate(channel_rate: float | None, share: int = SHARD_WORKERS) -> float | None:
    """Each shard's share of a channel's rate: up to ``share`` shards of one channel run at
    once, and together they must stay within the provider's limit (None: no limit)."""
    return channel_rate / max(share, 1) if channel_rate else None


def outbox_directory(settings: Settings, ref: str) -> Path:
    """Where an incident's outbox files are: ``<home>/outbox/<INC-ref>/<kind>.jsonl``."""
    return settings.outbox_dir / ref
