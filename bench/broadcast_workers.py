"""Broadcast on Prefect workers: one vs two workers on the same broadcast, ledger on PostgreSQL.

Starts a Prefect server on a PostgreSQL database of its own, the ``crisiscast`` process work
pool and the ``send-shards`` deployment (from prefect.yaml), seeds N contacts in a crisiscast
store on PostgreSQL, then for each worker count launches a fresh exercise incident and times
``broadcast(workers=n)`` (SMS + email through the outbox) with that many ``prefect worker
start --limit 1`` processes. ``0`` is the embedded default (every shard in the broadcast's own
process) on the same store, for reference. Everything it creates is removed at the end.

Run:  python bench/broadcast_workers.py --contacts 200000 --workers 0,1,2
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
PLAYBOOK = ROOT / "playbooks" / "regional-flood.yaml"
PREFECT = str(Path(sys.executable).with_name("prefect"))
RUN = """
import json, sys, threading, time
from sqlalchemy import text
from crisiscast.flows.broadcast import broadcast
from crisiscast.flows.launch import launch_incident
from crisiscast.incidents.store.database import Store
url, workers, shard, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
ref = launch_incident(sys.argv[5], {"area": "Mekong riverside"}, exercise=True,
                      database_url=url, send=False, target={"everyone": True})
first_claim = []
def watch(store=Store(url)):  # when the first runner on a worker claimed a shard
    while workers and not first_claim:
        with store.session() as session:
            if session.execute(text(
                    "SELECT count(*) FROM broadcast_shards WHERE status != 'pending' AND "
                    "incident_id = :incident"), {"incident": int(ref.split("-")[1])}).scalar():
                first_claim.append(time.perf_counter() - started)
        time.sleep(0.2)
started = time.perf_counter()
threading.Thread(target=watch, daemon=True).start()
summary = broadcast(ref, database_url=url, shard_size=shard, channels=["sms", "email"],
                    workers=workers)
wall = time.perf_counter() - started
with open(out, "w") as f:
    json.dump({"ref": ref, "wall": wall, "counts": summary["counts"],
               "first_claim": first_claim[0] if first_claim else 0.0}, f)
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def admin(base: str, sql: str) -> None:
    with psycopg.connect(f"{base}/postgres", autocommit=True) as db:
        db.execute(sql)  # type: ignore[arg-type]  # our own fixed statements


def seed(url: str, count: int) -> None:
    """Bring the store to head and add ``count`` contacts (setup, not timed)."""
    from sqlalchemy import text

    from crisiscast.incidents.store.database import Store

    store = Store(url)
    try:
        store.upgrade()
        with store.session() as session:
            session.execute(text(
                "INSERT INTO contacts (audience, phone, email, language) "
                "SELECT 'all', '+668' || lpad(i::text, 8, '0'), 'person' || i || '@example.org', "
                "(ARRAY['en', 'th', 'lo'])[i % 3 + 1] FROM generate_series(0, :n - 1) AS i"
            ), {"n": count})  # fmt: skip
    finally:
        store.dispose()


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL a process started in its own session, with its group."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def wait_healthy(api: str, log: Path) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < 180:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                return time.perf_counter() - started
        time.sleep(0.5)
    raise SystemExit(f"the Prefect server did not start:\n{log.read_text()[-2000:]}")


def run_once(
    env: dict[str, str], url: str, workers: int, shard: int, work: Path
) -> dict[str, object]:
    """Launch a fresh incident and broadcast it with ``workers`` workers; its timings."""
    started: list[subprocess.Popen[bytes]] = []
    try:
        for i in range(workers):
            with (work / f"worker-{workers}-{i}.log").open("ab") as log:
                started.append(subprocess.Popen(
                    [PREFECT, "worker", "start", "--pool", "crisiscast", "--type", "process",
                     "--limit", "1"], env=env, cwd=ROOT, stdout=log, stderr=log,
                    start_new_session=True,
                ))  # fmt: skip
        out = work / f"run-{workers}.json"
        with (work / f"run-{workers}.log").open("ab") as log:
            subprocess.run([sys.executable, "-c", RUN, url, str(workers), str(shard), str(out),
                            str(PLAYBOOK)], env=env, cwd=ROOT, stdout=log, stderr=log,
                           check=True, timeout=1800)  # fmt: skip
        result: dict[str, object] = json.loads(out.read_text())
        return result
    finally:
        for process in started:
            stop(process)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--shard-size", type=int, default=25_000)
    parser.add_argument("--workers", default="0,1,2", help="worker counts, e.g. 0,1,2")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    tag = secrets.token_hex(4)
    store_db, prefect_db = f"crisiscast_bench_{tag}", f"crisiscast_prefect_{tag}"
    host = args.postgres.split("://", 1)[1]
    url = f"postgresql+psycopg://{host}/{store_db}"
    port = free_port()
    server: subprocess.Popen[bytes] | None = None
    with tempfile.TemporaryDirectory(prefix="crisiscast-workers-") as tmp:
        work = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")} | {
            "PREFECT_HOME": str(work / "prefect-home"),
            "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_WORKER_QUERY_SECONDS": "1",
            "CRISISCAST_HOME": str(work / "home"), "PREFECT_LOGGING_LEVEL": "WARNING",
        }  # fmt: skip
        for name in (store_db, prefect_db):
            admin(args.postgres, f'CREATE DATABASE "{name}"')
        try:
            with (work / "server.log").open("ab") as log:
                server = subprocess.Popen(
                    [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                    env=env | {"PREFECT_API_DATABASE_CONNECTION_URL":
                               f"postgresql+asyncpg://{host}/{prefect_db}",
                               "PREFECT_UI_ENABLED": "false"},
                    stdout=log, stderr=log, start_new_session=True,
                )  # fmt: skip
            os.environ["CRISISCAST_HOME"] = env["CRISISCAST_HOME"]
            seed(url, args.contacts)
            up = wait_healthy(env["PREFECT_API_URL"], work / "server.log")
            subprocess.run([PREFECT, "work-pool", "create", "crisiscast", "--type", "process"],
                           env=env, cwd=ROOT, check=True, capture_output=True)  # fmt: skip
            subprocess.run([PREFECT, "--no-prompt", "deploy", "--name", "send-shards"],
                           env=env, cwd=ROOT, check=True, capture_output=True)  # fmt: skip
            print(f"{args.contacts:,} contacts x SMS + email, shards of {args.shard_size:,}; "
                  f"Prefect server on PostgreSQL up in {up:.1f} s")  # fmt: skip
            for count in (int(n) for n in args.workers.split(",")):
                result = run_once(env, url, count, args.shard_size, work)
                deliveries = 2 * args.contacts
                wall = float(result["wall"])  # type: ignore[arg-type]
                boot = float(result["first_claim"])  # type: ignore[arg-type]
                label = "embedded (workers=0)" if count == 0 else f"{count} worker(s)"
                sending = wall - boot
                print(f"{label}: broadcast {wall:.2f} s, {deliveries / wall:,.0f} deliveries/s; "
                      f"first shard claimed after {boot:.2f} s, sending {sending:.2f} s "
                      f"({deliveries / sending:,.0f}/s); ledger {result['counts']}")  # fmt: skip
        finally:
            if server is not None:
                stop(server)
            for name in (store_db, prefect_db):
                admin(args.postgres, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
