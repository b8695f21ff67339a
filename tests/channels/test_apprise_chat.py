"""apprise-chat: real apprise json:// notifications to real local HTTP servers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from channel_servers import Reply, ScriptedServer

from crisiscast.channels.apprise_chat import AppriseChatChannel
from crisiscast.channels.base import OutgoingMessage
from crisiscast.errors import ConfigError


@pytest.fixture
def servers() -> Iterator[tuple[ScriptedServer, ScriptedServer]]:
    """Two chat endpoints: the first answers 200, the second 500 to everything."""
    with ScriptedServer() as ok, ScriptedServer(default=Reply(500, {"error": "down"})) as down:
        yield ok, down


def json_url(server: ScriptedServer, userinfo: str = "bot:hook-secret") -> str:
    return server.url.replace("http://", f"json://{userinfo}@") + "/hook"


def note(key: str, address: str | None = None) -> OutgoingMessage:
    return OutgoingMessage(key, address, "en", "Chat for tech issues: cc.example/chat", "Outage")


def test_broadcast_reaches_every_target(servers: tuple[ScriptedServer, ScriptedServer]) -> None:
    """A message without address goes to every configured URL, with its title and body."""
    ok, _ = servers
    ch = AppriseChatChannel([json_url(ok), json_url(ok, "bot:other-secret")])
    (result,) = ch.send([note("k1")])
    assert result.status == "sent"
    bodies = [r.json() for r in ok.requests]
    assert len(bodies) == 2
    assert {(b["title"], b["message"]) for b in bodies} == {
        ("Outage", "Chat for tech issues: cc.example/chat")
    }


def test_failing_target_does_not_stop_the_others(
    servers: tuple[ScriptedServer, ScriptedServer],
) -> None:
    """Per-target messages: the down target fails (retryable), the healthy one is sent."""
    ok, down = servers
    ch = AppriseChatChannel([json_url(down), json_url(ok)])
    down_id, ok_id = ch.targets
    results = ch.send([note("a", down_id), note("b", ok_id)])
    assert [(r.status, r.retryable) for r in results] == [("failed", True), ("sent", False)]
    assert len(ok.requests) == 1 and len(down.requests) >= 1


def test_partial_broadcast_is_not_retried(servers: tuple[ScriptedServer, ScriptedServer]) -> None:
    """Delivered to some targets only: failed but not retryable, so nobody gets it twice."""
    ok, down = servers
    (result,) = AppriseChatChannel([json_url(ok), json_url(down)]).send([note("k")])
    assert (result.status, result.retryable) == ("failed", False)
    assert "partly delivered" in (result.error or "")


def test_targets_and_to_url_mask_secrets(servers: tuple[ScriptedServer, ScriptedServer]) -> None:
    """Target ids and the printed configuration use apprise's privacy URLs."""
    ok, _ = servers
    ch = AppriseChatChannel([json_url(ok)])
    assert "hook-secret" not in ch.targets[0] and "hook-secret" not in ch.to_url()
    assert "hook-secret" in ch.to_url(redact=False)


def test_unknown_target_fails_that_message(servers: tuple[ScriptedServer, ScriptedServer]) -> None:
    """An address that names no configured target fails without sending anything."""
    ok, _ = servers
    (result,) = AppriseChatChannel([json_url(ok)]).send([note("k", "slack://nowhere")])
    assert result.status == "failed" and ok.requests == []


@pytest.mark.parametrize("urls", [[], ["nonsense-scheme://x"], ["not a url"]])
def test_bad_configuration_is_a_config_error(urls: list[str]) -> None:
    """No URLs or a URL apprise cannot use is refused at start, naming the entry."""
    with pytest.raises(ConfigError, match="CRISISCAST_APPRISE_URLS"):
        AppriseChatChannel(urls)
