"""Signed links from an agent's SMS to the case on the console: ``{base}/c/42.3.Ab3dE_9hIk2M``.

The token names the case (42) and the agent it was sent to (3), then 12 characters of an
HMAC-SHA256 of both under the server's secret (72 bits: guessing one online is hopeless, and
the console expires links anyway). Nobody can turn a link they were sent into a link to
another case, or into someone else's. The token is GSM-7 (digits, letters, ``.``, ``-``,
``_``), so it never makes a page cost UCS-2.

:func:`sign` and :func:`verify` are pure. The secret is ``CRISISCAST_LINK_SECRET`` when set,
else a random key in ``$CRISISCAST_HOME/case-link.key``, created with mode 0600 on first use
(:func:`link_secret`). Deleting that file (or changing the setting) voids every link sent.

Expiry: a token carries no time, so whoever serves the link (the console) asks
:func:`expired` on every visit. A link stops working when
- the case is resolved or closed;
- the agent no longer holds the case (they sent DONE, PASS, ESC or OFF, or it was released);
- the agent's day pass has ended (``pass_expires_at``), or they were taken off the roster.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from crisiscast.config import ENV_LINK_SECRET, Settings
from crisiscast.errors import ConfigError

KEY_FILE = "case-link.key"
LOCAL_URL = "http://127.0.0.1:8765"  # `crisiscast serve` on its default port
PATH = "/c/"
SIG_CHARS = 12
MIN_SECRET = 16  # characters of CRISISCAST_LINK_SECRET
_MAX_ID = 2**31 - 1
_TOKEN = re.compile(rf"^([0-9]{{1,10}})\.([0-9]{{1,10}})\.([A-Za-z0-9_-]{{{SIG_CHARS}}})$")


@dataclass(frozen=True, slots=True)
class LinkClaim:
    """What a valid token says: this agent was sent this case."""

    case_id: int
    agent_id: int


def _signature(secret: bytes, case_id: int, agent_id: int) -> str:
    digest = hmac.new(secret, f"case-link:v1:{case_id}:{agent_id}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).decode("ascii")[:SIG_CHARS]


def sign(secret: bytes, case_id: int, agent_id: int) -> str:
    """The token for ``agent_id``'s link to ``case_id``: ``42.3.Ab3dE_9hIk2M``."""
    return f"{case_id}.{agent_id}.{_signature(secret, case_id, agent_id)}"


def verify(secret: bytes, token: str) -> LinkClaim | None:
    """The case and agent a token names, or None when it is malformed or not ours."""
    match = _TOKEN.match(token)
    if match is None:
        return None
    case_id, agent_id = int(match.group(1)), int(match.group(2))
    if case_id > _MAX_ID or agent_id > _MAX_ID:
        return None
    expected = _signature(secret, case_id, agent_id).encode("ascii")
    if not hmac.compare_digest(expected, match.group(3).encode("ascii")):
        return None
    return LinkClaim(case_id, agent_id)


def case_url(base: str | None, token: str) -> str:
    """The link as sent: the public address (else the local server), ``/c/``, the token."""
    return f"{(base or LOCAL_URL).rstrip('/')}{PATH}{token}"


def expired(
    *,
    case_open: bool,
    agent_holds_case: bool,
    agent_on_roster: bool,
    pass_expires_at: datetime | None,
    now: datetime,
) -> str | None:
    """Why a verified link no longer opens the case (None: it still does)."""
    if not case_open:
        return "the case is closed"
    if not agent_on_roster:
        return "the agent is no longer on the roster"
    if pass_expires_at is not None and now >= pass_expires_at:
        return "the agent's pass has ended"
    if not agent_holds_case:
        return "the case is no longer the agent's"
    return None


def link_secret(settings: Settings) -> bytes:
    """The signing key: the setting, else the key file under the home (made on first use)."""
    if settings.link_secret is not None:
        value = settings.link_secret.get_secret_value()
        if len(value) < MIN_SECRET:
            raise ConfigError(
                f"{ENV_LINK_SECRET} is {len(value)} characters: use at least {MIN_SECRET} "
                "random ones (python3 -c 'import secrets; print(secrets.token_urlsafe(32))'), "
                f"or unset it to use {settings.home / KEY_FILE}."
            )
        return value.encode("utf-8")
    path = settings.home / KEY_FILE
    if not path.exists():
        _create_key(path)
    try:
        key = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{path}: cannot read the case link key ({exc}). Fix its permissions, or delete it "
            "to make a new one (links already sent stop working)."
        ) from exc
    if len(key) < MIN_SECRET:
        raise ConfigError(f"{path} holds no usable key: delete it and a new one is made.")
    return key.encode("ascii")


def _create_key(path: Path) -> None:
    """Write a new random key to ``path`` with mode 0600, atomically: a concurrent process
    either wins (and both use its key) or loses; nobody ever reads half a key."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secrets.token_urlsafe(32) + "\n")
        try:
            path.hardlink_to(draft)
        except FileExistsError:
            pass  # another process made it first: theirs is the key
        finally:
            draft.unlink()
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot create the case link key ({exc}). Make {path.parent} writable, "
            f"or set {ENV_LINK_SECRET}."
        ) from exc
