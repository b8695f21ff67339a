"""Issue 16's examples (items 3 and 4) through the real command, as a commander pipes them:
``crisiscast triage --playbook regional-flood.yaml``, one process, stdin to stdout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# (reply, severity, category, route): the route is the flood playbook's channel, None for none.
EXAMPLES = [
    ("Water rising fast, 12 people trapped at the school", "urgent", "rescue", "phone"),
    ("my grandmother cannot walk, water coming into my house", "urgent", "rescue", "phone"),
    ("How do I claim flood compensation?", "medium", "aid_claim", "agent_message"),
    ("ຈະຂໍເງິນຊົດເຊີຍນ້ຳຖ້ວມໄດ້ແນວໃດ", "medium", "aid_claim", "agent_message"),
    ("we are fine, just checking in", "low", "other", None),
    ("ยายเดินไม่ได้ น้ำเข้าบ้านแล้ว", "urgent", "rescue", "phone"),
    ("ຊ່ວຍແດ່ ນ້ຳຖ້ວມເຮືອນ ມີຄົນເຈັບ", "urgent", "rescue", "phone"),
    ("ແມ່ຂ້ອຍເປັນພະຍາດຫົວໃຈ ຕ້ອງການຢາດ່ວນ", "urgent", "rescue", "phone"),
    ("อยากเลื่อนนัดหมายวันพรุ่งนี้", "low", "rescheduling", "self_service"),
    ("จะขอเงินชดเชยน้ำท่วมได้ที่ไหน", "medium", "aid_claim", "agent_message"),
]


@pytest.fixture(scope="module")
def answers(flood_path: Path) -> list[dict[str, Any]]:
    """Every example plus one blank line, triaged by one run of the command."""
    lines = [text for text, *_ in EXAMPLES] + [""]
    done = subprocess.run(
        [sys.executable, "-m", "crisiscast.cli", "triage", "--playbook", str(flood_path)],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


@pytest.mark.parametrize(("index", "example"), list(enumerate(EXAMPLES)))
def test_issue_example_through_the_command(
    answers: list[dict[str, Any]], index: int, example: tuple[str, str, str, str | None]
) -> None:
    """Danger to life first, category decides the route, Thai and Lao as well as English."""
    _, severity, category, route = example
    answer = answers[index]
    assert answer["line"] == index + 1
    assert (answer["severity"], answer["category"], answer["route"]) == (
        severity,
        category,
        route,
    )
    assert answer["operating_point"] == "urgent_recall"
    assert answer["empty"] is False


def test_blank_line_is_reported_as_empty(answers: list[dict[str, Any]]) -> None:
    """A blank line gets its own answer, marked empty, with no route."""
    blank = answers[len(EXAMPLES)]
    assert len(answers) == len(EXAMPLES) + 1
    assert (blank["empty"], blank["decided_by"], blank["route"]) == (True, "empty", None)
