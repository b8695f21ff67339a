"""Signed case links in agents' pages: only the link we sent opens the case, and only while
the case is open and the agent still works it."""

from __future__ import annotations

import stat
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from crisiscast.config import Settings, load_settings
from crisiscast.errors import ConfigError
from crisiscast.incidents.agents.case_link import (
    KEY_FILE,
    LinkClaim,
    case_url,
    expired,
    link_secret,
    sign,
    verify,
)

SECRET = b"0123456789abcdef0123456789abcdef"
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def test_a_signed_link_verifies_to_its_case_and_agent() -> None:
    """The token names case and agent, is GSM-7, and verifies back to both."""
    token = sign(SECRET, 42, 3)
    assert token.startswith("42.3.") and len(token) == len("42.3.") + 12
    assert verify(SECRET, token) == LinkClaim(42, 3)
    assert case_url("https://crisis.example.org/", token) == (
        f"https://crisis.example.org/c/{token}"
    )
    assert case_url(None, token) == f"http://127.0.0.1:8765/c/{token}"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t.replace("42.", "43.", 1),  # another case
        lambda t: t.replace(".3.", ".4.", 1),  # another agent
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # another signature
        lambda t: t + "x",
        lambda t: t.replace("42", "๔๒", 1),  # Thai digits read as the same number elsewhere
        lambda t: "",
        lambda t: "99999999999.3." + t.rsplit(".", 1)[1],  # past the 32-bit ids
    ],
)
def test_a_tampered_link_does_not_verify(tamper: Callable[[str], str]) -> None:
    """Changing the case, the agent or a single signature character voids the link."""
    token = sign(SECRET, 42, 3)
    assert verify(SECRET, tamper(token)) is None


def test_a_link_signed_with_another_secret_does_not_verify() -> None:
    """A new secret (the key file deleted) voids every link sent before."""
    assert verify(b"another-secret-of-enough-length", sign(SECRET, 42, 3)) is None


def test_the_key_file_is_made_once_with_mode_0600(tmp_path: Path) -> None:
    """Without a setting, the first use writes a random key only its owner can read; later
    uses (other processes too) read the same key."""
    settings = load_settings({"CRISISCAST_HOME": str(tmp_path / "home")})
    first = link_secret(settings)
    path = tmp_path / "home" / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert link_secret(settings) == first and len(first) >= 32
    assert [p.name for p in path.parent.iterdir()] == [KEY_FILE]  # no draft left behind


def test_the_setting_is_the_secret_when_given(tmp_path: Path) -> None:
    """CRISISCAST_LINK_SECRET wins over the file; a short one is refused with the fix."""
    env = {"CRISISCAST_HOME": str(tmp_path), "CRISISCAST_LINK_SECRET": "s" * 32}
    assert link_secret(load_settings(env)) == b"s" * 32
    assert not (tmp_path / KEY_FILE).exists()
    short = Settings(home=tmp_path, database_url="sqlite://", link_secret=SecretStr("short"))
    with pytest.raises(ConfigError, match="CRISISCAST_LINK_SECRET is 5 characters"):
        link_secret(short)


def test_a_link_expires_when_the_case_closes_or_the_pass_ends() -> None:
    """The console's rule: open case, agent on the roster, pass not ended, case still theirs."""
    open_case = {"case_open": True, "agent_holds_case": True, "agent_on_roster": True}
    assert expired(**open_case, pass_expires_at=None, now=NOW) is None
    assert expired(**open_case, pass_expires_at=NOW + timedelta(hours=1), now=NOW) is None
    assert expired(**open_case, pass_expires_at=NOW, now=NOW) == "the agent's pass has ended"
    closed = {**open_case, "case_open": False}
    assert expired(**closed, pass_expires_at=None, now=NOW) == "the case is closed"
    passed = {**open_case, "agent_holds_case": False}
    assert expired(**passed, pass_expires_at=None, now=NOW) == "the case is no longer the agent's"
