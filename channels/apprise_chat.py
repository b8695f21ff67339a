"""Chat and everything else a comms team uses (Slack, Teams, Telegram, Mastodon, Discord, ...)
through ``apprise``, configured by apprise URLs.

``Apprise.notify`` answers one bool for all its services, so each URL is a target of its own:
a message whose ``address`` is a target id (see ``targets``) goes to that target only and gets
its own result; a message with no address goes to every target. Target ids are apprise's own
privacy URLs (secrets masked), safe to store and log.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import apprise

from crisiscast.channels.base import (
    Channel,
    ChannelKind,
    DeliveryResult,
    OutgoingMessage,
    PreparedMessage,
    check_batch_size,
)
from crisiscast.errors import ConfigError


def prepare_chat(message: OutgoingMessage) -> PreparedMessage:
    """Pure: one notification; apprise fits it to each service's own length limits."""
    return PreparedMessage(message=message, parts=(message.text,), segments=1, encoding="utf-8")


def _instantiate(index: int, url: str) -> Any:
    plugin = apprise.Apprise.instantiate(url)
    if plugin is None:
        scheme = url.split("://", 1)[0] if "://" in url else "?"
        raise ConfigError(
            f"CRISISCAST_APPRISE_URLS entry #{index + 1} (scheme '{scheme}') is not a URL apprise "
            "can use: check it against https://github.com/caronc/apprise/wiki"
        )
    return plugin


class AppriseChatChannel(Channel):
    """One notification per target per message; one target failing never stops the others."""

    kind: ClassVar[ChannelKind] = "chat"
    name: ClassVar[str] = "apprise-chat"
    max_length: ClassVar[int | None] = None  # per service; apprise splits or truncates
    encoding: ClassVar[str] = "utf-8"
    batch_size: ClassVar[int] = 50
    rate_per_second: ClassVar[float | None] = None  # each apprise plugin throttles itself
    needs_address: ClassVar[bool] = False

    def __init__(self, urls: Sequence[str]) -> None:
        if not urls:
            raise ConfigError("apprise-chat needs at least one URL in CRISISCAST_APPRISE_URLS.")
        self._plugins: dict[str, Any] = {}
        for index, url in enumerate(urls):
            plugin = _instantiate(index, url)
            target = str(plugin.url(privacy=True))
            if target in self._plugins:
                target = f"{target}#{index + 1}"
            self._plugins[target] = plugin

    @property
    def targets(self) -> list[str]:
        """Target ids (masked URLs) in configuration order: the addresses this channel takes."""
        return list(self._plugins)

    def to_url(self, redact: bool = True) -> str:
        """The configured apprise URLs, masked by apprise itself unless redact=False."""
        urls = [p.url(privacy=redact) for p in self._plugins.values()]
        return "apprise-chat://" + " ".join(str(u) for u in urls)

    def prepare(self, message: OutgoingMessage) -> PreparedMessage:
        """See ``prepare_chat``."""
        return prepare_chat(message)

    def send(self, batch: Sequence[OutgoingMessage]) -> list[DeliveryResult]:
        """Notify each message's target (or every target); one result per message."""
        check_batch_size(self, batch)
        return [self._send_one(message) for message in batch]

    def _send_one(self, message: OutgoingMessage) -> DeliveryResult:
        if message.address is not None and message.address not in self._plugins:
            return DeliveryResult.failed(message.key, "unknown apprise target")
        targets = [message.address] if message.address is not None else self.targets
        failed = [t for t in targets if not self._notify(t, message)]
        if not failed:
            return DeliveryResult.sent(message.key, ",".join(targets))
        if len(failed) == len(targets):
            return DeliveryResult.failed(
                message.key, f"not delivered to {', '.join(failed)}", retryable=True
            )
        # Some targets have it already: retrying the whole message would repeat it there.
        return DeliveryResult(
            message.key,
            "failed",
            ",".join(t for t in targets if t not in failed),
            f"partly delivered; failed: {', '.join(failed)}",
            retryable=False,
        )

    def _notify(self, target: str, message: OutgoingMessage) -> bool:
        plugin = self._plugins[target]
        return bool(plugin.notify(body=message.text, title=message.subject or ""))
