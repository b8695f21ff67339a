"""Shared fixtures for the triage tests: the built-in config and a real playbook's config."""

from __future__ import annotations

from pathlib import Path

import pytest

from crisiscast.incidents.intake.triage import TriageConfig, config_from_playbook, default_config
from crisiscast.playbook import load_playbook

PLAYBOOKS = Path(__file__).resolve().parents[4] / "playbooks"


@pytest.fixture(scope="session")
def config() -> TriageConfig:
    """The built-in crisis config with the shipped model."""
    return default_config()


@pytest.fixture(scope="session")
def flood_path() -> Path:
    """A real playbook shipped with the project (en/th/lo signals, five triage questions)."""
    return PLAYBOOKS / "regional-flood.yaml"


@pytest.fixture(scope="session")
def flood(flood_path: Path) -> TriageConfig:
    """The triage config of the shipped regional flood playbook."""
    return config_from_playbook(load_playbook(flood_path))
