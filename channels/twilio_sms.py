"""SMS through the official ``twilio`` SDK (Programmable Messaging, ``messages.create_async``).

The account's senders form a pool (``channels/senders.py``): each message goes out on the
sender free soonest, never faster than that sender's rate, many requests in flight at once on
the SDK's async interface (``channels/dispatch.py``). A 429 holds that sender for Twilio's
``Retry-After`` and the message is sent again (it was not accepted).

Outcomes, by Twilio's HTTP status and error code (``TWILIO_OUTCOMES``):
- the recipient is at fault (21211 invalid 'To', 21610 unsubscribed, 21614 not a mobile, ...):
  that message fails, not retryable, the batch goes on;
- rate limited (429 / 20429): that sender waits ``Retry-After``, the message goes again;
- the channel is in trouble (5xx, cannot connect): nothing new is sent. If nothing in the batch
  was sent yet, ``RetryableChannelError`` is raised (retry the whole batch); otherwise the rest
  of the batch comes back ``failed`` + ``retryable`` so the sent ones are not repeated;
- a timeout: that message may have been sent, so it fails with "outcome unknown" and is never
  sent again (at most once); the rest of the batch is deferred as above;
- the configuration is wrong (401 / 20003, a bad sender): ``PermanentChannelError`` (same rule).

Twilio's error messages quote the phone number, so only codes reach our errors, never ``msg``.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from functools import lru_cache
from typing import Any, ClassVar, Literal, cast
from urllib.parse import urlencode, urlsplit, urlunsplit

import aiohttp
from twilio.base.exceptions import TwilioRestException
from twilio.http import AsyncHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from crisiscast.channels.base import (
    Channel,
    ChannelKind,
    ChannelTrouble,
    DeliveryResult,
    OutgoingMessage,
    PreparedMessage,
)
from crisiscast.channels.dispatch import (
    LoopThread,
    PoolDispatcher,
    RateLimited,
    retry_after_seconds,
)
from crisiscast.channels.dispatch import (
    Outcome as SendOutcome,
)
from crisiscast.channels.masking import mask_phone, mask_secret
from crisiscast.channels.senders import SenderPool, SenderSpec, twilio_senders
from crisiscast.channels.sms_segments import MAX_BODY, prepare_sms
from crisiscast.config import TwilioSettings

# The SDK logs each request's URL and headers at INFO: keep it quiet whatever the root level.
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
# The Retry-After of the last response on this task (each dispatcher worker is one task).
_RETRY_AFTER: ContextVar[str | None] = ContextVar("twilio_retry_after", default=None)
# Requests in flight per sender-rate unit: a real API answers in ~0.1-0.3 s, so 1,000/s needs
# about 250 requests open at once; bounded so one account never opens thousands of sockets.
IN_FLIGHT_SECONDS = 0.25
MAX_CONCURRENCY = 256

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


class AsyncTwilioClient(AsyncHttpClient):  # type: ignore[misc]  # SDK ships no py.typed
    """The SDK's async transport on aiohttp, with what the SDK's own one lacks here: it keeps
    ``Retry-After`` of each response for the caller, logs nothing (bodies hold numbers), and
    may send to another base URL (a contract mock, a test server) with region/edge intact."""

    def __init__(self, base_url: str | None = None, timeout: float = 10.0, connections: int = 100):
        super().__init__(logging.getLogger("twilio.http_client"), True, timeout)
        target = urlsplit(base_url) if base_url else None
        self._base = (target.scheme, target.netloc) if target else None
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None

    async def request(
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
        if self._base:
            parts = urlsplit(url)
            url = urlunsplit((*self._base, parts.path, parts.query, parts.fragment))
        sent = dict(headers or {})
        body: str | None = None
        if data is not None:  # encoded here: aiohttp's own form building costs ~20% of a send
            body = urlencode(cast(Any, data), doseq=True)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        if auth:
            sent["Authorization"] = "Basic " + base64.b64encode(":".join(auth).encode()).decode()
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._connections)
            self._session = aiohttp.ClientSession(connector=connector)
        wait = aiohttp.ClientTimeout(total=timeout or self.timeout)
        async with self._session.request(
            method.upper(), url, params=cast(Any, params), data=body, headers=sent, timeout=wait,
            allow_redirects=allow_redirects,
        ) as response:  # fmt: skip
            text = await response.text()
            _RETRY_AFTER.set(response.headers.get("Retry-After"))
            return Response(response.status, text, response.headers)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class TwilioSmsChannel(Channel):
    """One SMS per recipient via ``client.messages.create_async``, over the account's senders."""

    kind: ClassVar[ChannelKind] = "sms"
    name: ClassVar[str] = "twilio-sms"
    max_length: ClassVar[int | None] = MAX_BODY
    encoding: ClassVar[str] = "gsm7/ucs2"
    # A second's worth at 1,000/s: the ledger's write between batches stays ~1% of the time.
    batch_size: ClassVar[int] = 1000
    # Published floor: a long code sends 1 segment/s; toll-free 3, short code 100 (PITFALLS.md).
    # The pool paces each sender at its own configured rate (``paces_itself``).
    rate_per_second: ClassVar[float | None] = 1.0
    needs_address: ClassVar[bool] = True
    paces_itself: ClassVar[bool] = True

    def __init__(
        self,
        settings: TwilioSettings,
        *,
        base_url: str | None = None,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.pool = SenderPool(twilio_senders(settings), account=f"twilio:{settings.account_sid}",
                               clock=clock)  # fmt: skip
        concurrency = settings.concurrency or max(
            4, min(MAX_CONCURRENCY, math.ceil(self.pool.rate * IN_FLIGHT_SECONDS))
        )
        self._http = AsyncTwilioClient(base_url, timeout=timeout, connections=concurrency)
        self._client = Client(
            settings.account_sid,
            settings.auth_token.get_secret_value(),
            http_client=self._http,
            environment={},  # no region/edge/credentials picked up behind our back
        )
        self.dispatcher = PoolDispatcher(
            self.pool, concurrency=concurrency, clock=clock, sleep=sleep
        )
        self._loop = LoopThread()

    def to_url(self, redact: bool = True) -> str:
        """``twilio-sms://AC…:****@<sender>?callback=…`` with the token and numbers masked."""
        s = self.settings
        token = s.auth_token.get_secret_value()
        token = mask_secret(token) if redact else token
        senders = [p.sender for p in self.pool.senders]
        shown = ",".join(mask_phone(x) if redact and x.startswith("+") else x for x in senders)
        query = urlencode({"callback": s.status_callback}) if s.status_callback else ""
        return f"twilio-sms://{s.account_sid}:{token}@{shown}" + (f"?{query}" if query else "")

    def prepare(self, message: OutgoingMessage) -> PreparedMessage:
        """See ``prepare_sms``."""
        return prepare_sms(message)

    def send(self, batch: Sequence[OutgoingMessage]) -> list[DeliveryResult]:
        """Send each message over the pool; stop at channel trouble so nothing is repeated."""
        return self._loop.run(self.dispatcher.send(self, batch, self._send_one, cost=_segments))

    def close(self) -> None:
        """Close the HTTP session and stop the send loop; safe to call twice."""
        self._loop.close(self._http.close)

    async def _send_one(self, sender: SenderSpec, message: OutgoingMessage) -> SendOutcome:
        body, _ = _prepared(message.text)
        via = (
            {"messaging_service_sid": sender.sender}
            if sender.sender.startswith("MG")
            else {"from_": sender.sender}
        )
        s = self.settings
        callback = {"status_callback": s.status_callback} if s.status_callback else {}
        try:
            created = await self._client.messages.create_async(
                to=message.address, body=body, **via, **callback
            )
        except TwilioRestException as exc:
            outcome, reason = classify(exc.status, exc.code)
            if outcome == "recipient":
                return DeliveryResult.failed(message.key, reason)
            if exc.status == 429 or exc.code == 20429:
                return RateLimited(retry_after_seconds(_RETRY_AFTER.get()), reason)
            return ChannelTrouble(retryable=outcome == "retry", reason=reason)
        except TimeoutError:
            return ChannelTrouble(True, "Twilio timed out", unknown_key=message.key)
        except aiohttp.ClientError:
            return ChannelTrouble(True, "cannot connect to Twilio")
        return DeliveryResult.sent(message.key, created.sid)


def _segments(message: OutgoingMessage) -> int:
    """What a message costs of a sender's rate: Twilio's MPS counts segments."""
    return _prepared(message.text)[1]


@lru_cache(maxsize=256)
def _prepared(text: str) -> tuple[str, int]:
    """The body as sent and its segments; a broadcast repeats a few texts, so each is counted
    once, not once per recipient."""
    prepared = prepare_sms(OutgoingMessage(key="", address=None, language="", text=text))
    return prepared.parts[0], prepared.segments
