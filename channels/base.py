"""The one small interface every channel implements (apprise's one-plugin-per-service shape).

How to add a channel:
1. Create ``channels/<provider>_<medium>.py`` with a ``Channel`` subclass.
2. Declare what it is as class attributes: ``kind``, ``name``, ``max_length``, ``encoding``,
   ``batch_size``, ``rate_per_second`` (the provider's *published* limits), ``needs_address``;
   ``paces_itself`` when ``send`` keeps to per-sender rates (``channels/senders.py``,
   ``channels/dispatch.py``).
3. Implement ``prepare`` as a pure function of the message (split, truncate, count segments):
   previews and the outbox use it without touching the network.
4. Implement ``send``: return one ``DeliveryResult`` per message, in order. Raise
   ``RetryableChannelError`` / ``PermanentChannelError`` only when the *whole* channel failed,
   translating the SDK's exception at the boundary (``raise ... from exc``).
5. Implement ``to_url(redact=True)``; never put a token, phone number or email in a log line or
   an error message (use ``crisiscast.channels.masking``).
6. Wire it into ``crisiscast.channels.registry.channel_for``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import ClassVar, Literal, Self

from crisiscast.errors import PermanentChannelError, RetryableChannelError

ChannelKind = Literal["sms", "email", "social", "chat", "banner", "outbox"]
CHANNEL_KINDS: tuple[ChannelKind, ...] = ("sms", "email", "social", "chat", "banner", "outbox")

DeliveryStatus = Literal["sent", "failed", "suppressed"]


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One message to one recipient (or to everyone, for broadcast-style channels).

    ``key`` is the delivery's idempotency key (incident x announcement x channel x recipient);
    providers get it where they can carry it (SendGrid custom_args) so receipts map back.
    ``address`` is E.164 for SMS, an email address for email, ``None`` for social/chat/banner.
    """

    key: str
    address: str | None
    language: str
    text: str
    subject: str | None = None
    html: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What happened to one message. ``error`` is short and never holds personal data."""

    key: str
    status: DeliveryStatus
    provider_id: str | None = None
    error: str | None = None
    retryable: bool = False

    @classmethod
    def sent(cls, key: str, provider_id: str | None) -> DeliveryResult:
        """The provider accepted the message; ``provider_id`` links its receipts back."""
        return cls(key=key, status="sent", provider_id=provider_id)

    @classmethod
    def failed(cls, key: str, error: str, *, retryable: bool = False) -> DeliveryResult:
        """This recipient failed; the others in the batch are unaffected."""
        return cls(key=key, status="failed", error=error, retryable=retryable)

    @classmethod
    def suppressed(cls, key: str, reason: str) -> DeliveryResult:
        """Deliberately not sent (opted out, nothing to send); never retried."""
        return cls(key=key, status="suppressed", error=reason)


@dataclass(frozen=True, slots=True)
class PreparedMessage:
    """A message as the channel will send it, computed without any I/O.

    ``parts`` are the provider calls' bodies (one SMS body; one post per part of an X thread).
    ``segments`` is the billable/rate-limited unit count (SMS segments, posts, 1 for email).
    """

    message: OutgoingMessage
    parts: tuple[str, ...]
    segments: int
    encoding: str
    truncated: bool = False


class Channel(ABC):
    """A way to reach people. Subclasses declare their limits as class attributes."""

    kind: ClassVar[ChannelKind]
    name: ClassVar[str]
    #: Longest text one send accepts (characters for the provider's own counting), None = no limit.
    max_length: ClassVar[int | None] = None
    #: "gsm7/ucs2" for SMS, "utf-8" otherwise.
    encoding: ClassVar[str] = "utf-8"
    #: Most messages handed to one ``send`` call.
    batch_size: ClassVar[int] = 1
    #: Published provider ceiling (messages or requests per second); None = no published limit.
    rate_per_second: ClassVar[float | None] = None
    #: Whether each message needs a recipient address (SMS, email) or goes to everyone.
    needs_address: ClassVar[bool] = True
    #: True when ``send`` keeps to the provider's rates itself (a sender pool, a request
    #: bucket): the caller must not pace it again with ``rate_per_second``.
    paces_itself: ClassVar[bool] = False

    @abstractmethod
    def to_url(self, redact: bool = True) -> str:
        """Describe the configuration as a URL; secrets and addresses masked unless redact=False."""

    @abstractmethod
    def prepare(self, message: OutgoingMessage) -> PreparedMessage:
        """Pure: split, truncate and count what ``send`` would send for ``message``."""

    @abstractmethod
    def send(self, batch: Sequence[OutgoingMessage]) -> list[DeliveryResult]:
        """Send up to ``batch_size`` messages; one result per message, in the same order.

        Raises ``RetryableChannelError`` or ``PermanentChannelError`` when the whole channel
        failed (nothing in the batch can be assumed sent unless a result says so).
        """

    def close(self) -> None:  # noqa: B027 - optional hook, most channels hold nothing to release
        """Release files or connections; safe to call twice."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.to_url(redact=True)}>"


