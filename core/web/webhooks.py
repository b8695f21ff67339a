"""Inbound webhooks and the public reply form: check who is calling, store, then answer.

    app.include_router(webhook_router(settings, store))

- ``POST /webhooks/twilio/sms``: form-encoded, ``X-Twilio-Signature`` checked with the twilio
  SDK's ``RequestValidator`` against the public URL (``CRISISCAST_PUBLIC_URL``, since a proxy
  may sit in front). The acknowledgement goes back as TwiML in the same response: no extra API
  call, no extra credentials, and Twilio delivers it from the number the person wrote to.
- ``POST /webhooks/sendgrid/inbound``: Inbound Parse, multipart, HTTP basic auth. The
  acknowledgement is sent by the email channel after the response (SendGrid expects no body).
  Up to 30 MB, read as it streams with attachments dropped (``crisiscast.web.inbound_email``),
  and stored through a writer of its own, so a large email never delays an SMS.
- ``POST /webhooks/twilio/status`` and ``POST /webhooks/sendgrid/events``: delivery receipts
  that update the ledger (``crisiscast.web.receipts``).
- ``POST /incidents/{ref}/reply``: the form on the public incident page. It uses no cookies or
  sessions, so there is nothing for a cross-site request to ride on; size and rate limits keep
  it from being a spam cannon.

Agents' commands (SMS from an agent's number, email from an agent's address) go to
``incidents.agents.desk`` with their ``Origin``: the provider id (MessageSid, Message-ID) that
makes each apply at most once, and for email SendGrid's SPF/DKIM verdict for the sender's
domain (``crisiscast.web.sender_auth``); an email command also needs the agent's CONFIRM by SMS.

Every accepted message is committed before the 2xx (``Intake.receive``). Bad requests get 4xx
(403 forged, 401 unauthenticated, 413 too large, 415 wrong type, 400 malformed), a store that
is down gets 503 so providers retry, and a route whose secret is not configured answers 503
instead of accepting unsigned messages.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from base64 import b64decode
from binascii import Error as BinasciiError
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, tzinfo
from email.parser import HeaderParser
from email.utils import parseaddr
from xml.sax.saxutils import escape as xml_escape

from fastapi import APIRouter, BackgroundTasks, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, PlainTextResponse

from crisiscast.config import Settings
from crisiscast.errors import ChannelError, NotFoundError, StoreError
from crisiscast.incidents.agents.commands import from_email
from crisiscast.incidents.agents.desk import Origin, handle_agent_message
from crisiscast.incidents.agents.relay import relay_hook
from crisiscast.incidents.agents.roster import agents_among
from crisiscast.incidents.audience.optout import OPT_OUT_WORDS
from crisiscast.incidents.intake import acknowledge as ack
from crisiscast.incidents.intake.inbound import (
    TRIAGE_CHARS,
    Inbound,
    Intake,
    IntakeResult,
    MessageRefused,
    Pending,
    storable_text,
)
from crisiscast.incidents.store.database import Store
from crisiscast.web.inbound_email import read_inbound_parse
from crisiscast.web.intake_queue import Batcher, IntakeQueue
from crisiscast.web.receipts import Receipts
from crisiscast.web.reply_form import (
    FormLimiter,
    confirmation_page,
    form_problem_page,
    read_reply_form,
)
from crisiscast.web.request_checks import (
    BadRequest,
    parse_form,
    problem,
    read_limited,
    signed_twilio_form,
    unavailable,
)
from crisiscast.web.sender_auth import verdict

log = logging.getLogger(__name__)

# Incident pages are /incidents/INC-<n>/; ids are PostgreSQL `integer`s (SQLite's are wider).
_INCIDENT_REF = re.compile(r"^INC-[0-9]{1,10}\Z")
MAX_INCIDENT_ID = 2**31 - 1
SMS_LIMIT = 16 * 1024  # a Twilio SMS webhook is ~1 KB; 10 media URLs stay far below this
Clock = Callable[[], datetime]


_TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response />'
_TWIML_MESSAGE = '<?xml version="1.0" encoding="UTF-8"?><Response><Message>{}</Message></Response>'


def _twiml(text: str | None) -> Response:
    """The TwiML twilio's ``MessagingResponse`` writes, byte for byte, as a string: its
    ElementTree cost a sixth of the event loop's time per SMS (test_live_server pins them equal)."""
    body = _TWIML_MESSAGE.format(xml_escape(text)) if text else _TWIML_EMPTY
    return Response(body, media_type="application/xml")


