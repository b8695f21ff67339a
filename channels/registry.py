"""Which channel serves a kind: the SDK channel when its credentials are set, else the outbox.

SDK modules are imported only when their channel is built, so an outbox-only run (the demo,
the benchmark) never pays for importing twilio, sendgrid, tweepy or apprise.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from crisiscast.channels.base import CHANNEL_KINDS, Channel, ChannelKind
from crisiscast.channels.outbox import OutboxChannel, Preparer, single_part
from crisiscast.channels.sms_segments import prepare_sms
from crisiscast.channels.x_thread import prepare_post
from crisiscast.config import Settings
from crisiscast.errors import ConfigError

# How each kind's text is shaped, so the outbox records what the live channel would send.
PREPARERS: dict[ChannelKind, Preparer] = {
    "sms": prepare_sms,
    "email": single_part,
    "social": prepare_post,
    "chat": single_part,
    "banner": single_part,
    "outbox": single_part,
}


def _twilio(settings: Settings) -> Channel | None:
    """Twilio SMS over the account's sender pool; with ``TWILIO_FALLBACK_*``, failover to it."""
    if settings.twilio is None:
        return None
    from crisiscast.channels.failover import with_failover
    from crisiscast.channels.twilio_sms import TwilioSmsChannel

    primary = TwilioSmsChannel(settings.twilio)
    backup = settings.twilio_fallback
    secondary = TwilioSmsChannel(backup) if backup else None
    key = f"sms:twilio:{settings.twilio.account_sid}"
    return with_failover(primary, secondary, settings.failover, key)


def _sendgrid(settings: Settings) -> Channel | None:
    """SendGrid email, failing over to ``SENDGRID_FALLBACK_*`` (another account) or else to
    ``CRISISCAST_SMTP_URL``; SMTP alone when SendGrid is not configured."""
    from crisiscast.channels.smtp_email import smtp_channel

    if settings.sendgrid is None:
        return smtp_channel(settings.smtp)
    from crisiscast.channels.failover import with_failover
    from crisiscast.channels.sendgrid_email import SendGridEmailChannel

    primary = SendGridEmailChannel(settings.sendgrid)
    backup = settings.sendgrid_fallback
    secondary = SendGridEmailChannel(backup) if backup else smtp_channel(settings.smtp)
    key = f"email:sendgrid:{settings.sendgrid.from_email}"
    return with_failover(primary, secondary, settings.failover, key)


def _x(settings: Settings) -> Channel | None:
    if settings.x is None:
        return None
    from crisiscast.channels.x_social import XSocialChannel

    return XSocialChannel(settings.x)


def _apprise(settings: Settings) -> Channel | None:
    if not settings.apprise_urls:
        return None
    from crisiscast.channels.apprise_chat import AppriseChatChannel

    return AppriseChatChannel(settings.apprise_urls)


# kind -> builder of the live channel (None when its credentials are not configured).
# The banner publishes its own files (channels/banner*.py) and is built by its own module.
LIVE: dict[ChannelKind, Callable[[Settings], Channel | None]] = {
    "sms": _twilio,
    "email": _sendgrid,
    "social": _x,
    "chat": _apprise,
}


def channel_for(
    kind: ChannelKind, settings: Settings, *, outbox_dir: Path | None = None
) -> Channel:
    """The live channel for ``kind`` if configured, else an outbox recording for that kind."""
    if kind not in CHANNEL_KINDS:
        raise ConfigError(f"unknown channel kind {kind!r}: use one of {', '.join(CHANNEL_KINDS)}.")
    build = LIVE.get(kind)
    live = build(settings) if build else None
    if live is not None:
        return live
    directory = outbox_dir or settings.outbox_dir
    return OutboxChannel(kind, directory, preparer=PREPARERS[kind])
