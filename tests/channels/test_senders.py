"""Sender pools: token buckets never exceed their rate (simulated time), holds, spreading,
published defaults, the preview's wording, and the settings that configure them."""

from __future__ import annotations

import random

import pytest

from crisiscast.channels.senders import (
    SenderPool,
    SenderSpec,
    TokenBucket,
    about,
    default_rate,
    send_seconds,
    send_time,
    sender_specs,
)
from crisiscast.config import SenderRate, load_settings
from crisiscast.errors import ConfigError

TWILIO = {"TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": "t" * 20}


class Clock:
    """Simulated time: ``sleep`` moves it, nothing waits."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


def _max_in_window(times: list[float], window: float) -> int:
    """The most sends in any window of ``window`` seconds."""
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


@pytest.mark.parametrize(("rate", "burst"), [(1.0, 1.0), (3.0, 1.0), (100.0, 5.0), (250.0, 12.5)])
def test_bucket_never_exceeds_its_rate(rate: float, burst: float) -> None:
    """Callers arriving at random keep to burst + rate * w sends in every window w."""
    clock = Clock()
    bucket = TokenBucket(rate, burst, clock)
    sent: list[float] = []
    chance = random.Random(7)
    for _ in range(2_000):
        clock.sleep(chance.expovariate(rate * 3) if chance.random() < 0.9 else chance.random())
        at = bucket.reserve()
        assert at >= clock.now  # never a slot in the past
        sent.append(at)
    for window in (1.0 / rate, 0.5, 1.0, 5.0):
        assert _max_in_window(sent, window) <= burst + rate * window + 1e-9


def test_bucket_saturated_sends_at_exactly_its_rate() -> None:
    """A caller that always waits for its slot sends rate per second, no more, no less."""
    clock = Clock()
    bucket = TokenBucket(100.0, 1.0, clock)
    for _ in range(1_000):
        clock.sleep(bucket.reserve() - clock.now)
    assert clock.now - 1000.0 == pytest.approx(9.99)


def test_hold_keeps_every_slot_after_retry_after() -> None:
    """After a 429 with Retry-After: 2, no slot is given before the two seconds are up."""
    clock = Clock()
    bucket = TokenBucket(10.0, 3.0, clock)
    bucket.hold(2.0)
    assert bucket.held()
    slots = [bucket.reserve() for _ in range(5)]
    assert min(slots) >= 1002.0
    clock.sleep(2.0)
    assert not bucket.held()


def test_pool_spreads_across_senders_at_their_rates() -> None:
    """10 senders at 100/s: 1,000 messages take one second, 100 on each sender."""
    clock = Clock()
    pool = SenderPool([SenderSpec(f"s{i}", 100.0) for i in range(10)], account="t", clock=clock,
                      shared=False)  # fmt: skip
    per_sender = [0] * 10
    last = 0.0
    for _ in range(1_000):
        index, at = pool.take()
        per_sender[index] += 1
        last = max(last, at)
    assert per_sender == [100] * 10
    assert last - 1000.0 == pytest.approx(0.99)
    assert pool.rate == 1000.0 and pool.describe() == "10 senders at 100/s"


def test_pool_skips_a_held_sender() -> None:
    """A sender held after a 429 gets no slot while another sender is free."""
    clock = Clock()
    pool = SenderPool([SenderSpec("a", 10.0), SenderSpec("b", 10.0)], account="t", clock=clock,
                      shared=False)  # fmt: skip
    pool.hold(0, 5.0)
    picks = [pool.take() for _ in range(4)]
    assert {index for index, _ in picks} == {1}
    assert all(at < 1005.0 for _, at in picks)


def test_shared_buckets_are_one_budget_per_sender() -> None:
    """Two shards' pools over the same account and sender draw on one bucket."""
    clock = Clock()
    specs = [SenderSpec("+15005550006", 1.0)]
    one = SenderPool(specs, account="twilio:ACshared", clock=clock)
    two = SenderPool(specs, account="twilio:ACshared", clock=clock)
    assert one.buckets[0] is two.buckets[0]
    first, second = one.take()[1], two.take()[1]
    assert second - first == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("sender", "rate"),
    [("+15005550006", 1.0), ("+18005550006", 3.0), ("12345", 100.0), ("MG" + "a" * 32, 1.0)],
)
def test_published_default_rates(sender: str, rate: float) -> None:
    """Unconfigured senders get their published rate: long code 1, toll-free 3, short code 100;
    a Messaging Service (rate unknown) a long code's."""
    assert default_rate(sender) == rate


