"""The public reply form's checks, limits and pages (the route itself is in webhooks.py).

The pages are small, valid HTML with ``lang`` set, a heading, and the message in a
``role="status"`` region so screen readers announce it (WCAG 4.1.3); no script, no cookies.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

from fastapi.responses import HTMLResponse

from crisiscast.incidents.audience.csv_import import normalize_email, normalize_phone
from crisiscast.incidents.intake.acknowledge import phrase
from crisiscast.incidents.intake.inbound import IntakeResult

MAX_MESSAGE = 2000
MAX_NAME = 200
# Per network address (a proxy in front shares one, hence the roomier limit) and per contact.
CLIENT_LIMIT = (30, timedelta(minutes=1))
CONTACT_LIMIT = (5, timedelta(minutes=10))
_MAX_KEYS = 50_000


@dataclass(frozen=True, slots=True)
class ReplyForm:
    contact: str  # E.164 phone or lower-case email
    message: str
    body: str  # what is stored: the message, signed with the name when one was given


def read_reply_form(form: Mapping[str, str], languages: Sequence[str]) -> ReplyForm | str:
    """The checked form, or the problem to show (which field, and what to write instead)."""
    message = form.get("message", "").strip()
    raw_contact = form.get("contact", "").strip()
    name = " ".join(form.get("name", "").split())
    if not message:
        return "message: write what is happening and what you need"
    if len(message) > MAX_MESSAGE:
        return f"message: keep it under {MAX_MESSAGE} characters (it has {len(message)})"
    if len(name) > MAX_NAME:
        return f"name: keep it under {MAX_NAME} characters"
    if not raw_contact:
        return "contact: give a phone number (+country code) or an email address to answer"
    try:
        if "@" in raw_contact:
            contact = normalize_email(raw_contact)
        else:
            contact = normalize_phone(raw_contact, "ZZ")
    except ValueError:
        return (
            "contact: not a phone number or email address we can answer: write the phone "
            "number with its country code (e.g. +66 81 234 5678) or a full email address"
        )
    body = f"{message}\n— {name}" if name else message
    return ReplyForm(contact, message, body)


class FormLimiter:
    """Sliding-window limits per client address and per contact; ``wait`` says how long."""

    def __init__(
        self,
        client: tuple[int, timedelta] = CLIENT_LIMIT,
        contact: tuple[int, timedelta] = CONTACT_LIMIT,
    ) -> None:
        self._limits = {"client": client, "contact": contact}
        self._seen: dict[tuple[str, str], deque[datetime]] = {}
        self._lock = threading.Lock()

    def wait(self, client: str, contact: str, now: datetime) -> int | None:
        """Seconds to wait if either limit is reached; else None, and the attempt counts."""
        keys = [("client", client), ("contact", contact)]
        with self._lock:
            if len(self._seen) > _MAX_KEYS:
                self._seen.clear()  # memory stays bounded under a flood of new addresses
            waits = [self._wait(key, now) for key in keys]
            longest = max((w for w in waits if w is not None), default=None)
            if longest is None:
                for key in keys:
                    self._seen.setdefault(key, deque()).append(now)
            return longest

    def _wait(self, key: tuple[str, str], now: datetime) -> int | None:
        count, window = self._limits[key[0]]
        times = self._seen.get(key)
        if times is None:
            return None
        while times and now - times[0] >= window:
            times.popleft()
        if len(times) < count:
            return None
        return max(int((times[0] + window - now).total_seconds()) + 1, 1)


def _page(status: int, language: str, title: str, text: str) -> HTMLResponse:
    paragraphs = "".join(f"<p>{escape(line)}</p>" for line in text.splitlines() if line.strip())
    html = (
        f'<!doctype html><html lang="{escape(language)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title></head><body><main>"
        f'<h1>{escape(title)}</h1><div role="status">{paragraphs}</div>'
        '<p><a href="./">←</a></p></main></body></html>'
    )
    return HTMLResponse(html, status_code=status)


def confirmation_page(
    result: IntakeResult, languages: Sequence[str], page_language: str | None = None
) -> HTMLResponse:
    """The page after a reply: the acknowledgement in the reply's language (else the page's
    the form was on), or a thank-you."""
    language = result.language if result.language in languages else None
    language = language or page_language or languages[0]
    text = result.reply or phrase(language, "thanks")
    if result.outcome == "case" and result.reply is None:
        text = phrase(language, "received", case=str(result.case_id))
    return _page(200, language, phrase(language, "thanks_title"), text)


def form_problem_page(status: int, problem: str, language: str) -> HTMLResponse:
    """A refused form: the status, and what to change."""
    return _page(status, language, f"{status}", problem)
