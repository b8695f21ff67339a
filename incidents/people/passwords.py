"""Console passwords, hashed with Argon2id (argon2-cffi): slow on purpose, salted, and
re-hashed when the library's recommended parameters change."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from crisiscast.errors import ConfigError

MIN_LENGTH = 12  # NIST SP 800-63B: length beats composition rules
_HASHER = PasswordHasher()


def check_strength(password: str) -> None:
    """Refuse a password too short to resist guessing, saying what is needed."""
    if len(password) < MIN_LENGTH:
        raise ConfigError(f"a password needs at least {MIN_LENGTH} characters; a few words work")


def hash_password(password: str) -> str:
    """The stored form of a new password."""
    check_strength(password)
    return _HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches; a user without a password never signs in with one."""
    if not stored:
        return False
    try:
        return _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """Whether to store a fresh hash after a successful sign-in."""
    return _HASHER.check_needs_rehash(stored)
