"""Validation never hangs or crashes on a hostile playbook: templates render within limits on
time, loop iterations and output size, and an unreadable character in the YAML is a located
problem. Each case runs the real command in a fresh process, as a commander would."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BASE = (ROOT / "tests" / "playbooks" / "broken" / "template_syntax.yaml").read_text("utf-8")
GOOD_CLOSE = "          {% if service %}Thanks for waiting.{% endif %}\n"
FIXED = BASE.replace("          {% if service %}Thanks for waiting.\n", GOOD_CLOSE)
SMS = '        text: "{{ service }} is down. Live chat: status.example.com/chat"\n'


def _with_sms(template: str) -> str:
    assert SMS in FIXED
    return FIXED.replace(SMS, f"        text: {template}\n")


CASES = {
    "nested_loops": _with_sms(
        '"{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"'
    ),
    "loop_over_big_string": _with_sms(
        "\"{% for c in 'ab' * 50000000 %}{% for d in 'ab' * 50000000 %}{% endfor %}{% endfor %}\""
    ),
    "huge_repeat": _with_sms("\"{{ 'a' * 3000000000 }}\""),
    "huge_number_repeat": _with_sms('"{{ [1] * 3000000000 }}"'),
    "huge_join": _with_sms("\"{{ range(9999) | join('x' * 9999) }}\""),
    "huge_format": _with_sms("\"{{ '%0999999999d' | format(1) }}\""),
    "huge_power": _with_sms('"{{ 9 ** 99999999 }}"'),
}


def _validate(
    tmp_path: Path, name: str, text: str
) -> tuple[subprocess.CompletedProcess[str], float]:
    path = tmp_path / f"{name}.yaml"
    path.write_bytes(text.encode("utf-8"))
    env = {**os.environ, "CRISISCAST_HOME": str(tmp_path / "home")}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "crisiscast.cli", "validate", str(path)],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    return result, time.monotonic() - started


def test_the_base_playbook_is_valid(tmp_path: Path) -> None:
    """The cases below differ from a valid playbook only in the one template."""
    result, _ = _validate(tmp_path, "valid", FIXED)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", sorted(CASES))
def test_expensive_template_is_a_located_problem(tmp_path: Path, name: str) -> None:
    """Exit 1 within seconds; the message names the file, the template's key and line."""
    result, took = _validate(tmp_path, name, CASES[name])
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert took < 8, f"validate took {took:.1f} s"
    assert "Traceback" not in output and "MemoryError" not in output
    assert f"{name}.yaml:17:" in output, output  # the sms text's line
    assert "announcements[0].channels.sms.text" in output, output


def test_nul_character_is_a_located_problem(tmp_path: Path) -> None:
    """A NUL in the YAML is reported at its line and column, never as a traceback."""
    text = FIXED.replace('title: "{{ service }} outage"', 'title: "{{ service }}\x00 outage"')
    result, _ = _validate(tmp_path, "nul", text)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output and "ReaderError" not in output
    assert "nul.yaml:3:" in output, output
    assert "character" in output.lower()