@pytest.mark.parametrize(
    ("count", "rate", "text"),
    [(1, 1.0, "under 1 s"), (100_001, 1000.0, "about 2 min"), (100_000, 1.0, "about 27 h 47 min"),
     (61, 1.0, "about 60 s")],
)  # fmt: skip
def test_preview_wording(count: int, rate: float, text: str) -> None:
    """How long a send takes, in the words the preview prints."""
    assert about(send_seconds(count, rate)) == text


def test_settings_read_a_sender_pool() -> None:
    """TWILIO_SENDERS lists senders with optional RATE and /BURST; others get the default."""
    env = {**TWILIO, "TWILIO_SENDERS": "MGabc=100/20, 12345 +15005550006=2"}
    twilio = load_settings(env).twilio
    assert twilio is not None
    assert twilio.senders == (
        SenderRate("MGabc", 100.0, 20.0), SenderRate("12345"), SenderRate("+15005550006", 2.0),
    )  # fmt: skip
    specs = sender_specs(twilio.senders)
    assert [(s.rate, s.burst) for s in specs] == [(100.0, 20.0), (100.0, 5.0), (2.0, 1.0)]


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({**TWILIO, "TWILIO_SENDERS": "MGabc=fast"}, "TWILIO_SENDERS: cannot read sender 1"),
        ({**TWILIO, "TWILIO_SENDERS": "a=1 a=2"}, "listed twice"),
        ({**TWILIO, "TWILIO_SENDERS": "a=0"}, "RATE > 0"),
        ({"TWILIO_FALLBACK_ACCOUNT_SID": "AC1", "TWILIO_FALLBACK_AUTH_TOKEN": "x",
          "TWILIO_FALLBACK_FROM_NUMBER": "+15005550006"}, "needs a primary"),
        ({"SENDGRID_API_KEY": "SG.x", "SENDGRID_FROM_EMAIL": "a@b.c",
          "SENDGRID_REQUESTS_PER_SECOND": "-1"}, "SENDGRID_REQUESTS_PER_SECOND"),
        ({"CRISISCAST_FAILOVER_THRESHOLD": "0"}, "CRISISCAST_FAILOVER_THRESHOLD"),
    ],
)  # fmt: skip
def test_bad_sender_settings_say_what_to_fix(env: dict[str, str], words: str) -> None:
    """Bad rate, duplicate, failover without a primary: one clear error naming the variable."""
    with pytest.raises(ConfigError, match=words):
        load_settings(env)


def test_failover_and_rate_settings() -> None:
    """A second Twilio account and SendGrid's request rate come from the environment."""
    env = {
        **TWILIO, "TWILIO_FROM_NUMBER": "+15005550006",
        "TWILIO_FALLBACK_ACCOUNT_SID": "AC" + "1" * 32, "TWILIO_FALLBACK_AUTH_TOKEN": "u" * 20,
        "TWILIO_FALLBACK_SENDERS": "MGdef=50", "SENDGRID_API_KEY": "SG.x",
        "SENDGRID_FROM_EMAIL": "a@b.example", "SENDGRID_REQUESTS_PER_SECOND": "4",
        "CRISISCAST_FAILOVER_THRESHOLD": "2", "CRISISCAST_FAILOVER_COOLDOWN": "5",
    }  # fmt: skip
    settings = load_settings(env)
    assert settings.twilio_fallback is not None
    assert settings.twilio_fallback.senders == (SenderRate("MGdef", 50.0),)
    assert settings.sendgrid is not None and settings.sendgrid.requests_per_second == 4.0
    assert (settings.failover.threshold, settings.failover.cooldown_seconds) == (2, 5.0)
    assert settings.offline().twilio_fallback is None


def test_send_time_says_how_long_the_send_takes() -> None:
    """The preview's line per channel, from the configured pool and SendGrid's request rate."""
    pool = " ".join(f"MG{i}=100" for i in range(10))
    env = {**TWILIO, "TWILIO_SENDERS": pool, "SENDGRID_API_KEY": "SG.x",
           "SENDGRID_FROM_EMAIL": "a@b.example"}  # fmt: skip
    settings = load_settings(env)
    assert send_time("sms", 100_000, settings) == (
        "100,000 SMS over 10 senders at 100/s: about 2 min"
    )
    assert send_time("sms", 100_000, settings, segments=2) == (
        "100,000 SMS over 10 senders at 100/s (2 segments each): about 4 min"
    )
    assert send_time("email", 100_000, settings) == (
        "100,000 emails in 100 SendGrid requests at 10/s: about 10 s"
    )
    assert "outbox" in (send_time("sms", 5, load_settings({})) or "")
    assert send_time("social", 5, settings) is None
