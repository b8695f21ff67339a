"""Settings from the environment. With no credentials, every channel records to the outbox.

Credentials are read here and nowhere else, held as ``SecretStr`` so that a stray ``print`` or
log line shows ``**********`` instead of a token.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from pydantic import SecretStr

from crisiscast.errors import ConfigError

ENV_HOME = "CRISISCAST_HOME"
ENV_DATABASE_URL = "CRISISCAST_DATABASE_URL"
ENV_SENDGRID_EVENT_KEY = "SENDGRID_EVENT_WEBHOOK_PUBLIC_KEY"
ENV_FORWARDED_ALLOW_IPS = "CRISISCAST_FORWARDED_ALLOW_IPS"
TWILIO_STATUS_PATH = "/webhooks/twilio/status"


@dataclass(frozen=True)
class TwilioSettings:
    account_sid: str
    auth_token: SecretStr
    from_number: str | None = None
    messaging_service_sid: str | None = None
    status_callback: str | None = None


@dataclass(frozen=True)
class SendGridSettings:
    api_key: SecretStr
    from_email: str


@dataclass(frozen=True)
class XSettings:
    bearer_token: SecretStr


@dataclass(frozen=True)
class InboundEmailSettings:
    """HTTP basic-auth credentials SendGrid Inbound Parse must present (set in its webhook URL)."""

    username: str
    password: SecretStr


@dataclass(frozen=True)
class Settings:
    """Everything crisiscast reads from its environment, resolved once."""

    home: Path
    database_url: str
    twilio: TwilioSettings | None = None
    sendgrid: SendGridSettings | None = None
    x: XSettings | None = None
    apprise_urls: tuple[str, ...] = field(default_factory=tuple)
    # The URL providers call (behind a proxy it differs from the one the app sees); Twilio
    # signs the exact URL it called, so signature checks need it.
    public_url: str | None = None
    inbound_email: InboundEmailSettings | None = None
    # SendGrid's Event Webhook verification key (base64 DER of an ECDSA P-256 public key, as
    # shown under Mail Settings > Event Webhook > Signed Event Webhook). Public, so not a secret;
    # without it the event webhook refuses every post instead of accepting unsigned ones.
    sendgrid_event_key: str | None = None
    # Proxies whose X-Forwarded-For / -Proto `crisiscast serve` believes (uvicorn's
    # forwarded_allow_ips: addresses or networks, "*" for any). None by default: the reply
    # form's per-client limit then keys on the address that really connected.
    forwarded_allow_ips: tuple[str, ...] = ()

    @property
    def outbox_dir(self) -> Path:
        return self.home / "outbox"

    def live_channels(self) -> list[str]:
        """Channel kinds that have credentials; the rest record to the outbox."""
        live = []
        if self.twilio:
            live.append("sms")
        if self.sendgrid:
            live.append("email")
        if self.x:
            live.append("social")
        if self.apprise_urls:
            live.append("chat")
        return live

    def with_database(self, database_url: str | None) -> Settings:
        """These settings on another store (a flow's ``database_url``); None keeps this one."""
        return replace(self, database_url=database_url) if database_url else self

    def offline(self) -> Settings:
        """No provider credentials, so every channel records to the outbox: what an exercise
        (CAP "Exercise") uses, since nothing of it may leave the machine."""
        return replace(self, twilio=None, sendgrid=None, x=None, apprise_urls=())


def _need(env: Mapping[str, str], group: str, names: list[str]) -> dict[str, str] | None:
    """All of ``names`` or none of them: half a credential set is a mistake worth stopping for."""
    present = {n: env[n] for n in names if env.get(n)}
    if not present:
        return None
    missing = [n for n in names if n not in present]
    if missing:
        raise ConfigError(
            f"{group} is half configured: {', '.join(sorted(present))} set but "
            f"{', '.join(missing)} missing. Set them all, or unset them to use the outbox."
        )
    return present


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read settings from ``env`` (the process environment by default)."""
    env = os.environ if env is None else env
    home = Path(env.get(ENV_HOME) or Path.home() / ".crisiscast").expanduser()
    database_url = env.get(ENV_DATABASE_URL) or f"sqlite:///{home / 'crisiscast.db'}"

    public_url = (env.get("CRISISCAST_PUBLIC_URL") or "").rstrip("/") or None
    if public_url and not public_url.startswith(("https://", "http://")):
        raise ConfigError(
            f"CRISISCAST_PUBLIC_URL={public_url!r} is not a URL: give the address providers "
            "call, e.g. https://crisis.example.org"
        )
    twilio = None
    if creds := _need(env, "Twilio", ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"]):
        sender = env.get("TWILIO_FROM_NUMBER")
        service = env.get("TWILIO_MESSAGING_SERVICE_SID")
        if not (sender or service):
            raise ConfigError(
                "Twilio needs a sender: set TWILIO_FROM_NUMBER (E.164, e.g. +15005550006) "
                "or TWILIO_MESSAGING_SERVICE_SID."
            )
        twilio = TwilioSettings(
            account_sid=creds["TWILIO_ACCOUNT_SID"],
            auth_token=SecretStr(creds["TWILIO_AUTH_TOKEN"]),
            from_number=sender,
            messaging_service_sid=service,
            # Delivery receipts come back to our own route unless told otherwise.
            status_callback=env.get("TWILIO_STATUS_CALLBACK")
            or (f"{public_url}{TWILIO_STATUS_PATH}" if public_url else None),
        )

    sendgrid = None
    if creds := _need(env, "SendGrid", ["SENDGRID_API_KEY", "SENDGRID_FROM_EMAIL"]):
        sendgrid = SendGridSettings(
            api_key=SecretStr(creds["SENDGRID_API_KEY"]), from_email=creds["SENDGRID_FROM_EMAIL"]
        )

    x = None
    if token := env.get("X_BEARER_TOKEN"):
        x = XSettings(bearer_token=SecretStr(token))

    apprise_urls = tuple(u for u in env.get("CRISISCAST_APPRISE_URLS", "").split() if u)
    inbound_email = None
    names = ["CRISISCAST_INBOUND_EMAIL_USER", "CRISISCAST_INBOUND_EMAIL_PASSWORD"]
    if creds := _need(env, "SendGrid Inbound Parse", names):
        inbound_email = InboundEmailSettings(
            username=creds[names[0]], password=SecretStr(creds[names[1]])
        )
    return Settings(
        home=home,
        database_url=database_url,
        twilio=twilio,
        sendgrid=sendgrid,
        x=x,
        apprise_urls=apprise_urls,
        public_url=public_url,
        inbound_email=inbound_email,
        sendgrid_event_key=_sendgrid_event_key(env.get(ENV_SENDGRID_EVENT_KEY)),
        forwarded_allow_ips=tuple(
            ip.strip() for ip in env.get(ENV_FORWARDED_ALLOW_IPS, "").split(",") if ip.strip()
        ),
    )


def _sendgrid_event_key(value: str | None) -> str | None:
    """The key as SendGrid shows it (PEM armour and line breaks dropped), checked to load now.

    A key that cannot verify anything would otherwise surface as every receipt refused.
    """
    if not value or not value.strip():
        return None
    lines = [line.strip() for line in value.strip().splitlines()]
    key = "".join(line for line in lines if line and not line.startswith("-----"))
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
    from sendgrid.helpers.eventwebhook import EventWebhook

    try:
        loaded = EventWebhook().convert_public_key_to_ecdsa(key)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ConfigError(
            f"{ENV_SENDGRID_EVENT_KEY} is not a public key ({exc}): copy the verification key "
            "from SendGrid (Mail Settings > Event Webhook > Signed Event Webhook)"
        ) from None
    if not isinstance(loaded, EllipticCurvePublicKey):
        raise ConfigError(
            f"{ENV_SENDGRID_EVENT_KEY} is a {type(loaded).__name__}, not the ECDSA key SendGrid "
            "signs events with: copy the Signed Event Webhook verification key"
        )
    return key
