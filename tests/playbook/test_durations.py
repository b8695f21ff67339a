from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crisiscast.playbook import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15m", timedelta(minutes=15)),
        ("1h", timedelta(hours=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("2d", timedelta(days=2)),
        ("1w", timedelta(weeks=1)),
        ("90s", timedelta(seconds=90)),
        (" 2H ", timedelta(hours=2)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    """Short duration text parses to the timedelta an SLA timer uses."""
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "60", "1x", "h", "1m1h", "0m", "-5m", "1.5h"])
def test_parse_duration_rejects(text: str) -> None:
    """Text that is not a positive duration fails with an example of the right form."""
    with pytest.raises(ValueError, match=r"e\.g\. 15m|longer than 0"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["15m", "1h", "1h30m", "2d", "1d2h"])
def test_format_duration_round_trips(text: str) -> None:
    """Formatting a parsed duration gives back the same short text."""
    assert format_duration(parse_duration(text)) == text


@given(st.integers(min_value=1, max_value=10**7))
def test_any_whole_second_duration_round_trips(seconds: int) -> None:
    """Every positive duration formats to text that parses back to the same value."""
    value = timedelta(seconds=seconds)
    assert parse_duration(format_duration(value)) == value
