"""Users, their API tokens and console sessions: created, checked and revoked here.

Secrets are random (``secrets.token_urlsafe``) and stored only as SHA-256: a copy of the
database gives no working token or session. A user who fails to sign in ``LOCKOUT_AFTER``
times in a row is locked for ``LOCKOUT_FOR``; the lock says until when.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crisiscast.errors import AccessError, ConfigError
from crisiscast.incidents.people.passwords import hash_password, needs_rehash, verify_password
from crisiscast.incidents.store.models import ApiToken, User, UserRole, WebSession

LOCKOUT_AFTER = 5
LOCKOUT_FOR = timedelta(minutes=15)
SESSION_FOR = timedelta(hours=12)  # one long shift; sign in again after
TOKEN_PREFIX = "cc_"  # noqa: S105 - so a leaked token is recognisable in a scanner or a log
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}\Z")


def digest(secret: str) -> str:
    """The stored form of a token or session id."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def create_user(
    session: Session,
    username: str,
    role: UserRole | str,
    *,
    now: datetime,
    display_name: str | None = None,
    password: str | None = None,
    agent_id: int | None = None,
) -> User:
    """Add a user; the username is lower-case letters, digits, ``.``, ``_`` or ``-``."""
    name = username.strip().lower()
    if not _USERNAME.match(name):
        raise ConfigError(
            f"username {username!r}: use 1-100 lower-case letters, digits, '.', '_' or '-'"
        )
    try:
        kind = UserRole(role)
    except ValueError:
        choices = ", ".join(r.value for r in UserRole)
        raise ConfigError(f"role {role!r} is not one of: {choices}") from None
    user = User(
        username=name,
        display_name=display_name or name,
        role=kind,
        password_hash=hash_password(password) if password is not None else None,
        agent_id=agent_id,
        active=True,
        failed_logins=0,
        created_at=now,
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise ConfigError(f"username {name!r} is taken; choose another") from None
    return user


def by_username(session: Session, username: str) -> User | None:
    """The user with this username (case-insensitive), if any."""
    return session.scalar(select(User).where(User.username == username.strip().lower()))


def authenticate(session: Session, username: str, password: str, *, now: datetime) -> User:
    """The user whose password this is; counts failures and locks after ``LOCKOUT_AFTER``.

    The same words for an unknown user and a wrong password, so the answer does not tell
    which usernames exist.
    """
    user = by_username(session, username)
    wrong = AccessError("wrong username or password", signed_in=False)
    if user is None or not user.active:
        verify_password(None, password)
        raise wrong
    if user.locked_until is not None and user.locked_until > now:
        until = user.locked_until.strftime("%H:%M UTC")
        raise AccessError(
            f"this account is locked after {LOCKOUT_AFTER} failed sign-ins until {until}; "
            "wait, or ask a commander to reset it",
            signed_in=False,
        )
    if not verify_password(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= LOCKOUT_AFTER:
            user.locked_until = now + LOCKOUT_FOR
            user.failed_logins = 0
        session.flush()
        raise wrong
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    session.flush()
    return user


def set_password(session: Session, user: User, password: str) -> None:
    """Replace a user's password and lift any lock."""
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    session.flush()


def issue_token(session: Session, user: User, label: str, *, now: datetime) -> str:
    """A new API token for ``user``: returned once, stored hashed."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(user_id=user.id, label=label[:100], token_hash=digest(token), created_at=now)
    )
    session.flush()
    return token


def user_for_token(session: Session, token: str, *, now: datetime) -> User | None:
    """The active user holding this (unrevoked) token, or None."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest(token)))
    if row is None or row.revoked_at is not None:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    row.last_used_at = now
    return user


@dataclass(frozen=True, slots=True)
class NewSession:
    """What the browser gets: the cookie value (once) and the CSRF token its forms echo."""

    cookie: str
    csrf_token: str
    expires_at: datetime


def start_session(session: Session, user: User, *, now: datetime, client: str | None) -> NewSession:
    """A console session for a user who just signed in."""
    cookie = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    expires = now + SESSION_FOR
    session.add(
        WebSession(
            user_id=user.id,
            session_hash=digest(cookie),
            csrf_token=csrf,
            created_at=now,
            expires_at=expires,
            last_seen_at=now,
            client=(client or "")[:100] or None,
        )
    )
    session.flush()
    return NewSession(cookie=cookie, csrf_token=csrf, expires_at=expires)


def session_user(session: Session, cookie: str, *, now: datetime) -> tuple[User, WebSession] | None:
    """The user of a live console session, or None (unknown, revoked or expired)."""
    row = session.scalar(select(WebSession).where(WebSession.session_hash == digest(cookie)))
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    row.last_seen_at = now
    return user, row


def end_session(session: Session, cookie: str, *, now: datetime) -> None:
    """Sign out: the cookie stops working at once."""
    row = session.scalar(select(WebSession).where(WebSession.session_hash == digest(cookie)))
    if row is not None and row.revoked_at is None:
        row.revoked_at = now
        session.flush()