# Twilio answers its own English opt-out words (and blocks our reply to them).
_CARRIER_HANDLED = OPT_OUT_WORDS["en"]


class Webhooks:
    """The handlers, with what they need; ``webhook_router`` wires them to paths."""

    def __init__(self, settings: Settings, intake: Intake, clock: Clock) -> None:
        self.settings = settings
        self.intake = intake
        self.clock = clock
        self.limiter = FormLimiter()
        # SMS and the reply form: one writer, which also asks "is this sender an agent?" for
        # the SMS of a whole batch in one read (an agent's SMS comes back as None: a command).
        self.queue: Batcher[tuple[Pending, bool], IntakeResult | None] = Batcher(
            self._intake_batch, name="crisiscast-intake"
        )
        # Emails (up to 5 MB of text each) have their own writer: an SMS never waits behind one.
        self.email_queue = IntakeQueue(intake, name="crisiscast-intake-email")
        # Emails ask alone: they are few, and their writer must never hold up an SMS.
        self.agent_check = Batcher(self._which_agents, name="crisiscast-agent-check")

    async def receive(self, message: Inbound, form: ack.Form) -> IntakeResult:
        """Store and process through the writer thread (shared commits under load)."""
        result = await self.queue.submit((Pending(message, self.clock(), form), False))
        assert result is not None  # only a message that may be a command comes back None
        return result

    def _intake_batch(
        self, batch: list[tuple[Pending, bool]]
    ) -> list[IntakeResult | Exception | None]:
        """Store and process a batch; a message flagged as a possible command whose sender is
        an agent is left out and answered None (the desk applies it, it is no customer's)."""
        asking = [pending.message.sender for pending, commands in batch if commands]
        agents = {s for s, yes in zip(asking, self._which_agents(asking), strict=True) if yes}

        def is_command(pending: Pending, commands: bool) -> bool:
            return commands and pending.message.sender in agents

        customers = [pending for pending, commands in batch if not is_command(pending, commands)]
        results = iter(self.intake.receive_each(customers) if customers else [])
        return [None if is_command(p, commands) else next(results) for p, commands in batch]

    async def twilio_sms(self, request: Request) -> Response:
        form = await signed_twilio_form(self.settings, request, limit=SMS_LIMIT, what="inbound SMS")
        if isinstance(form, Response):
            return form
        sid, sender = form.get("MessageSid", "").strip(), form.get("From", "").strip()
        if not sid or not sender:
            return PlainTextResponse("MessageSid and From are required", status_code=400)
        # Signed as sent; from here on, text every database accepts (NUL becomes U+FFFD).
        message = Inbound("sms", sid, sender, form.get("Body", "")).storable()
        try:
            # On-call agents command by SMS (ACK 42, DONE 42 ...); everyone else is a customer.
            found = await self.queue.submit((Pending(message, self.clock(), "short"), True))
            if found is None:  # an agent's: apply the command (None: no longer an agent)
                command_reply = await run_in_threadpool(
                    self._agent_command, message.sender, message.body,
                    Origin("sms", message.provider_id),
                )  # fmt: skip
                if command_reply is not None:
                    return _twiml(command_reply)
            result = found if found is not None else await self.receive(message, "short")
        except StoreError as exc:
            log.error("twilio sms: store unavailable, Twilio will retry: %s", exc)
            return unavailable("the incident store is unavailable; retry later")
        except MessageRefused as exc:
            return PlainTextResponse(str(exc), status_code=400)
        if (
            result.outcome == "opted_out"
            and form.get("Body", "").strip().lower() in _CARRIER_HANDLED
        ):
            return _twiml(None)
        return _twiml(result.reply)

    async def _agent_reply(self, sender: str, body: str, origin: Origin) -> str | None:
        """``_agent_command`` for an agent; None at once for anyone else."""
        if not await self.agent_check.submit(sender):
            return None
        return await run_in_threadpool(self._agent_command, sender, body, origin)

    def _which_agents(self, senders: list[str]) -> list[bool | Exception]:
        """Nearly every sender is a customer: one read for a whole batch says so (on SQLite
        without queueing for the write lock), instead of a write transaction per message."""
        with self.intake.store.reading() as connection:
            agents = agents_among(connection, senders)
        return [sender in agents for sender in senders]

    def _agent_command(self, sender: str, body: str, origin: Origin) -> str | None:
        """Apply an agent's command (at most once per provider id) and return the reply:
        None when not an agent, "" for a retry or replay (nothing to send)."""
        with self.intake.store.session() as session:
            return handle_agent_message(
                session, sender, body, now=self.clock(), settings=self.settings, origin=origin
            )

    async def sendgrid_inbound(self, request: Request, background: BackgroundTasks) -> Response:
        creds = self.settings.inbound_email
        if creds is None:
            return unavailable(
                "inbound email is not configured: set CRISISCAST_INBOUND_EMAIL_USER and "
                "CRISISCAST_INBOUND_EMAIL_PASSWORD and put them in the Inbound Parse URL"
            )
        if not _basic_auth_ok(request.headers.get("authorization"), creds.username,
                              creds.password.get_secret_value()):  # fmt: skip
            return PlainTextResponse(
                "authentication required", status_code=401,
                headers={"WWW-Authenticate": 'Basic realm="crisiscast inbound"'},
            )  # fmt: skip
        try:
            # Attachments are dropped as they stream in; the text is handled off the event loop.
            fields = await read_inbound_parse(request)
            message, command, origin = await run_in_threadpool(_parse_inbound_email, fields)
        except BadRequest as exc:
            return problem(exc)
        try:
            # Agents command by email too ("ACK 42" as the reply's first line or subject).
            confirmation = None
            if not message.automated:
                confirmation = await self._agent_reply(message.sender, command, origin)
        except StoreError as exc:
            log.error("sendgrid inbound: store unavailable, SendGrid will retry: %s", exc)
            return unavailable("the incident store is unavailable; retry later")
        if confirmation == "":  # SendGrid's retry of a command already handled
            return PlainTextResponse("duplicate")
        if confirmation is not None:
            background.add_task(
                self._send_email, key=f"command:{message.provider_id}", address=message.sender,
                language="en", subject=f"Re: {command}"[:120], text=confirmation,
            )  # fmt: skip
            return PlainTextResponse("command applied")
        try:
            result = await self.email_queue.submit(Pending(message, self.clock(), "long"))
        except StoreError as exc:
            log.error("sendgrid inbound: store unavailable, SendGrid will retry: %s", exc)
            return unavailable("the incident store is unavailable; retry later")
        except MessageRefused as exc:
            return PlainTextResponse(str(exc), status_code=400)
        # A case's acknowledgement, a CSAT thank-you, or "that incident has ended": each is
        # answered by email as it would be by SMS.
        if result.reply and result.outcome in ("case", "csat", "closed"):
            background.add_task(self._email_reply, message.sender, result)
        return PlainTextResponse("stored")

    def _email_reply(self, address: str, result: IntakeResult) -> None:
        """Send the acknowledgement by email; a failure is logged (the message is stored)."""
        self._send_email(
            key=f"ack:{result.case_id}:{result.message_id}",
            address=address,
            language=result.language or "en",
            subject=f"[{result.incident_ref}] case {result.case_id}"
            if result.case_id is not None
            else f"[{result.incident_ref}]",
            text=result.reply or "",
        )

    def _send_email(
        self, *, key: str, address: str, language: str, subject: str, text: str
    ) -> None:
        from crisiscast.channels.base import OutgoingMessage
        from crisiscast.channels.registry import channel_for

        channel = channel_for("email", self.settings)
        outgoing = OutgoingMessage(
            key=key, address=address, language=language, text=text, subject=subject
        )
        try:
            (outcome,) = channel.send([outgoing])
        except ChannelError as exc:
            log.warning("%s: email not sent: %s", key, exc)
            return
        finally:
            channel.close()
        log.info("%s: email %s", key, outcome.status)

    async def reply_form(self, ref: str, request: Request) -> Response:
        now = self.clock()
        if not _INCIDENT_REF.match(ref) or int(ref[4:]) > MAX_INCIDENT_ID:
            # Checked before the store: a number past the id column's range is an error there.
            return form_problem_page(404, "there is no such incident: check the page address", "en")
        try:
            body = await read_limited(request, 16 * 1024)
            form = parse_form(body, request.headers.get("content-type", ""))
        except BadRequest as exc:
            return form_problem_page(exc.status, str(exc), "en")
        client = request.client.host if request.client else "unknown"
        try:
            incident_id, languages = await run_in_threadpool(self._incident, ref)
        except NotFoundError:
            return form_problem_page(404, f"there is no incident {ref}", "en")
        except StoreError:
            return form_problem_page(503, "please try again in a minute", "en")
        # The page's language (its hidden field), so answers come back in what was read.
        page = form.get("lang", "")
        language = page if page in languages else languages[0]
        reply = read_reply_form(form, languages)
        if isinstance(reply, str):
            return form_problem_page(422, reply, language)
        wait = self.limiter.wait(client, reply.contact, now)
        if wait is not None:
            return form_problem_page(429, f"too many messages: try again in {wait} s", language)
        digest = hashlib.sha256(f"{ref}|{reply.contact}|{reply.message}".encode()).hexdigest()
        message = Inbound("web", digest[:40], reply.contact, reply.body, incident_id=incident_id)
        try:
            result = await self.receive(message, "long")
        except StoreError:
            return form_problem_page(503, "please try again in a minute", language)
        except MessageRefused:
            return form_problem_page(400, "message: this text cannot be stored", language)
        return confirmation_page(result, languages, page_language=language)

    def _incident(self, ref: str) -> tuple[int, list[str]]:
        from crisiscast.incidents.store.database import get_incident

        with self.intake.store.session() as session:
            incident = get_incident(session, ref)
            return incident.id, list(incident.languages) or ["en"]


