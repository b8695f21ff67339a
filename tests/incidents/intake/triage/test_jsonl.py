"""The JSON-lines interface behind `crisiscast triage`: one object per input line, in order."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from crisiscast.errors import PlaybookError
from crisiscast.incidents.intake.triage import TriageConfig, run_triage, triage_jsonl


def test_one_json_object_per_line(config: TriageConfig) -> None:
    """Each line becomes one object with severity, category, language and why, blanks too."""
    lines = ["200 people are trapped\n", "\n", "just checking in\n"]
    out = [json.loads(line) for line in triage_jsonl(lines, config)]
    assert [o["line"] for o in out] == [1, 2, 3]
    assert [o["severity"] for o in out] == ["urgent", "low", "low"]
    for obj in out:
        assert {"severity", "category", "language", "why", "unanswered"} <= obj.keys()
    assert "danger to life: 'trapped'" in out[0]["why"]


def test_run_triage_with_a_playbook(flood_path: Path) -> None:
    """With --playbook, the playbook's Thai rules apply and Thai text stays readable (UTF-8)."""
    stdin = io.StringIO("พวกเราติดอยู่บนหลังคา\nhello\n")
    stdout = io.StringIO()
    assert run_triage(stdin, stdout, flood_path) == 2
    first, second = (json.loads(line) for line in stdout.getvalue().splitlines())
    assert (first["severity"], first["language"]) == ("urgent", "th")
    assert "ติดอยู่" in stdout.getvalue()
    assert second["language"] == "en"


def test_run_triage_without_a_playbook_uses_the_built_in_rules() -> None:
    """No playbook means the built-in en/th/lo config."""
    stdout = io.StringIO()
    run_triage(io.StringIO("ນ້ຳຖ້ວມ ພວກເຮົາຕິດຢູ່\n"), stdout)
    assert json.loads(stdout.getvalue())["language"] == "lo"


def test_bad_playbook_is_a_playbook_error(tmp_path: Path) -> None:
    """An invalid playbook fails with PlaybookError (file and problem), before reading input."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\n", encoding="utf-8")
    stdout = io.StringIO()
    with pytest.raises(PlaybookError, match=r"bad\.yaml"):
        run_triage(io.StringIO("hello\n"), stdout, bad)
    assert stdout.getvalue() == ""
