"""Email through the official ``sendgrid`` SDK (v3 ``/v3/mail/send``).

One request carries up to 1,000 personalizations (SendGrid's published limit) sharing one
content, so a batch is grouped by (language, subject, text, html): each group is one request,
each recipient one personalization whose ``custom_args.delivery_key`` lets the event webhook
map events back to the delivery. Requests keep to the account's request rate
(``SENDGRID_REQUESTS_PER_SECOND``, a token bucket shared by the process's shards); a 429 holds
the bucket until ``Retry-After`` / ``X-RateLimit-Reset`` and sends the same request again (it
was not accepted). 5xx and connection errors are channel trouble (retryable); a timeout leaves
that request's recipients failed with "outcome unknown" (never sent twice); 400, 401, 403 and
413 are permanent, with SendGrid's reason (addresses masked).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient

from crisiscast.channels.base import (
    UNKNOWN_OUTCOME,
    Channel,
    ChannelKind,
    ChannelTrouble,
    DeliveryResult,
    OutgoingMessage,
    PreparedMessage,
    check_batch_size,
    missing_address,
    settle,
)
from crisiscast.channels.dispatch import DEFAULT_HOLD_SECONDS, MAX_RATE_LIMITED, retry_after_seconds
from crisiscast.channels.masking import mask_email, mask_secret
from crisiscast.channels.senders import SenderSpec, TokenBucket, shared_bucket
from crisiscast.config import SendGridSettings

MAX_PERSONALIZATIONS = 1000
KEY_ARG = "delivery_key"  # custom_args name the event webhook reads back
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ANY_EMAIL = re.compile(r"[^@\s\"']+@[^@\s\"']+")

# python_http_client logs request headers (the API key) and payloads (addresses) at DEBUG:
# keep that logger above DEBUG whatever the application's root level is.
logging.getLogger("python_http_client.client").setLevel(logging.INFO)

Content = tuple[str, str | None, str, str | None]


def prepare_email(message: OutgoingMessage) -> PreparedMessage:
    """Pure: an email goes out whole, text (and HTML when given) in one part."""
    return PreparedMessage(message=message, parts=(message.text,), segments=1, encoding="utf-8")


def request_body(
    from_email: str, content: Content, messages: Sequence[OutgoingMessage]
) -> dict[str, Any]:
    """Pure: the v3 mail/send body for one content and its recipients."""
    language, subject, text, html = content
    body: dict[str, Any] = {
        "personalizations": [
            {"to": [{"email": m.address}], "custom_args": {KEY_ARG: m.key}} for m in messages
        ],
        "from": {"email": from_email},
        "subject": subject,
        "content": [{"type": "text/plain", "value": text}],
        "headers": {"Content-Language": language},
    }
    if html:
        body["content"].append({"type": "text/html", "value": html})
    return body


def http_trouble(status: int, body: bytes | str | None) -> ChannelTrouble:
    """Pure: what an HTTP error from mail/send means, with SendGrid's reason (emails masked)."""
    if status == 429 or status >= 500:
        return ChannelTrouble(True, f"SendGrid unavailable or rate limited (HTTP {status})")
    reason = _reason(body)
    hint = {
        401: "check SENDGRID_API_KEY",
        403: "the API key lacks the mail.send scope or the sender is not verified",
        413: "the request is over 30 MB: send smaller batches",
    }.get(status, "fix the message named in the reason")
    return ChannelTrouble(False, f"rejected (HTTP {status}: {reason}); {hint}")


def _reason(body: bytes | str | None) -> str:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        errors = json.loads(body or "{}").get("errors") or []
        text = "; ".join(f"{e.get('field') or '-'}: {e.get('message')}" for e in errors)
    except (ValueError, AttributeError):
        text = ""
    return _ANY_EMAIL.sub(lambda m: mask_email(m.group()), text or "no reason given")[:300]


