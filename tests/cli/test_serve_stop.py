"""`crisiscast serve` stops cleanly on SIGTERM and SIGINT: Prefect's temporary API server (its
child process) is stopped and serve.json removed. A stale serve.json left by a crashed serve is
noticed and ignored."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crisiscast.web.warm import SERVE_FILE, ServerInfo, find_server, write_server_info

ROOT = Path(__file__).resolve().parents[2]
PROC = Path("/proc")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "CRISISCAST_"))}
    env.update(CRISISCAST_HOME=str(home), PREFECT_HOME=str(home / "prefect"))
    return env


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (Linux: /proc/<pid>/stat's 4th field is the parent)."""
    parents: dict[int, int] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's wait is missing


@pytest.mark.skipif(not PROC.is_dir(), reason="reads children from /proc (Linux)")
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_stops_cleanly(tmp_path: Path, stop: signal.Signals) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "crisiscast.cli", "serve", "--port", str(port)],
        env=_env(tmp_path), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while find_server(tmp_path) is None:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "serve did not start in 120 s"
            time.sleep(0.2)
        children = _descendants(proc.pid)
        assert children, "serve runs Prefect's temporary API server as a child process"
        proc.send_signal(stop)
        output, _ = proc.communicate(timeout=10)
        assert "Traceback" not in output, output
        assert not (tmp_path / SERVE_FILE).exists(), output
        deadline = time.monotonic() + 5
        while any(_alive(child) for child in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [c for c in children if _alive(c)], output
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_stale_serve_file_is_ignored_with_a_note(tmp_path: Path) -> None:
    """A serve.json whose process is gone (a crashed serve) is ignored, removed and noted."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    port = _free_port()
    write_server_info(tmp_path, ServerInfo(f"http://127.0.0.1:{port}", "t", dead.pid))
    notes: list[str] = []
    assert find_server(tmp_path, note=notes.append) is None
    assert not (tmp_path / SERVE_FILE).exists()
    assert notes and str(dead.pid) in notes[0] and "crisiscast serve" in notes[0]


def test_serve_file_of_a_live_process_not_answering_is_kept(tmp_path: Path) -> None:
    """A serve still starting (alive, port not answering yet) keeps its file: only noted."""
    port = _free_port()
    write_server_info(tmp_path, ServerInfo(f"http://127.0.0.1:{port}", "t", os.getpid()))
    notes: list[str] = []
    assert find_server(tmp_path, note=notes.append) is None
    assert json.loads((tmp_path / SERVE_FILE).read_text())["pid"] == os.getpid()
    assert notes and "does not answer" in notes[0]


def test_cli_ignores_a_stale_serve_file(tmp_path: Path) -> None:
    """`launch` with a stale serve.json runs cold and says why, instead of failing."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    write_server_info(tmp_path, ServerInfo(f"http://127.0.0.1:{_free_port()}", "t", dead.pid))
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("name,phone,email,language\nAnn,,ann@example.org,en\n", encoding="utf-8")
    launched = subprocess.run(
        [sys.executable, "-m", "crisiscast.cli", "launch", "saas-outage", "-p", "service=API",
         "--exercise", "--hold", "--audience", str(contacts)],
        env=_env(tmp_path), cwd=ROOT, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert launched.returncode == 0, launched.stderr
    assert "INC-1 launched (cold" in launched.stdout
    assert "stale" in launched.stderr and str(dead.pid) in launched.stderr
    assert not (tmp_path / SERVE_FILE).exists()