def _basic_auth_ok(header: str | None, username: str, password: str) -> bool:
    if not header or not header.lower().startswith("basic "):
        return False
    try:
        given = b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (BinasciiError, UnicodeDecodeError):
        return False
    user, _, secret = given.partition(":")
    # Both compared every time: the answer's timing says nothing about which one was wrong.
    user_ok = hmac.compare_digest(user.encode(), username.encode())
    secret_ok = hmac.compare_digest(secret.encode(), password.encode())
    return user_ok and secret_ok


def _parse_inbound_email(fields: dict[str, str]) -> tuple[Inbound, str, Origin]:
    """An Inbound Parse post's fields as an ``Inbound`` (sender, subject + text, Message-ID),
    the text an agent's command would be (the first line above the quote, else the subject),
    and its origin for a command: Message-ID and SendGrid's SPF/DKIM verdict for the sender.
    Blocking (up to 5 MB of text): the route calls it in a worker thread."""
    sender = parseaddr(fields.get("from", ""))[1].strip().lower()
    if "@" not in sender:
        raise BadRequest(400, "the `from` field has no email address")
    mail_headers = HeaderParser().parsestr(fields.get("headers", ""))
    subject = fields.get("subject", "").strip()
    text = fields.get("text", "").strip()
    message_id = (mail_headers.get("Message-ID") or "").strip()
    if not message_id:
        # SendGrid retries the same post: a digest of it recognises the retry.
        digest = hashlib.sha256(f"{sender}|{subject}|{text}".encode()).hexdigest()
        message_id = f"sha256:{digest[:40]}"
    automated = ack.is_automated(dict(mail_headers.items()))
    content = f"{subject}\n\n{text}".strip() if subject else text
    inbound = Inbound("email", message_id[:200], sender, content, automated=automated)
    checked = verdict(fields, sender)
    origin = Origin("email", message_id[:200], checked.authenticated, checked.why_not)
    return inbound.storable(), storable_text(from_email(subject, text[:TRIAGE_CHARS])), origin


