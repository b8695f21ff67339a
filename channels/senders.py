"""Sender pools: every sender of a provider account at its own rate, never above it.

A provider account sends through *senders* (Twilio: a long code, a toll-free number, a short
code, a Messaging Service; SendGrid: an API key) and limits each one separately. A broadcast
keeps every sender busy at its rate and spreads recipients over them:

- ``TokenBucket`` is one sender's limit, as the generic cell rate algorithm (GCRA), which is a
  token bucket that hands out *reservations*: ``reserve`` says when the caller may send, so a
  scheduler never sends early. In any window of ``w`` seconds a bucket allows at most
  ``burst + rate * w`` sends; ``hold`` stops it until a provider's ``Retry-After`` has passed.
- ``SenderPool`` picks, for each message, the sender that is free soonest.
- Buckets are shared per process by key (``shared_bucket``): two shards of one broadcast in one
  process draw on the same budget instead of each sending at the full rate.

Nothing here reads the wall clock unless given ``time.monotonic``: tests pass their own clock.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from crisiscast.config import SenderRate, Settings, TwilioSettings
from crisiscast.errors import ConfigError

Clock = Callable[[], float]

# Published per-sender rates (shared/PITFALLS.md): what a sender gets when none is configured.
# A Messaging Service's rate is the sum of its numbers, unknown here: it gets a long code's.
LONG_CODE_RATE = 1.0
TOLL_FREE_RATE = 3.0
SHORT_CODE_RATE = 100.0
MESSAGING_SERVICE_RATE = 1.0
# Default burst, in seconds of a sender's rate (at least one message): enough to catch up after
# the ledger's write between two batches, small next to a provider's own tolerance.
BURST_SECONDS = 0.05
EMAILS_PER_REQUEST = 1000  # SendGrid's personalizations per mail/send request
_TOLL_FREE = re.compile(r"^\+1(800|833|844|855|866|877|888)\d{7}$")
_SHORT_CODE = re.compile(r"^\d{3,8}$")


def default_rate(sender: str) -> float:
    """Pure: the published rate of a Twilio sender, from its form (safe when unsure)."""
    if sender.startswith("MG"):
        return MESSAGING_SERVICE_RATE
    if _SHORT_CODE.match(sender):
        return SHORT_CODE_RATE
    if _TOLL_FREE.match(sender):
        return TOLL_FREE_RATE
    return LONG_CODE_RATE


@dataclass(frozen=True, slots=True)
class SenderSpec:
    """One sender and its limit: ``rate`` messages (or requests) a second, ``burst`` at once."""

    sender: str
    rate: float
    burst: float = 1.0

    def __post_init__(self) -> None:
        if not (self.rate > 0 and math.isfinite(self.rate)):
            raise ConfigError(f"sender rate must be a positive number, not {self.rate!r}")
        if self.burst < 1:
            raise ConfigError(f"sender burst must be at least 1 message, not {self.burst!r}")

    @classmethod
    def at(cls, sender: str, rate: float, burst: float | None = None) -> SenderSpec:
        """A sender at ``rate`` with the default burst (``BURST_SECONDS`` of its rate)."""
        return cls(sender, rate, burst if burst is not None else max(1.0, rate * BURST_SECONDS))


def sender_specs(
    configured: Sequence[SenderRate], rate_of: Callable[[str], float] = default_rate
) -> tuple[SenderSpec, ...]:
    """The configured senders with their limits; a sender without a rate gets ``rate_of``'s."""
    return tuple(
        SenderSpec.at(s.sender, s.rate if s.rate is not None else rate_of(s.sender), s.burst)
        for s in configured
    )


