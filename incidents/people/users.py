"""Users, their API tokens and console sessions: created, checked and revoked here.

Secrets are random (``secrets.token_urlsafe``) and stored only as SHA-256: a copy of the
database gives no working token or session. A user who fails to sign in ``LOCKOUT_AFTER``
times in a row is locked for ``LOCKOUT_FOR``; the lock says until when, and a commander lifts
it early with ``crisiscast users unlock``. Disabling a user ends their sessions and tokens.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crisiscast.errors import AccessError, ConfigError, NotFoundError
from crisiscast.incidents.people.passwords import hash_password, needs_rehash, verify_password
from crisiscast.incidents.store.models import ApiToken, User, UserRole, WebSession

LOCKOUT_AFTER = 5
LOCKOUT_FOR = timedelta(minutes=15)
SESSION_FOR = timedelta(hours=12)  # one long shift; sign in again after
TOKEN_PREFIX = "cc_"  # noqa: S105 - so a leaked token is recognisable in a scanner or a log
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}\Z")


class AccountLocked(AccessError):
    """Sign-in refused because the account is locked (``until``); ``now_locked``: this very
    attempt was the one that locked it (what the audit log records as a lock-out)."""

    def __init__(self, until: datetime, *, now_locked: bool) -> None:
        lead = "wrong username or password; " if now_locked else ""
        super().__init__(
            f"{lead}this account is locked after {LOCKOUT_AFTER} failed sign-ins until "
            f"{until:%H:%M} UTC: wait, or ask a commander to unlock it "
            "(crisiscast users unlock USERNAME)",
            signed_in=False,
        )
        self.until = until
        self.now_locked = now_locked


def digest(secret: str) -> str:
    """The stored form of a token or session id."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def check_username(username: str) -> str:
    """The username as stored (lower case), or ConfigError saying what a username may hold."""
    name = username.strip().lower()
    if not _USERNAME.match(name):
        raise ConfigError(
            f"username {username!r}: use 1-100 lower-case letters, digits, '.', '_' or '-'"
        )
    return name


def check_role(role: UserRole | str) -> UserRole:
    """The role, or ConfigError listing the roles there are."""
    try:
        return UserRole(role)
    except ValueError:
        choices = ", ".join(r.value for r in UserRole)
        raise ConfigError(f"role {role!r} is not one of: {choices}") from None


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
    name = check_username(username)
    kind = check_role(role)
    if by_username(session, name) is not None:
        raise ConfigError(f"username {name!r} is taken; choose another")
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
    """The user with this username (case-insensitive), if any.

    A name no user could have (NUL, spaces, too long) is not looked up: PostgreSQL refuses
    NUL in a query parameter, and a sign-in form may send anything.
    """
    name = username.strip().lower()
    if not _USERNAME.match(name):
        return None
    return session.scalar(select(User).where(User.username == name))


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
        raise AccountLocked(user.locked_until, now_locked=False)
    if not verify_password(user.password_hash, password):
        # Counted in SQL (failed_logins + 1), so failures posted at once all count.
        user.failed_logins = User.failed_logins + 1
        session.flush()
        if user.failed_logins >= LOCKOUT_AFTER:
            user.locked_until = now + LOCKOUT_FOR
            user.failed_logins = 0
            session.flush()
            raise AccountLocked(user.locked_until, now_locked=True)
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


def require_user(session: Session, username: str) -> User:
    """The user with this username, or NotFoundError saying where to see the users."""
    user = by_username(session, username)
    if user is None:
        raise NotFoundError(
            f"no user {username.strip().lower()!r}: `crisiscast users list` shows them"
        )
    return user


def list_users(session: Session) -> Sequence[User]:
    """Every user, active or not, in the order they were added."""
    return session.scalars(select(User).order_by(User.id)).all()


def live_tokens(session: Session, user: User) -> Sequence[ApiToken]:
    """The user's tokens that still work (never their secret: only labels and dates)."""
    query = select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    return session.scalars(query.order_by(ApiToken.id)).all()


def revoke_tokens(
    session: Session, user: User, *, now: datetime, label: str | None = None
) -> list[int]:
    """Revoke the user's live tokens (only those labelled ``label`` when given); their ids."""
    tokens = [t for t in live_tokens(session, user) if label is None or t.label == label]
    for token in tokens:
        token.revoked_at = now
    session.flush()
    return [t.id for t in tokens]


def end_sessions(session: Session, user: User, *, now: datetime) -> int:
    """Sign the user out everywhere (after a password change, or when disabled)."""
    result = session.execute(
        update(WebSession)
        .where(WebSession.user_id == user.id, WebSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def unlock(session: Session, user: User) -> bool:
    """Lift a sign-in lock and forget past failures; whether there was a lock to lift."""
    was_locked = user.locked_until is not None
    user.locked_until = None
    user.failed_logins = 0
    session.flush()
    return was_locked


def disable_user(session: Session, user: User, *, now: datetime) -> None:
    """Stop a user: no sign-in, their sessions end and their tokens are revoked now.

    The row stays, so the audit log and past approvals still name who it was.
    """
    user.active = False
    end_sessions(session, user, now=now)
    revoke_tokens(session, user, now=now)
    session.flush()
