"""Delivery receipts over HTTP: providers tell the ledger what became of each message.

    Receipts(settings, store, clock)   # routes added by crisiscast.web.webhooks.webhook_router

- ``POST /webhooks/twilio/status``: Twilio's status callback (form-encoded ``MessageSid``,
  ``MessageStatus``, ``ErrorCode``), ``X-Twilio-Signature`` checked like inbound SMS, against the
  public URL or ``TWILIO_STATUS_CALLBACK`` (the URL Twilio was told to call). Answers 204.
- ``POST /webhooks/sendgrid/events``: SendGrid's Event Webhook, a JSON array of events, signed
  with SendGrid's ECDSA key over ``timestamp + raw body`` and verified with the sendgrid SDK's
  ``EventWebhook`` helper and ``SENDGRID_EVENT_WEBHOOK_PUBLIC_KEY``. Answers 200.

Refusals: 403 forged or unsigned (nothing changes), 413 too large, 415 wrong type, 400 malformed,
503 when the route's key is not configured (unsigned receipts are never accepted) or the store
is down (providers retry). The ledger only moves rows forward (``RECEIPT_TRANSITIONS``), so a
provider's retry, a replayed post or a late callback is harmless.

Freshness: a signed SendGrid post whose ``X-Twilio-Email-Event-Webhook-Timestamp`` is more than
``EVENT_MAX_AGE`` (25 h) old, or more than ``EVENT_MAX_SKEW`` (5 min) ahead of our clock, is
refused with 403 and logged (a warning with its age; nothing is applied). Why 25 h: SendGrid
retries an event webhook POST that did not get a 2xx "at increasing intervals for up to 24
hours after the event occurs" (SendGrid's Event Webhook troubleshooting page), and whether a
retry is re-signed with a new timestamp is not documented, so a window under 24 h could refuse
SendGrid's own last retries; the extra hour covers clock skew and the last attempt in flight.
Longer would only widen what a captured post can be replayed for. Twilio's callbacks carry
no signed timestamp (their MessageSid makes a replay a no-op in the ledger).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse
from sendgrid.helpers.eventwebhook import EventWebhook
from sendgrid.helpers.eventwebhook.eventwebhook_header import EventWebhookHeader

from crisiscast.config import ENV_SENDGRID_EVENT_KEY, Settings
from crisiscast.errors import StoreError
from crisiscast.incidents.broadcast.delivery import apply_sendgrid_events, apply_twilio_status
from crisiscast.incidents.store.database import Store
from crisiscast.web.request_checks import (
    BadRequest,
    problem,
    read_limited,
    signed_twilio_form,
    unavailable,
)

log = logging.getLogger(__name__)

STATUS_LIMIT = 16 * 1024  # a status callback is well under 1 KB
# SendGrid posts a batch when it reaches 768 KB or every 30 s; room for one event over the mark.
EVENTS_LIMIT = 2 * 1024 * 1024
EVENT_MAX_AGE = timedelta(hours=25)  # SendGrid retries for up to 24 h (see the docstring)
EVENT_MAX_SKEW = timedelta(minutes=5)  # a timestamp this far ahead of our clock is refused
Clock = Callable[[], datetime]


class Receipts:
    """The two receipt handlers, with the store and the SendGrid verifier they need."""

    def __init__(self, settings: Settings, store: Store, clock: Clock) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        key = settings.sendgrid_event_key
        self.verifier = EventWebhook(key) if key else None

    async def twilio_status(self, request: Request) -> Response:
        form = await signed_twilio_form(
            self.settings, request, limit=STATUS_LIMIT, what="SMS delivery receipts",
            also_for=self.settings.twilio.status_callback if self.settings.twilio else None,
        )  # fmt: skip
        if isinstance(form, Response):
            return form
        sid = form.get("MessageSid") or form.get("SmsSid")
        if not sid or not form.get("MessageStatus"):
            return PlainTextResponse("MessageSid and MessageStatus are required", status_code=400)
        try:
            changed = await run_in_threadpool(self._apply_twilio, form)
        except StoreError as exc:
            log.error("twilio status: store unavailable, Twilio will retry: %s", exc)
            return unavailable("the incident store is unavailable; retry later")
        log.debug("twilio status sid=%s status=%s changed=%d", sid, form["MessageStatus"], changed)
        return Response(status_code=204)

    async def sendgrid_events(self, request: Request) -> Response:
        if self.verifier is None:
            return unavailable(
                "the SendGrid event webhook is not configured: enable Signed Event Webhook "
                f"requests in SendGrid and set {ENV_SENDGRID_EVENT_KEY} to its verification key "
                "(unsigned events are never accepted)"
            )
        headers = request.headers
        unsigned = not all(
            headers.get(name.lower())
            for name in (EventWebhookHeader.SIGNATURE, EventWebhookHeader.TIMESTAMP)
        )
        try:
            # No signature headers at all: refused before the body is read.
            body = b"" if unsigned else await read_limited(request, EVENTS_LIMIT)
            if unsigned or not sendgrid_signed(self.verifier, body, request.headers):
                log.warning("sendgrid events: refused a post with a missing or wrong signature")
                return PlainTextResponse(
                    f"invalid {EventWebhookHeader.SIGNATURE} for the body and "
                    f"{EventWebhookHeader.TIMESTAMP}",
                    status_code=403,
                )
            stale = stale_reason(request.headers, self.clock())
            if stale is not None:
                log.warning("sendgrid events: refused a signed post: %s", stale)
                return PlainTextResponse(f"refused: {stale}", status_code=403)
            events = parse_events(body)
        except BadRequest as exc:
            return problem(exc)
        try:
            changed = await run_in_threadpool(self._apply_sendgrid, events)
        except StoreError as exc:
            log.error("sendgrid events: store unavailable, SendGrid will retry: %s", exc)
            return unavailable("the incident store is unavailable; retry later")
        log.info("sendgrid events: received=%d changed=%d", len(events), changed)
        return PlainTextResponse("ok")

    def _apply_twilio(self, form: Mapping[str, str]) -> int:
        with self.store.session() as session:
            return apply_twilio_status(session, form, now=self.clock())

    def _apply_sendgrid(self, events: list[dict[str, Any]]) -> int:
        with self.store.session() as session:
            return apply_sendgrid_events(session, events, now=self.clock())


def sendgrid_signed(verifier: EventWebhook, body: bytes, headers: Mapping[str, str]) -> bool:
    """True when SendGrid's signature headers sign exactly this body; 400 if it is not UTF-8."""
    signature = headers.get(EventWebhookHeader.SIGNATURE.lower(), "")
    timestamp = headers.get(EventWebhookHeader.TIMESTAMP.lower(), "")
    if not signature or not timestamp:
        return False
    try:
        payload = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest(400, "the event body is not UTF-8 JSON") from None
    try:
        return bool(verifier.verify_signature(payload, signature, timestamp))
    except ValueError:  # the signature header is not base64 (binascii.Error)
        return False


