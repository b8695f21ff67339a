"""Settings from the environment: defaults, credentials, and refusing half-configured providers."""

from __future__ import annotations

from pathlib import Path

import pytest

from crisiscast.config import load_settings
from crisiscast.errors import ConfigError


def test_defaults_use_sqlite_under_home(tmp_path: Path) -> None:
    """With nothing set, the store is a SQLite file in CRISISCAST_HOME; every channel is outbox."""
    settings = load_settings({"CRISISCAST_HOME": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'crisiscast.db'}"
    assert settings.outbox_dir == tmp_path / "outbox"
    assert settings.live_channels() == []


def test_database_url_from_environment(tmp_path: Path) -> None:
    """CRISISCAST_DATABASE_URL points the store at PostgreSQL."""
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    settings = load_settings({"CRISISCAST_HOME": str(tmp_path), "CRISISCAST_DATABASE_URL": url})
    assert settings.database_url == url


def test_credentials_make_channels_live_and_stay_secret(tmp_path: Path) -> None:
    """Credentials switch channels to live; tokens never show in repr (and so never in logs)."""
    env = {
        "CRISISCAST_HOME": str(tmp_path),
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "super-secret-token",
        "TWILIO_FROM_NUMBER": "+15005550006",
        "SENDGRID_API_KEY": "SG.secret",
        "SENDGRID_FROM_EMAIL": "alerts@example.com",
        "CRISISCAST_APPRISE_URLS": "json://127.0.0.1:9/a  json://127.0.0.1:9/b",
    }
    settings = load_settings(env)
    assert settings.live_channels() == ["sms", "email", "chat"]
    assert len(settings.apprise_urls) == 2
    assert "super-secret-token" not in repr(settings)
    assert "SG.secret" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"TWILIO_ACCOUNT_SID": "AC1"}, ["Twilio", "TWILIO_AUTH_TOKEN"]),
        ({"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t"}, ["TWILIO_FROM_NUMBER"]),
        ({"SENDGRID_API_KEY": "k"}, ["SendGrid", "SENDGRID_FROM_EMAIL"]),
    ],
)
def test_half_configured_provider_is_refused(
    tmp_path: Path, env: dict[str, str], words: list[str]
) -> None:
    """A partial credential set is an error naming what is missing, not a silent outbox."""
    with pytest.raises(ConfigError) as info:
        load_settings({"CRISISCAST_HOME": str(tmp_path), **env})
    for word in words:
        assert word in str(info.value)


def test_offline_settings_keep_everything_but_credentials(tmp_path: Path) -> None:
    """An exercise's settings send nothing: no provider is live, the store stays the same."""
    env = {
        "CRISISCAST_HOME": str(tmp_path),
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "t",
        "TWILIO_FROM_NUMBER": "+15005550006",
        "X_BEARER_TOKEN": "x",
        "CRISISCAST_APPRISE_URLS": "json://127.0.0.1:9/a",
    }
    settings = load_settings(env)
    offline = settings.offline()
    assert settings.live_channels() == ["sms", "social", "chat"]
    assert offline.live_channels() == []
    assert (offline.home, offline.database_url) == (settings.home, settings.database_url)


def test_with_database_overrides_only_when_given(tmp_path: Path) -> None:
    """A flow's database_url replaces the store; None keeps the environment's."""
    settings = load_settings({"CRISISCAST_HOME": str(tmp_path)})
    assert settings.with_database(None) is settings
    assert settings.with_database("sqlite:////x.db").database_url == "sqlite:////x.db"
