"""The broadcast's hot path, without Prefect: queue one shard's ledger rows, send, record.

How at-most-once holds across retries, crashes and re-launches:

1. Every recipient's row is inserted once (unique idempotency key, ``ON CONFLICT DO NOTHING``).
2. SDK channels queue a shard's rows first and send only ``queued`` rows; the outcome of each
   batch is recorded in one statement. They mark a batch ``IN_FLIGHT`` (and count the attempt)
   in a committed transaction *before* handing it to the provider. A row found in flight when
   a shard starts was handed over by a run that died before recording the outcome: it is
   marked ``failed`` with "outcome unknown after crash" and reported, never resent blindly.
3. The outbox writes each row once: a batch's lines go to the outbox file, then the batch is
   inserted as sent. Before its first line, the shard records the file's size (an outbox
   mark, committed). A run killed in between leaves lines the ledger lacks; the next run reads
   the file from the mark and records them as sent before any shard starts
   (``queueing.reconcile_marks``), so they are not written again.
4. This machine failing to write (a full disk: ``LocalWriteError``) stops the shard with its
   rows still ``queued``, never ``failed``: the report says so (``local_error``), the command
   exits non-zero, and the same broadcast run again once there is space sends them.

So a broadcast killed with SIGKILL and run again sends only what was not sent.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from crisiscast.channels.base import Channel, DeliveryResult, OutgoingMessage
from crisiscast.channels.outbox import OutboxChannel
from crisiscast.errors import LocalWriteError, PermanentChannelError, RetryableChannelError
from crisiscast.incidents.audience.optout import OPTED_OUT, opted_out_addresses
from crisiscast.incidents.broadcast import ledger as lg
from crisiscast.incidents.broadcast.decisions import Content, Reach, backoff_seconds, pace_wait
from crisiscast.incidents.broadcast.outbox_once import OutboxShard
from crisiscast.incidents.broadcast.queueing import (
    is_recalled,
    queue_everyone,
    settle_leftovers,
    shard_rows,
    stream_contacts,
)
from crisiscast.incidents.store.database import Store

log = logging.getLogger("crisiscast.broadcast")
# SQLite has one writer at a time, and a blocked writer sleep-polls (busy_timeout) in steps of
# up to 100 ms. Shards of one process queue for this lock instead, handing over at once.
_SQLITE_WRITES = threading.Lock()
SQLITE_CACHE_KB = 8_192
# Outbox shards on SQLite take turns a shard at a time, not a batch at a time: SQLite drops a
# connection's page cache whenever another connection has committed, so two shards alternating
# batches would start every batch with a cold cache (1M x 2: 17 s instead of 15 s).
_SQLITE_OUTBOX_SHARDS = threading.Lock()
# Set by the CLI's first Ctrl-C (crisiscast.cli.interrupt): every shard of this process stops at
# its next batch boundary, once the batch in hand is recorded, so a resume sends the rest once.
STOP = threading.Event()


class SendProgress:
    """Deliveries sent so far per channel by this process's shards, for the CLI's progress bars:
    the ledger is busy with the shards' writes, counting it would slow them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sent: dict[str, int] = {}

    def add(self, channel: str, sent: int) -> None:
        if sent:
            with self._lock:
                self._sent[channel] = self._sent.get(channel, 0) + sent

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._sent)

    def clear(self) -> None:
        with self._lock:
            self._sent.clear()


PROGRESS = SendProgress()


class _Stopped(Exception):
    """Raised where a new batch would begin once STOP is set: nothing of that batch is done."""


