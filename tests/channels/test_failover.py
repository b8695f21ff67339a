"""Failover: the circuit breaker's states, which messages move to the secondary (only those the
primary did not take), no duplicates, and the breaker closing again; then the real twilio SDK
against two local servers, the primary answering 503."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

import pytest
from channel_servers import Reply, ScriptedServer
from pydantic import SecretStr

from crisiscast.channels.base import (
    Channel,
    ChannelKind,
    DeliveryResult,
    OutgoingMessage,
    PreparedMessage,
)
from crisiscast.channels.failover import (
    CircuitBreaker,
    EmailFailover,
    SmsFailover,
    routed_id,
    with_failover,
)
from crisiscast.channels.twilio_sms import TwilioSmsChannel
from crisiscast.config import FailoverSettings, SenderRate, TwilioSettings
from crisiscast.errors import ConfigError, PermanentChannelError, RetryableChannelError

Behaviour = Callable[[Sequence[OutgoingMessage]], list[DeliveryResult]]


class FakeSms(Channel):
    """A test double: sends with ``behaviour`` and remembers every key it was handed."""

    kind: ClassVar[ChannelKind] = "sms"
    name: ClassVar[str] = "fake-sms"
    batch_size: ClassVar[int] = 1000

    def __init__(self, behaviour: Behaviour | None = None) -> None:
        self.behaviour = behaviour or (
            lambda b: [DeliveryResult.sent(m.key, f"id-{m.key}") for m in b]
        )
        self.handed: list[str] = []

    def to_url(self, redact: bool = True) -> str:
        return "fake-sms://"

    def prepare(self, message: OutgoingMessage) -> PreparedMessage:
        return PreparedMessage(message, (message.text,), 1, "gsm7")

    def send(self, batch: Sequence[OutgoingMessage]) -> list[DeliveryResult]:
        self.handed += [m.key for m in batch]
        return self.behaviour(batch)


def raising(error: Exception) -> Behaviour:
    def behaviour(batch: Sequence[OutgoingMessage]) -> list[DeliveryResult]:
        raise error

    return behaviour


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def batch(*keys: str) -> list[OutgoingMessage]:
    return [OutgoingMessage(k, "+15005550009", "en", "Flood warning") for k in keys]


def test_breaker_opens_at_the_threshold_and_closes_after_a_good_try() -> None:
    """closed -> open after 3 failures -> half-open after the cooldown -> closed on success."""
    clock = Clock()
    breaker = CircuitBreaker(threshold=3, cooldown=30.0, clock=clock)
    assert [breaker.failure() for _ in range(3)] == [False, False, True]
    assert breaker.state == "open" and not breaker.use_primary()
    clock.now = 29.9
    assert breaker.state == "open"
    clock.now = 30.0
    assert breaker.state == "half-open" and breaker.use_primary()
    assert breaker.success() is True
    assert breaker.state == "closed" and breaker.trips == 1


def test_breaker_half_open_failure_opens_again_and_permanent_opens_at_once() -> None:
    """A failed try after the cooldown opens it for another cooldown; bad credentials trip it."""
    clock = Clock()
    breaker = CircuitBreaker(threshold=5, cooldown=10.0, clock=clock)
    assert breaker.failure(permanent=True) is True
    clock.now = 10.0
    assert breaker.failure() is True
    assert breaker.state == "open" and breaker.opened_at == 10.0 and breaker.trips == 2


def test_below_the_threshold_the_error_goes_to_the_caller() -> None:
    """One 503 is not an outage: the caller backs off and retries the primary."""
    primary = FakeSms(raising(RetryableChannelError("fake-sms: HTTP 503")))
    secondary = FakeSms()
    channel = SmsFailover(primary, secondary, CircuitBreaker(3, 30.0))
    with pytest.raises(RetryableChannelError):
        channel.send(batch("a", "b"))
    assert secondary.handed == []


def test_whole_batch_moves_when_the_primary_sent_nothing() -> None:
    """At the threshold the batch the primary refused goes to the secondary, recorded as such."""
    primary = FakeSms(raising(RetryableChannelError("fake-sms: HTTP 503")))
    secondary = FakeSms()
    channel = SmsFailover(primary, secondary, CircuitBreaker(1, 30.0))
    results = channel.send(batch("a", "b"))
    assert secondary.handed == ["a", "b"]
    assert [r.provider_id for r in results] == [
        routed_id("fake-sms", "id-a"),
        routed_id("fake-sms", "id-b"),
    ]
    assert results[0].provider_id == "failover:fake-sms:id-a"


def test_only_deferred_messages_move_never_sent_or_unknown_ones() -> None:
    """Primary sent 'a', timed out on 'b' (unknown), deferred 'c' and 'd': only c and d move."""

    def partly(b: Sequence[OutgoingMessage]) -> list[DeliveryResult]:
        return [
            DeliveryResult.sent("a", "id-a"),
            DeliveryResult.failed("b", "outcome unknown: timed out; not sent again"),
            DeliveryResult.failed("c", "deferred: HTTP 503", retryable=True),
            DeliveryResult.failed("d", "deferred: HTTP 503", retryable=True),
        ]

    primary, secondary = FakeSms(partly), FakeSms()
    channel = SmsFailover(primary, secondary, CircuitBreaker(1, 30.0))
    results = channel.send(batch("a", "b", "c", "d"))
    assert secondary.handed == ["c", "d"]
    assert [r.status for r in results] == ["sent", "failed", "sent", "sent"]
    assert [r.provider_id for r in results] == [
        "id-a", None, "failover:fake-sms:id-c", "failover:fake-sms:id-d",
    ]  # fmt: skip


def test_bad_credentials_fail_over_at_once() -> None:
    """A rejected primary account is not retried: the batch goes to the secondary right away."""
    primary = FakeSms(raising(PermanentChannelError("fake-sms: credentials rejected (20003)")))
    secondary = FakeSms()
    channel = SmsFailover(primary, secondary, CircuitBreaker(5, 30.0))
    assert {r.status for r in channel.send(batch("a"))} == {"sent"}
    assert channel.breaker.state == "open"


def test_breaker_returns_to_the_primary_when_it_recovers() -> None:
    """While open, batches skip the primary; after the cooldown it is tried and used again."""
    clock = Clock()
    healthy = [False]

    def primary_send(b: Sequence[OutgoingMessage]) -> list[DeliveryResult]:
        if not healthy[0]:
            raise RetryableChannelError("fake-sms: HTTP 503")
        return [DeliveryResult.sent(m.key, f"id-{m.key}") for m in b]

    primary, secondary = FakeSms(primary_send), FakeSms()
    channel = SmsFailover(primary, secondary, CircuitBreaker(1, 30.0, clock))
    channel.send(batch("a"))
    channel.send(batch("b"))
    assert primary.handed == ["a"] and secondary.handed == ["a", "b"]
    healthy[0] = True
    clock.now = 31.0
    assert channel.send(batch("c"))[0].provider_id == "id-c"
    channel.send(batch("d"))
    assert primary.handed == ["a", "c", "d"] and secondary.handed == ["a", "b"]
    assert channel.breaker.state == "closed"


def test_no_failover_without_a_secondary_and_only_within_a_medium() -> None:
    """Without a secondary the primary is used as it is; mixing media is a configuration error."""
    primary = FakeSms()
    assert with_failover(primary, None, FailoverSettings(), "k") is primary

    class FakeEmail(FakeSms):
        kind: ClassVar[ChannelKind] = "email"

    with pytest.raises(ConfigError, match="two sms channels"):
        SmsFailover(primary, FakeEmail(), CircuitBreaker(1, 1.0))


def _twilio(url: str, account: str) -> TwilioSmsChannel:
    settings = TwilioSettings(
        "AC" + account * 32, SecretStr("token-0123456789"),
        senders=(SenderRate("+15005550006", 1000.0),), concurrency=1,
    )  # fmt: skip
    return TwilioSmsChannel(settings, base_url=url, timeout=2.0)


def test_real_sdk_primary_503_mid_batch_moves_the_rest_once() -> None:
    """Primary accepts 3 then answers 503: those 3 stay with it, the other 7 go to the second
    account, each number exactly once across both servers."""
    with ScriptedServer(default=Reply(503, {"status": 503, "message": "down"})) as down, \
            ScriptedServer(default=Reply(201, {"sid": "SMb"})) as backup:  # fmt: skip
        down.push(*[Reply(201, {"sid": f"SMa{i}"}) for i in range(3)])
        messages = [OutgoingMessage(f"k{i}", f"+1500555{i:04d}", "en", "Flood") for i in range(10)]
        with SmsFailover(_twilio(down.url, "a"), _twilio(backup.url, "b"),
                         CircuitBreaker(1, 60.0)) as channel:  # fmt: skip
            results = channel.send(messages)
        assert {r.status for r in results} == {"sent"}
        to_primary = [r.form()["To"][0] for r in down.requests]
        to_backup = [r.form()["To"][0] for r in backup.requests]
        accepted = to_primary[:3] + to_backup
        assert sorted(accepted) == sorted(m.address for m in messages)  # none missed, none twice
        assert [r.provider_id for r in results[:3]] == ["SMa0", "SMa1", "SMa2"]
        assert all(r.provider_id == "failover:twilio-sms:SMb" for r in results[3:])
        assert f"AC{'b' * 32}" in backup.requests[0].path


def test_settings_build_a_failover_channel_for_sms_and_email() -> None:
    """With a second Twilio account and an SMTP relay configured, SMS and email fail over."""
    from crisiscast.channels.registry import channel_for
    from crisiscast.config import load_settings

    env = {
        "TWILIO_ACCOUNT_SID": "AC" + "1" * 32, "TWILIO_AUTH_TOKEN": "t" * 20,
        "TWILIO_FROM_NUMBER": "+15005550006", "TWILIO_FALLBACK_ACCOUNT_SID": "AC" + "2" * 32,
        "TWILIO_FALLBACK_AUTH_TOKEN": "u" * 20, "TWILIO_FALLBACK_SENDERS": "12345",
        "SENDGRID_API_KEY": "SG.key", "SENDGRID_FROM_EMAIL": "a@b.example",
        "CRISISCAST_SMTP_URL": "smtp://relay.example:587?from=a@b.example",
    }  # fmt: skip
    settings = load_settings(env)
    with channel_for("sms", settings) as sms, channel_for("email", settings) as email:
        assert isinstance(sms, SmsFailover)
        assert (sms.primary.name, sms.secondary.name) == ("twilio-sms", "twilio-sms")
        assert "u" * 20 not in sms.to_url() and "12345" in sms.to_url()
        assert isinstance(email, EmailFailover)
        assert (email.primary.name, email.secondary.name) == ("sendgrid-email", "smtp-email")
