"""Ctrl-C during `crisiscast broadcast`, as a terminal sends it: SIGINT to the whole process
group, Prefect's temporary API server included. The first stops sending at a batch boundary,
says what this run sent and how to resume; the ledger stays consistent, the resume sends the
rest once, and a run with nothing left reports 0 sent. A second Ctrl-C quits at once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from broadcast_support import FLOOD, ledger_of, outbox_addresses, seed_contacts

from crisiscast.incidents.store import database as st

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "crisiscast.cli"]
CONTACTS = 200_000
NOISE = ("Unable to connect", "Traceback")


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "CRISISCAST_"))}
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "SENDGRID_API_KEY",
                 "SENDGRID_FROM_EMAIL", "X_BEARER_TOKEN", "CRISISCAST_APPRISE_URLS"):  # fmt: skip
        env.pop(name, None)
    env.update(CRISISCAST_HOME=str(home), PREFECT_HOME=str(home / "prefect"), COLUMNS="200")
    return env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )


def _lines(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as lines:
        return sum(1 for _ in lines)


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    """The command in a process group of its own, as a shell runs a foreground job."""
    return subprocess.Popen(
        [*CLI, *args], env=env, cwd=ROOT, text=True, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def _ctrl_c_once_sending(process: subprocess.Popen[str], outbox: Path) -> tuple[float, float]:
    """SIGINT to the group once the first outbox lines are written; seconds until it exited,
    and the wall-clock time of the signal."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        if outbox.exists() and outbox.stat().st_size > 0:
            os.killpg(process.pid, signal.SIGINT)
            started, wall = time.monotonic(), time.time()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                pytest.fail("the broadcast did not stop within 60 s of Ctrl-C")
            return time.monotonic() - started, wall
        time.sleep(0.01)
    pytest.fail(f"the broadcast ended (rc={process.poll()}) before it could be interrupted")


