"""The demo's report tells its own story: the breaches step 7 escalated on its simulated clock,
the rescued customer's "5" after stand-down, EXERCISE, and the stand-down in words.

Runs the real `crisiscast demo` in a folder of its own (slow: about a minute and a half).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path


def test_demo_report_shows_breaches_csat_and_words(tmp_path: Path) -> None:
    """Nonzero breaches and escalations as step 7 did them, none after the closure, the CSAT
    answer recorded on INC-1, and no Python dict in the output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "CRISISCAST_"))}
    env["CRISISCAST_HOME"] = str(tmp_path / "home")
    env["PREFECT_HOME"] = str(tmp_path / "home" / "prefect")
    run = subprocess.run(
        [sys.executable, "-m", "crisiscast.cli", "demo"], env=env, cwd=tmp_path,
        capture_output=True, encoding="utf-8", timeout=600, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr
    said = " ".join(run.stdout.split())  # rich wraps lines at the terminal's width
    assert "{'" not in said and "kept under the SLA sweep" in said
    assert "csat on case" in said and "of INC-1" in said
    breaches = re.search(r"report: (\d+) first-response and \d+ resolution SLA breaches, (\d+)",
                         said)  # fmt: skip
    assert breaches is not None and int(breaches.group(1)) > 0 and int(breaches.group(2)) > 0
    report = (tmp_path / "home" / "reports" / "INC-1-report.md").read_text(encoding="utf-8")
    assert report.startswith("# EXERCISE: INC-1")
    assert f"SLA breaches: {breaches.group(1)} first response" in report
    assert "Mean satisfaction: 5.00 of 5 (1 answers)" in report
    assert "sla_action (after closure)" not in report and "{'" not in report
    assert (tmp_path / "home" / "reports" / "INC-1-audit.csv").is_file()
