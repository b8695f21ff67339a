"""Signing in to the console: ``GET``/``POST /login`` and ``POST /logout``.

- The sign-in form is plain HTML: labels, ``autocomplete`` hints for password managers, no
  script, usable with the keyboard alone; a problem is announced (``role="alert"``) and names
  the field. Its CSRF token is a signed double-submit: the page's hidden field and a
  ``crisiscast_login`` cookie carry the same random value with this server's HMAC, so another
  site can neither post the form with the browser's cookie nor plant a pair of its own.
- The body is read within ``FORM_LIMIT`` before it is parsed; password checks (Argon2id, about
  0.15 s and 64 MiB each) run at most ``MAX_VERIFYING`` at once, and a client address with
  ``CLIENT_FAILURES`` failed sign-ins in the window waits (429) before trying again. The
  account itself locks after 5 failures in a row (``incidents.people.users``).
- Success starts a session (``crisiscast_session``: HttpOnly, SameSite=Strict, Path=/, Secure
  when ``CRISISCAST_PUBLIC_URL`` is https) and the audit log records it; so are failures
  (a known username only: a password typed into the username box must not end up in the
  log), lock-outs and sign-outs, each with the client address.
- ``/console`` and the rest of the console are in ``crisiscast.web.console``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import threading
from collections import deque
from datetime import UTC, datetime, timedelta
from html import escape
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from crisiscast.config import Settings
from crisiscast.errors import AccessError
from crisiscast.incidents.people.audit import Actor, record
from crisiscast.incidents.people.users import (
    AccountLocked,
    NewSession,
    authenticate,
    by_username,
    end_session,
    start_session,
)
from crisiscast.incidents.store.database import Store
from crisiscast.web.auth import SESSION_COOKIE, Principal, check_csrf
from crisiscast.web.auth import authenticate as who_is_calling
from crisiscast.web.request_checks import BadRequest, parse_form, read_limited

LOGIN_COOKIE = "crisiscast_login"  # the sign-in form's CSRF pair, before any session exists
FORM_LIMIT = 16 * 1024  # a username, a password of 1,024 characters (%-encoded), two tokens
MAX_VERIFYING = 4  # password checks at once: each holds 64 MiB for about 0.15 s
CLIENT_FAILURES = (20, timedelta(minutes=10))  # per client address, before 429
_MAX_CLIENTS = 50_000
_STYLE = (
    "body{font:1.1rem/1.5 system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem}"
    "input,button{font:inherit;padding:.4rem;margin:.2rem 0}input{width:100%;box-sizing:border-box}"
    "[role=alert]{border:2px solid #b00020;padding:.5rem 1rem;color:#7a0016}"
    ":focus-visible{outline:3px solid #1a5fb4;outline-offset:2px}"
)
_STYLE_HASH = "sha256-" + base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
# No script at all; the one inline style is allowed by its hash; no framing (clickjacking).
_CSP = (
    f"default-src 'none'; style-src '{_STYLE_HASH}'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


class FailureLimiter:
    """Failed sign-ins per client address in a sliding window; ``wait`` says for how long.

    An attempt counts as failed from the moment it starts (``attempt``) until it succeeds
    (``succeeded``), so a burst of simultaneous posts from one address is bounded too.
    """

    def __init__(self, limit: tuple[int, timedelta]) -> None:
        self._count, self._window = limit
        self._seen: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    def wait(self, client: str, now: datetime) -> int | None:
        """Seconds until ``client`` may try again, or None when it may now."""
        with self._lock:
            return self._wait(client, now)

    def attempt(self, client: str, now: datetime) -> int | None:
        """Like ``wait``; when it may try, the attempt counts as a failure until it succeeds."""
        with self._lock:
            wait = self._wait(client, now)
            if wait is None:
                if len(self._seen) > _MAX_CLIENTS:
                    self._seen.clear()  # memory stays bounded under a flood of new addresses
                self._seen.setdefault(client, deque()).append(now)
            return wait

    def succeeded(self, client: str, now: datetime) -> None:
        """The attempt started at ``now`` signed in: it does not count against the address."""
        with self._lock:
            times = self._seen.get(client)
            if times is not None and now in times:
                times.remove(now)

    def _wait(self, client: str, now: datetime) -> int | None:
        times = self._seen.get(client)
        if times is None:
            return None
        while times and now - times[0] >= self._window:
            times.popleft()
        if len(times) < self._count:
            return None
        return max(int((times[0] + self._window - now).total_seconds()) + 1, 1)


class _FormToken:
    """The signed double-submit token of the sign-in form: ``nonce.mac``."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)  # per process: a restart asks to reload the form

    def new(self) -> str:
        nonce = secrets.token_urlsafe(18)
        return f"{nonce}.{self._mac(nonce)}"

    def valid(self, token: str | None) -> bool:
        if not token or token.count(".") != 1:
            return False
        nonce, mac = token.split(".")
        return hmac.compare_digest(mac.encode("latin-1", "replace"), self._mac(nonce).encode())

    def _mac(self, nonce: str) -> str:
        return hmac.new(self._key, nonce.encode("latin-1", "replace"), "sha256").hexdigest()[:32]


