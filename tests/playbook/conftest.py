"""Shared paths for playbook tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from crisiscast.playbook import Playbook, load_playbook

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "playbooks").glob("*.yaml"))
BROKEN = ROOT / "tests" / "playbooks" / "broken"


@pytest.fixture(params=EXAMPLES, ids=lambda path: path.stem)
def example(request: pytest.FixtureRequest) -> Playbook:
    """Each example playbook, loaded."""
    return load_playbook(request.param)
