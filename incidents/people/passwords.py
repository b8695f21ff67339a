"""Console passwords, hashed with Argon2id (argon2-cffi): slow on purpose, salted, and
re-hashed when the library's recommended parameters change."""

from __future__ import annotations

import secrets
from contextlib import suppress

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from crisiscast.errors import ConfigError

MIN_LENGTH = 12  # NIST SP 800-63B: length beats composition rules
MAX_LENGTH = 1024  # a passphrase fits; a megabyte posted to the sign-in form is not hashed
_HASHER = PasswordHasher()
_DUMMY: list[str] = []  # a hash of nothing anyone knows, made on first use


def check_strength(password: str) -> None:
    """Refuse a password too short to resist guessing, saying what is needed."""
    if len(password) < MIN_LENGTH:
        raise ConfigError(f"a password needs at least {MIN_LENGTH} characters; a few words work")
    if len(password) > MAX_LENGTH:
        raise ConfigError(f"a password may have at most {MAX_LENGTH} characters")


def hash_password(password: str) -> str:
    """The stored form of a new password."""
    check_strength(password)
    return _HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches; a user without a password never signs in with one.

    Without a stored hash (an unknown user, an API-only user) a dummy hash is still checked,
    so the answer takes as long as a wrong password and the timing does not tell which
    usernames exist. An over-long password is refused without hashing it.
    """
    if len(password) > MAX_LENGTH:
        return False
    if not stored:
        if not _DUMMY:
            _DUMMY.append(_HASHER.hash(secrets.token_urlsafe(16)))
        with suppress(VerificationError, InvalidHashError):
            _HASHER.verify(_DUMMY[0], password)
        return False
    try:
        return _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """Whether to store a fresh hash after a successful sign-in."""
    return _HASHER.check_needs_rehash(stored)
