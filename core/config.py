"""Settings from the environment. With no credentials, every channel records to the outbox.

Credentials are read here and nowhere else, held as ``SecretStr`` so that a stray ``print`` or
log line shows ``**********`` instead of a token.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import SecretStr

from crisiscast.errors import ConfigError

ENV_HOME = "CRISISCAST_HOME"
ENV_DATABASE_URL = "CRISISCAST_DATABASE_URL"
ENV_SENDGRID_EVENT_KEY = "SENDGRID_EVENT_WEBHOOK_PUBLIC_KEY"
ENV_FORWARDED_ALLOW_IPS = "CRISISCAST_FORWARDED_ALLOW_IPS"
ENV_SMTP_URL = "CRISISCAST_SMTP_URL"
ENV_LINK_SECRET = "CRISISCAST_LINK_SECRET"  # noqa: S105 (a variable name, not a secret)
TWILIO_STATUS_PATH = "/webhooks/twilio/status"


@dataclass(frozen=True)
class SenderRate:
    """One configured sender (a number, short code, Messaging Service SID, or an email sending
    name) and its limit; None: the provider's published default (``channels/senders.py``)."""

    sender: str
    rate: float | None = None
    burst: float | None = None


@dataclass(frozen=True)
class TwilioSettings:
    account_sid: str
    auth_token: SecretStr
    from_number: str | None = None
    messaging_service_sid: str | None = None
    status_callback: str | None = None
    # TWILIO_SENDERS: the account's sender pool; empty = the one sender above.
    senders: tuple[SenderRate, ...] = ()
    # Requests in flight at once (TWILIO_CONCURRENCY); None: enough for the pool's rate.
    concurrency: int | None = None


# SendGrid publishes no per-second limit for mail/send: 10 requests/s (up to 10,000 emails/s in
# full batches) is well inside what accounts get, and SENDGRID_REQUESTS_PER_SECOND changes it.
SENDGRID_DEFAULT_REQUESTS_PER_SECOND = 10.0


@dataclass(frozen=True)
class SendGridSettings:
    api_key: SecretStr
    from_email: str
    requests_per_second: float = SENDGRID_DEFAULT_REQUESTS_PER_SECOND


@dataclass(frozen=True)
class SmtpSettings:
    """An SMTP relay (CRISISCAST_SMTP_URL): email's failover, or its only provider."""

    host: str
    port: int
    from_email: str
    username: str | None = None
    password: SecretStr | None = None
    tls: Literal["starttls", "ssl", "none"] = "starttls"
    rate: float = 10.0  # messages per second


@dataclass(frozen=True)
class FailoverSettings:
    """When a medium's primary provider counts as down, and when to try it again."""

    # Consecutive failed batches (errors, timeouts) before the rest goes to the secondary;
    # rejected credentials open the breaker at once.
    threshold: int = 3
    # Seconds on the secondary before one batch tries the primary again.
    cooldown_seconds: float = 30.0


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
    # Secondary providers per medium (failover, channels/failover.py): another Twilio account
    # for SMS, another SendGrid account for email.
    twilio_fallback: TwilioSettings | None = None
    sendgrid_fallback: SendGridSettings | None = None
    smtp: SmtpSettings | None = None
    failover: FailoverSettings = field(default_factory=FailoverSettings)
    # Signs the case links in agents' pages (incidents/agents/case_link.py); None: a random key
    # in $CRISISCAST_HOME/case-link.key, created 0600 on first use.
    link_secret: SecretStr | None = None

    @property
    def outbox_dir(self) -> Path:
        return self.home / "outbox"

    def live_channels(self) -> list[str]:
        """Channel kinds that have credentials; the rest record to the outbox."""
        live = []
        if self.twilio:
            live.append("sms")
        if self.sendgrid or self.smtp:
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
        return replace(
            self,
            twilio=None,
            sendgrid=None,
            x=None,
            apprise_urls=(),
            twilio_fallback=None,
            sendgrid_fallback=None,
            smtp=None,
        )


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
    # Delivery receipts come back to our own route unless told otherwise.
    callback = env.get("TWILIO_STATUS_CALLBACK") or (
        f"{public_url}{TWILIO_STATUS_PATH}" if public_url else None
    )
    twilio = _twilio(env, "TWILIO_", callback)
    twilio_fallback = _twilio(env, "TWILIO_FALLBACK_", callback)
    sendgrid = _sendgrid(env, "SENDGRID_")
    sendgrid_fallback = _sendgrid(env, "SENDGRID_FALLBACK_")
    for primary, secondary, name in ((twilio, twilio_fallback, "TWILIO"),
                                     (sendgrid, sendgrid_fallback, "SENDGRID")):  # fmt: skip
        if secondary is not None and primary is None:
            raise ConfigError(
                f"{name}_FALLBACK_* is set but {name}_* is not: a failover provider needs a "
                "primary. Set the primary's variables, or drop the FALLBACK ones."
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
        twilio_fallback=twilio_fallback,
        sendgrid_fallback=sendgrid_fallback,
        smtp=parse_smtp_url(env.get(ENV_SMTP_URL)),
        failover=FailoverSettings(
            threshold=int(_number(env, "CRISISCAST_FAILOVER_THRESHOLD", 3, whole=True)),
            cooldown_seconds=_number(env, "CRISISCAST_FAILOVER_COOLDOWN", 30.0),
        ),
        link_secret=SecretStr(secret) if (secret := env.get(ENV_LINK_SECRET)) else None,
    )