def webhook_router(
    settings: Settings,
    store: Store,
    *,
    clock: Clock | None = None,
    local_tz: tzinfo | None = None,
) -> APIRouter:
    """The inbound and receipt routes for one store; ``clock``, ``local_tz``: tests, regions."""
    # A customer's answer to an agent's ASK is texted to the agent on a thread of its own:
    # the provider's call never holds the intake writer that answers everyone else.
    relays = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crisiscast-relay")
    hooks = Webhooks(
        settings,
        Intake(store, local_tz=local_tz, on_answer=relay_hook(store, settings, relays.submit)),
        clock or (lambda: datetime.now(UTC)),
    )
    receipts = Receipts(settings, store, hooks.clock)
    router = APIRouter()
    router.add_api_route("/webhooks/twilio/status", receipts.twilio_status, methods=["POST"],
                         include_in_schema=False)  # fmt: skip
    router.add_api_route("/webhooks/sendgrid/events", receipts.sendgrid_events, methods=["POST"],
                         include_in_schema=False)  # fmt: skip
    router.add_api_route("/webhooks/twilio/sms", hooks.twilio_sms, methods=["POST"],
                         include_in_schema=False)  # fmt: skip
    router.add_api_route("/webhooks/sendgrid/inbound", hooks.sendgrid_inbound, methods=["POST"],
                         include_in_schema=False)  # fmt: skip
    router.add_api_route("/incidents/{ref}/reply", hooks.reply_form, methods=["POST"],
                         response_class=HTMLResponse, include_in_schema=False)  # fmt: skip
    return router
