"""A full disk under the outbox fails loud and leaves every delivery retryable.

The disk is full for real, at the OS boundary, without filling one: each outbox file is a
symlink to ``/dev/full``, where every write fails with ENOSPC. Removing the links is "freeing
space"; the next broadcast then finishes every delivery, each recipient once.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from broadcast_support import FLOOD, outbox_addresses

from crisiscast.flows.broadcast import broadcast
from crisiscast.flows.launch import launch_incident

ROOT = Path(__file__).resolve().parents[2]
FULL = Path("/dev/full")
CONTACTS = (
    "name,phone,email,language,audience\n"
    "Somchai,081 234 5678,somchai@example.org,th,\n"
    "Khamla,+856 20 5551 2345,,lo,residents\n"
    "Ann,,ann@example.org,en,registered\n"
    "Bob,+1 202 555 0143,bob@example.org,fr,\n"
)
SMS = {"+66812345678", "+8562055512345", "+12025550143"}
EMAIL = {"somchai@example.org", "ann@example.org", "bob@example.org"}
FILES = ("sms.jsonl", "email.jsonl", "email.contents.jsonl", "social.jsonl", "chat.jsonl")

pytestmark = pytest.mark.skipif(not FULL.exists(), reason="needs /dev/full (Linux)")


def _fill(outbox: Path) -> None:
    """Every outbox file of the incident is on a full disk."""
    outbox.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        (outbox / name).symlink_to(FULL)


def _free(outbox: Path) -> None:
    for name in FILES:
        (outbox / name).unlink()


def _assert_everyone_once(outbox: Path) -> None:
    assert outbox_addresses(outbox / "sms.jsonl") == {a: 1 for a in SMS}
    assert outbox_addresses(outbox / "email.jsonl") == {a: 1 for a in EMAIL}
    assert outbox_addresses(outbox / "social.jsonl") == {"None": 3}  # one post per language
    assert outbox_addresses(outbox / "chat.jsonl") == {"None": 3}


def test_full_disk_leaves_deliveries_queued_then_broadcast_finishes(
    db_url: str, home: Path, tmp_path: Path
) -> None:
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(CONTACTS, encoding="utf-8")
    ref = launch_incident(FLOOD, {"area": "Mekong riverside"}, exercise=True,
                          database_url=db_url, send=False, target={"everyone": True})  # fmt: skip
    outbox = home / "outbox" / ref
    _fill(outbox)
    options: dict[str, Any] = {"database_url": db_url, "default_region": "TH"}
    first = broadcast(ref, audience=str(contacts), **options)

    for channel in ("sms", "email", "social", "chat"):
        assert first["counts"][channel] == {"queued": 3}, first["counts"]  # never "failed"
    local = first["local_errors"]
    assert {e.split(":")[0] for e in local} == {"sms", "email", "social", "chat"}
    sms_error = next(e for e in local if e.startswith("sms:"))
    assert str(outbox / "sms.jsonl") in sms_error and "No space left on device" in sms_error

    _free(outbox)
    second = broadcast(ref, **options)
    assert second["local_errors"] == [] and second["errors"] == []
    for channel in ("sms", "email", "social", "chat"):
        assert second["counts"][channel] == {"sent": 3}, second["counts"]
    _assert_everyone_once(outbox)
    third = broadcast(ref, **options)  # nothing left: nothing is written again
    assert third["counts"] == second["counts"]
    _assert_everyone_once(outbox)


def _cli(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "CRISISCAST_"))}
    env.update(CRISISCAST_HOME=str(home), PREFECT_HOME=str(home / "prefect"))
    return subprocess.run(
        [sys.executable, "-m", "crisiscast.cli", *args], env=env, cwd=ROOT, capture_output=True,
        text=True, timeout=240, check=False,
    )  # fmt: skip


def test_launch_on_a_full_disk_exits_non_zero_with_the_fix(home: Path, tmp_path: Path) -> None:
    """As a commander types it: launch says which channel and path failed and how to finish;
    `broadcast` finishes once space is back."""
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(CONTACTS, encoding="utf-8")
    outbox = home / "outbox" / "INC-1"
    _fill(outbox)
    launched = _cli(["launch", FLOOD, "-p", "area=Riverside", "--exercise",
                     "--audience", str(contacts), "--region", "TH"], home)  # fmt: skip
    output = launched.stdout + launched.stderr
    assert launched.returncode == 1, output
    assert "Traceback" not in output
    assert f"sms: outbox {outbox / 'sms.jsonl'}" in " ".join(launched.stderr.split()), output
    assert "No space left on device" in launched.stderr
    assert "crisiscast broadcast INC-1" in launched.stderr

    _free(outbox)
    resumed = _cli(["broadcast", "INC-1"], home)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    _assert_everyone_once(outbox)
