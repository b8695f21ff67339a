"""The registry picks the SDK channel when credentials are set, else the outbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from crisiscast.channels.base import ChannelKind
from crisiscast.channels.outbox import OutboxChannel
from crisiscast.channels.registry import channel_for
from crisiscast.config import load_settings
from crisiscast.errors import ConfigError

CREDENTIALS = {
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "token",
    "TWILIO_FROM_NUMBER": "+15005550006",
    "SENDGRID_API_KEY": "SG.key",
    "SENDGRID_FROM_EMAIL": "alerts@cc.example",
    "X_BEARER_TOKEN": "x-token",
    "CRISISCAST_APPRISE_URLS": "json://127.0.0.1:9/hook",
}


@pytest.mark.parametrize("kind", ["sms", "email", "social", "chat", "banner"])
def test_without_credentials_every_kind_records_to_the_outbox(
    tmp_path: Path, kind: ChannelKind
) -> None:
    """No credentials: the channel is an outbox for that kind under the home directory."""
    settings = load_settings({"CRISISCAST_HOME": str(tmp_path)})
    channel = channel_for(kind, settings)
    assert isinstance(channel, OutboxChannel)
    assert channel.medium == kind and channel.path == tmp_path / "outbox" / f"{kind}.jsonl"


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("sms", "twilio-sms"),
        ("email", "sendgrid-email"),
        ("social", "x-social"),
        ("chat", "apprise-chat"),
    ],
)
def test_with_credentials_the_sdk_channel_is_used(
    tmp_path: Path, kind: ChannelKind, name: str
) -> None:
    """Configured credentials select the provider's channel."""
    settings = load_settings({"CRISISCAST_HOME": str(tmp_path), **CREDENTIALS})
    assert channel_for(kind, settings).name == name


def test_outbox_dir_can_be_overridden(tmp_path: Path) -> None:
    """A caller (the demo, a preview) may record elsewhere."""
    settings = load_settings({"CRISISCAST_HOME": str(tmp_path / "home")})
    channel = channel_for("sms", settings, outbox_dir=tmp_path / "preview")
    assert isinstance(channel, OutboxChannel) and channel.path.parent == tmp_path / "preview"


def test_unknown_kind_is_a_config_error(tmp_path: Path) -> None:
    """A typo in a kind names the valid ones."""
    settings = load_settings({"CRISISCAST_HOME": str(tmp_path)})
    with pytest.raises(ConfigError, match="sms, email"):
        channel_for("fax", settings)  # type: ignore[arg-type]