def stale_reason(headers: Mapping[str, str], now: datetime) -> str | None:
    """Why a signed post's timestamp is outside the freshness window (None: it is fresh).

    The timestamp is signed with the body, so it cannot be moved without the signature
    failing; a value that is not whole seconds since the epoch is refused as malformed.
    """
    raw = headers.get(EventWebhookHeader.TIMESTAMP.lower(), "").strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 12:
        return f"{EventWebhookHeader.TIMESTAMP} is not a Unix time in seconds"
    age = now.timestamp() - int(raw)
    if age > EVENT_MAX_AGE.total_seconds():
        return (
            f"the post was signed {age / 3600:.1f} h ago, older than the "
            f"{EVENT_MAX_AGE.total_seconds() / 3600:.0f} h window SendGrid retries within"
        )
    if -age > EVENT_MAX_SKEW.total_seconds():
        return f"the post is signed {-age:.0f} s in the future: check the clocks"
    return None


def parse_events(body: bytes) -> list[dict[str, Any]]:
    """The body as SendGrid's event list; 400 with what is wrong otherwise."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise BadRequest(400, f"the body is not JSON: {exc}") from None
    if not isinstance(data, list) or not all(isinstance(event, dict) for event in data):
        raise BadRequest(400, "send a JSON array of event objects, as SendGrid's webhook does")
    return data
