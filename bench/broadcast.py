"""Broadcast benchmark: N contacts x (SMS + email) through the outbox, ledger on SQLite.

Prints, from one run on the same machine:
- the broadcast flow (sharded tasks, ledger, outbox): wall time, deliveries/s, peak RSS;
- the floor: the same ledger rows inserted with stdlib sqlite3 executemany, one transaction;
- a naive Prefect flow with one task per recipient on ``--naive`` recipients, scaled to N x 2.

Run:  python bench/broadcast.py --contacts 1000000
Contacts are seeded with sqlite3 executemany (setup, not timed): importing 1M rows through
phonenumbers is the audience import's job, not the broadcast's.
"""

from __future__ import annotations

import argparse
import os
import resource
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLAYBOOK = ROOT / "playbooks" / "regional-flood.yaml"
LANGUAGES = ("en", "th", "lo")


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _contacts(count: int) -> Iterator[tuple[str, str, str, str]]:
    for i in range(count):
        yield ("all", f"+668{i:08d}", f"person{i}@example.org", LANGUAGES[i % 3])


def seed(db: Path, count: int) -> None:
    """Insert ``count`` contacts with a phone and an email each (streamed, not timed)."""
    connection = sqlite3.connect(db)
    with connection:
        connection.executemany(
            "INSERT INTO contacts (audience, phone, email, language) VALUES (?, ?, ?, ?)",
            _contacts(count),
        )
    connection.close()


def open_incident(url: str, target: str = "everyone") -> str:
    """Create an exercise incident from the flood playbook and stage its launch messages."""
    from sqlalchemy import text

    from crisiscast.incidents.audience.directory import TargetSpec, create_target, ensure_list
    from crisiscast.incidents.broadcast.staging import stage
    from crisiscast.incidents.store import database as st
    from crisiscast.playbook import load_playbook, resolve_params

    playbook = load_playbook(str(PLAYBOOK))
    params = resolve_params(playbook, {"area": "Mekong riverside"})
    store = st.Store(url)
    now = datetime.now(UTC)
    try:
        with store.session() as session:
            incident = st.create_incident(
                session, playbook_id=playbook.id, playbook_path=str(PLAYBOOK), title="Flood",
                params=params, languages=list(playbook.languages), exercise=True, now=now,
            )  # fmt: skip
            # Every seeded contact, named explicitly (--target everyone: the hot path as before
            # targets), or on one list (--target list: a join on target_members' primary key).
            spec = TargetSpec(everyone=True)
            if target == "list":
                members = ensure_list(session, "bench", now=now)
                session.execute(
                    text("INSERT INTO contact_list_members (list_id, contact_id) "
                         "SELECT :list, id FROM contacts"),
                    {"list": members.id},
                )  # fmt: skip
                spec = TargetSpec(lists=("bench",))
            made = create_target(session, spec, incident_id=incident.id, now=now)
            stage(session, incident, playbook, when="launch", announcement=None, now=now,
                  target_id=made.id)  # fmt: skip
            return incident.ref
    finally:
        store.dispose()


def floor(directory: Path, count: int) -> float:
    """Seconds to insert the same 2 x ``count`` ledger rows with sqlite3 executemany."""
    from crisiscast.incidents.broadcast.ledger import contact_key
    from crisiscast.incidents.store.database import upgrade

    db = directory / "floor.db"
    upgrade(f"sqlite:///{db}")
    connection = sqlite3.connect(db)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")

    def rows() -> Iterator[tuple[object, ...]]:
        for channel, announcement in (("sms", 1), ("email", 2)):
            for i in range(count):
                address = f"+668{i:08d}" if channel == "sms" else f"person{i}@example.org"
                key = contact_key(1, announcement, channel, i + 1)
                yield (key, 1, announcement, channel, i + 1, address, stamp, stamp)

    started = time.perf_counter()
    with connection:
        connection.executemany(
            "INSERT INTO deliveries (idempotency_key, incident_id, announcement_id, channel, "
            "contact_id, address, status, attempts, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, 'queued', 0, ?, ?)",
            rows(),
        )
    elapsed = time.perf_counter() - started
    connection.close()
    return elapsed


