"""The broadcast flow end to end (real Prefect runs, real SQLite/PostgreSQL, outbox files)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from broadcast_support import FLOOD, outbox_addresses
from sqlalchemy.orm import Session

from crisiscast.channels.base import OutgoingMessage
from crisiscast.channels.outbox import OutboxChannel
from crisiscast.flows.broadcast import broadcast
from crisiscast.flows.launch import launch_incident
from crisiscast.incidents.audience.optout import record_opt_out
from crisiscast.incidents.broadcast import outbox_once
from crisiscast.incidents.broadcast.delivery import recall
from crisiscast.incidents.broadcast.queueing import is_recalled
from crisiscast.incidents.store import database as st

CONTACTS = (
    "name,phone,email,language,audience\n"
    "Somchai,081 234 5678,somchai@example.org,th,\n"  # all: sms + email
    "Khamla,+856 20 5551 2345,,lo,residents\n"  # residents: sms only
    "Ann,,ann@example.org,en,registered\n"  # registered: email only
    "Bob,+1 202 555 0143,bob@example.org,fr,\n"  # unknown language -> en
    "Broken,12,,en,\n"  # rejected (line 6)
    "Dup,0812345678,,th,\n"  # same phone as line 2
)
SMS = {"+66812345678", "+8562055512345", "+12025550143"}
EMAIL = {"somchai@example.org", "ann@example.org", "bob@example.org"}


@pytest.fixture
def contacts_csv(tmp_path: Path) -> Path:
    path = tmp_path / "contacts.csv"
    path.write_text(CONTACTS, encoding="utf-8")
    return path


def _launch(db_url: str) -> str:
    """A held launch: staged, not sent, so each test runs the broadcast itself."""
    params = {"area": "Mekong riverside"}
    return launch_incident(FLOOD, params, exercise=True, database_url=db_url, send=False,
                           target={"everyone": True})  # fmt: skip


def _run(db_url: str, ref: str, **options: Any) -> dict[str, Any]:
    return broadcast(ref, database_url=db_url, default_region="TH", **options)


def test_every_contact_gets_one_record_per_channel(
    db_url: str, home: Path, contacts_csv: Path
) -> None:
    """Each contact is in the outbox once per channel; social/chat/banner once per language."""
    ref = _launch(db_url)
    summary = _run(db_url, ref, audience=str(contacts_csv))
    outbox = home / "outbox" / ref
    assert outbox_addresses(outbox / "sms.jsonl") == {a: 1 for a in SMS}
    assert outbox_addresses(outbox / "email.jsonl") == {a: 1 for a in EMAIL}
    assert outbox_addresses(outbox / "social.jsonl") == {"None": 3}
    assert summary["counts"] == {
        "banner": {"sent": 3}, "chat": {"sent": 3}, "email": {"sent": 3},
        "sms": {"sent": 3}, "social": {"sent": 3},
    }  # fmt: skip
    banner = json.loads((home / "site" / ref / "banner.json").read_text(encoding="utf-8"))
    assert banner["status"] == "active"
    assert summary["errors"] == []


def test_language_of_each_contact_is_used(db_url: str, home: Path, contacts_csv: Path) -> None:
    """A Thai contact gets the Thai SMS; an unknown language falls back to the default (en)."""
    ref = _launch(db_url)
    _run(db_url, ref, audience=str(contacts_csv))
    lines = (home / "outbox" / ref / "sms.jsonl").read_text(encoding="utf-8").splitlines()
    by_address = {r["address"]: r for r in map(json.loads, lines)}
    assert by_address["+66812345678"]["language"] == "th"
    assert by_address["+8562055512345"]["language"] == "lo"
    assert by_address["+12025550143"]["language"] == "en"
    assert by_address["+66812345678"]["encoding"] == "ucs2"


def test_running_again_sends_nothing_new(db_url: str, home: Path, contacts_csv: Path) -> None:
    """A second broadcast of the same incident adds no outbox line and no ledger row."""
    ref = _launch(db_url)
    first = _run(db_url, ref, audience=str(contacts_csv))
    sizes = {p.name: p.stat().st_size for p in (home / "outbox" / ref).iterdir()}
    second = _run(db_url, ref, audience=str(contacts_csv))
    assert {p.name: p.stat().st_size for p in (home / "outbox" / ref).iterdir()} == sizes
    assert second["counts"] == first["counts"]
    alerts = list((home / "site" / ref / "cap").iterdir())
    assert len(alerts) == 1  # the banner was not published a second time


def test_opted_out_contacts_are_suppressed(db_url: str, home: Path, contacts_csv: Path) -> None:
    """A number that texted STOP before the broadcast is suppressed in the ledger, not sent."""
    ref = _launch(db_url)
    store = st.Store(db_url)
    try:
        with store.session() as session:
            record_opt_out(session, "+66812345678", "sms", "stop", now=datetime.now(UTC))
    finally:
        store.dispose()
    summary = _run(db_url, ref, audience=str(contacts_csv))
    sent = outbox_addresses(home / "outbox" / ref / "sms.jsonl")
    assert "+66812345678" not in sent
    assert summary["counts"]["sms"] == {"sent": 2, "suppressed": 1}
    assert "somchai@example.org" in outbox_addresses(home / "outbox" / ref / "email.jsonl")


def test_one_failing_channel_does_not_stop_the_others(
    db_url: str, home: Path, contacts_csv: Path
) -> None:
    """The email outbox cannot be written: the rest still go out, email's reason is recorded."""
    ref = _launch(db_url)
    blocked = home / "outbox" / ref / "email.jsonl"
    blocked.mkdir(parents=True)  # a directory where the file should be: open() fails
    summary = _run(db_url, ref, audience=str(contacts_csv))
    assert summary["counts"]["sms"] == {"sent": 3}
    assert summary["counts"]["social"] == {"sent": 3}
    assert summary["counts"]["email"] == {"queued": 3}
    assert any(e.startswith("email: outbox") and "cannot open" in e for e in summary["errors"])