class SendGridEmailChannel(Channel):
    """Batched email: one request per distinct content, up to 1,000 recipients each."""

    kind: ClassVar[ChannelKind] = "email"
    name: ClassVar[str] = "sendgrid-email"
    max_length: ClassVar[int | None] = None  # the limit is 30 MB per request, not per text
    encoding: ClassVar[str] = "utf-8"
    batch_size: ClassVar[int] = MAX_PERSONALIZATIONS
    rate_per_second: ClassVar[float | None] = None  # no published per-second limit for mail/send
    needs_address: ClassVar[bool] = True
    paces_itself: ClassVar[bool] = True  # requests keep to settings.requests_per_second

    def __init__(
        self,
        settings: SendGridSettings,
        *,
        host: str = "https://api.sendgrid.com",
        timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.host = host
        self.timeout = timeout
        self.clock = clock
        self.sleep = sleep
        self._client = SendGridAPIClient(api_key=settings.api_key.get_secret_value(), host=host)
        # Keyed by a digest of the key: the process's shards share one budget per account.
        account = hashlib.sha256(settings.api_key.get_secret_value().encode()).hexdigest()[:16]
        spec = SenderSpec.at(settings.from_email, settings.requests_per_second)
        self.bucket: TokenBucket = shared_bucket(f"sendgrid:{account}", spec, clock)
        self.requests = 0  # mail/send requests made (the benchmark reports them)
        self.rate_limited = 0

    def to_url(self, redact: bool = True) -> str:
        """``sendgrid-email://****@<from>`` with the API key masked."""
        key = self.settings.api_key.get_secret_value()
        shown = mask_secret(key) if redact else key
        return f"sendgrid-email://{shown}@{self.settings.from_email}?host={self.host}"

    def prepare(self, message: OutgoingMessage) -> PreparedMessage:
        """See ``prepare_email``."""
        return prepare_email(message)

    def send(self, batch: Sequence[OutgoingMessage]) -> list[DeliveryResult]:
        """One request per content group; results come back in the batch's order."""
        check_batch_size(self, batch)
        outcome: dict[str, DeliveryResult] = {}
        groups: dict[Content, list[OutgoingMessage]] = {}
        for message in batch:
            invalid = self._invalid(message)
            if invalid:
                outcome[message.key] = invalid
            else:
                content = (message.language, message.subject, message.text, message.html)
                groups.setdefault(content, []).append(message)
        done: list[DeliveryResult] = []
        pending = [m for group in groups.values() for m in group]
        for content, messages in groups.items():
            result = self._post_paced(content, messages)
            if isinstance(result, ChannelTrouble):
                if result.unknown_key is not None:  # the request timed out: all of it unknown
                    lost = f"{UNKNOWN_OUTCOME}: {result.reason}; not sent again"
                    done += [DeliveryResult.failed(m.key, lost) for m in messages]
                    pending = pending[len(messages) :]
                    result = ChannelTrouble(result.retryable, result.reason)
                settled = settle(self, done + list(outcome.values()), pending, result)
                outcome.update((r.key, r) for r in settled)
                break
            done.extend(result)
            pending = pending[len(messages) :]
        outcome.update((r.key, r) for r in done)
        return [outcome[m.key] for m in batch]

    def _invalid(self, message: OutgoingMessage) -> DeliveryResult | None:
        if not message.address:
            return missing_address(message)
        if not _EMAIL.match(message.address):
            return DeliveryResult.failed(message.key, "not an email address")
        if not message.subject:
            return DeliveryResult.failed(message.key, "email needs a subject: set one")
        return None

    def _post_paced(
        self, content: Content, messages: list[OutgoingMessage]
    ) -> list[DeliveryResult] | ChannelTrouble:
        """One request within the account's request rate; a 429 waits and sends it again."""
        result: list[DeliveryResult] | ChannelTrouble | float | None = None
        for _ in range(MAX_RATE_LIMITED):
            wait = self.bucket.reserve() - self.clock()
            if wait > 0:
                self.sleep(wait)
            result = self._post(content, messages)
            if not isinstance(result, float | None):
                return result
            self.rate_limited += 1
            self.bucket.hold(result if result is not None else DEFAULT_HOLD_SECONDS)
        return ChannelTrouble(True, f"SendGrid rate limited {MAX_RATE_LIMITED} times in a row")

    def _post(
        self, content: Content, messages: list[OutgoingMessage]
    ) -> list[DeliveryResult] | ChannelTrouble | float | None:
        """The request's results, its trouble, or (429) the seconds to wait (None: unsaid)."""
        body = request_body(self.settings.from_email, content, messages)
        self.requests += 1
        try:
            response = self._client.client.mail.send.post(request_body=body, timeout=self.timeout)
        except HTTPError as exc:
            if int(exc.status_code) == 429:
                headers = exc.headers or {}
                return retry_after_seconds(
                    headers.get("Retry-After") or headers.get("X-RateLimit-Reset")
                )
            return http_trouble(int(exc.status_code), exc.body)
        except TimeoutError:
            return ChannelTrouble(True, "SendGrid timed out", unknown_key=messages[0].key)
        except OSError as exc:  # urllib's URLError: refused, DNS, TLS
            return ChannelTrouble(True, f"cannot connect to SendGrid ({type(exc).__name__})")
        provider_id = response.headers.get("X-Message-Id")
        return [DeliveryResult.sent(m.key, provider_id) for m in messages]
