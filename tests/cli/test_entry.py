"""The ``crisiscast`` script's entry: plain ``crisiscast triage`` skips the app, the rest not."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from crisiscast.cli.entry import triage_playbook

CLI = [sys.executable, "-m", "crisiscast.cli"]
FLOOD = Path(__file__).resolve().parents[2] / "playbooks" / "regional-flood.yaml"


@pytest.mark.parametrize(
    ("args", "playbook"),
    [
        (["triage"], Path()),
        (["triage", "--playbook", "regional-flood"], Path("regional-flood")),
        (["triage", "--playbook=flood.yaml"], Path("flood.yaml")),
        (["triage", "--help"], None),
        (["triage", "--playbook"], None),
        (["triage", "--playbook", "--help"], None),
        (["triage", "--playbook="], None),
        (["triage", "--playbook", "a.yaml", "extra"], None),
        (["validate", "a.yaml"], None),
        ([], None),
    ],
)
def test_only_plain_triage_takes_the_short_path(args: list[str], playbook: Path | None) -> None:
    """Anything but a plain triage command goes through the Typer app and its messages."""
    assert triage_playbook(args) == playbook


def _run(args: list[str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )


def test_short_path_answers_like_the_app() -> None:
    """One JSON line per input line, Thai read as Thai, exit 0."""
    done = _run(["triage", f"--playbook={FLOOD}"], "ยายเดินไม่ได้ น้ำเข้าบ้านแล้ว\n\n")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2
    assert '"language":"th"' in lines[0] and '"empty":true' in lines[1]


def test_short_path_error_is_one_clear_message(tmp_path: Path) -> None:
    """A missing playbook: exit 1 and the app's "error" line naming the file, no traceback."""
    missing = tmp_path / "nope.yaml"
    done = _run(["triage", "--playbook", str(missing)], "help\n")
    assert done.returncode == 1
    assert "error" in done.stderr and "nope.yaml" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_help_still_comes_from_the_app() -> None:
    """``crisiscast triage --help`` is Typer's help, naming the option."""
    done = _run(["triage", "--help"])
    assert done.returncode == 0
    assert "--playbook" in done.stdout
