"""Console passwords: Argon2id, salted, long enough, and no shortcut that tells who exists."""

from __future__ import annotations

import time

import pytest
from argon2 import PasswordHasher

from crisiscast.errors import ConfigError
from crisiscast.incidents.people.passwords import (
    MAX_LENGTH,
    MIN_LENGTH,
    check_strength,
    hash_password,
    needs_rehash,
    verify_password,
)

PASSWORD = "correct horse battery"


def test_a_password_is_stored_as_a_salted_argon2id_hash() -> None:
    """The stored form is Argon2id, differs each time (salted) and verifies only the original."""
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first.startswith("$argon2id$") and PASSWORD not in first
    assert first != second
    assert verify_password(first, PASSWORD) and verify_password(second, PASSWORD)
    assert not verify_password(first, PASSWORD.upper())
    assert not verify_password("not a hash", PASSWORD)


@pytest.mark.parametrize(
    ("password", "says"),
    [("x" * (MIN_LENGTH - 1), f"at least {MIN_LENGTH} characters"),
     ("x" * (MAX_LENGTH + 1), f"at most {MAX_LENGTH} characters")],
)  # fmt: skip
def test_too_short_or_too_long_is_refused_with_the_rule(password: str, says: str) -> None:
    """The refusal says what a password needs."""
    with pytest.raises(ConfigError, match=says):
        check_strength(password)
    with pytest.raises(ConfigError, match=says):
        hash_password(password)
    check_strength("x" * MIN_LENGTH)


def test_no_stored_hash_takes_as_long_as_a_wrong_password() -> None:
    """An unknown user is checked against a dummy hash, so timing does not reveal usernames."""
    stored = hash_password(PASSWORD)
    verify_password(None, "warm up the dummy hash")

    def fastest(stored_hash: str | None) -> float:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            assert not verify_password(stored_hash, "a wrong password here")
            times.append(time.perf_counter() - start)
        return min(times)

    assert fastest(None) > 0.3 * fastest(stored)


def test_weaker_old_hashes_are_flagged_for_rehashing() -> None:
    """A hash made with weaker parameters than today's still verifies and asks to be renewed."""
    old = PasswordHasher(time_cost=1, memory_cost=8192).hash(PASSWORD)
    assert verify_password(old, PASSWORD)
    assert needs_rehash(old)
    assert not needs_rehash(hash_password(PASSWORD))