def naive(directory: Path, recipients: int) -> float:
    """Seconds for a flow with one Prefect task per recipient (queue, outbox send, record)."""
    from prefect import flow, task

    from crisiscast.channels.base import OutgoingMessage
    from crisiscast.channels.outbox import OutboxChannel

    outbox = OutboxChannel("sms", directory / "naive")
    ledger = sqlite3.connect(directory / "naive.db", check_same_thread=False)
    ledger.execute("CREATE TABLE d (k TEXT PRIMARY KEY, status TEXT, provider_id TEXT)")

    @task
    def send_one(i: int) -> None:
        key = f"naive:{i}"
        ledger.execute("INSERT INTO d VALUES (?, 'queued', NULL)", (key,))
        [result] = outbox.send([OutgoingMessage(key, f"+668{i:08d}", "en", "Flood warning")])
        ledger.execute(
            "UPDATE d SET status='sent', provider_id=? WHERE k=?", (result.provider_id, key)
        )
        ledger.commit()

    @flow
    def naive_flow(count: int) -> None:
        for i in range(count):
            send_one(i)

    started = time.perf_counter()
    naive_flow(recipients)
    elapsed = time.perf_counter() - started
    outbox.close()
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--shard-size", type=int, default=100_000)
    parser.add_argument("--naive", type=int, default=1_000)
    parser.add_argument("--target", choices=["everyone", "list"], default="everyone")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="crisiscast-bench-") as tmp:
        directory = Path(tmp)
        os.environ["CRISISCAST_HOME"] = str(directory / "home")
        from prefect import flow
        from prefect.testing.utilities import prefect_test_harness

        from crisiscast.flows.broadcast import broadcast
        from crisiscast.incidents.store.database import upgrade

        db = directory / "crisiscast.db"
        url = f"sqlite:///{db}"
        upgrade(url)
        seed(db, args.contacts)
        ref = open_incident(url, args.target)
        with prefect_test_harness(server_startup_timeout=120):

            @flow
            def warm_up() -> None:
                """Start the API before timing: a one-shot CLI pays this once per process."""

            warm_up()
            rss_before = peak_rss_mb()
            started = time.perf_counter()
            summary = broadcast(
                ref, database_url=url, shard_size=args.shard_size, channels=["sms", "email"]
            )
            wall = time.perf_counter() - started
            rss_after = peak_rss_mb()
            naive_seconds = naive(directory, args.naive)
        deliveries = sum(n for by in summary["counts"].values() for n in by.values())
        sent = sum(by.get("sent", 0) for by in summary["counts"].values())
        outbox = directory / "home" / "outbox" / ref
        lines = sum(sum(1 for _ in (outbox / f"{k}.jsonl").open("rb")) for k in ("sms", "email"))
        floor_seconds = floor(directory, args.contacts)
        naive_rate = args.naive / naive_seconds
        rate = deliveries / wall
        print(
            f"contacts:                 {args.contacts:,} x 2 channels (sms, email), outbox, SQLite"
            f"; target: {args.target}"
        )
        print(
            f"shard size:               {args.shard_size:,} contacts "
            f"({summary['shards']} shard tasks)"
        )
        print(f"broadcast wall time:      {wall:.2f} s")
        print(f"deliveries recorded:      {deliveries:,} (sent {sent:,}; outbox lines {lines:,})")
        print(f"deliveries/s:             {rate:,.0f}")
        print(
            f"peak RSS:                 {rss_after:.0f} MB "
            f"(before the broadcast {rss_before:.0f} MB)"
        )
        print(
            f"floor (sqlite3 executemany, {2 * args.contacts:,} ledger rows): "
            f"{floor_seconds:.2f} s, {2 * args.contacts / floor_seconds:,.0f} rows/s"
        )
        print(f"naive (1 Prefect task per recipient, {args.naive:,}): {naive_seconds:.2f} s, "
              f"{naive_rate:,.0f} deliveries/s -> {2 * args.contacts / naive_rate / 3600:.1f} h "
              f"for {2 * args.contacts:,}")  # fmt: skip
        print(f"speed-up over naive:      {rate / naive_rate:,.0f}x")
        print(f"command: {sys.executable} bench/broadcast.py --contacts {args.contacts} "
              f"--shard-size {args.shard_size} --naive {args.naive} "
              f"--target {args.target}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
