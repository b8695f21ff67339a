"""Shared paths for playbook tests."""

from __future__ import annotations

import pytest
from playbook_paths import EXAMPLES

from crisiscast.playbook import Playbook, load_playbook


@pytest.fixture(params=EXAMPLES, ids=lambda path: path.stem)
def example(request: pytest.FixtureRequest) -> Playbook:
    """Each example playbook, loaded."""
    return load_playbook(request.param)