def _number(env: Mapping[str, str], name: str, default: float, *, whole: bool = False) -> float:
    """A positive number from ``name``, or ``default`` when unset."""
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        value = 0
    if not value > 0:
        kind = "a whole number" if whole else "a number"
        raise ConfigError(f"{name}={raw!r} must be {kind} above 0, e.g. {default:g}")
    return float(value)


def parse_sender_rates(text: str, variable: str) -> tuple[SenderRate, ...]:
    """``'+15005550006 MGabc=100 12345=100/20'`` -> senders: ``SENDER[=RATE[/BURST]]`` separated
    by spaces or commas (RATE per second, BURST messages at once). Errors name ``variable``."""
    senders: list[SenderRate] = []
    for number, item in enumerate((i for i in re.split(r"[\s,]+", text.strip()) if i), 1):
        sender, _, limit = item.partition("=")
        rate_text, _, burst_text = limit.partition("/")
        try:
            rate = float(rate_text) if rate_text else None
            burst = float(burst_text) if burst_text else None
        except ValueError:
            rate = burst = -1.0
        if not sender or (rate is not None and not rate > 0) or (burst is not None and burst < 1):
            raise ConfigError(
                f"{variable}: cannot read sender {number}: write SENDER, SENDER=RATE or "
                "SENDER=RATE/BURST, e.g. 'MG0123...=100 +15005550006=1' (RATE > 0 per second, "
                "BURST >= 1)"
            )
        senders.append(SenderRate(sender, rate, burst))
    if len({s.sender for s in senders}) != len(senders):
        raise ConfigError(f"{variable}: a sender is listed twice: list each once")
    return tuple(senders)


def parse_smtp_url(url: str | None) -> SmtpSettings | None:
    """``smtp://user:password@host:587?from=alerts@example.org&rate=10`` (STARTTLS required),
    ``smtps://...`` (TLS from the start), ``&tls=none`` only for a relay on this machine."""
    if not url:
        return None
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    tls = "ssl" if parts.scheme == "smtps" else query.get("tls", "starttls")
    try:
        port = parts.port or (465 if tls == "ssl" else 587)
        rate = float(query.get("rate", "10"))
    except ValueError:
        port, rate = 0, 0.0
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname or tls not in (
        "starttls", "ssl", "none",
    ) or not port or not rate > 0 or "@" not in query.get("from", ""):  # fmt: skip
        raise ConfigError(
            f"{ENV_SMTP_URL} must look like smtp://user:password@host:587?from=alerts@example.org"
            " (smtps:// for TLS from the start; &rate=10 messages/s; &tls=none only for a local"
            " relay)"
        )
    return SmtpSettings(
        host=parts.hostname, port=port, from_email=query["from"],
        username=unquote(parts.username) if parts.username else None,
        password=SecretStr(unquote(parts.password)) if parts.password else None,
        tls=tls, rate=rate,  # type: ignore[arg-type]  # checked above
    )  # fmt: skip


def _twilio(env: Mapping[str, str], prefix: str, callback: str | None) -> TwilioSettings | None:
    """One Twilio account from ``{prefix}ACCOUNT_SID`` etc. (the primary, or the failover)."""
    creds = _need(env, prefix.rstrip("_").title(), [f"{prefix}ACCOUNT_SID", f"{prefix}AUTH_TOKEN"])
    if not creds:
        return None
    sender = env.get(f"{prefix}FROM_NUMBER")
    service = env.get(f"{prefix}MESSAGING_SERVICE_SID")
    pool = parse_sender_rates(env.get(f"{prefix}SENDERS", ""), f"{prefix}SENDERS")
    if not (sender or service or pool):
        raise ConfigError(
            f"Twilio needs a sender: set {prefix}FROM_NUMBER (E.164, e.g. +15005550006), "
            f"{prefix}MESSAGING_SERVICE_SID, or {prefix}SENDERS (e.g. 'MG0123...=100')."
        )
    concurrency = env.get(f"{prefix}CONCURRENCY")
    return TwilioSettings(
        account_sid=creds[f"{prefix}ACCOUNT_SID"],
        auth_token=SecretStr(creds[f"{prefix}AUTH_TOKEN"]),
        from_number=sender,
        messaging_service_sid=service,
        status_callback=callback,
        senders=pool,
        concurrency=int(_number(env, f"{prefix}CONCURRENCY", 1, whole=True))
        if concurrency
        else None,
    )


def _sendgrid(env: Mapping[str, str], prefix: str) -> SendGridSettings | None:
    """One SendGrid account from ``{prefix}API_KEY`` and ``{prefix}FROM_EMAIL``."""
    names = [f"{prefix}API_KEY", f"{prefix}FROM_EMAIL"]
    creds = _need(env, "SendGrid" + (" fallback" if "FALLBACK" in prefix else ""), names)
    if not creds:
        return None
    rate = _number(env, f"{prefix}REQUESTS_PER_SECOND", SENDGRID_DEFAULT_REQUESTS_PER_SECOND)
    return SendGridSettings(
        api_key=SecretStr(creds[names[0]]), from_email=creds[names[1]], requests_per_second=rate
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
