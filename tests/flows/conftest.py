"""Flow tests run against one Prefect test server for the whole session (Prefect's advice)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.testing.utilities import prefect_test_harness


@pytest.fixture(scope="session", autouse=True)
def prefect_api() -> Iterator[None]:
    """A throwaway Prefect API and database, so flow runs are real and leave nothing behind."""
    with prefect_test_harness(server_startup_timeout=60):
        yield


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """CRISISCAST_HOME in the test's folder and no provider credentials: outbox only."""
    path = tmp_path / "home"
    monkeypatch.setenv("CRISISCAST_HOME", str(path))
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "SENDGRID_API_KEY",
                 "SENDGRID_FROM_EMAIL", "X_BEARER_TOKEN", "CRISISCAST_APPRISE_URLS"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    return path
