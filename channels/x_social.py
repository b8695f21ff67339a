"""Posts on X through ``tweepy.Client.create_tweet`` with an OAuth 2 bearer token.

A text over 280 (weighted) characters becomes a thread: each part replies to the previous one
(``in_reply_to_tweet_id``). X's limits depend on the account's tier, so the rate-limit headers of
every answer are kept in ``last_rate_limit`` instead of assuming a figure.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import requests
import tweepy

from crisiscast.channels.base import (
    Channel,
    ChannelKind,
    ChannelTrouble,
    DeliveryResult,
    OutgoingMessage,
    PreparedMessage,
    send_each,
)
from crisiscast.channels.masking import mask_secret
from crisiscast.channels.x_thread import MAX_WEIGHTED, prepare_post
from crisiscast.config import XSettings

X_API = "https://api.twitter.com"  # hard-coded in tweepy

# tweepy logs request headers (the bearer token) at DEBUG: keep it above DEBUG.
logging.getLogger("tweepy.client").setLevel(logging.INFO)


@dataclass(frozen=True, slots=True)
class RateLimit:
    """X's answer headers: how many calls remain in the window and when it resets (epoch s)."""

    limit: int | None
    remaining: int | None
    reset: int | None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimit | None:
        def number(name: str) -> int | None:
            value = headers.get(name)
            return int(value) if value and value.isdigit() else None

        limit = cls(
            number("x-rate-limit-limit"),
            number("x-rate-limit-remaining"),
            number("x-rate-limit-reset"),
        )
        return limit if limit != cls(None, None, None) else None


class ApiSession(requests.Session):
    """A requests session with a default timeout that can send tweepy's calls elsewhere.

    tweepy sets no timeout and hard-codes its host; ``base_url`` points it at a mock or proxy.
    """

    def __init__(self, base_url: str | None = None, timeout: float = 10.0) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/") if base_url else None
        self.timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        method = method.decode() if isinstance(method, bytes) else method
        url = url.decode() if isinstance(url, bytes) else url
        if self.base_url and url.startswith(X_API):
            url = self.base_url + url[len(X_API) :]
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)


@dataclass(frozen=True, slots=True)
class _Refused:
    """X refused this post (bad content, duplicate) but the channel itself is fine."""

    reason: str


class XSocialChannel(Channel):
    """Public posts (address is ignored): one post, or a thread, per message."""

    kind: ClassVar[ChannelKind] = "social"
    name: ClassVar[str] = "x-social"
    max_length: ClassVar[int | None] = MAX_WEIGHTED
    encoding: ClassVar[str] = "utf-8"
    batch_size: ClassVar[int] = 10
    # Per-user ceiling on POST /2/tweets: 100 per 15 minutes; tiers cut it further (read headers).
    rate_per_second: ClassVar[float | None] = 100 / 900
    needs_address: ClassVar[bool] = False

    def __init__(self, settings: XSettings, *, session: requests.Session | None = None) -> None:
        self.settings = settings
        self._client = tweepy.Client(
            bearer_token=settings.bearer_token.get_secret_value(),
            return_type=requests.Response,  # keeps the rate-limit headers
            wait_on_rate_limit=False,  # never sleep inside a flow; report and let it retry
        )
        self._client.session = session or ApiSession()
        self.last_rate_limit: RateLimit | None = None

    def to_url(self, redact: bool = True) -> str:
        """``x-social://****`` with the bearer token masked."""
        token = self.settings.bearer_token.get_secret_value()
        return f"x-social://{mask_secret(token) if redact else token}"

    def prepare(self, message: OutgoingMessage) -> PreparedMessage:
        """See ``prepare_post``."""
        return prepare_post(message)

    def send(self, batch: Sequence[OutgoingMessage]) -> list[DeliveryResult]:
        """Post each message (thread); channel trouble stops the batch without re-posting."""
        return send_each(self, batch, self._post_thread)

    def _post_thread(self, message: OutgoingMessage) -> DeliveryResult | ChannelTrouble:
        parts = prepare_post(message).parts
        if not parts:
            return DeliveryResult.suppressed(message.key, "empty text: nothing to post")
        ids: list[str] = []
        for part in parts:
            posted = self._post(part, ids[-1] if ids else None)
            if isinstance(posted, str):
                ids.append(posted)
                continue
            if not ids:
                if isinstance(posted, _Refused):
                    return DeliveryResult.failed(message.key, posted.reason)
                return posted
            # Part of the thread is public already: retrying would post it twice.
            reason = f"thread broken after {len(ids)}/{len(parts)} posts: {posted.reason}"
            return DeliveryResult(message.key, "failed", ids[0], reason, retryable=False)
        return DeliveryResult.sent(message.key, ids[0])

    def _post(self, text: str, reply_to: str | None) -> str | _Refused | ChannelTrouble:
        try:
            response = self._client.create_tweet(
                text=text, in_reply_to_tweet_id=reply_to, user_auth=False
            )
        except tweepy.TooManyRequests as exc:
            self.last_rate_limit = RateLimit.from_headers(exc.response.headers)
            return ChannelTrouble(True, "rate limited (HTTP 429)")
        except tweepy.TwitterServerError as exc:
            return ChannelTrouble(True, f"X unavailable (HTTP {exc.response.status_code})")
        except (tweepy.Unauthorized, tweepy.Forbidden) as exc:
            return self._forbidden(exc)
        except tweepy.BadRequest as exc:
            return _Refused(f"X refused the post (HTTP 400: {_detail(exc)})")
        except tweepy.HTTPException as exc:
            status = exc.response.status_code
            return ChannelTrouble(False, f"rejected (HTTP {status}: {_detail(exc)})")
        except requests.Timeout:
            return ChannelTrouble(True, "X timed out (the post may have been published)")
        except requests.ConnectionError:
            return ChannelTrouble(True, "cannot connect to X")
        self.last_rate_limit = RateLimit.from_headers(response.headers)
        try:
            return str(response.json()["data"]["id"])
        except (ValueError, KeyError, TypeError):
            # It may be public already: stopping is safer than posting it again.
            return ChannelTrouble(False, "X answered without a post id")

    @staticmethod
    def _forbidden(exc: tweepy.HTTPException) -> _Refused | ChannelTrouble:
        status = exc.response.status_code
        if "duplicate" in _detail(exc).lower():
            return _Refused(f"X refused a duplicate post (HTTP {status})")
        hint = "check X_BEARER_TOKEN (an OAuth 2 user token with tweet.write)"
        return ChannelTrouble(False, f"credentials rejected (HTTP {status}): {hint}")


def _detail(exc: tweepy.HTTPException) -> str:
    """X's own reason, short (posts are public text, so no personal data to mask)."""
    detail = "; ".join(str(m) for m in exc.api_messages)
    if not detail:
        try:
            detail = str(exc.response.json().get("detail") or "")
        except ValueError:
            detail = ""
    return detail[:200] or "no reason given"
