"""The pool dispatcher in simulated time: each sender kept within its rate, recipients spread,
a 429's Retry-After honoured on that sender only, trouble stopping the batch without resending,
and the Retry-After / X-RateLimit-Reset header arithmetic."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from typing import ClassVar

import pytest

from crisiscast.channels.base import (
    Channel,
    ChannelKind,
    ChannelTrouble,
    DeliveryResult,
    OutgoingMessage,
    PreparedMessage,
)
from crisiscast.channels.dispatch import (
    Outcome,
    PoolDispatcher,
    RateLimited,
    retry_after_seconds,
)
from crisiscast.channels.senders import SenderPool, SenderSpec
from crisiscast.errors import RetryableChannelError


class Stub(Channel):
    """Only what the dispatcher asks of a channel: its name and batch size."""

    kind: ClassVar[ChannelKind] = "sms"
    name: ClassVar[str] = "stub-sms"
    batch_size: ClassVar[int] = 10_000

    def to_url(self, redact: bool = True) -> str:
        return "stub://"

    def prepare(self, message: OutgoingMessage) -> PreparedMessage:
        return PreparedMessage(message, (message.text,), 1, "gsm7")

    def send(self, batch: Sequence[OutgoingMessage]) -> list[DeliveryResult]:
        raise NotImplementedError


class Sim:
    """Simulated time for the dispatcher: its sleep moves the clock."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)  # requests already started run first, at the time they started
        self.now += max(0.0, seconds)


def _dispatcher(sim: Sim, specs: list[SenderSpec]) -> PoolDispatcher:
    pool = SenderPool(specs, account="sim", clock=sim, shared=False)
    return PoolDispatcher(pool, concurrency=16, clock=sim, sleep=sim.sleep)


def _batch(count: int) -> list[OutgoingMessage]:
    return [OutgoingMessage(f"k{i}", f"+1555{i:07d}", "en", "Flood") for i in range(count)]


def test_each_sender_stays_within_its_rate_and_shares_the_work() -> None:
    """3 senders at 10, 10 and 5/s (burst 1): 500 messages in ~20 s, none early on any sender."""
    sim = Sim()
    sent: dict[str, list[float]] = defaultdict(list)

    async def send_one(sender: SenderSpec, message: OutgoingMessage) -> Outcome:
        sent[sender.sender].append(sim.now)
        return DeliveryResult.sent(message.key, "id")

    specs = [SenderSpec("a", 10.0), SenderSpec("b", 10.0), SenderSpec("c", 5.0)]
    results = asyncio.run(_dispatcher(sim, specs).send(Stub(), _batch(500), send_one))
    assert {r.status for r in results} == {"sent"}
    assert [len(sent[s]) for s in "abc"] == [200, 200, 100]
    for spec in specs:
        gaps = [b - a for a, b in zip(sent[spec.sender], sent[spec.sender][1:], strict=False)]
        assert min(gaps) >= 1 / spec.rate - 1e-9
    assert sim.now == pytest.approx(19.9, abs=0.2)


def test_retry_after_holds_that_sender_only_and_the_message_goes_once() -> None:
    """'a' answers 429 with Retry-After 3 once: nothing more on 'a' for 3 s, 'b' carries on,
    and the refused message is sent again exactly once."""
    sim = Sim()
    sent: dict[str, list[tuple[float, str]]] = defaultdict(list)
    refused = [False]

    async def send_one(sender: SenderSpec, message: OutgoingMessage) -> Outcome:
        if sender.sender == "a" and not refused[0]:
            refused[0] = True
            refusal_at.append(sim.now)
            return RateLimited(3.0, "rate limited (20429)")
        sent[sender.sender].append((sim.now, message.key))
        return DeliveryResult.sent(message.key, "id")

    refusal_at: list[float] = []
    dispatcher = _dispatcher(sim, [SenderSpec("a", 10.0), SenderSpec("b", 10.0)])
    results = asyncio.run(dispatcher.send(Stub(), _batch(60), send_one))
    assert {r.status for r in results} == {"sent"}
    keys = [key for s in "ab" for _, key in sent[s]]
    assert sorted(keys) == sorted(f"k{i}" for i in range(60))  # each once
    assert all(t >= refusal_at[0] + 3.0 for t, _ in sent["a"])
    assert any(t < refusal_at[0] + 3.0 for t, _ in sent["b"])
    assert dispatcher.rate_limited == 1


def test_trouble_stops_new_sends_and_defers_the_rest() -> None:
    """A 503 on the 5th message: nothing new starts; unsent ones come back deferred."""
    sim = Sim()
    calls: list[str] = []

    async def send_one(sender: SenderSpec, message: OutgoingMessage) -> Outcome:
        calls.append(message.key)
        if len(calls) == 5:
            return ChannelTrouble(True, "Twilio unavailable (HTTP 503)")
        return DeliveryResult.sent(message.key, "id")

    pool = SenderPool([SenderSpec("a", 100.0)], account="sim", clock=sim, shared=False)
    dispatcher = PoolDispatcher(pool, concurrency=1, clock=sim, sleep=sim.sleep)
    results = asyncio.run(dispatcher.send(Stub(), _batch(10), send_one))
    assert len(calls) == 5
    assert [r.status for r in results[:4]] == ["sent"] * 4
    assert all(r.status == "failed" and r.retryable for r in results[4:])


def test_trouble_before_anything_was_sent_raises() -> None:
    """Nothing went out: the whole batch is the caller's to retry."""
    sim = Sim()

    async def send_one(sender: SenderSpec, message: OutgoingMessage) -> Outcome:
        return ChannelTrouble(True, "cannot connect to Twilio")

    with pytest.raises(RetryableChannelError, match="cannot connect"):
        asyncio.run(_dispatcher(sim, [SenderSpec("a", 1.0)]).send(Stub(), _batch(3), send_one))


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("2", 2.0), ("0.25", 0.25), (None, None), ("soon", None), ("1700000010", 10.0),
     ("-3", 0.0)],
)  # fmt: skip
def test_retry_after_header(value: str | None, seconds: float | None) -> None:
    """Seconds as given; an epoch (X-RateLimit-Reset) counted from now; unreadable is None."""
    assert retry_after_seconds(value, now=1_700_000_000.0) == seconds


def test_an_unexpected_error_stops_the_batch_and_is_raised() -> None:
    """A bug in a send is not swallowed: nothing new starts and the error reaches the caller."""
    sim = Sim()
    calls: list[str] = []

    async def send_one(sender: SenderSpec, message: OutgoingMessage) -> Outcome:
        calls.append(message.key)
        if len(calls) == 3:
            raise KeyError("sid")
        return DeliveryResult.sent(message.key, "id")

    pool = SenderPool([SenderSpec("a", 100.0)], account="sim", clock=sim, shared=False)
    dispatcher = PoolDispatcher(pool, concurrency=1, clock=sim, sleep=sim.sleep)
    with pytest.raises(KeyError):
        asyncio.run(dispatcher.send(Stub(), _batch(10), send_one))
    assert len(calls) == 3