def login_router(settings: Settings, store: Store, serve_token: str) -> APIRouter:
    """The sign-in routes, on ``store``; ``serve_token`` lets ``/console`` know the CLI too."""
    secure = (settings.public_url or "").lower().startswith("https://")
    tokens = _FormToken()
    limiter = FailureLimiter(CLIENT_FAILURES)
    verifying = asyncio.Semaphore(MAX_VERIFYING)
    router = APIRouter(include_in_schema=False)

    def form_page(
        status: int, *, problem: str | None = None, note: str | None = None,
        username: str = "", token: str | None = None, next_path: str = "/console",
    ) -> HTMLResponse:  # fmt: skip
        token = token if token is not None and tokens.valid(token) else tokens.new()
        response = _page(status, "Sign in", _form_html(token, problem, note, username, next_path))
        response.set_cookie(LOGIN_COOKIE, token, max_age=3600, path="/login", secure=secure,
                            httponly=True, samesite="strict")  # fmt: skip
        return response

    @router.get("/login")
    def login_form(request: Request) -> HTMLResponse:
        query = request.query_params
        note = "You are signed out." if query.get("out") == "1" else None
        return form_page(200, note=note, token=request.cookies.get(LOGIN_COOKIE),
                         next_path=_local(query.get("next")))  # fmt: skip

    @router.post("/login")
    async def login(request: Request) -> Response:
        client = request.client.host if request.client else "unknown"
        now = datetime.now(UTC)
        if (wait := limiter.wait(client, now)) is not None:  # before reading anything
            return _too_many(wait)
        try:
            form = parse_form(await read_limited(request, FORM_LIMIT),
                              request.headers.get("content-type", ""))  # fmt: skip
        except BadRequest as exc:
            return _message(exc.status, "Sign-in refused", str(exc))
        cookie = request.cookies.get(LOGIN_COOKIE)
        if not (tokens.valid(cookie) and hmac.compare_digest(
            (cookie or "").encode(), form.get("csrf_token", "").encode("utf-8", "replace")
        )):  # fmt: skip
            return _message(403, "Sign-in refused",
                            "The sign-in form is stale or came from another site: open the "
                            "sign-in page again and sign in from there.")  # fmt: skip
        username, password = form.get("username", "").strip(), form.get("password", "")
        next_path = _local(form.get("next"))
        missing = [n for n, v in (("username", username), ("password", password)) if not v]
        if missing:
            problem = " and ".join(missing).capitalize() + ": fill in to sign in."
            return form_page(422, problem=problem, username=username, token=cookie,
                             next_path=next_path)  # fmt: skip
        if (wait := limiter.attempt(client, now)) is not None:
            return _too_many(wait)
        async with verifying:
            outcome = await run_in_threadpool(_sign_in, store, username, password, client, now)
        if isinstance(outcome, AccessError):
            status = 403 if isinstance(outcome, AccountLocked) else 401
            return form_page(status, problem=_sentence(outcome), username=username,
                             token=cookie, next_path=next_path)  # fmt: skip
        limiter.succeeded(client, now)
        response = RedirectResponse(next_path, status_code=303)
        response.set_cookie(SESSION_COOKIE, outcome.cookie, path="/", secure=secure,
                            httponly=True, samesite="strict",
                            expires=outcome.expires_at)  # fmt: skip
        response.delete_cookie(LOGIN_COOKIE, path="/login", secure=secure, httponly=True,
                               samesite="strict")  # fmt: skip
        return response

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        try:
            body = await read_limited(request, FORM_LIMIT)
            form = parse_form(body, request.headers.get("content-type", "")) if body else {}
        except BadRequest as exc:
            return _message(exc.status, "Sign-out refused", str(exc))
        cookie = request.cookies.get(SESSION_COOKIE)
        principal = await run_in_threadpool(_session_principal, request, store, serve_token)
        if cookie and principal is not None:
            try:
                check_csrf(principal, form.get("csrf_token"))
            except AccessError as exc:
                return _message(403, "Sign-out refused", _sentence(exc))
            await run_in_threadpool(_sign_out, store, principal, cookie)
        response = RedirectResponse("/login?out=1", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/", secure=secure, httponly=True,
                               samesite="strict")  # fmt: skip
        return response

    return router


