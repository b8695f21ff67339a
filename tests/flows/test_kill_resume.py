"""Kill -9 a broadcast of 200,000 contacts mid-way, run it again: 0 duplicates, 0 missed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from broadcast_support import FLOOD, ledger_of, outbox_addresses, seed_contacts
from prefect.settings import PREFECT_API_URL

from crisiscast.flows.launch import launch_incident
from crisiscast.incidents.store import database as st

CONTACTS = 200_000
WORKER = Path(__file__).resolve().parents[1] / "support" / "broadcast_support.py"


def _lines(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as lines:
        return sum(1 for _ in lines)


def _worker(db_url: str, ref: str, home: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, CRISISCAST_HOME=str(home), PREFECT_API_URL=str(PREFECT_API_URL.value()))
    return subprocess.Popen(
        [sys.executable, str(WORKER), db_url, ref],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )


def _kill_when_busy(process: subprocess.Popen[bytes], sms: Path, email: Path) -> int:
    """SIGKILL the worker once some, but not all, messages are in the outbox; lines seen."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        written = _lines(sms) + _lines(email)
        if written >= CONTACTS // 2:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            return written
        time.sleep(0.05)
    pytest.fail(f"the broadcast ended (rc={process.poll()}) before it could be killed mid-way")


def _held_incident(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, contacts: int
) -> tuple[Path, str, str]:
    """(home, database URL, ref) of a launched, not yet broadcast flood exercise with
    ``contacts`` seeded contacts, on SQLite."""
    home = tmp_path / "home"
    monkeypatch.setenv("CRISISCAST_HOME", str(home))
    db = tmp_path / "crisiscast.db"
    db_url = f"sqlite:///{db}"
    st.upgrade(db_url)
    seed_contacts(db, contacts)
    ref = launch_incident(
        FLOOD,
        {"area": "Mekong riverside"},
        exercise=True,
        database_url=db_url,
        send=False,
        target={"everyone": True},
    )
    return home, db_url, ref


def test_killed_broadcast_resumes_without_duplicates_or_gaps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After SIGKILL and a rerun, each contact is in each outbox exactly once; the ledger agrees."""
    home, db_url, ref = _held_incident(tmp_path, monkeypatch, CONTACTS)
    sms, email = (home / "outbox" / ref / f"{kind}.jsonl" for kind in ("sms", "email"))

    killed_at = _kill_when_busy(_worker(db_url, ref, home), sms, email)
    assert 0 < killed_at < 2 * CONTACTS

    second = _worker(db_url, ref, home)
    out, _ = second.communicate(timeout=600)
    assert second.returncode == 0

    for path in (sms, email):
        counts = outbox_addresses(path)
        assert len(counts) == CONTACTS  # 0 missed
        assert max(counts.values()) == 1  # 0 duplicates
    ledger = ledger_of(db_url, ref)
    assert ledger == {"email": {"sent": CONTACTS}, "sms": {"sent": CONTACTS}}
    report = json.loads(out.decode().strip().splitlines()[-1])
    assert report["counts"] == ledger
    assert report["unknown_after_crash"] == 0  # the outbox settles every row it was handed
    print(
        f"killed after {killed_at} outbox lines; reconciled from the outbox: {report['reconciled']}"
    )


def test_two_broadcasts_of_one_incident_at_once_send_each_contact_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commander runs `broadcast` again while the first is still going: the two runs share
    the work, and each contact is in each outbox once."""
    contacts = 40_000
    home, db_url, ref = _held_incident(tmp_path, monkeypatch, contacts)
    runs = [_worker(db_url, ref, home) for _ in range(2)]
    for run in runs:
        run.communicate(timeout=600)
        assert run.returncode == 0
    for kind in ("sms", "email"):
        counts = outbox_addresses(home / "outbox" / ref / f"{kind}.jsonl")
        assert len(counts) == contacts
        assert max(counts.values()) == 1
    ledger = ledger_of(db_url, ref)
    assert ledger == {"email": {"sent": contacts}, "sms": {"sent": contacts}}
