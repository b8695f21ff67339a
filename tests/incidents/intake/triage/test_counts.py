"""Head counts and money read from replies in English, Thai and Lao."""

from __future__ import annotations

import pytest

from crisiscast.incidents.intake.triage.counts import (
    ascii_digits,
    everyone,
    money_amount,
    people_count,
)


def read(text: str) -> str:
    """Replies are lower-cased and their digits made ASCII before reading."""
    return ascii_digits(text.lower())


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("200 people are trapped", 200),
        ("50 staff cannot work", 50),
        ("1,200 residents have no water", 1200),
        ("hundreds of people", 200),
        ("we are 12 elderly villagers", 12),
        ("มีคนติดอยู่สองร้อยคน", 200),
        ("มี ๒๐๐ คน", 200),
        ("ยี่สิบเอ็ดคน", 21),
        ("ມີຄົນສາມສິບຄົນ", 30),
    ],
)
def test_people_counts(text: str, count: int) -> None:
    """Digits, Thai/Lao digits and number words next to a people noun give the head count."""
    found = people_count(read(text))
    assert found is not None
    assert found[0] == count


def test_durations_are_not_people() -> None:
    """A number without a people noun ("2 hours") is not a head count."""
    assert people_count(read("the power went out 2 hours ago")) is None


@pytest.mark.parametrize(
    "text", ["Everyone here is sick", "the whole village is cut off", "ทุกคนในหมู่บ้าน"]
)
def test_whole_groups(text: str) -> None:
    """Words for a whole group are found without a number."""
    assert everyone(read(text))


@pytest.mark.parametrize(
    ("text", "amount"),
    [("we lost $5,000", 5000.0), ("2 million baht", 2e6), ("เสียหาย 30000 บาท", 30000.0)],
)
def test_money(text: str, amount: float) -> None:
    """Amounts with a currency sign or word are read, scaled by million/thousand words."""
    found = money_amount(read(text))
    assert found is not None
    assert found[0] == amount
