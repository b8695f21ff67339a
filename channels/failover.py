"""Failover: a second provider per medium, behind a circuit breaker.

A medium (SMS, email) may have a secondary provider (another Twilio account, another SendGrid
account). ``FailoverChannel`` sends through the primary while its breaker is closed. When the
primary fails (``threshold`` failed batches in a row: 5xx, timeouts, connection errors; or at
once, rejected credentials), the breaker opens and the messages the primary did *not* take go
to the secondary:

- the primary raised (nothing of the batch was sent): the whole batch moves;
- the primary stopped mid-batch: only its deferred messages move (``base.is_deferred``); what
  it sent stays sent, and a message whose request timed out (outcome unknown) is never moved,
  so nobody gets a message twice.

While open, batches go to the secondary; after ``cooldown_seconds`` one batch tries the
primary again (half-open): success closes the breaker, failure opens it for another cooldown.
Breakers are shared per process (``shared_breaker``), so every shard of a broadcast sees the
same state. A delivery sent by the secondary is recorded with provider id
``failover:<channel>:<id>`` (``routed_id``); the primary's ids are unchanged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import ClassVar, Literal

from crisiscast.channels.base import (
    DEFERRED,
    Channel,
    ChannelKind,
    DeliveryResult,
    OutgoingMessage,
    PreparedMessage,
    check_batch_size,
    is_deferred,
)
from crisiscast.channels.sms_segments import MAX_BODY
from crisiscast.config import FailoverSettings
from crisiscast.errors import ConfigError, PermanentChannelError, RetryableChannelError

log = logging.getLogger("crisiscast.failover")
FAILOVER_PREFIX = "failover"
BreakerState = Literal["closed", "open", "half-open"]


def routed_id(channel: str, provider_id: str | None) -> str:
    """Pure: the ledger's provider id of a delivery the secondary ``channel`` sent."""
    return f"{FAILOVER_PREFIX}:{channel}:{provider_id or '-'}"


