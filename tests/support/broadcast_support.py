"""Helpers shared by the broadcast flow tests, and the worker the kill-and-resume test runs.

As a script: ``python broadcast_support.py <database_url> <INC-ref>`` runs the broadcast
flow against the Prefect API in PREFECT_API_URL (the test session's harness) and exits.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FLOOD = str(ROOT / "playbooks" / "regional-flood.yaml")
LANGUAGES = ("en", "th", "lo")


def seed_contacts(db: Path, count: int) -> None:
    """``count`` contacts with a Thai mobile number and an email each (SQLite, streamed)."""
    rows = (
        ("all", f"+668{i:08d}", f"person{i}@example.org", LANGUAGES[i % 3]) for i in range(count)
    )
    connection = sqlite3.connect(db)
    with connection:
        connection.executemany(
            "INSERT INTO contacts (audience, phone, email, language) VALUES (?, ?, ?, ?)", rows
        )
    connection.close()


def outbox_addresses(path: Path) -> Counter[str]:
    """How many times each address appears in an outbox file (0 lines if it does not exist)."""
    counts: Counter[str] = Counter()
    if path.exists():
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                counts[str(json.loads(line)["address"])] += 1
    return counts


def ledger_of(db_url: str, ref: str) -> dict[str, dict[str, int]]:
    """The incident's ledger counts per channel and status, read in a store of its own."""
    from crisiscast.incidents.broadcast.ledger_counts import ledger_counts
    from crisiscast.incidents.store import database as st

    store = st.Store(db_url)
    try:
        with store.session() as session:
            return ledger_counts(session, st.get_incident(session, ref).id)
    finally:
        store.dispose()


def main(argv: list[str]) -> int:
    from crisiscast.flows.broadcast import broadcast

    database_url, ref = argv[1], argv[2]
    summary = broadcast(ref, database_url=database_url, shard_size=20_000,
                        channels=["sms", "email"])  # fmt: skip
    print(json.dumps({k: summary[k] for k in ("counts", "reconciled", "unknown_after_crash")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
