"""One broadcast shared by two Prefect process workers on PostgreSQL; one is killed mid-shard.

Real parts throughout: a ``prefect server`` on a PostgreSQL database of its own, the
``send-shards`` deployment from prefect.yaml, two ``prefect worker start`` processes, and the
incident store on PostgreSQL. The broadcast is an exercise (outbox), so every message sent is
a line in the outbox file: the test counts them.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from broadcast_support import FLOOD, ledger_of
from prefect.workers.process import ProcessWorker
from sqlalchemy import text
from sqlalchemy.engine import URL

from crisiscast.errors import CrisiscastError
from crisiscast.flows.broadcast import broadcast
from crisiscast.flows.launch import launch_incident
from crisiscast.incidents.broadcast.queueing import whole_line
from crisiscast.incidents.store import database as st

ROOT = Path(__file__).resolve().parents[2]
CONTACTS = 80_000
SHARD_SIZE = 10_000  # 8 shards: both workers take several
BATCH = 1_000  # a shard is 10 batches, so a kill lands inside one
# The whole test, Prefect server start included, ends within this (on a busy 2-core machine
# it took ~80 s); every wait below is bounded by what is left of it.
BUDGET_SECONDS = 115.0
LEASE = 6.0
PREFECT = str(Path(sys.executable).with_name("prefect"))
Worker = subprocess.Popen[bytes]
COORDINATOR = """
import json, sys
from crisiscast.flows.broadcast import broadcast
summary = broadcast(sys.argv[1], database_url=sys.argv[2], shard_size=int(sys.argv[3]),
                    batch_size=int(sys.argv[4]), channels=["sms"], workers=2,
                    lease_seconds=float(sys.argv[5]))
with open(sys.argv[6], "w") as out:
    json.dump({"counts": summary["counts"], "this_run": summary["this_run"]}, out)
"""


class Processes:
    """Every process the test starts, killed with its descendants at the end, pass or fail."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            process = subprocess.Popen(args, env=env, cwd=ROOT, stdout=out, stderr=out,
                                       start_new_session=True)  # fmt: skip
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.started:
            for pid in [*descendants(process.pid), process.pid]:
                kill(pid)
            process.wait(timeout=30)


def descendants(pid: int) -> list[int]:
    """Child processes of ``pid``, recursively (a worker's flow runs start sessions of their own,
    so a process group does not hold them)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            parents.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found.extend(children)
        todo.extend(children)
    return found


def kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


class Budget:
    """The test's time budget, from its start."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def processes() -> Iterator[Processes]:
    started = Processes()
    try:
        yield started
    finally:
        started.stop_all()