@contextmanager
def _session(store: Store) -> Iterator[Session]:
    """A store session; on SQLite, also this process's write turn."""
    if store.url.get_backend_name() != "sqlite":
        with store.session() as session:
            yield session
        return
    with _SQLITE_WRITES, store.session() as session:
        # A page cache above the 2 MB default keeps the indexes' hot pages of a shard's
        # inserts and updates in memory; keys are ordered (ledger.contact_key), so 8 MB does.
        session.execute(text(f"PRAGMA cache_size=-{SQLITE_CACHE_KB}"))
        yield session


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a batch is retried on 429 / 5xx / timeouts."""

    max_attempts: int = 5
    base_seconds: float = 0.5
    cap_seconds: float = 30.0
    # None: the channel's own published rate, or none for a channel that paces itself.
    rate_per_second: float | None = None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic


@dataclass
class ShardReport:
    """What one shard did on one channel; the flow sums these per channel."""

    channel: str
    queued: int = 0
    sent: int = 0
    failed: int = 0
    suppressed: int = 0
    unknown: int = 0
    reconciled: int = 0
    recalled: bool = False
    error: str | None = None
    local_error: bool = False  # ``error`` is this machine's (disk full): rows stay queued
    stopped: bool = False  # cut short by STOP (Ctrl-C): the rest stays for a resume
    extra: dict[str, int] = field(default_factory=dict)

    def add(self, outcomes: Sequence[lg.Outcome]) -> None:
        for outcome in outcomes:
            if outcome.status == "sent":
                self.sent += 1
            elif outcome.status == "suppressed":
                self.suppressed += 1
            elif outcome.status == "failed":
                self.failed += 1


def _messages(rows: Sequence[lg.LedgerRow], by_row: dict[int, Content]) -> list[OutgoingMessage]:
    messages = []
    for row in rows:
        c = by_row[row.announcement_id]
        messages.append(
            OutgoingMessage(row.idempotency_key, row.address, c.language, c.text, c.subject, c.html)
        )
    return messages


def _outcomes(
    rows: Sequence[lg.LedgerRow], results: Sequence[DeliveryResult], last_try: bool
) -> list[lg.Outcome]:
    """Ledger outcomes of a batch's results; retryable failures stay queued until the last try."""
    outcomes = []
    for row, result in zip(rows, results, strict=True):
        if result.status == "failed" and result.retryable and not last_try:
            outcomes.append(lg.Outcome(row.id, "queued", None, result.error))
        else:
            outcomes.append(lg.Outcome(row.id, result.status, result.provider_id, result.error))
    return outcomes


class Sender:
    """Sends one channel's queued rows of one shard in batches, with retries and pacing."""

    def __init__(
        self,
        store: Store,
        channel: Channel,
        contents: Sequence[Content],
        policy: RetryPolicy,
        report: ShardReport,
        shard: Shard,
    ) -> None:
        self.store = store
        self.shard = shard
        self.channel = channel
        self.by_row = {c.row_id: c for c in contents}
        self.policy = policy
        self.report = report
        self.marks_in_flight = not isinstance(channel, OutboxChannel)
        # A channel with a sender pool keeps to each sender's rate itself; pacing it here too
        # would cap it at the published floor (1/s for Twilio). An explicit rate still applies.
        self.rate = policy.rate_per_second or (
            None if channel.paces_itself else channel.rate_per_second
        )
        self.started = policy.clock()
        self.handed = 0

    def send(self, rows: Sequence[lg.LedgerRow], suppress: Callable[[lg.LedgerRow], bool]) -> None:
        """Send a batch (suppressing opted-out rows), retrying transient failures."""
        quiet = [lg.Outcome(r.id, "suppressed", None, OPTED_OUT) for r in rows if suppress(r)]
        pending = [r for r in rows if not suppress(r)]
        if quiet:
            with _session(self.store) as session:
                lg.record_outcomes(session, quiet, now=datetime.now(UTC))
            self.report.suppressed += len(quiet)
        for attempt in range(1, self.policy.max_attempts + 1):
            if not pending:
                return
            pending = self._attempt(pending, attempt)
            if pending and STOP.is_set():  # no back-off wait after Ctrl-C: they stay queued
                return
            if pending:
                jitter = random.random()
                self.policy.sleep(
                    backoff_seconds(attempt, base=self.policy.base_seconds,
                                    cap=self.policy.cap_seconds, jitter=jitter)
                )  # fmt: skip

    def _attempt(self, rows: Sequence[lg.LedgerRow], attempt: int) -> list[lg.LedgerRow]:
        """One try at ``rows``; returns the rows to try again."""
        last_try = attempt == self.policy.max_attempts
        if self.marks_in_flight:
            with _session(self.store) as session:
                lg.mark_in_flight(session, [r.id for r in rows], now=datetime.now(UTC))
        self._pace(len(rows))
        try:
            results = self.channel.send(_messages(rows, self.by_row))
        except RetryableChannelError as exc:
            results = [DeliveryResult.failed(r.idempotency_key, str(exc), retryable=True)
                       for r in rows]  # fmt: skip
        except PermanentChannelError as exc:
            failed = [lg.Outcome(r.id, "failed", None, str(exc)) for r in rows]
            self._record(failed)
            raise
        except LocalWriteError as exc:  # nothing left: queued, with the reason, for the next run
            self._record([lg.Outcome(r.id, "queued", None, str(exc)) for r in rows])
            raise
        if not self.marks_in_flight and all(r.status == "sent" for r in results):
            # Every queued row in [first, last] of this shard is one of ``rows``: one UPDATE.
            with _session(self.store) as session:
                lg.mark_sent_range(session, self.shard.incident_id, self.shard.channel,
                                   self.shard.bounds, (rows[0].id, rows[-1].id),
                                   now=datetime.now(UTC))  # fmt: skip
            self.report.sent += len(rows)
            PROGRESS.add(self.shard.channel, len(rows))
            return []
        outcomes = _outcomes(rows, results, last_try)
        self._record(outcomes)
        retry = {o.id for o in outcomes if o.status == "queued"}
        return [r for r in rows if r.id in retry]

    def _record(self, outcomes: Sequence[lg.Outcome]) -> None:
        attempt = 0 if self.marks_in_flight else 1
        with _session(self.store) as session:
            lg.record_outcomes(session, outcomes, now=datetime.now(UTC), attempt=attempt)
        self.report.add(outcomes)
        PROGRESS.add(self.shard.channel, sum(o.status == "sent" for o in outcomes))

    def _pace(self, count: int) -> None:
        wait = pace_wait(self.handed, self.started, self.policy.clock(), self.rate)
        if wait > 0:
            self.policy.sleep(wait)
        self.handed += count


