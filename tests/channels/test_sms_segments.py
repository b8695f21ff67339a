"""SMS segment counting: GSM-7 vs UCS-2, extension characters, boundaries, cost."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crisiscast.channels.sms_segments import (
    count_segments,
    encoding_for,
    estimate_cost,
    non_gsm_characters,
    split_segments,
)

THAI = "ประกาศ"  # 6 code units
LAO = "ປະກາດ"  # 5 code units


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", "gsm7", 0, 0),
        ("Call 0800 123", "gsm7", 13, 1),
        ("a" * 160, "gsm7", 160, 1),
        ("a" * 161, "gsm7", 161, 2),
        ("a" * 306, "gsm7", 306, 2),
        ("a" * 307, "gsm7", 307, 3),
        ("€" * 80, "gsm7", 160, 1),  # extension chars count 2
        ("€" * 81, "gsm7", 162, 2),
        ("a" * 159 + "[", "gsm7", 161, 2),
        ("ñäöüàéùìòÇß£¥¿¡§ΔΩ", "gsm7", 18, 1),  # all in the GSM basic table
        ("Ünï ñ", "ucs2", 5, 1),  # ï is not GSM-7
        ("ñ" * 160, "gsm7", 160, 1),  # ñ is in the GSM basic table
        ("é" * 70 + "í", "ucs2", 71, 2),  # í is not
        ("a" * 70 + "😀", "ucs2", 72, 2),  # emoji: 2 UTF-16 code units
        ("😀" * 35, "ucs2", 70, 1),
        ("😀" * 36, "ucs2", 72, 2),
        (THAI * 11 + "ป" * 4, "ucs2", 70, 1),  # Thai is UCS-2: 70 per segment
        (THAI * 11 + "ป" * 5, "ucs2", 71, 2),
        (LAO * 14, "ucs2", 70, 1),  # Lao too
        (LAO * 14 + "ກ", "ucs2", 71, 2),
        ("ก" * 134, "ucs2", 134, 2),
        ("ก" * 135, "ucs2", 135, 3),
    ],
)
def test_count_segments_table(text: str, encoding: str, units: int, segments: int) -> None:
    """Encoding, units and segments match what carriers bill."""
    count = count_segments(text)
    assert (count.encoding, count.units, count.segments) == (encoding, units, segments)


def test_split_never_cuts_an_escape_or_a_surrogate_pair() -> None:
    """Concatenated parts keep extension chars and emoji whole, within 153 / 67 units."""
    gsm = "a" * 152 + "€" + "b" * 10
    assert [len(p) for p in split_segments(gsm)] == [152, 11]
    emoji = "a" * 66 + "😀" + "bbb"
    parts = split_segments(emoji)
    assert parts == ["a" * 66, "😀bbb"] and "".join(parts) == emoji


def test_non_gsm_characters_explain_ucs2() -> None:
    """The preview can say which characters force UCS-2."""
    assert non_gsm_characters("Hello “friend” ñ") == "“”"
    assert encoding_for("Hello friend ñ") == "gsm7"


@pytest.mark.parametrize(
    ("text", "recipients", "cost"),
    [("a" * 160, 1000, Decimal("7.900")), ("a" * 161, 1000, Decimal("15.800")), ("", 10, 0)],
)
def test_estimate_cost(text: str, recipients: int, cost: Decimal) -> None:
    """Cost is price per segment x segments x recipients."""
    assert estimate_cost(text, Decimal("0.0079"), recipients) == cost
