"""Several processes share one store: start-ups race, webhooks write while broadcasts write."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from sqlalchemy import func, select

from crisiscast.incidents.store import migrate
from crisiscast.incidents.store.database import Store, add_event, create_incident
from crisiscast.incidents.store.models import TimelineEvent

NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)


def test_upgrades_started_at_the_same_time_all_succeed(db_url: str) -> None:
    """Three processes starting together on an empty database do not trip over each other."""
    script = (
        "import sys; from crisiscast.incidents.store.database import upgrade; "
        "print(upgrade(sys.argv[1]))"
    )
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", script, db_url], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(3)
    ]
    results = [worker.communicate(timeout=120) for worker in workers]
    assert [w.returncode for w in workers] == [0, 0, 0], [err.decode() for _, err in results]
    assert [out.decode().strip() for out, _ in results] == [migrate.head_revision()] * 3


def test_concurrent_writers_wait_for_each_other_instead_of_failing(store: Store) -> None:
    """Writers on separate connections queue up (busy timeout) rather than fail as locked."""
    with store.session() as session:
        incident_id = create_incident(
            session,
            playbook_id="p",
            playbook_path="p.yaml",
            title="t",
            params={},
            languages=["en"],
            exercise=False,
            now=NOW,
        ).id

    def write(worker: int) -> None:
        other = Store(store.url)  # its own engine, like another process
        try:
            for n in range(40):
                with other.session() as session:
                    session.scalar(select(func.count()).select_from(TimelineEvent))  # read...
                    add_event(session, incident_id, "note", f"{worker}-{n}", now=NOW)  # ...write
        finally:
            other.dispose()

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(write, range(4)))
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(TimelineEvent)) == 160
