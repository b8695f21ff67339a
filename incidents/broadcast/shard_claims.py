"""Shard claims: how the shard runners on Prefect workers share one broadcast.

A broadcast on workers writes its shards here as ``pending``. Each runner claims the next
pending shard, or one whose lease has passed, and renews the lease while it sends. A runner
that dies (its worker killed, its machine lost) stops renewing, and the next runner to look
takes the shard over once the lease has passed. Prefect is not asked to do this: it leaves a
killed worker's flow run "Running" and hands it to nobody.

Two runners on one shard (a runner too slow to renew) still send each delivery once: the
ledger is the guard (see ``crisiscast.incidents.broadcast.sending``); the lease only decides
who does the work.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from crisiscast.incidents.store.models import BroadcastShard

PENDING, RUNNING, DONE = "pending", "running", "done"


@dataclass(frozen=True)
class ShardWork:
    """One shard to send: an announcement on a channel, over a contact id range (None:
    broadcast-style, one post for everyone)."""

    announcement: str
    channel: str
    bounds: tuple[int, int] | None


@dataclass(frozen=True)
class Claim:
    """A shard this runner holds; ``taken_over``: an earlier runner held it and died."""

    id: int
    work: ShardWork
    taken_over: bool


@dataclass(frozen=True)
class RunProgress:
    """Where a broadcast run's shards are, as the coordinator polls them."""

    total: int
    done: int
    running: int
    pending: int
    abandoned: int  # running, but the lease passed a whole lease ago: nobody is taking it over

    @property
    def finished(self) -> bool:
        return self.done == self.total


def owner_name() -> str:
    """Who holds a claim: host and process id, so a commander can find a stuck runner."""
    return f"{socket.gethostname()}:{os.getpid()}"


def needs_runner(progress: RunProgress, quiet_seconds: float, patience: float) -> bool:
    """Pure: start another shard runner when shards are left over with no live runner to take
    them (an abandoned lease, or pending shards with none running), and nothing has claimed,
    renewed or been started for ``patience`` s (a runner just started needs time to boot)."""
    if progress.finished or quiet_seconds <= patience:
        return False
    return progress.abandoned > 0 or (progress.pending > 0 and progress.running == 0)


def plan_run(
    session: Session, run: str, incident_id: int, work: Sequence[ShardWork], *, now: datetime
) -> int:
    """Write a broadcast run's shards as pending; return how many."""
    session.add_all(
        BroadcastShard(
            run=run, incident_id=incident_id, announcement=w.announcement, channel=w.channel,
            contact_lo=w.bounds[0] if w.bounds else None,
            contact_hi=w.bounds[1] if w.bounds else None,
            status=PENDING, claims=0, updated_at=now,
        )
        for w in work
    )  # fmt: skip
    session.flush()
    return len(work)


def _claimable(run: str, now: datetime) -> Any:
    return and_(
        BroadcastShard.run == run,
        or_(
            BroadcastShard.status == PENDING,
            and_(BroadcastShard.status == RUNNING, BroadcastShard.lease_until < now),
        ),
    )


def claim_next(
    session: Session, run: str, owner: str, lease_seconds: float, *, now: datetime
) -> Claim | None:
    """Claim the run's next pending or lease-expired shard, or None when there is none now.

    On PostgreSQL, ``FOR UPDATE SKIP LOCKED`` lets runners claim at once without waiting on
    each other; SQLite's write lock (``BEGIN IMMEDIATE``) serialises them instead.
    """
    candidate = session.execute(
        select(BroadcastShard.id, BroadcastShard.claims)
        .where(_claimable(run, now))
        .order_by(BroadcastShard.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()
    if candidate is None:
        return None
    claimed = session.execute(
        update(BroadcastShard)
        .where(BroadcastShard.id == candidate.id, _claimable(run, now))
        .values(status=RUNNING, owner=owner, claims=BroadcastShard.claims + 1,
                lease_until=now + timedelta(seconds=lease_seconds), updated_at=now)
        .returning(BroadcastShard.announcement, BroadcastShard.channel,
                   BroadcastShard.contact_lo, BroadcastShard.contact_hi)
    ).first()  # fmt: skip
    if claimed is None:  # another runner was quicker (SQLite only: PostgreSQL skipped the row)
        return None
    lo, hi = claimed.contact_lo, claimed.contact_hi
    bounds = (int(lo), int(hi)) if lo is not None and hi is not None else None
    work = ShardWork(claimed.announcement, claimed.channel, bounds)
    return Claim(candidate.id, work, taken_over=candidate.claims > 0)


def renew(
    session: Session, shard_id: int, owner: str, lease_seconds: float, *, now: datetime
) -> bool:
    """Extend this runner's lease; False when the shard is no longer this runner's (it was
    too slow to renew and another took it over): the runner must stop sending it."""
    result = session.execute(
        update(BroadcastShard)
        .where(BroadcastShard.id == shard_id, BroadcastShard.owner == owner,
               BroadcastShard.status == RUNNING)
        .values(lease_until=now + timedelta(seconds=lease_seconds), updated_at=now)
    )  # fmt: skip
    return bool(result.rowcount)  # type: ignore[attr-defined]  # a CursorResult for an UPDATE


def complete(session: Session, shard_id: int, report: dict[str, Any], *, now: datetime) -> None:
    """Record the shard as done with its report (the coordinator sums the reports)."""
    session.execute(
        update(BroadcastShard)
        .where(BroadcastShard.id == shard_id, BroadcastShard.status != DONE)
        .values(status=DONE, report=json.dumps(report), lease_until=None, updated_at=now)
    )


def release(session: Session, shard_id: int, owner: str, *, now: datetime) -> None:
    """Hand a shard back unfinished (the runner was told to stop): pending for the next."""
    session.execute(
        update(BroadcastShard)
        .where(BroadcastShard.id == shard_id, BroadcastShard.owner == owner,
               BroadcastShard.status == RUNNING)
        .values(status=PENDING, lease_until=None, updated_at=now)
    )  # fmt: skip


def progress_of(session: Session, run: str, lease_seconds: float, *, now: datetime) -> RunProgress:
    """Count the run's shards by state, and those abandoned a whole lease past their lease."""
    counts: dict[str, int] = dict(
        session.execute(
            select(BroadcastShard.status, func.count())
            .where(BroadcastShard.run == run)
            .group_by(BroadcastShard.status)
        ).all()
    )
    abandoned = session.execute(
        select(func.count()).where(
            BroadcastShard.run == run, BroadcastShard.status == RUNNING,
            BroadcastShard.lease_until < now - timedelta(seconds=lease_seconds),
        )
    ).scalar_one()  # fmt: skip
    return RunProgress(
        total=sum(counts.values()), done=counts.get(DONE, 0), running=counts.get(RUNNING, 0),
        pending=counts.get(PENDING, 0), abandoned=int(abandoned),
    )  # fmt: skip


def reports_of(session: Session, run: str) -> list[dict[str, Any]]:
    """The reports of the run's finished shards, in shard order."""
    rows = session.scalars(
        select(BroadcastShard.report)
        .where(BroadcastShard.run == run, BroadcastShard.status == DONE)
        .order_by(BroadcastShard.id)
    )
    return [json.loads(r) for r in rows if r]


def last_claimed(session: Session, run: str) -> datetime | None:
    """When a shard of the run was last claimed or renewed (None: never)."""
    return session.execute(
        select(func.max(BroadcastShard.updated_at)).where(
            BroadcastShard.run == run, BroadcastShard.status != PENDING
        )
    ).scalar_one()