@dataclass(frozen=True)
class Shard:
    """One task's work: a channel and a contact id range (None: broadcast-style, everyone)."""

    incident_id: int
    channel: str
    bounds: tuple[int, int] | None
    reach: Reach | None


@dataclass
class _Prepared:
    """A shard after queueing: who to suppress."""

    opted: set[str] = field(default_factory=set)  # keys of contacts opted out of everything
    addresses: set[str] = field(default_factory=set)  # addresses opted out of this channel

    def quiet(self, key: str, address: str | None) -> bool:
        return key in self.opted or address in self.addresses


def _prepare(
    store: Store, shard: Shard, channel: Channel, contents: dict[str, Content], default: str,
    report: ShardReport,
) -> _Prepared:  # fmt: skip
    """Settle an earlier run's leftovers, then queue this shard."""
    now = datetime.now(UTC)
    width = shard.bounds[1] - shard.bounds[0] + 1 if shard.bounds else len(contents)
    rows: list[lg.QueuedDelivery] = []
    prepared = _Prepared()
    if shard.reach and shard.bounds:
        with _session(store) as session:
            contacts = list(stream_contacts(session, shard.reach, shard.bounds))
            prepared.addresses = opted_out_addresses(session, shard.channel)
        # Built outside the write turn, so another shard's writes overlap this Python work.
        rows, prepared.opted = shard_rows(
            shard.incident_id, shard.channel, contacts, contents, default
        )
        del contacts
    with _session(store) as session:
        leftovers = lg.queued_rows(
            session, shard.incident_id, shard.channel, shard.bounds, limit=width * 2 + 10,
            announcements=_rows_of(contents),
        )  # fmt: skip
        report.reconciled, report.unknown = settle_leftovers(session, channel, leftovers, now)
        if not (shard.reach and shard.bounds):
            report.queued = queue_everyone(session, shard.incident_id, shard.channel, contents, now)
            return prepared
        # In key order: neighbouring index pages.
        report.queued = lg.queue_deliveries(session, sorted(rows), now=now)
    return prepared


def _recalled(store: Store, shard: Shard, row_ids: Sequence[int], report: ShardReport) -> bool:
    """Check the recall flag; when set, suppress this channel's queued rows."""
    with _session(store) as session:
        if not is_recalled(session, row_ids):
            return False
        lg.suppress_queued(session, shard.incident_id, lg.RECALLED, now=datetime.now(UTC),
                           channel=shard.channel)  # fmt: skip
    report.recalled = True
    return True


