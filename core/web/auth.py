"""Who is calling, and may they: every API route and console page depends on ``require``.

Three ways in, checked before a byte of the body is read:
- ``Authorization: Bearer cc_...``: a user's API token (``crisiscast users token``);
- ``Authorization: Bearer <serve.json token>``: the CLI on this machine (whoever can read
  serve.json, mode 0600, can read the store itself), acting as a commander named ``cli``;
- the ``crisiscast_session`` cookie of a signed-in console user. A request that changes
  something must also carry the session's CSRF token (``X-CSRF-Token`` header, or the
  ``csrf_token`` form field checked by the page itself), so another site cannot post with
  the browser's cookie.

401 when nobody is signed in (or the credentials are wrong); 403 when the role may not.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import HTTPException, Request

from crisiscast.errors import AccessError
from crisiscast.incidents.people.audit import Actor
from crisiscast.incidents.people.roles import allowed
from crisiscast.incidents.people.users import TOKEN_PREFIX, session_user, user_for_token
from crisiscast.incidents.store.database import Store

SESSION_COOKIE = "crisiscast_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of one request, as established by ``authenticate``."""

    user_id: int | None  # None: the CLI holding serve.json's token
    username: str
    role: str
    via: str  # "token" | "session" | "cli"
    client: str  # the peer address, for the audit log
    agent_id: int | None = None
    csrf_token: str | None = None  # a console session's, for its forms

    @property
    def actor(self) -> Actor:
        """This caller as the audit log names them."""
        name = "cli" if self.user_id is None else f"user:{self.user_id} {self.username}"
        source = (
            "cli"
            if self.via == "cli"
            else f"{'api' if self.via == 'token' else 'console'} {self.client}"
        )
        return Actor(name=name, source=source, user_id=self.user_id)


def authenticate(request: Request, store: Store, serve_token: str) -> Principal:
    """The caller of ``request``; raises AccessError (signed_in=False) when there is none."""
    client = request.client.host if request.client else "unknown"
    header = request.headers.get("authorization")
    now = datetime.now(UTC)
    if header is not None:
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret:
            raise AccessError("use 'Authorization: Bearer <token>'", signed_in=False)
        # Bytes: compare_digest raises TypeError on a non-ASCII str (a header is latin-1 text).
        if hmac.compare_digest(secret.encode("latin-1"), serve_token.encode()):
            return Principal(None, "cli", "commander", "cli", client)
        if secret.startswith(TOKEN_PREFIX):
            with store.session() as session:
                user = user_for_token(session, secret, now=now)
                if user is not None:
                    return Principal(user.id, user.username, user.role.value, "token", client,
                                     agent_id=user.agent_id)  # fmt: skip
        raise AccessError("unknown or revoked token", signed_in=False)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        with store.session() as session:
            found = session_user(session, cookie, now=now)
            if found is not None:
                user, web = found
                role = user.role.value
                return Principal(user.id, user.username, role, "session", client,
                                 agent_id=user.agent_id, csrf_token=web.csrf_token)  # fmt: skip
    raise AccessError("sign in first (or send an API token)", signed_in=False)


def check_csrf(principal: Principal, submitted: str | None) -> None:
    """A console session's change must echo its CSRF token; tokens and the CLI need none."""
    if principal.via != "session" or principal.csrf_token is None:
        return
    if submitted is None or not hmac.compare_digest(
        submitted.encode("latin-1", "replace"), principal.csrf_token.encode()
    ):
        raise AccessError("the form is stale or came from another site: reload the page")


def requirer(store: Store, serve_token: str) -> Callable[[str], Callable[[Request], Principal]]:
    """``require(action)`` for this app: a dependency that answers 401/403 or the Principal.

    JSON API calls from a console session carry the CSRF token in ``X-CSRF-Token``; pages
    that post forms call ``check_csrf`` with the form's field themselves.
    """

    def require(action: str) -> Callable[[Request], Principal]:
        def dependency(request: Request) -> Principal:
            try:
                principal = authenticate(request, store, serve_token)
                if request.method not in SAFE_METHODS and _is_json(request):
                    check_csrf(principal, request.headers.get(CSRF_HEADER))
            except AccessError as exc:
                raise HTTPException(401 if not exc.signed_in else 403, str(exc)) from None
            if not allowed(principal.role, action):
                raise HTTPException(403, f"your role ({principal.role}) may not do this ({action})")
            return principal

        return dependency

    return require


def _is_json(request: Request) -> bool:
    return not request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    )
