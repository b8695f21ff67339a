"""Pure broadcast rules: reach, shards, language choice, backoff and pacing."""

from __future__ import annotations

import pytest

from crisiscast.incidents.broadcast.decisions import (
    Content,
    address_column,
    backoff_seconds,
    pace_wait,
    pick_language,
    reach,
    shards,
    split_batch,
)

AUDIENCES = {"residents": ["sms"], "public": ["banner", "social"], "registered": ["email"]}


def test_reach_lists_the_audiences_of_a_channel() -> None:
    """SMS reaches the audiences that list it; every defined audience is known for the filter."""
    sms = reach(AUDIENCES, "sms")
    assert sms.audiences == ("residents",)
    assert sms.defined == ("public", "registered", "residents")
    assert reach({}, "email").defined == ()


@pytest.mark.parametrize(
    ("lowest", "highest", "size", "expected"),
    [
        (1, 25, 10, [(1, 10), (11, 20), (21, 25)]),
        (5, 5, 10, [(5, 5)]),
        (1, 0, 10, []),
        (1, 20, 10, [(1, 10), (11, 20)]),
    ],
)
def test_shards_cover_every_id_once(
    lowest: int, highest: int, size: int, expected: list[tuple[int, int]]
) -> None:
    """Shards are inclusive id ranges that cover lowest..highest without overlap."""
    assert shards(lowest, highest, size) == expected


def test_shard_size_must_be_positive() -> None:
    """A zero shard size is a programming error, said plainly."""
    with pytest.raises(ValueError, match="at least 1"):
        shards(1, 10, 0)


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [("th", "th"), ("th-TH", "th"), ("fr", "en"), (None, "en"), ("lo", "lo")],
)
def test_language_falls_back_to_base_then_default(wanted: str | None, expected: str) -> None:
    """A contact gets its language, its base language, or the playbook default."""
    assert pick_language(wanted, ["en", "th", "lo"], "en") == expected


@pytest.mark.parametrize(
    ("attempt", "jitter", "expected"),
    [(1, 0.0, 0.25), (1, 1.0, 0.5), (2, 0.0, 0.5), (3, 0.5, 1.5), (10, 1.0, 30.0)],
)
def test_backoff_is_exponential_with_jitter_and_a_cap(
    attempt: int, jitter: float, expected: float
) -> None:
    """Delay doubles per attempt, jitter spreads it over the upper half, the cap bounds it."""
    assert backoff_seconds(attempt, base=0.5, cap=30.0, jitter=jitter) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("sent", "now", "rate", "wait"),
    [(0, 0.0, 1.0, 0.0), (3, 1.0, 1.0, 2.0), (3, 5.0, 1.0, 0.0), (100, 0.0, None, 0.0)],
)
def test_pacing_keeps_under_the_rate(
    sent: int, now: float, rate: float | None, wait: float
) -> None:
    """The sender waits just long enough to stay within the channel's rate; no rate, no wait."""
    assert pace_wait(sent, 0.0, now, rate) == pytest.approx(wait)


def test_a_batch_is_split_by_message_and_opt_out() -> None:
    """Each contact gets the row in its language (base language, then the default); contacts
    opted out of everything or at this address are set apart, order kept."""
    contents = {
        "en": Content(10, "en", "Flood", None, None),
        "th": Content(11, "th", "น้ำท่วม", None, None),
    }
    contacts = [
        (1, "+66810000001", "th", False),
        (2, "+66810000002", "th-TH", False),
        (3, "+66810000003", "fr", False),
        (4, "+66810000004", "th", True),  # opted out of everything
        (5, "+66810000005", None, False),  # opted out of SMS at this address
        (6, "+66810000006", "en", False),
    ]
    send, quiet = split_batch(contacts, contents, "en", {"+66810000005"})
    assert send == {
        11: [(1, "+66810000001"), (2, "+66810000002")],
        10: [(3, "+66810000003"), (6, "+66810000006")],
    }
    assert quiet == {11: [(4, "+66810000004")], 10: [(5, "+66810000005")]}


def test_only_per_recipient_channels_have_an_address_column() -> None:
    assert (address_column("sms"), address_column("email")) == ("phone", "email")
    with pytest.raises(ValueError, match="'banner' is not a per-recipient channel"):
        address_column("banner")