class TokenBucket:
    """One sender's limit (GCRA); thread-safe, so shards and workers can share it."""

    def __init__(self, rate: float, burst: float = 1.0, clock: Clock = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._interval = 1.0 / rate
        self._tolerance = (burst - 1.0) * self._interval
        self._tat = -math.inf  # theoretical arrival time of the next message
        self._held_until = -math.inf
        self._lock = threading.Lock()

    def ready_at(self, now: float | None = None) -> float:
        """When the next message may go, without reserving it."""
        now = self.clock() if now is None else now
        with self._lock:
            return max(now, self._tat - self._tolerance, self._held_until)

    def reserve(self, now: float | None = None, cost: float = 1.0) -> float:
        """Reserve the next slot for ``cost`` units (an SMS's segments) and return when it is
        (``now`` or later): send then, not before."""
        now = self.clock() if now is None else now
        with self._lock:
            at = max(now, self._tat - self._tolerance, self._held_until)
            self._tat = max(self._tat, at) + self._interval * cost
            return at

    def hold(self, seconds: float, now: float | None = None) -> None:
        """The provider said "slow down" (429 + Retry-After): nothing before ``now + seconds``."""
        now = self.clock() if now is None else now
        with self._lock:
            self._held_until = max(self._held_until, now + max(0.0, seconds))

    def held(self, now: float | None = None) -> bool:
        """Whether a ``hold`` is still in force (a reservation made before it must wait)."""
        now = self.clock() if now is None else now
        with self._lock:
            return now < self._held_until


_SHARED: dict[str, TokenBucket] = {}
_SHARED_LOCK = threading.Lock()


def shared_bucket(key: str, spec: SenderSpec, clock: Clock = time.monotonic) -> TokenBucket:
    """This process's bucket for ``key`` (provider:account:sender), made on first use; a new
    rate or burst for the key replaces it."""
    with _SHARED_LOCK:
        bucket = _SHARED.get(key)
        if bucket is None or (bucket.rate, bucket.burst, bucket.clock) != (
            spec.rate,
            spec.burst,
            clock,
        ):
            bucket = _SHARED[key] = TokenBucket(spec.rate, spec.burst, clock)
        return bucket


class SenderPool:
    """The senders of one provider account; ``take`` picks the one free soonest."""

    def __init__(
        self,
        senders: Sequence[SenderSpec],
        *,
        account: str,
        clock: Clock = time.monotonic,
        shared: bool = True,
    ) -> None:
        if not senders:
            raise ConfigError(f"{account}: a sender pool needs at least one sender")
        self.senders = tuple(senders)
        self.clock = clock
        self.buckets = [
            shared_bucket(f"{account}:{s.sender}", s, clock)
            if shared
            else TokenBucket(s.rate, s.burst, clock)
            for s in self.senders
        ]
        self._next = 0
        self._lock = threading.Lock()

    @property
    def rate(self) -> float:
        """All senders together, per second."""
        return sum(s.rate for s in self.senders)

    def take(self, cost: float = 1.0) -> tuple[int, float]:
        """Reserve ``cost`` units on the sender free soonest (ties: round robin); returns
        (sender index, when to send)."""
        now = self.clock()
        with self._lock:
            count = len(self.buckets)
            order = [(self._next + i) % count for i in range(count)]
            best = min(order, key=lambda i: self.buckets[i].ready_at(now))
            self._next = (best + 1) % count
            return best, self.buckets[best].reserve(now, cost)

    def take_now(self, cost: float = 1.0) -> tuple[int, float]:
        """Reserve ``cost`` units on the sender free soonest if it is free *now*: returns
        (sender index, 0.0); else reserves nothing and returns (that sender, seconds to wait).

        Reserving at the moment of sending (not ahead of it) keeps the rate true of when
        requests really leave, even when the process was late to wake up.
        """
        now = self.clock()
        with self._lock:
            count = len(self.buckets)
            order = [(self._next + i) % count for i in range(count)]
            best = min(order, key=lambda i: self.buckets[i].ready_at(now))
            wait = self.buckets[best].ready_at(now) - now
            if wait > 0:
                return best, wait
            self._next = (best + 1) % count
            self.buckets[best].reserve(now, cost)
            return best, 0.0

    def hold(self, index: int, seconds: float) -> None:
        """Pause one sender after the provider refused it for going too fast."""
        self.buckets[index].hold(seconds)

    def describe(self) -> str:
        """``10 senders at 100/s`` (see ``describe``)."""
        return describe(self.senders)


def describe(senders: Sequence[SenderSpec]) -> str:
    """Pure: ``10 senders at 100/s`` or ``3 senders at 1-100/s`` (no addresses: safe to print)."""
    rates = sorted({s.rate for s in senders})
    shown = f"{rates[0]:g}" if len(rates) == 1 else f"{rates[0]:g}-{rates[-1]:g}"
    noun = "sender" if len(senders) == 1 else "senders"
    return f"{len(senders)} {noun} at {shown}/s"


def send_seconds(count: int, rate: float) -> float:
    """Pure: how long ``count`` messages take at ``rate`` per second (the first goes at once)."""
    if count <= 0:
        return 0.0
    return (count - 1) / rate if rate > 0 else math.inf


def about(seconds: float) -> str:
    """Pure: ``about 2 min``, ``about 3 h 20 min``, ``under 1 s``, for a preview."""
    if seconds < 1:
        return "under 1 s"
    if seconds < 90:
        return f"about {math.ceil(seconds)} s"
    minutes = math.ceil(seconds / 60)
    if minutes < 90:
        return f"about {minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"about {hours} h" + (f" {rest} min" if rest else "")


def twilio_senders(settings: TwilioSettings) -> tuple[SenderSpec, ...]:
    """A Twilio account's pool: ``TWILIO_SENDERS``, else its Messaging Service or from-number
    alone, each at its configured or published rate."""
    if settings.senders:
        return sender_specs(settings.senders)
    if settings.messaging_service_sid:
        return (SenderSpec.at(settings.messaging_service_sid, MESSAGING_SERVICE_RATE),)
    if settings.from_number:
        return (SenderSpec.at(settings.from_number, default_rate(settings.from_number)),)
    raise ConfigError(
        "twilio-sms needs a sender: set TWILIO_FROM_NUMBER, TWILIO_MESSAGING_SERVICE_SID or "
        "TWILIO_SENDERS."
    )


def send_time(kind: str, count: int, settings: Settings, segments: int = 1) -> str | None:
    """Pure: how long ``count`` messages of ``kind`` take with ``settings``' providers, for the
    preview: ``100,000 SMS over 10 senders at 100/s: about 2 min``; None for other kinds.
    SMS rates count segments (Twilio's MPS); SendGrid carries 1,000 recipients per request."""
    if kind == "sms" and settings.twilio is not None:
        specs = twilio_senders(settings.twilio)
        rate = sum(s.rate for s in specs) / max(1, segments)
        what = f"{count:,} SMS over {describe(specs)}"
        if segments > 1:
            what += f" ({segments} segments each)"
        return f"{what}: {about(send_seconds(count, rate))}"
    if kind == "email" and settings.sendgrid is not None:
        per_second = settings.sendgrid.requests_per_second
        requests = math.ceil(count / EMAILS_PER_REQUEST)
        return (
            f"{count:,} emails in {requests:,} SendGrid requests at {per_second:g}/s: "
            f"{about(send_seconds(requests, per_second))}"
        )
    if kind in ("sms", "email"):
        noun = "SMS" if kind == "sms" else "emails"
        return f"{count:,} {noun} to the outbox (no {kind} provider configured): no provider limit"
    return None