@pytest.fixture
def prefect_database(postgres_database: URL) -> Iterator[str]:
    """A PostgreSQL database for the Prefect server, dropped after the test."""
    name = f"crisiscast_prefect_{secrets.token_hex(4)}"
    admin_url = postgres_database.set(drivername="postgresql")
    with psycopg.connect(admin_url.render_as_string(hide_password=False), autocommit=True) as db:
        db.execute(f'CREATE DATABASE "{name}"')
    try:
        url = postgres_database.set(drivername="postgresql+asyncpg", database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_url.render_as_string(hide_password=False),
                             autocommit=True) as db:  # fmt: skip
            db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def prefect_env(tmp_path: Path, api_url: str, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PREFECT_", "TWILIO_", "SENDGRID_", "X_"))}  # fmt: skip
    env.pop("CRISISCAST_APPRISE_URLS", None)
    return env | {
        "PREFECT_HOME": str(tmp_path / "prefect-home"), "PREFECT_API_URL": api_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_WORKER_QUERY_SECONDS": "1",
        "CRISISCAST_HOME": str(home),
    }  # fmt: skip


def start_server(
    tmp_path: Path, processes: Processes, database: str, env: dict[str, str], port: int
) -> None:
    """A Prefect server on ``database`` (it sets its database up while the test seeds)."""
    server_env = env | {"PREFECT_API_DATABASE_CONNECTION_URL": database,
                        "PREFECT_UI_ENABLED": "false"}  # fmt: skip
    processes.start([PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                    server_env, tmp_path / "server.log")  # fmt: skip


def start_workers(
    tmp_path: Path, processes: Processes, env: dict[str, str], budget: Budget
) -> list[Worker]:
    """Once the server answers: the work pool, two workers of one flow run each (so each
    takes one shard runner), and the send-shards deployment from prefect.yaml."""
    api = env["PREFECT_API_URL"]
    while True:
        try:
            if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert budget.left() > 0, (tmp_path / "server.log").read_text()[-2000:]
        time.sleep(0.5)
    template = ProcessWorker.get_default_base_job_template()
    created = httpx.post(f"{api}/work_pools/", json={"name": "crisiscast", "type": "process",
                                                    "base_job_template": template})  # fmt: skip
    assert created.status_code == 201, created.text
    command = [PREFECT, "worker", "start", "--pool", "crisiscast", "--type", "process", "--limit"]
    workers = [processes.start([*command, "1"], env, tmp_path / f"worker{i}.log") for i in (1, 2)]
    deploy = subprocess.run([PREFECT, "--no-prompt", "deploy", "--name", "send-shards"], cwd=ROOT,
                            env=env, capture_output=True, timeout=budget.left())  # fmt: skip
    assert deploy.returncode == 0, deploy.stdout.decode()[-2000:]
    return workers


def seed_postgres(db_url: str, count: int) -> None:
    """``count`` contacts with a Thai mobile number each, generated by PostgreSQL itself."""
    store = st.Store(db_url)
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


def outbox_addresses(path: Path) -> Counter[str]:
    """Each address's lines in the outbox; a killed writer's torn line start is not a line."""
    counts: Counter[str] = Counter()
    with path.open("rb") as lines:
        for raw in lines:
            line = whole_line(raw)
            if line.endswith(b"\n"):
                counts[str(json.loads(line)["address"])] += 1
    return counts


def shard_rows(db_url: str) -> list[tuple[int, str, str | None, int]]:
    """(id, status, owner, claims) of every broadcast shard."""
    store = st.Store(db_url)
    try:
        with store.session() as session:
            rows = session.execute(
                text("SELECT id, status, owner, claims FROM broadcast_shards ORDER BY id")
            ).all()
            return [(int(i), str(s), o, int(c)) for i, s, o, c in rows]
    finally:
        store.dispose()


def kill_worker_mid_shard(
    db_url: str, workers: list[Worker], coordinator: Worker, budget: Budget
) -> tuple[str, set[int]]:
    """Once each worker's runner holds a shard and a shard is done, SIGKILL one worker and its
    runner while that shard sends; return the runner's name and the shards it held."""
    while budget.left() > 0 and coordinator.poll() is None:
        shards = shard_rows(db_url)
        running = {owner: i for i, status, owner, _ in shards if status == "running" and owner}
        done = sum(status == "done" for _, status, _, _ in shards)
        children = [set(descendants(w.pid)) for w in workers]
        pids = {int(owner.rsplit(":", 1)[1]): owner for owner in running}
        if done >= 1 and all(pids.keys() & family for family in children):
            victim, family = workers[0], children[0]
            runner = min(pids.keys() & family)
            kill(runner)
            kill(victim.pid)
            victim.wait(timeout=30)
            owner = pids[runner]
            held = {i for i, status, o, _ in shard_rows(db_url) if o == owner and status != "done"}
            return owner, held
        time.sleep(0.05)
    pytest.fail(f"never saw both workers sending (coordinator rc={coordinator.poll()})")


def test_worker_killed_mid_shard_has_its_shard_finished_by_the_other(
    tmp_path: Path, home: Path, processes: Processes, prefect_database: str, postgres_url: str
) -> None:
    """0 duplicates, 0 missed: every contact has one outbox line and one sent row."""
    budget = Budget(BUDGET_SECONDS)
    port = free_port()
    env = prefect_env(tmp_path, f"http://127.0.0.1:{port}/api", home)
    start_server(tmp_path, processes, prefect_database, env, port)
    seed_postgres(postgres_url, CONTACTS)
    ref = launch_incident(FLOOD, {"area": "Mekong riverside"}, exercise=True,
                          database_url=postgres_url, send=False,
                          target={"everyone": True})  # fmt: skip
    workers = start_workers(tmp_path, processes, env, budget)
    coordinator = processes.start(
        [sys.executable, "-c", COORDINATOR, ref, postgres_url, str(SHARD_SIZE), str(BATCH),
         str(LEASE), str(tmp_path / "summary.json")], env, tmp_path / "coordinator.log",
    )  # fmt: skip

    killed, held = kill_worker_mid_shard(postgres_url, workers, coordinator, budget)
    rc = coordinator.wait(timeout=max(budget.left(), 1))
    assert rc == 0, (tmp_path / "coordinator.log").read_text()[-3000:]

    shards = shard_rows(postgres_url)
    assert {status for _, status, _, _ in shards} == {"done"}
    assert held  # the killed runner was mid-shard ...
    for shard, _, owner, claims in shards:
        if shard in held:  # ... and another runner finished that shard
            assert owner != killed
            assert claims >= 2
    counts = outbox_addresses(home / "outbox" / ref / "sms.jsonl")
    assert len(counts) == CONTACTS  # 0 missed
    assert max(counts.values()) == 1  # 0 duplicates
    assert ledger_of(postgres_url, ref) == {"sms": {"sent": CONTACTS}}
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["counts"] == {"sms": {"sent": CONTACTS}}


def test_a_lease_under_a_second_is_refused_before_anything_is_staged(home: Path) -> None:
    with pytest.raises(CrisiscastError, match="lease_seconds must be at least 1"):
        broadcast("INC-1", workers=2, lease_seconds=0)