@pytest.fixture
def held(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A flood incident INC-1 staged (launch --hold) for CONTACTS seeded contacts."""
    home = tmp_path / "home"
    home.mkdir()
    db = home / "crisiscast.db"
    st.upgrade(f"sqlite:///{db}")
    seed_contacts(db, CONTACTS)
    env = _env(home)
    launched = _run(["launch", FLOOD, "-p", "area=Mekong riverside", "--hold", "--everyone"], env)
    assert launched.returncode == 0, launched.stderr
    return home, env


def test_ctrl_c_stops_a_broadcast_and_the_resume_sends_the_rest_once(
    held: tuple[Path, dict[str, str]],
) -> None:
    home, env = held
    db_url = f"sqlite:///{home / 'crisiscast.db'}"
    sms, email = (home / "outbox" / "INC-1" / f"{kind}.jsonl" for kind in ("sms", "email"))

    process = _start(["broadcast", "INC-1"], env)
    took, signalled = _ctrl_c_once_sending(process, sms)
    out, err = process.communicate(timeout=10)
    last_write = max(p.stat().st_mtime for p in (sms, email) if p.exists()) - signalled
    print(f"exited {took:.2f} s after Ctrl-C, last outbox write {last_write:.2f} s after it; "
          f"{_lines(sms)} sms, {_lines(email)} email lines")  # fmt: skip
    assert last_write < 5  # sending stopped at the batch in hand (2 s on an idle machine)
    assert process.returncode == 130, err
    assert took < 10, err
    assert "crisiscast broadcast INC-1" in err and "This run:" in err
    assert not [line for line in (out + err).splitlines() if any(n in line for n in NOISE)], err

    stopped = ledger_of(db_url, "INC-1")
    written = _lines(sms) + _lines(email)
    assert 0 < written < 2 * CONTACTS  # stopped part-way
    for channel, path in (("sms", sms), ("email", email)):  # each line recorded sent, no more
        assert stopped.get(channel, {}).get("sent", 0) == _lines(path), stopped
    assert all(set(by) <= {"sent"} for by in stopped.values()), stopped  # none queued or failed

    resumed = _run(["broadcast", "INC-1"], env)
    assert resumed.returncode == 0, resumed.stderr
    for path in (sms, email):
        counts = outbox_addresses(path)
        assert len(counts) == CONTACTS  # 0 missed
        assert max(counts.values()) == 1  # 0 duplicates
    ledger = ledger_of(db_url, "INC-1")
    assert ledger["sms"] == ledger["email"] == {"sent": CONTACTS}, ledger
    assert f"sms {CONTACTS - _sent_before(stopped, 'sms'):,} sent" in resumed.stdout

    again = _run(["broadcast", "INC-1"], env)
    assert again.returncode == 0, again.stderr
    assert "This run: " in again.stdout and " sent" not in again.stdout.split("This run:")[1]
    assert _lines(sms) == CONTACTS and _lines(email) == CONTACTS


def _sent_before(ledger: dict[str, dict[str, int]], channel: str) -> int:
    return ledger.get(channel, {}).get("sent", 0)


def test_ctrl_c_during_a_cold_launch_names_the_incident_to_resume(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    db = home / "crisiscast.db"
    st.upgrade(f"sqlite:///{db}")
    seed_contacts(db, CONTACTS)
    env = _env(home)
    sms, email = (home / "outbox" / "INC-1" / f"{kind}.jsonl" for kind in ("sms", "email"))
    process = _start(["launch", FLOOD, "-p", "area=Mekong riverside", "--everyone"], env)
    took, _ = _ctrl_c_once_sending(process, sms)
    out, err = process.communicate(timeout=10)
    print(f"launch exited {took:.2f} s after Ctrl-C")
    assert process.returncode == 130, err
    assert took < 10, err
    assert "INC-1 is open" in err and "crisiscast broadcast INC-1" in err
    assert not [line for line in (out + err).splitlines() if any(n in line for n in NOISE)], err
    assert _lines(sms) + _lines(email) < 2 * CONTACTS

    resumed = _run(["broadcast", "INC-1"], env)
    assert resumed.returncode == 0, resumed.stderr
    for path in (sms, email):
        counts = outbox_addresses(path)
        assert len(counts) == CONTACTS and max(counts.values()) == 1


def test_a_second_ctrl_c_quits_at_once_and_leaves_no_prefect_server(
    held: tuple[Path, dict[str, str]],
) -> None:
    home, env = held
    sms = home / "outbox" / "INC-1" / "sms.jsonl"
    process = _start(["broadcast", "INC-1"], env)
    deadline = time.monotonic() + 240
    while not (sms.exists() and sms.stat().st_size > 0) and process.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGINT)
    time.sleep(0.05)
    os.killpg(process.pid, signal.SIGINT)
    process.wait(timeout=10)
    _, err = process.communicate(timeout=10)
    assert process.returncode == 130, err
    assert "Interrupted again" in err
    time.sleep(0.5)
    assert not _processes_with(f"PREFECT_HOME={env['PREFECT_HOME']}")  # no server left behind


def _processes_with(variable: str) -> list[int]:
    """Live processes whose environment holds ``variable`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if variable.encode() in environ and state != "Z":
            found.append(int(entry.name))
    return found


def test_ctrl_c_during_an_import_leaves_the_directory_as_it_was(tmp_path: Path) -> None:
    """The import is one transaction: interrupted inside it, nothing of the file is kept."""
    home = tmp_path / "home"
    csv = tmp_path / "residents.csv"
    with csv.open("w", encoding="utf-8") as out:
        out.write("name,phone,email,language\n")
        out.writelines(f"P {i},+6681{i:07d},p{i}@example.org,en\n" for i in range(CONTACTS))
    wal = home / "crisiscast.db-wal"
    process = _start(["contacts", "import", str(csv), "--region", "TH"], _env(home))
    deadline = time.monotonic() + 120
    # Past the migrations, well into the import's own transaction.
    while not (wal.exists() and wal.stat().st_size > 2_000_000) and process.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert process.poll() is None, "the import ended before it could be interrupted"
    os.killpg(process.pid, signal.SIGINT)
    started = time.monotonic()
    out, err = process.communicate(timeout=30)
    took = time.monotonic() - started
    print(f"import exited {took:.2f} s after Ctrl-C")
    assert process.returncode == 130, err
    assert took < 10
    assert "nothing was imported" in err and "Traceback" not in err + out
    with sqlite3.connect(home / "crisiscast.db") as db:
        assert db.execute("SELECT count(*) FROM contacts").fetchone() == (0,)
