"""The agent tests' home: commands that load settings from the environment (NEXT, INFO, ASK
without given settings) keep their outbox and case link key in the test's folder."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def crisiscast_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """CRISISCAST_HOME in the test's folder, no public URL and no provider credentials."""
    home = tmp_path / "home"
    monkeypatch.setenv("CRISISCAST_HOME", str(home))
    for name in ("CRISISCAST_PUBLIC_URL", "CRISISCAST_LINK_SECRET", "TWILIO_ACCOUNT_SID",
                 "TWILIO_AUTH_TOKEN", "SENDGRID_API_KEY"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    return home