def test_recalled_broadcast_sends_nothing(db_url: str, home: Path, contacts_csv: Path) -> None:
    """After `recall`, running the broadcast sends nothing and leaves the recall in force."""
    ref = _launch(db_url)
    store = st.Store(db_url)
    try:
        with store.session() as session:
            recall(session, ref, now=datetime.now(UTC))
    finally:
        store.dispose()
    summary = _run(db_url, ref, audience=str(contacts_csv))
    assert summary["counts"] == {}
    assert not (home / "outbox" / ref / "sms.jsonl").exists()


def test_update_and_all_clear(db_url: str, home: Path, contacts_csv: Path) -> None:
    """An update reaches everyone again once; the all-clear takes the banner down."""
    ref = _launch(db_url)
    _run(db_url, ref, audience=str(contacts_csv))
    _run(db_url, ref, when="update", announcement="rising")
    sms = outbox_addresses(home / "outbox" / ref / "sms.jsonl")
    assert sms == {a: 2 for a in SMS}  # the warning and the update
    _run(db_url, ref, when="all_clear")
    banner = json.loads((home / "site" / ref / "banner.json").read_text(encoding="utf-8"))
    assert banner["status"] == "ended"


def test_exercise_never_leaves_the_machine(
    db_url: str, home: Path, contacts_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With Twilio credentials set, an exercise still records every SMS to the outbox."""
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "0123456789abcdef" * 2)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "not-a-real-token")
    monkeypatch.setenv("TWILIO_FROM_NUMBER", "+15005550006")
    ref = _launch(db_url)  # exercise=True
    summary = _run(db_url, ref, audience=str(contacts_csv), channels=["sms"])
    assert outbox_addresses(home / "outbox" / ref / "sms.jsonl") == {a: 1 for a in SMS}
    assert summary["counts"] == {"sms": {"sent": 3}}


def test_concurrent_shards_share_the_channel_rate() -> None:
    """Shards of one channel run side by side; together they keep to the provider's rate."""
    from crisiscast.flows.broadcast import SHARD_WORKERS, shard_rate

    assert shard_rate(1.0) == pytest.approx(1.0 / SHARD_WORKERS)
    assert shard_rate(1.0) * SHARD_WORKERS <= 1.0
    assert shard_rate(None) is None  # the outbox and self-throttling channels have no limit


def test_lines_written_before_a_crash_are_recorded_not_written_again(
    db_url: str, home: Path, contacts_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shard dies after its outbox write, before the ledger insert; the next run records
    those lines as sent from the outbox mark and writes only the rest."""
    ref = _launch(db_url)
    written = OutboxChannel.record_shared

    def write_then_die(
        self: OutboxChannel, content: OutgoingMessage, recipients: list[tuple[str, str]]
    ) -> int:
        written(self, content, recipients)
        raise RuntimeError("killed between the outbox write and the ledger insert")

    monkeypatch.setattr(OutboxChannel, "record_shared", write_then_die)
    first = _run(db_url, ref, audience=str(contacts_csv), batch_size=1)
    assert any("killed between" in e for e in first["errors"])
    assert "sms" not in first["counts"]  # the ledger lacks the line that was written

    monkeypatch.setattr(OutboxChannel, "record_shared", written)
    second = _run(db_url, ref, batch_size=1)
    assert second["reconciled"] == 2  # one line each of sms and email
    assert outbox_addresses(home / "outbox" / ref / "sms.jsonl") == {a: 1 for a in SMS}
    assert outbox_addresses(home / "outbox" / ref / "email.jsonl") == {a: 1 for a in EMAIL}
    assert second["counts"]["sms"] == {"sent": 3}
    assert second["counts"]["email"] == {"sent": 3}


def test_recall_during_a_broadcast_suppresses_what_is_not_written(
    db_url: str, home: Path, contacts_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The commander's recall lands after the first batch: the rest of the shard is recorded
    suppressed, not written."""
    ref = _launch(db_url)
    checks: list[bool] = []

    def recall_before_second_batch(session: Session, row_ids: list[int]) -> bool:
        if len(checks) == 1:  # between batches, as `crisiscast recall` would get its turn
            recall(session, ref, now=datetime.now(UTC))
        checks.append(is_recalled(session, row_ids))
        return checks[-1]

    monkeypatch.setattr(outbox_once, "is_recalled", recall_before_second_batch)
    summary = _run(db_url, ref, audience=str(contacts_csv), batch_size=1, channels=["sms"])
    assert checks[:2] == [False, True]
    assert summary["recalled"]
    assert summary["counts"] == {"sms": {"sent": 1, "suppressed": 2}}
    assert sum(outbox_addresses(home / "outbox" / ref / "sms.jsonl").values()) == 1