def _sign_in(
    store: Store, username: str, password: str, client: str, now: datetime
) -> NewSession | AccessError:
    """Check the password and start a session; the attempt and its outcome are audited in
    the same transaction as the failure count or the new session."""
    source = f"console {client}"
    with store.session() as session:
        try:
            user = authenticate(session, username, password, now=now)
        except AccessError as exc:
            known = by_username(session, username)
            actor = Actor(name="anonymous", source=source)
            detail = {"username": known.username if known else None, "known": known is not None}
            subject = f"user {known.id}" if known else None
            locked = exc if isinstance(exc, AccountLocked) else None
            reason = "locked" if locked and not locked.now_locked else "wrong password"
            if known is None or not known.active:
                reason = "unknown or disabled user"
            record(session, actor, "login.failed", now=now, subject=subject,
                   detail={**detail, "reason": reason})  # fmt: skip
            if locked and locked.now_locked:
                until = locked.until.isoformat()
                record(session, actor, "login.locked", now=now, subject=subject,
                       detail={**detail, "until": until})  # fmt: skip
            return exc
        started = start_session(session, user, now=now, client=client)
        actor = Actor(name=f"user:{user.id} {user.username}", source=source, user_id=user.id)
        record(session, actor, "login", now=now, subject=f"user {user.id}",
               detail={"username": user.username, "role": user.role.value})  # fmt: skip
        return started


def _session_principal(request: Request, store: Store, serve_token: str) -> Principal | None:
    """The console session's user, or None (no session, expired, revoked)."""
    if not request.cookies.get(SESSION_COOKIE) or request.headers.get("authorization"):
        return None
    try:
        principal = who_is_calling(request, store, serve_token)
    except AccessError:
        return None
    return principal if principal.via == "session" else None


def _sign_out(store: Store, principal: Principal, cookie: str) -> None:
    now = datetime.now(UTC)
    with store.session() as session:
        end_session(session, cookie, now=now)
        record(session, principal.actor, "logout", now=now, subject=f"user {principal.user_id}",
               detail={"username": principal.username})  # fmt: skip


def _sentence(exc: Exception) -> str:
    text = str(exc)
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _local(path: str | None) -> str:
    """Where to go after signing in: a path on this server only (no open redirect)."""
    if (
        path
        and path.startswith("/")
        and not path.startswith(("//", "/\\"))
        and len(path) <= 500
        and path.isprintable()
        and path.isascii()
    ):
        return path
    return "/console"


def _form_html(
    token: str, problem: str | None, note: str | None, username: str, next_path: str
) -> str:
    invalid = ' aria-invalid="true" aria-describedby="problem"' if problem else ""
    focus_user = "" if problem and username else " autofocus"
    focus_password = " autofocus" if problem and username else ""
    alert = f'<div id="problem" role="alert"><p>{escape(problem)}</p></div>' if problem else ""
    status = f'<p role="status">{escape(note)}</p>' if note else ""
    return (
        f"<h1>Sign in to crisiscast</h1>{alert}{status}"
        '<form method="post" action="/login">'
        f'<input type="hidden" name="csrf_token" value="{escape(token)}">'
        f'<input type="hidden" name="next" value="{escape(next_path)}">'
        '<p><label for="username">Username</label><br>'
        '<input id="username" name="username" type="text" autocomplete="username" '
        'autocapitalize="none" spellcheck="false" maxlength="100" required'
        f'{invalid}{focus_user} value="{escape(username[:100])}"></p>'
        '<p><label for="password">Password</label><br>'
        '<input id="password" name="password" type="password" autocomplete="current-password" '
        f'maxlength="1024" required{invalid}{focus_password}></p>'
        '<p><button type="submit">Sign in</button></p></form>'
    )


def _page(
    status: int, title: str, body: str, headers: dict[str, str] | None = None
) -> HTMLResponse:
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} · crisiscast</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )
    safe = {
        "Content-Security-Policy": _CSP,
        "Cache-Control": "no-store",
        "Referrer-Policy": "same-origin",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
    }
    return HTMLResponse(html, status_code=status, headers={**safe, **(headers or {})})


def _too_many(wait: int) -> HTMLResponse:
    text = f"Too many failed sign-ins from your address: wait {wait} seconds, then try again."
    return _message(429, "Too many attempts", text, headers={"Retry-After": str(wait)})


def _message(
    status: int, title: str, text: str, headers: dict[str, str] | None = None
) -> HTMLResponse:
    """A refusal as a page: what happened, and the way back to the form."""
    body = (
        f'<h1>{escape(title)}</h1><div role="alert"><p>{escape(text)}</p></div>'
        f'<p><a href="/login?next={quote("/console")}">Open the sign-in page</a></p>'
    )
    return _page(status, title, body, headers)
