"""SMS through the official ``twilio`` SDK (Programmable Messaging, ``messages.create``).

Outcomes, by Twilio's HTTP status and error code (``TWILIO_OUTCOMES``):
- the recipient is at fault (21211 invalid 'To', 21610 unsubscribed, 21614 not a mobile, ...):
  that message fails, not retryable, the batch goes on;
- the channel is in trouble (429 / 20429, 5xx, a timeout): nothing is sent after it. If nothing in
  the batch was sent yet, ``RetryableChannelError`` is raised (retry the whole batch); otherwise
  the rest of the batch comes back ``failed`` + ``retryable`` so the sent ones are not repeated;
- the configuration is wrong (401 / 20003, a bad sender): ``PermanentChannelError`` (same rule).

Twilio's error messages quote the phone number, so only codes reach our errors, never ``msg``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

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
from crisiscast.channels.masking import mask_phone, mask_secret
from crisiscast.channels.sms_segments import MAX_BODY, prepare_sms
from crisiscast.config import TwilioSettings
from crisiscast.errors import ConfigError

Outcome = Literal["recipient", "retry", "permanent"]

# Twilio error code -> (outcome, short reason). Codes not listed fall back on the HTTP status.
TWILIO_OUTCOMES: dict[int, tuple[Outcome, str]] = {
    20429: ("retry", "rate limited (20429)"),
    20003: ("permanent", "credentials rejected (20003): check TWILIO_ACCOUNT_SID/AUTH_TOKEN"),
    20404: ("permanent", "account or resource not found (20404): check TWILIO_ACCOUNT_SID"),
    21211: ("recipient", "invalid 'To' number (21211)"),
    21408: ("recipient", "region not enabled for this account (21408)"),
    21610: ("recipient", "recipient unsubscribed with STOP (21610)"),
    21612: ("recipient", "number cannot be reached from this sender (21612)"),
    21614: ("recipient", "'To' is not a mobile number (21614)"),
    21212: ("permanent", "invalid 'From' number (21212): check TWILIO_FROM_NUMBER"),
    21606: ("permanent", "'From' cannot send SMS (21606): check TWILIO_FROM_NUMBER"),
    21659: ("permanent", "'From' is not a Twilio number (21659): check TWILIO_FROM_NUMBER"),
    21617: ("recipient", "body longer than 1600 characters (21617)"),
}


def classify(status: int, code: int | None) -> tuple[Outcome, str]:
    """Pure: what a Twilio error means for this message and for the channel."""
    if code is not None and code in TWILIO_OUTCOMES:
        return TWILIO_OUTCOMES[code]
    if status == 429:
        return "retry", "rate limited (HTTP 429)"
    if status >= 500:
        return "retry", f"Twilio unavailable (HTTP {status})"
    if status in (401, 403):
        return "permanent", f"credentials rejected (HTTP {status}): check TWILIO_AUTH_TOKEN"
    suffix = f", code {code}" if code is not None else ""
    return "recipient", f"rejected (HTTP {status}{suffix})"


class RedirectingHttpClient(TwilioHttpClient):  # type: ignore[misc]  # SDK ships no py.typed
    """Send the SDK's requests to another base URL (a contract mock, a proxy, a test server).

    Rewriting each request keeps region/edge handling intact, unlike setting ``api.base_url``.
    """

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        super().__init__(timeout=timeout)
        target = urlsplit(base_url)
        self._scheme, self._netloc = target.scheme, target.netloc

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        parts = urlsplit(url)
        url = urlunsplit((self._scheme, self._netloc, parts.path, parts.query, parts.fragment))
        return super().request(method, url, params, data, headers, auth, timeout, allow_redirects)


class TwilioSmsChannel(Channel):
    """One SMS per recipient via ``client.messages.create``."""

    kind: ClassVar[ChannelKind] = "sms"
    name: ClassVar[str] = "twilio-sms"
    max_length: ClassVar[int | None] = MAX_BODY
    encoding: ClassVar[str] = "gsm7/ucs2"
    batch_size: ClassVar[int] = 100
    # Published floor: a long code sends 1 segment/s; toll-free 3, short code 100 (PITFALLS.md).
    rate_per_second: ClassVar[float | None] = 1.0
    needs_address: ClassVar[bool] = True

    def __init__(
        self,
        settings: TwilioSettings,
        *,
        http_client: HttpClient | None = None,
        timeout: float = 10.0,
    ) -> None:
        if not (settings.from_number or settings.messaging_service_sid):
            raise ConfigError(
                "twilio-sms needs a sender: set TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID."
            )
        self.settings = settings
        self._client = Client(
            settings.account_sid,
            settings.auth_token.get_secret_value(),
            http_client=http_client or TwilioHttpClient(timeout=timeout),
            environment={},  # no region/edge/credentials picked up behind our back
        )

    def to_url(self, redact: bool = True) -> str:
        """``twilio-sms://AC…:****@<sender>?callback=…`` with the token and number masked."""
        s = self.settings
        token = s.auth_token.get_secret_value()
        token = mask_secret(token) if redact else token
        sender = s.messaging_service_sid or s.from_number or ""
        if redact and s.from_number and not s.messaging_service_sid:
            sender = mask_phone(sender)
        query = urlencode({"callback": s.status_callback}) if s.status_callback else ""
        return f"twilio-sms://{s.account_sid}:{token}@{sender}" + (f"?{query}" if query else "")

    def prepare(self, message: OutgoingMessage) -> PreparedMessage:
        """See ``prepare_sms``."""
        return prepare_sms(message)

    def send(self, batch: Sequence[OutgoingMessage]) -> list[DeliveryResult]:
        """Send each message; stop at channel trouble so nothing already sent is repeated."""
        return send_each(self, batch, self._send_one)

    def _send_one(self, message: OutgoingMessage) -> DeliveryResult | ChannelTrouble:
        if not message.address:
            return missing_address(message)
        body = prepare_sms(message).parts[0]
        s = self.settings
        sender = (
            {"messaging_service_sid": s.messaging_service_sid}
            if s.messaging_service_sid
            else {"from_": s.from_number}
        )
        callback = {"status_callback": s.status_callback} if s.status_callback else {}
        try:
            created = self._client.messages.create(
                to=message.address, body=body, **sender, **callback
            )
        except TwilioRestException as exc:
            outcome, reason = classify(exc.status, exc.code)
            if outcome == "recipient":
                return DeliveryResult.failed(message.key, reason)
            return ChannelTrouble(retryable=outcome == "retry", reason=reason)
        except requests.Timeout:
            return ChannelTrouble(True, "Twilio timed out (the message may have been sent)")
        except requests.ConnectionError:
            return ChannelTrouble(True, "cannot connect to Twilio")
        return DeliveryResult.sent(message.key, created.sid)
