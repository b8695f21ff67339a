"""A broadcast stopped by Ctrl-C says so and finishes later, each recipient once.

- Warm: Ctrl-C at the CLI stops the broadcast serve runs for it, at a batch boundary; the CLI
  says what this run sent and how to resume, exits 130, and the resume sends the rest once.
- The stopped announcements show the truth: still ``broadcasting`` (not ``sent``), with the
  resume command on the timeline, until the rest is sent.
- A stopped update is finished by running the same ``crisiscast update`` again (no new update
  to everyone it reached) or by ``crisiscast broadcast INC-n``: 0 duplicates, 0 missed.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from broadcast_support import FLOOD, ledger_of
from prefect.testing.utilities import prefect_test_harness
from warm_support import WARM, Warm, cli_ok, serving, start_cli, warm_home

CONTACTS = 200_000  # enough that a broadcast is still sending when Ctrl-C comes
AREA = "area=Mekong riverside"
UPDATE = ["update", "INC-1", "--text", "Water is rising at the bridge"]


@pytest.fixture(scope="module")
def prefect_api() -> Iterator[None]:
    """Serve's flows run on a throwaway Prefect API, as `crisiscast serve` keeps one warm."""
    with prefect_test_harness(server_startup_timeout=60):
        yield


@pytest.fixture
def held(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Warm:
    """INC-1 opened from the flood playbook for CONTACTS contacts, its launch held."""
    warm = warm_home(tmp_path, monkeypatch, CONTACTS)
    cli_ok(["launch", FLOOD, "-p", AREA, "--hold", "--everyone"], warm)
    return warm


def _ctrl_c_once_sending(process: subprocess.Popen[str], warm: Warm) -> tuple[str, str]:
    """SIGINT to the command's group once its first SMS are in the outbox; its output."""
    sms = warm.home / "outbox" / "INC-1" / "sms.jsonl"
    deadline = time.monotonic() + 240
    while not (sms.exists() and sms.stat().st_size > 0):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "nothing was sent in 240 s"
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGINT)
    try:
        return process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        pytest.fail("the command did not stop within 60 s of Ctrl-C")


def _statuses(warm: Warm, when: str) -> set[str]:
    """The statuses of the incident's ``when`` announcements on SMS and email."""
    with sqlite3.connect(warm.home / "crisiscast.db") as db:
        rows = db.execute(
            'SELECT DISTINCT status FROM announcements WHERE "when" = ? '
            "AND channel IN ('sms', 'email')",
            (when,),
        )
        return {row[0] for row in rows}


def _keys(warm: Warm) -> Counter[str]:
    """How many times each delivery (its idempotency key) is in the SMS and email outboxes."""
    counts: Counter[str] = Counter()
    for kind in ("sms", "email"):
        path = warm.home / "outbox" / "INC-1" / f"{kind}.jsonl"
        with path.open(encoding="utf-8") as lines:
            counts.update(str(json.loads(line)["key"]) for line in lines)
    return counts


def test_ctrl_c_stops_a_warm_broadcast_and_the_resume_sends_the_rest_once(
    held: Warm, prefect_api: None
) -> None:
    with serving(held):
        process = start_cli(["broadcast", "INC-1"], held)
        out, err = _ctrl_c_once_sending(process, held)
        assert process.returncode == 130, out + err
        flat = " ".join(err.split())
        assert "Stopped by Ctrl-C. This run: " in flat and "`crisiscast broadcast INC-1`" in flat
        assert "Traceback" not in out + err
        stopped = ledger_of(held.db_url, "INC-1")
        assert 0 < stopped["sms"].get("sent", 0) + stopped["email"].get("sent", 0) < 2 * CONTACTS
        assert _statuses(held, "launch") == {"broadcasting"}  # not "sent": the rest is not
        status = " ".join(cli_ok(["status", "INC-1"], held).split())
        assert "broadcasting" in status and "stopped by Ctrl-C" in status, status

        resumed = cli_ok(["broadcast", "INC-1"], held)
        assert WARM in resumed
    ledger = ledger_of(held.db_url, "INC-1")
    assert ledger["sms"] == ledger["email"] == {"sent": CONTACTS}, ledger  # 0 missed
    keys = _keys(held)
    assert len(keys) == 2 * CONTACTS and max(keys.values()) == 1  # 0 duplicates
    assert _statuses(held, "launch") == {"sent"}


@pytest.mark.parametrize("resume", [UPDATE, ["broadcast", "INC-1"]], ids=["update", "broadcast"])
def test_a_stopped_update_is_finished_by_the_same_update_or_broadcast(
    held: Warm, resume: list[str]
) -> None:
    """Cold (no serve): the update's Ctrl-C names a resume; running it sends the rest once."""
    process = start_cli(UPDATE, held)
    out, err = _ctrl_c_once_sending(process, held)
    assert process.returncode == 130, out + err
    assert "`crisiscast broadcast INC-1` to send the rest" in " ".join(err.split())
    assert _statuses(held, "update") == {"broadcasting"}

    cli_ok(resume, held)
    with sqlite3.connect(held.home / "crisiscast.db") as db:
        updates = db.execute(
            "SELECT DISTINCT announcement_id FROM announcements WHERE \"when\" = 'update'"
        ).fetchall()
    assert updates == [("update",)]  # finished, not sent again as a new update
    assert _statuses(held, "update") == {"sent"}
    sent = 2 if resume[0] == "broadcast" else 1  # broadcast also sends the held launch
    ledger = ledger_of(held.db_url, "INC-1")
    assert ledger["sms"] == ledger["email"] == {"sent": sent * CONTACTS}, ledger  # 0 missed
    keys = _keys(held)
    assert len(keys) == 2 * sent * CONTACTS and max(keys.values()) == 1  # 0 duplicates
