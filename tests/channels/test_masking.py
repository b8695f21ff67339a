"""Masking of phone numbers, emails and secrets before they reach logs and errors."""

from __future__ import annotations

import pytest

from crisiscast.channels.masking import mask_address, mask_email, mask_phone, mask_secret


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("+15005550006", "+1500****006"),
        ("+66812345678", "+6681****678"),
        ("+4412", "****"),
    ],
)
def test_mask_phone(value: str, masked: str) -> None:
    """Phones keep the prefix and the last 3 digits only."""
    assert mask_phone(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [("jane.doe@example.com", "j***@example.com"), ("@nodomain", "****"), ("plain", "****")],
)
def test_mask_email(value: str, masked: str) -> None:
    """Emails keep the first letter and the domain."""
    assert mask_email(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        (None, "-"),
        ("+15005550006", "+1500****006"),
        ("ana@example.org", "a***@example.org"),
        ("@crisiscast", "****"),
    ],
)
def test_mask_address_picks_the_rule(value: str | None, masked: str) -> None:
    """Any address is masked by its kind; handles are hidden entirely."""
    assert mask_address(value) == masked


def test_mask_secret() -> None:
    """Secrets are hidden; a suffix is shown only for long tokens when asked."""
    assert mask_secret("short") == "****"
    assert mask_secret("SG.abcdefghijklmnop1234", show_last=4) == "****1234"
    assert mask_secret("short-token", show_last=4) == "****"
