"""What every provider webhook does before it trusts a request: bounded reads, strict forms,
and Twilio's signature checked against the URL Twilio actually called.

Shared by the inbound routes (``crisiscast.web.webhooks``) and the delivery receipts
(``crisiscast.web.receipts``), so both refuse the same things in the same way.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.responses import PlainTextResponse
from twilio.request_validator import RequestValidator, get_signature_algorithm

from crisiscast.config import Settings, TwilioSettings

log = logging.getLogger(__name__)

MAX_FIELDS = 100


class BadRequest(Exception):
    """A request refused with ``status`` and a message that says what to fix."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def read_limited(request: Request, limit: int) -> bytes:
    """The request body, refusing (413) more than ``limit`` bytes without reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BadRequest(413, f"body of {declared} bytes is over the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BadRequest(413, f"body is over the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_clean_form(request: Request, limit: int) -> dict[str, str]:
    """A form-encoded body read within ``limit`` (413) and parsed strictly (415, 400), with NUL
    anywhere refused (400): the pages whose fields are stored as typed."""
    form = parse_form(await read_limited(request, limit), request.headers.get("content-type", ""))
    if any("\x00" in name or "\x00" in value for name, value in form.items()):
        raise BadRequest(400, "The form holds a NUL character: type it again.")
    return form


def parse_form(body: bytes, content_type: str) -> dict[str, str]:
    """A form-encoded body as a dict; 415 for another type, 400 for a malformed body."""
    if content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        raise BadRequest(415, "send the form as application/x-www-form-urlencoded")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest(400, f"malformed form body: {exc}") from None
    form = dict(pairs)
    if len(form) != len(pairs):
        raise BadRequest(400, "a form field is repeated: send each field once")
    return form


def public_url(settings: Settings, request: Request) -> str:
    """The URL the provider called: the configured public base plus this path and query."""
    if settings.public_url is None:
        return str(request.url)
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{settings.public_url}{request.url.path}{query}"


def twilio_signed(
    twilio: TwilioSettings, request: Request, form: dict[str, str], urls: list[str]
) -> bool:
    """True when ``X-Twilio-Signature`` signs ``form`` for one of ``urls`` with our auth token.

    Twilio signs the exact URL it called, so the caller lists the URLs it may have used.
    """
    signature = request.headers.get("x-twilio-signature", "")
    if not signature:
        return False
    validator = RequestValidator(twilio.auth_token.get_secret_value())
    algorithm = get_signature_algorithm(request.headers.get("x-twilio-webhooks-signature-settings"))
    return any(validator.validate(url, form, signature, algorithm) for url in urls)


async def signed_twilio_form(
    settings: Settings, request: Request, *, limit: int, what: str, also_for: str | None = None
) -> dict[str, str] | PlainTextResponse:
    """The form of a Twilio webhook whose signature checks out, or the refusal to send back.

    ``what`` names the feature in the 503 when Twilio is not configured (unsigned requests are
    never accepted); ``also_for`` is another URL Twilio may have been told to call.
    """
    twilio = settings.twilio
    if twilio is None:
        return unavailable(
            f"{what} is not configured: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN "
            "(unsigned requests are never accepted)"
        )
    if not request.headers.get("x-twilio-signature"):
        # Twilio always signs: an unsigned request is refused before its body is read.
        log.warning("%s: refused a request without X-Twilio-Signature", what)
        return PlainTextResponse("invalid X-Twilio-Signature", status_code=403)
    try:
        body = await read_limited(request, limit)
        form = parse_form(body, request.headers.get("content-type", ""))
    except BadRequest as exc:
        return problem(exc)
    urls = [public_url(settings, request), *([also_for] if also_for else [])]
    # Either of our accounts may call: the failover account signs its receipts (and inbound
    # SMS to its numbers) with its own auth token.
    accounts = [twilio, *([settings.twilio_fallback] if settings.twilio_fallback else [])]
    if not any(twilio_signed(account, request, form, urls) for account in accounts):
        log.warning("%s: refused a request with a missing or wrong signature", what)
        return PlainTextResponse("invalid X-Twilio-Signature", status_code=403)
    return form


def problem(exc: BadRequest) -> PlainTextResponse:
    """The refusal as plain text with its status."""
    return PlainTextResponse(str(exc), status_code=exc.status)


def unavailable(what: str) -> PlainTextResponse:
    """503 with Retry-After: providers retry later, nothing is lost."""
    return PlainTextResponse(what, status_code=503, headers={"Retry-After": "30"})