def _record_to_outbox(
    store: Store, shard: Shard, reach: Reach, bounds: tuple[int, int], channel: OutboxChannel,
    contents: dict[str, Content], default: str, size: int, report: ShardReport,
) -> None:  # fmt: skip
    """The outbox's path: each row written once (see ``outbox_once``)."""
    counted = 0

    def count() -> None:  # after each committed batch
        nonlocal counted
        PROGRESS.add(shard.channel, writer.sent - counted)
        counted = writer.sent

    writer = OutboxShard(lambda: _batch_session(store, count), shard.incident_id, reach, bounds,
                         channel, contents, default)  # fmt: skip
    turn = _SQLITE_OUTBOX_SHARDS if store.url.get_backend_name() == "sqlite" else nullcontext()
    try:
        with turn:
            writer.run(size)
    except (PermanentChannelError, LocalWriteError) as exc:
        report.error = str(exc)
        report.local_error = isinstance(exc, LocalWriteError)
    except _Stopped:
        report.stopped = True
    report.queued, report.sent = writer.queued, writer.sent
    report.suppressed, report.recalled = writer.suppressed, writer.recalled


@contextmanager
def _batch_session(store: Store, committed: Callable[[], None]) -> Iterator[Session]:
    """The outbox writer's session, which it opens once per batch: the place to stop, since
    nothing of the batch is written yet and every earlier batch is committed."""
    if STOP.is_set():
        raise _Stopped
    with _session(store) as session:
        yield session
    committed()


def _has_queued(store: Store, shard: Shard, contents: dict[str, Content]) -> bool:
    with _session(store) as session:
        return bool(lg.queued_rows(session, shard.incident_id, shard.channel, shard.bounds,
                                   limit=1, announcements=_rows_of(contents)))  # fmt: skip


def _rows_of(contents: dict[str, Content]) -> tuple[int, ...]:
    """The announcement rows (one per language) a shard sends: its queued rows are theirs."""
    return tuple(sorted({c.row_id for c in contents.values()}))


def run_shard(
    store: Store,
    shard: Shard,
    channel: Channel,
    contents: dict[str, Content],
    default_language: str,
    policy: RetryPolicy,
    batch_size: int | None = None,
) -> ShardReport:
    """Queue, settle and send one shard on one channel; a failed channel is reported."""
    report = ShardReport(channel=shard.channel)
    if STOP.is_set():
        report.stopped = True
        return report
    row_ids = [c.row_id for c in contents.values()]
    with _session(store) as session:
        if is_recalled(session, row_ids):
            report.recalled = True
            return report
    size = min(batch_size or channel.batch_size, channel.batch_size)
    # Queued rows of the shard (an SDK run's, say) are settled by the queue-and-send path below.
    if (
        isinstance(channel, OutboxChannel)
        and shard.reach
        and shard.bounds
        and not _has_queued(store, shard, contents)
    ):
        _record_to_outbox(store, shard, shard.reach, shard.bounds, channel, contents,
                          default_language, size, report)  # fmt: skip
        return report
    prepared = _prepare(store, shard, channel, contents, default_language, report)

    def suppress(row: lg.LedgerRow) -> bool:
        return prepared.quiet(row.idempotency_key, row.address)

    sender = Sender(store, channel, list(contents.values()), policy, report, shard)
    after = 0
    width = shard.bounds[1] - shard.bounds[0] + 1 if shard.bounds else len(contents)
    # Bounded: each pass moves ``after`` past at least one row, and a shard has <= width rows.
    for _ in range(width + 2):
        if STOP.is_set():  # every batch so far is recorded; the rest stays queued
            report.stopped = True
            break
        if _recalled(store, shard, row_ids, report):
            break
        with _session(store) as session:
            rows = lg.queued_rows(
                session, shard.incident_id, shard.channel, shard.bounds, after_id=after,
                limit=size, announcements=_rows_of(contents),
            )  # fmt: skip
        if not rows:
            break
        try:
            sender.send(rows, suppress)
        except (PermanentChannelError, LocalWriteError) as exc:
            report.error = str(exc)
            report.local_error = isinstance(exc, LocalWriteError)
            log.warning("incident=INC-%d channel=%s failed: %s", shard.incident_id,
                        shard.channel, exc)  # fmt: skip
            break
        after = rows[-1].id
    return report


def run_totals(reports: Sequence[dict[str, object]]) -> dict[str, dict[str, int]]:
    """What this run did per channel (sent, failed, suppressed), from its shards' reports: the
    ledger's counts are the incident's running totals, which a rerun would repeat."""
    totals: dict[str, dict[str, int]] = {}
    for report in reports:
        channel = str(report.get("channel") or "?")
        by = totals.setdefault(channel, {"sent": 0, "failed": 0, "suppressed": 0})
        for key in by:
            value = report.get(key, 0)
            by[key] += value if isinstance(value, int) else 0
    return totals
