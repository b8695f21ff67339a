"""The command outside a checkout: example playbooks shipped in the package (`init`, `demo`,
a playbook by its example name), and `triage`'s exit status. Each runs `python -m
crisiscast.cli` in a folder of its own, as a user who installed the package would."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crisiscast.errors import AccessError
from crisiscast.incidents.people.users import authenticate
from crisiscast.incidents.store.database import Store

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "crisiscast.cli"]


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "CRISISCAST_"))}
    env["CRISISCAST_HOME"] = str(home)
    env["PREFECT_HOME"] = str(home / "prefect")
    return env


def _run(
    args: list[str], env: dict[str, str], cwd: Path, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=env, cwd=cwd, input=stdin, capture_output=True, encoding="utf-8",
        timeout=300, check=False,
    )  # fmt: skip


def test_triage_exits_0_once_its_input_is_triaged(tmp_path: Path) -> None:
    """Two lines in: two JSON lines out and exit 0 (not the line count); an error exits 1."""
    env = _env(tmp_path)
    result = _run(["triage"], env, tmp_path, stdin="a\nb\n")
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["line"] for line in result.stdout.splitlines()] == [1, 2]
    empty = _run(["triage"], env, tmp_path)
    assert empty.returncode == 0 and empty.stdout == ""
    missing = _run(["triage", "--playbook", "missing.yaml"], env, tmp_path, stdin="a\n")
    assert missing.returncode == 1
    assert "missing.yaml" in missing.stderr and "file not found" in missing.stderr
    assert "Traceback" not in missing.stderr and missing.stdout == ""


def test_example_playbooks_by_name_from_any_folder(tmp_path: Path) -> None:
    """Outside the repository an example playbook is found by its name alone."""
    env = _env(tmp_path)
    triaged = _run(["triage", "--playbook", "regional-flood"], env, tmp_path,
                   stdin="น้ำท่วม มีคนติดอยู่บนหลังคา\n")  # fmt: skip
    assert triaged.returncode == 0, triaged.stderr
    assert json.loads(triaged.stdout)["language"] == "th"
    shown = _run(["preview", "saas-outage.yaml", "-p", "service=Search"], env, tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "Search outage" in shown.stdout
    in_folder = _run(["validate", "playbooks/saas-outage.yaml"], env, tmp_path)
    assert in_folder.returncode == 1  # a path with a folder in it is taken as it is
    assert "file not found" in in_folder.stderr and "crisiscast init" in in_folder.stderr


def test_init_copies_the_examples_and_keeps_edits(tmp_path: Path) -> None:
    """`init` writes the example playbooks (default ./playbooks), refuses to overwrite without
    --force, and names a folder it cannot write to."""
    env = _env(tmp_path / "home")
    examples = {p.name: p.read_bytes() for p in (ROOT / "playbooks").glob("*.yaml")}
    made = _run(["init"], env, tmp_path)
    assert made.returncode == 0, made.stderr
    target = tmp_path / "playbooks"
    assert {p.name: p.read_bytes() for p in target.iterdir()} == examples
    assert made.stdout.count("wrote playbooks/") == len(examples) == 3
    assert "crisiscast validate playbooks/*.yaml" in made.stdout
    assert _run(["validate", *sorted(examples)], env, target).returncode == 0

    edited = target / "saas-outage.yaml"
    edited.write_text("# mine\n", encoding="utf-8")
    again = _run(["init", "playbooks"], env, tmp_path)
    assert again.returncode == 1
    assert "already there" in again.stderr and "--force" in again.stderr
    assert edited.read_text(encoding="utf-8") == "# mine\n"
    forced = _run(["init", "playbooks", "--force"], env, tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert edited.read_bytes() == examples["saas-outage.yaml"]

    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    for bad, says in (("notes.txt", "is a file"), ("notes.txt/sub", "cannot write")):
        refused = _run(["init", bad], env, tmp_path)
        assert refused.returncode == 1, refused.stdout
        assert says in refused.stderr and bad in refused.stderr
        assert "Traceback" not in refused.stderr


def test_demo_runs_twice_from_another_folder(tmp_path: Path) -> None:
    """The demo needs no checkout: from an empty folder it plays the packaged example, and a
    second run in the same home opens a second incident with the same agents."""
    env = _env(tmp_path / "home")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    first = _run(["demo"], env, elsewhere)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr
    assert "INC-1 launched" in first.stdout and "already on the roster" not in first.stdout
    second = _run(["demo"], env, elsewhere)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr
    assert "INC-2 launched" in second.stdout
    assert "4 demo agents are already on the roster" in second.stdout
    for run in (first, second):
        assert "Traceback" not in run.stdout + run.stderr
        assert "crisiscast stand-down" in run.stdout and "Report:" in run.stdout
    assert list(elsewhere.iterdir()) == []  # everything it writes is under CRISISCAST_HOME
    assert (tmp_path / "home" / "demo" / "playbooks" / "regional-flood.yaml").is_file()
    # It ends with the console's address and a commander's sign-in that works, new each run.
    said = [_console_login(run.stdout) for run in (first, second)]
    assert said[0][0] == "http://127.0.0.1:8765/console/incidents/INC-1"
    assert said[1][0] == "http://127.0.0.1:8765/console/incidents/INC-2"
    store = Store(f"sqlite:///{tmp_path / 'home' / 'crisiscast.db'}")
    try:
        with store.session() as session:
            user = authenticate(session, "demo-commander", said[1][1], now=datetime.now(UTC))
            assert user.role.value == "commander"
        with store.session() as session, pytest.raises(AccessError):
            authenticate(session, "demo-commander", said[0][1], now=datetime.now(UTC))
    finally:
        store.dispose()


def _console_login(stdout: str) -> tuple[str, str]:
    """(address, password) from the demo's last lines."""
    found = re.search(r"open (\S+) and sign in as demo-commander with the password (\S+) ",
                      " ".join(stdout.split()))  # fmt: skip
    assert found is not None, stdout[-1500:]
    return found.group(1), found.group(2)
