"""The README's "Using it" commands, run as written, in order, in a temporary home: each exits 0.

``serve`` is started, waited for and stopped (on a free port, so a server already running on
8765 does not make the test fail). The contacts files the commands import are the reader's own
files: the test writes small ones first.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FILES = {
    "flood-zone-a.csv": (
        "name,phone,email,language,tags,ward,latitude,longitude\n"
        "Somchai,081 234 5678,somchai@example.org,th,elderly,3,13.75,100.50\n"
        "Khamla,+856 20 5551 2345,,lo,elderly,4,17.97,102.60\n"
        "Ann,,ann@example.org,en,,4,,\n"
        "Pierre,+1 202 555 0143,pierre@example.org,fr,,5,,\n"
        "Broken,12,,en,,5,,\n"
    ),
    "contacts.csv": (
        "name,phone,email,language\n"
        "Dana,+1 415 555 2671,dana@example.com,en\n"
        "Lek,089 123 4567,lek@example.co.th,th\n"
    ),
}


def _block(text: str) -> list[str] | None:
    """The commands of the first ```sh block after '## Using it', continuation lines joined."""
    section = text.partition("## Using it")[2]
    match = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    if not match:
        return None
    commands: list[str] = []
    pending = ""
    for line in match.group(1).splitlines():
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        command = (pending + line).strip()
        pending = ""
        if command:
            commands.append(command)
    return commands


def readme_commands() -> list[str]:
    commands = _block((ROOT / "README.md").read_text(encoding="utf-8"))
    assert commands, "README.md has no ```sh block under '## Using it'"
    return commands


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(command: str, home: Path, env: dict[str, str]) -> None:
    """Start `crisiscast serve`, wait until it answers for the home, stop it with Ctrl-C."""
    shell = command.split("#")[0].strip() + f" --port {_free_port()}"
    proc = subprocess.Popen(
        ["bash", "-c", f"exec {shell}"], cwd=home, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    try:
        while not (home / "home" / "serve.json").exists():
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "serve did not start in 120 s"
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert proc.returncode in (0, -signal.SIGINT, 130), proc.stdout.read() if proc.stdout else ""


def test_readme_commands_run_as_written(tmp_path: Path) -> None:
    commands = readme_commands()
    for name, content in FILES.items():
        (tmp_path / name).write_text(content, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "CRISISCAST_"))}
    env["CRISISCAST_HOME"] = str(tmp_path / "home")
    env["PREFECT_HOME"] = str(tmp_path / "home" / "prefect")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    for command in commands:
        if command.startswith("crisiscast serve"):
            _serve(command, tmp_path, env)
            continue
        result = subprocess.run(
            ["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True,
            timeout=300, check=False,
        )  # fmt: skip
        assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
        assert "Traceback" not in result.stderr, f"{command}\n{result.stderr}"