def missing_address(message: OutgoingMessage) -> DeliveryResult:
    """The result for a per-recipient channel handed a message with no address."""
    return DeliveryResult.failed(message.key, "no recipient address", retryable=False)


def check_batch_size(channel: Channel, batch: Sequence[OutgoingMessage]) -> None:
    """Refuse a batch larger than the channel declares: the caller's batching is wrong."""
    if len(batch) > channel.batch_size:
        raise ValueError(
            f"{channel.name}: batch of {len(batch)} exceeds batch_size={channel.batch_size}; "
            "split batches with the channel's batch_size."
        )


@dataclass(frozen=True, slots=True)
class ChannelTrouble:
    """The whole channel failed mid-batch (rate limit, outage, bad credentials).

    ``unknown_key``: the message whose request timed out, so it may have been sent. It is
    settled as failed ("outcome unknown"), never sent again, by this provider or a failover one:
    a recipient gets a message at most once.
    """

    retryable: bool
    reason: str
    unknown_key: str | None = None


UNKNOWN_OUTCOME = "outcome unknown"
DEFERRED = "deferred"


def is_deferred(result: DeliveryResult) -> bool:
    """Whether ``result`` is a message the channel never handed over (safe to send elsewhere)."""
    return (
        result.status == "failed" and result.retryable and (result.error or "").startswith(DEFERRED)
    )


def settle(
    channel: Channel,
    done: list[DeliveryResult],
    pending: Sequence[OutgoingMessage],
    trouble: ChannelTrouble,
) -> list[DeliveryResult]:
    """Stop a batch at channel trouble without repeating what was already sent.

    Nothing sent yet: raise, so the caller retries (or stops) the whole batch. Something sent, or
    a message whose outcome is unknown (``trouble.unknown_key``): return those results and the
    ``pending`` messages as failed + retryable ("deferred"), so a retry sends only what was not
    sent, and the unknown one is failed for good.
    """
    unknown = [m for m in pending if m.key == trouble.unknown_key]
    pending = [m for m in pending if m.key != trouble.unknown_key]
    handed = any(r.status == "sent" or (r.error or "").startswith(UNKNOWN_OUTCOME) for r in done)
    if not unknown and not handed:
        error = RetryableChannelError if trouble.retryable else PermanentChannelError
        raise error(f"{channel.name}: {trouble.reason}")
    lost = f"{UNKNOWN_OUTCOME}: {trouble.reason}; not sent again"
    deferred = f"{DEFERRED}: {trouble.reason}"
    return (
        done
        + [DeliveryResult.failed(m.key, lost) for m in unknown]
        + [DeliveryResult.failed(m.key, deferred, retryable=True) for m in pending]
    )


def send_each(
    channel: Channel,
    batch: Sequence[OutgoingMessage],
    send_one: Callable[[OutgoingMessage], DeliveryResult | ChannelTrouble],
) -> list[DeliveryResult]:
    """Send a batch one message at a time, for providers without a batch API.

    At channel trouble the rest of the batch is settled (see ``settle``), so nothing already
    sent is sent again.
    """
    check_batch_size(channel, batch)
    results: list[DeliveryResult] = []
    for index, message in enumerate(batch):
        result = send_one(message)
        if isinstance(result, ChannelTrouble):
            return settle(channel, results, batch[index:], result)
        results.append(result)
    return results
