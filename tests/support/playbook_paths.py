"""Where the example and deliberately broken playbooks live, for the playbook tests."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "playbooks").glob("*.yaml"))
BROKEN = ROOT / "tests" / "playbooks" / "broken"
