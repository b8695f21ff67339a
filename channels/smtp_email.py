"""Email over SMTP (stdlib ``smtplib``): a failover for email that does not share SendGrid's fate.

Configured by ``CRISISCAST_SMTP_URL`` (``smtp://user:password@host:587?from=alerts@example.org``:
STARTTLS required; ``smtps://`` for TLS from the start; ``?tls=none`` only for a relay on this
machine). One message per recipient, so nobody sees another's address, over one connection per
batch, at ``rate`` messages a second (``?rate=10``, a token bucket shared by the process).

Outcomes: a refused recipient (550, 553) fails that message only; a 4xx or a dropped connection
is channel trouble (retryable, the rest deferred); a rejected login or sender is permanent; a
timeout after the message was handed over leaves it "outcome unknown", never sent again.
"""

from __future__ import annotations

import smtplib
import ssl
import time
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from email.utils import make_msgid
from typing import ClassVar

from crisiscast.channels.base import (
    Channel,
    ChannelKind,
    ChannelTrouble,
    DeliveryResult,
    OutgoingMessage,
    PreparedMessage,
    missing_address,
    send_each,
)
from crisiscast.channels.masking import mask_secret
from crisiscast.channels.senders import SenderSpec, TokenBucket, shared_bucket
from crisiscast.config import SmtpSettings
from crisiscast.errors import ConfigError

KEY_HEADER = "X-Crisiscast-Delivery"  # the delivery key, for bounces that quote headers


def build_message(from_email: str, message: OutgoingMessage) -> EmailMessage:
    """Pure: the email as sent: text, and HTML as an alternative when given."""
    email = EmailMessage()
    email["From"] = from_email
    email["To"] = message.address or ""
    email["Subject"] = message.subject or ""
    email[KEY_HEADER] = message.key
    email["Message-ID"] = make_msgid(domain=from_email.rpartition("@")[2] or None)
    email.set_content(message.text)
    if message.html:
        email.add_alternative(message.html, subtype="html")
    email["Content-Language"] = message.language  # after set_content, which drops Content-*
    return email


class SmtpEmailChannel(Channel):
    """One email per recipient over an SMTP relay."""

    kind: ClassVar[ChannelKind] = "email"
    name: ClassVar[str] = "smtp-email"
    batch_size: ClassVar[int] = 100
    rate_per_second: ClassVar[float | None] = None  # the relay's own; set ?rate= in the URL
    needs_address: ClassVar[bool] = True
    paces_itself: ClassVar[bool] = True

    def __init__(
        self,
        settings: SmtpSettings,
        *,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.timeout = timeout
        self.clock = clock
        self.sleep = sleep
        spec = SenderSpec.at(settings.from_email, settings.rate)
        key = f"smtp:{settings.host}:{settings.port}:{settings.from_email}"
        self.bucket: TokenBucket = shared_bucket(key, spec, clock)
        self._smtp: smtplib.SMTP | None = None

    def to_url(self, redact: bool = True) -> str:
        """``smtp://user:****@host:port?from=...`` with the password masked."""
        s = self.settings
        secret = s.password.get_secret_value() if s.password else ""
        shown = mask_secret(secret) if redact and secret else secret
        login = f"{s.username}:{shown}@" if s.username else ""
        scheme = "smtps" if s.tls == "ssl" else "smtp"
        return f"{scheme}://{login}{s.host}:{s.port}?from={s.from_email}&tls={s.tls}"

    def prepare(self, message: OutgoingMessage) -> PreparedMessage:
        """An email goes out whole, one part."""
        return PreparedMessage(message=message, parts=(message.text,), segments=1, encoding="utf-8")

    def send(self, batch: Sequence[OutgoingMessage]) -> list[DeliveryResult]:
        """Send each message on one connection; stop at trouble so nothing is repeated."""
        try:
            return send_each(self, batch, self._send_one)
        finally:
            self.close()

    def close(self) -> None:
        """Say QUIT (or just drop a broken connection); safe to call twice."""
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()

    def _connect(self) -> smtplib.SMTP:
        if self._smtp is None:
            s = self.settings
            context = ssl.create_default_context()
            if s.tls == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=self.timeout,
                                                      context=context)  # fmt: skip
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=self.timeout)
                if s.tls == "starttls":
                    smtp.starttls(context=context)
            if s.username and s.password:
                smtp.login(s.username, s.password.get_secret_value())
            self._smtp = smtp
        return self._smtp

    def _send_one(self, message: OutgoingMessage) -> DeliveryResult | ChannelTrouble:
        if not message.address:
            return missing_address(message)
        if not message.subject:
            return DeliveryResult.failed(message.key, "email needs a subject: set one")
        wait = self.bucket.reserve() - self.clock()
        if wait > 0:
            self.sleep(wait)
        email = build_message(self.settings.from_email, message)
        try:
            smtp = self._connect()
        except smtplib.SMTPAuthenticationError as exc:
            return ChannelTrouble(False, f"login refused (SMTP {exc.smtp_code}): check "
                                  "CRISISCAST_SMTP_URL's user and password")  # fmt: skip
        except (smtplib.SMTPException, OSError) as exc:  # nothing was handed over yet
            self.close()
            return ChannelTrouble(True, f"cannot reach the SMTP relay ({type(exc).__name__})")
        try:
            smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:
            code = next(iter(exc.recipients.values()))[0]
            return DeliveryResult.failed(message.key, f"recipient refused (SMTP {code})")
        except smtplib.SMTPSenderRefused as exc:
            return ChannelTrouble(exc.smtp_code < 500, f"sender refused (SMTP {exc.smtp_code}): "
                                  "check ?from= in CRISISCAST_SMTP_URL")  # fmt: skip
        except smtplib.SMTPResponseException as exc:
            self.close()
            return ChannelTrouble(exc.smtp_code < 500, f"relay answered SMTP {exc.smtp_code}")
        except TimeoutError:
            self._smtp = None
            return ChannelTrouble(True, "SMTP timed out", unknown_key=message.key)
        except (smtplib.SMTPException, OSError) as exc:
            self._smtp = None
            return ChannelTrouble(True, f"cannot reach the SMTP relay ({type(exc).__name__})")
        return DeliveryResult.sent(message.key, str(email["Message-ID"]).strip("<>"))


def smtp_channel(settings: SmtpSettings | None) -> SmtpEmailChannel | None:
    """The SMTP channel when configured."""
    if settings is None:
        return None
    if not settings.from_email:
        raise ConfigError("CRISISCAST_SMTP_URL needs ?from=address: the sender of the emails")
    return SmtpEmailChannel(settings)
