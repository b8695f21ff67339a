"""Send a batch one message per request over a sender pool, concurrently, at the senders' rates.

A provider without a batch API (Twilio's Messages) is fast only when many requests are in
flight: 10 senders at 100/s need 1,000 requests a second. The sync SDK path tops out near
that on this kind of machine (BENCHMARKS.md), so the dispatcher runs the SDK's async client on
one event loop thread per channel. One pacer waits for the sender free soonest, reserves its
slot when the request starts (``SenderPool.take_now``) and starts it as a task.

Per message: sent or a recipient failure is final; ``RateLimited`` (429) holds that sender for
``Retry-After`` and puts the message back (it was not accepted); ``ChannelTrouble`` (5xx, bad
credentials, a timeout) stops the batch: requests in flight finish, nothing new starts, and the
rest is settled by ``base.settle`` (deferred, or raised when nothing went out).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from crisiscast.channels.base import (
    Channel,
    ChannelTrouble,
    DeliveryResult,
    OutgoingMessage,
    check_batch_size,
    missing_address,
    settle,
)
from crisiscast.channels.senders import Clock, SenderPool, SenderSpec

T = TypeVar("T")
# A 429 without Retry-After holds the sender this long; a message refused this many times in a
# row makes the batch's trouble (the provider's budget is not what the pool was told).
DEFAULT_HOLD_SECONDS = 1.0
MAX_RATE_LIMITED = 5


@dataclass(frozen=True, slots=True)
class RateLimited:
    """The provider refused this message for going too fast (429): nothing was sent."""

    retry_after: float | None
    reason: str


Outcome = DeliveryResult | ChannelTrouble | RateLimited
SendOne = Callable[[SenderSpec, OutgoingMessage], Awaitable[Outcome]]


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Pure: a ``Retry-After`` (seconds) or ``X-RateLimit-Reset`` (epoch seconds) header value as
    seconds to wait from ``now`` (epoch); None when absent or unreadable."""
    if not value:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None  # an HTTP date: rare from these APIs; the default hold applies
    if number > 1_000_000_000:  # an epoch timestamp, as SendGrid's X-RateLimit-Reset
        return max(0.0, number - (time.time() if now is None else now))
    return max(0.0, number)


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop when installed (a dependency on CPython/Linux): the send path's transport
    costs less CPU on it, and CPU is what a loaded machine runs out of first."""
    try:
        import uvloop
    except ImportError:  # Windows, PyPy: the standard loop
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


class LoopThread:
    """One asyncio event loop on a daemon thread, for a sync caller (a Prefect task thread)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the loop and wait for its result (exceptions propagate)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._started()).result()

    def _started(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = _new_loop()
                self._thread = threading.Thread(
                    target=loop.run_forever, name="crisiscast-send", daemon=True
                )
                self._thread.start()
                self._loop = loop
            return self._loop

    def close(self, last: Callable[[], Coroutine[Any, Any, None]] | None = None) -> None:
        """Run ``last`` (close the HTTP session) on the loop, then stop it; safe to call twice."""
        with self._lock:
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is None or thread is None:
            return
        if last is not None:
            asyncio.run_coroutine_threadsafe(last(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


class PoolDispatcher:
    """Sends batches over ``pool`` with up to ``concurrency`` requests in flight."""

    def __init__(
        self,
        pool: SenderPool,
        *,
        concurrency: int,
        clock: Clock = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        default_hold: float = DEFAULT_HOLD_SECONDS,
        max_rate_limited: int = MAX_RATE_LIMITED,
    ) -> None:
        self.pool = pool
        self.concurrency = max(1, concurrency)
        self.clock = clock
        self.sleep = sleep
        self.default_hold = default_hold
        self.max_rate_limited = max_rate_limited
        self.rate_limited = 0  # 429s seen: the benchmark and the logs report it

    async def send(
        self,
        channel: Channel,
        batch: Sequence[OutgoingMessage],
        send_one: SendOne,
        cost: Callable[[OutgoingMessage], float] | None = None,
    ) -> list[DeliveryResult]:
        """One result per message, in order (see the module docstring). ``cost``: what a
        message takes of its sender's rate (an SMS's segments); 1 by default.

        One pacer hands out the slots: it waits for the sender free soonest, reserves it at the
        moment it starts the request, and starts it; up to ``concurrency`` run at once.
        """
        check_batch_size(channel, batch)
        results: dict[int, DeliveryResult] = {}
        queue = deque(enumerate(batch))
        refused = [0] * len(batch)
        trouble: list[ChannelTrouble] = []
        slots = asyncio.Semaphore(self.concurrency)
        running: set[asyncio.Task[None]] = set()

        crashed: list[BaseException] = []

        async def one(index: int, message: OutgoingMessage, sender: int) -> None:
            try:
                outcome = await send_one(self.pool.senders[sender], message)
            except BaseException as exc:  # a bug, not an outcome: stop, and raise it below
                crashed.append(exc)
                raise
            finally:
                slots.release()
            if isinstance(outcome, RateLimited):  # not accepted: hold the sender, send again
                self.rate_limited += 1
                self.pool.hold(sender, outcome.retry_after or self.default_hold)
                refused[index] += 1
                if refused[index] >= self.max_rate_limited:
                    trouble.append(ChannelTrouble(True, outcome.reason))
                queue.append((index, message))
            elif isinstance(outcome, ChannelTrouble):
                trouble.append(outcome)
            else:
                results[index] = outcome

        while (queue or running) and not trouble and not crashed:
            if not queue:  # the rest is in flight; a 429 may put a message back
                await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                continue
            index, message = queue.popleft()
            if not message.address:
                results[index] = missing_address(message)
                continue
            await slots.acquire()
            sender = await self._slot(cost(message) if cost else 1.0)
            if trouble or crashed:  # a request failed while this one waited for its slot
                slots.release()
                queue.appendleft((index, message))
                break
            task = asyncio.create_task(one(index, message, sender))
            running.add(task)
            task.add_done_callback(running.discard)
        if running:
            await asyncio.gather(*running, return_exceptions=True)
        if crashed:  # rows stay in flight: the next run settles them as "outcome unknown"
            raise crashed[0]
        if not trouble:
            return [results[i] for i in range(len(batch))]
        return self._settle(channel, batch, results, trouble)

    async def _slot(self, cost: float) -> int:
        """Wait until a sender is free, and reserve it then."""
        while True:
            sender, wait = self.pool.take_now(cost)
            if wait <= 0:
                return sender
            await self.sleep(wait)

    @staticmethod
    def _settle(
        channel: Channel,
        batch: Sequence[OutgoingMessage],
        results: dict[int, DeliveryResult],
        trouble: list[ChannelTrouble],
    ) -> list[DeliveryResult]:
        done = list(results.values())
        unknown = {t.unknown_key for t in trouble if t.unknown_key is not None}
        first = next((t for t in trouble if t.unknown_key is None), None)
        first = first or ChannelTrouble(trouble[0].retryable, trouble[0].reason)
        pending = [m for i, m in enumerate(batch) if i not in results and m.key not in unknown]
        for key in unknown:  # several requests may time out together: each is unknown
            lost = ChannelTrouble(first.retryable, first.reason, unknown_key=key)
            done += settle(channel, [], [m for m in batch if m.key == key], lost)
        by_key = {r.key: r for r in settle(channel, done, pending, first)}
        return [by_key[m.key] for m in batch]
