"""Prefect's defaults as crisiscast sets them: generous where a crisis needs it, and never over
the user's own PREFECT_* settings."""

from __future__ import annotations

import os

import pytest

from crisiscast.runtime import prepare_prefect

TIMEOUT = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"


def test_the_temporary_api_gets_time_to_start_on_a_busy_machine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(TIMEOUT, raising=False)
    prepare_prefect()
    assert int(os.environ[TIMEOUT]) >= 60  # Prefect's own default is 20 s


def test_the_users_own_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TIMEOUT, "15")
    monkeypatch.setenv("PREFECT_LOGGING_LEVEL", "DEBUG")
    prepare_prefect()
    assert os.environ[TIMEOUT] == "15"
    assert os.environ["PREFECT_LOGGING_LEVEL"] == "DEBUG"
