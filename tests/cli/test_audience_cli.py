"""Audiences from the command line: a bad contacts file or no target fails before an incident
exists, with one clear message, exit 1 and no traceback."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "crisiscast.cli"]
OUTAGE = ROOT / "playbooks" / "saas-outage.yaml"


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "CRISISCAST_"))}
    env["CRISISCAST_HOME"] = str(home)
    env["PREFECT_HOME"] = str(home / "prefect")
    return env


def _run(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=_env(home), cwd=home, capture_output=True, text=True, timeout=180,
        check=False,
    )  # fmt: skip


def _incidents(home: Path) -> int:
    database = home / "crisiscast.db"
    if not database.exists():
        return 0
    with sqlite3.connect(database) as connection:
        return int(connection.execute("SELECT count(*) FROM incidents").fetchone()[0])


LAUNCH = ["launch", str(OUTAGE), "-p", "service=Payments API"]


@pytest.mark.parametrize(
    ("content", "args", "expected"),
    [
        # Done when: a CSV with wrong columns at launch names the file and the missing columns.
        (b"name,telephone,mail\nAnn,+66812345678,a@example.org\n", [],
         ["wrong.csv:1: missing columns", "'phone' or 'email'", "telephone"]),
        (b"name,phone\nAnn,+66812345678\nB\xe9b,+66812345679\n", [],
         ["wrong.csv:3: not UTF-8", "CSV UTF-8"]),
        (b"name,phone\nAnn,+66812345678\n", ["--region", "XX"],
         ["--region 'XX' is not a region code", "ISO 3166"]),
    ],
)  # fmt: skip
def test_a_bad_contacts_file_at_launch_opens_no_incident(
    tmp_path: Path, content: bytes, args: list[str], expected: list[str]
) -> None:
    (tmp_path / "wrong.csv").write_bytes(content)
    result = _run([*LAUNCH, "--audience", "wrong.csv", *args], tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    for part in expected:
        assert part in message, message
    assert "Traceback" not in result.stderr + result.stdout
    assert _incidents(tmp_path) == 0


def test_a_launch_naming_no_one_is_refused_with_how_to_name_them(tmp_path: Path) -> None:
    result = _run(LAUNCH, tmp_path)
    assert result.returncode == 1
    message = " ".join(result.stderr.split())
    assert "no target" in message and "--list" in message and "--everyone" in message
    assert "Traceback" not in result.stderr
    assert _incidents(tmp_path) == 0


def test_an_unknown_list_is_refused_and_lists_show_what_exists(tmp_path: Path) -> None:
    (tmp_path / "zone.csv").write_text("name,phone\nAnn,081 234 5678\nBad,12\n", encoding="utf-8")
    imported = _run(["contacts", "import", "zone.csv", "--list", "zone-a", "--region", "TH"],
                    tmp_path)  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    assert "2 rows, 1 imported into list zone-a" in " ".join(imported.stdout.split())
    assert "zone.csv:3: phone:" in " ".join(imported.stderr.split())  # the bad row, by line
    assert (tmp_path / "zone.rejects.csv").read_text(encoding="utf-8").startswith("line,field")
    lists = _run(["lists"], tmp_path)
    assert "zone-a" in lists.stdout
    unknown = _run([*LAUNCH, "--list", "zone-b"], tmp_path)
    assert unknown.returncode == 1
    assert "no list named 'zone-b' (lists: default, zone-a)" in " ".join(unknown.stderr.split())
    assert _incidents(tmp_path) == 0


def test_dry_run_shows_the_reach_and_opens_nothing(tmp_path: Path) -> None:
    """`launch --dry-run`: the reach per channel and language, with the fallback counted."""
    (tmp_path / "people.csv").write_text(
        "name,phone,email,language\nLek,089 123 4567,lek@example.org,th\n"
        "Dana,+1 415 555 2671,,en\n",
        encoding="utf-8",
    )
    result = _run([*LAUNCH, "--audience", "people.csv", "--region", "TH", "--dry-run"], tmp_path)
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert "reach of list people" in text
    assert "1 contact gets the fallback language en (their languages: th 1)" in text
    assert "Dry run: no incident opened, nothing imported, nothing sent." in text
    assert _incidents(tmp_path) == 0
    assert "No lists yet" not in _run(["lists"], tmp_path).stdout  # only "default" remains
    assert "people" not in _run(["lists"], tmp_path).stdout


ZONE = (
    "phone,name,language,latitude,longitude\n"
    "+66812345001,Inside,th,13.75,100.50\n"
    "+66812345002,Outside,en,14.50,101.00\n"
    "+66812345003,Also inside,lo,13.80,100.55\n"
)
RIVERSIDE = "13.6,100.4 13.6,100.7 14.1,100.7 13.6,100.4"


def test_a_launch_to_a_polygon_reaches_only_the_people_inside_it(tmp_path: Path) -> None:
    """--polygon targets by place: SMS go to the two contacts inside, none to the one outside,
    and the CAP alert names the area."""
    (tmp_path / "zone.csv").write_text(ZONE, encoding="utf-8")
    assert _run(["contacts", "import", "zone.csv", "--list", "zone", "--region", "TH"],
                tmp_path).returncode == 0  # fmt: skip
    flood = ROOT / "playbooks" / "regional-flood.yaml"
    result = _run(["launch", str(flood), "-p", "area=Riverside", "--exercise",
                   "--polygon", RIVERSIDE, "--area-name", "Riverside"], tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    sms = (tmp_path / "outbox" / "INC-1" / "sms.jsonl").read_text(encoding="utf-8")
    assert "+66812345001" in sms and "+66812345003" in sms and "+66812345002" not in sms
    alert = next((tmp_path / "site" / "INC-1" / "cap").glob("*.xml")).read_text(encoding="utf-8")
    assert "<areaDesc>Riverside</areaDesc>" in alert and f"<polygon>{RIVERSIDE}</polygon>" in alert


def test_a_bad_polygon_fails_before_an_incident_is_opened(tmp_path: Path) -> None:
    """An open ring is refused with what to fix, exit 1, no incident and no traceback."""
    result = _run([*LAUNCH, "--polygon", "13.6,100.4 13.6,100.7"], tmp_path)
    assert result.returncode == 1
    assert "a ring needs at least 4 positions" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr and _incidents(tmp_path) == 0