class CircuitBreaker:
    """Closed -> open after ``threshold`` failures in a row (or one permanent failure) -> after
    ``cooldown`` seconds half-open (the primary gets one more try) -> closed on success."""

    def __init__(
        self, threshold: int, cooldown: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if threshold < 1 or cooldown < 0:
            raise ConfigError("failover threshold must be >= 1 and its cooldown >= 0 seconds")
        self.threshold = threshold
        self.cooldown = cooldown
        self.clock = clock
        self.failures = 0
        self.opened_at: float | None = None
        self.trips = 0  # times it opened (the benchmark and tests read it)
        self._lock = threading.Lock()

    @property
    def state(self) -> BreakerState:
        with self._lock:
            return self._state()

    def _state(self) -> BreakerState:
        if self.opened_at is None:
            return "closed"
        return "half-open" if self.clock() >= self.opened_at + self.cooldown else "open"

    def use_primary(self) -> bool:
        """Whether the next batch should try the primary (closed, or half-open)."""
        return self.state != "open"

    def success(self) -> bool:
        """The primary sent a batch; returns True when this closed an open breaker."""
        with self._lock:
            reopened = self.opened_at is not None
            self.failures, self.opened_at = 0, None
            return reopened

    def failure(self, *, permanent: bool = False) -> bool:
        """The primary failed a batch; returns True when the breaker is (now) open."""
        with self._lock:
            self.failures += 1
            trip = permanent or self.failures >= self.threshold or self._state() == "half-open"
            if trip:
                if self.opened_at is None or self._state() == "half-open":
                    self.trips += 1
                self.opened_at = self.clock()
            return self.opened_at is not None


_BREAKERS: dict[str, CircuitBreaker] = {}
_BREAKERS_LOCK = threading.Lock()


def shared_breaker(key: str, settings: FailoverSettings) -> CircuitBreaker:
    """This process's breaker for ``key`` (a medium's primary account), made on first use."""
    with _BREAKERS_LOCK:
        breaker = _BREAKERS.get(key)
        if breaker is None or (breaker.threshold, breaker.cooldown) != (
            settings.threshold,
            settings.cooldown_seconds,
        ):
            breaker = _BREAKERS[key] = CircuitBreaker(settings.threshold, settings.cooldown_seconds)
        return breaker


class FailoverChannel(Channel):
    """A primary and a secondary channel of one medium, as one channel (see the module doc)."""

    name: ClassVar[str] = "failover"
    batch_size: ClassVar[int] = 1000
    paces_itself: ClassVar[bool] = True

    def __init__(self, primary: Channel, secondary: Channel, breaker: CircuitBreaker) -> None:
        if primary.kind != self.kind or secondary.kind != self.kind:
            raise ConfigError(
                f"failover for {self.kind} needs two {self.kind} channels, not "
                f"{primary.kind} and {secondary.kind}"
            )
        self.primary = primary
        self.secondary = secondary
        self.breaker = breaker

    def to_url(self, redact: bool = True) -> str:
        """Both providers' URLs, secrets masked unless ``redact`` is False."""
        return f"{self.primary.to_url(redact)} | {self.secondary.to_url(redact)}"

    def prepare(self, message: OutgoingMessage) -> PreparedMessage:
        """What the primary would send (both send the same text)."""
        return self.primary.prepare(message)

    def send(self, batch: Sequence[OutgoingMessage]) -> list[DeliveryResult]:
        """Send through the primary while it works, else through the secondary; never twice."""
        check_batch_size(self, batch)
        if not self.breaker.use_primary():
            return self._secondary(batch)
        try:
            results = _in_chunks(self.primary, batch)
        except RetryableChannelError as exc:
            if not self._failed(str(exc)):
                raise  # below the threshold: the caller backs off and retries the batch
            return self._secondary(batch)
        except PermanentChannelError as exc:
            self._failed(str(exc), permanent=True)
            return self._secondary(batch)
        moved = {r.key for r in results if is_deferred(r)}
        if not moved:
            if self.breaker.success():
                log.warning("channel=%s primary %s is back", self.kind, self.primary.name)
            return results
        reason = next(r.error for r in results if r.key in moved) or "deferred"
        if not self._failed(reason):
            return results  # deferred rows stay queued and are retried later
        again = {r.key: r for r in self._secondary([m for m in batch if m.key in moved])}
        return [again.get(r.key, r) for r in results]

    def _failed(self, reason: str, *, permanent: bool = False) -> bool:
        was_open = self.breaker.opened_at is not None
        is_open = self.breaker.failure(permanent=permanent)
        if is_open and not was_open:
            log.warning(
                "channel=%s primary %s failing (%s): sending through %s",
                self.kind, self.primary.name, reason[:200], self.secondary.name,
            )  # fmt: skip
        return is_open

    def _secondary(self, batch: Sequence[OutgoingMessage]) -> list[DeliveryResult]:
        results = _in_chunks(self.secondary, batch)
        return [
            replace(r, provider_id=routed_id(self.secondary.name, r.provider_id))
            if r.status == "sent"
            else r
            for r in results
        ]

    def close(self) -> None:
        """Close both providers' channels."""
        try:
            self.primary.close()
        finally:
            self.secondary.close()


def _in_chunks(channel: Channel, batch: Sequence[OutgoingMessage]) -> list[DeliveryResult]:
    """``channel.send`` in its own batch size; a raise after a chunk went out would lose what was
    sent, so later chunks' trouble defers them instead."""
    size = channel.batch_size
    if len(batch) <= size:
        return channel.send(batch)
    results: list[DeliveryResult] = []
    for start in range(0, len(batch), size):
        chunk = batch[start : start + size]
        try:
            results += channel.send(chunk)
        except (RetryableChannelError, PermanentChannelError) as exc:
            if not results:
                raise
            results += [DeliveryResult.failed(m.key, f"{DEFERRED}: {exc}", retryable=True)
                        for m in batch[start:]]  # fmt: skip
            break
    return results


class SmsFailover(FailoverChannel):
    """SMS through a primary and a secondary SMS provider."""

    kind: ClassVar[ChannelKind] = "sms"
    max_length: ClassVar[int | None] = MAX_BODY
    encoding: ClassVar[str] = "gsm7/ucs2"


class EmailFailover(FailoverChannel):
    """Email through a primary and a secondary email provider."""

    kind: ClassVar[ChannelKind] = "email"


FAILOVER_CHANNELS: dict[ChannelKind, type[FailoverChannel]] = {
    "sms": SmsFailover,
    "email": EmailFailover,
}


def with_failover(
    primary: Channel, secondary: Channel | None, settings: FailoverSettings, key: str
) -> Channel:
    """``primary`` alone, or both behind the process's breaker for ``key``."""
    if secondary is None:
        return primary
    kind = FAILOVER_CHANNELS.get(primary.kind)
    if kind is None:
        raise ConfigError(f"no failover for {primary.kind}: only SMS and email have one")
    return kind(primary, secondary, shared_breaker(key, settings))
