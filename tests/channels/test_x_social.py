"""x-social: tweepy against Prism serving X's API v2 spec, thread splitting, and faults."""

from __future__ import annotations

import re

import pytest
from channel_servers import Reply, ScriptedServer
from pydantic import SecretStr

from crisiscast.channels.base import OutgoingMessage
from crisiscast.channels.x_social import ApiSession, RateLimit, XSocialChannel
from crisiscast.channels.x_thread import split_thread, weighted_length
from crisiscast.config import XSettings
from crisiscast.errors import PermanentChannelError, RetryableChannelError

TOKEN = "x-oauth2-user-token-0123456789"
LONG = " ".join(f"route{i}" for i in range(100))  # ~690 characters: a 3-post thread


def channel(url: str, timeout: float = 5.0) -> XSocialChannel:
    settings = XSettings(bearer_token=SecretStr(TOKEN))
    return XSocialChannel(settings, session=ApiSession(url, timeout=timeout))


def post(key: str, text: str) -> OutgoingMessage:
    return OutgoingMessage(key=key, address=None, language="en", text=text)


def created(tweet_id: str, **headers: str) -> Reply:
    return Reply(201, {"data": {"id": tweet_id, "text": "x"}}, headers)


def test_contract_single_post(x_proxy: ScriptedServer) -> None:
    """A short text is one spec-valid POST /2/tweets with the bearer token and no reply."""
    results = channel(x_proxy.url).send([post("k1", "Outage: call 0800 123, chat at cc.example")])
    assert results[0].status == "sent" and re.fullmatch(r"\d{1,19}", results[0].provider_id or "")
    (request,) = x_proxy.requests
    assert (request.method, request.path) == ("POST", "/2/tweets")
    assert request.json() == {"text": "Outage: call 0800 123, chat at cc.example"}
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_contract_thread_replies_to_previous_post(x_proxy: ScriptedServer) -> None:
    """A long text becomes a spec-valid thread: each part replies to the one before."""
    results = channel(x_proxy.url).send([post("k1", LONG)])
    assert results[0].status == "sent"
    bodies = [r.json() for r in x_proxy.requests]
    assert [b["text"][-4:] for b in bodies] == [" 1/3", " 2/3", " 3/3"]
    assert "reply" not in bodies[0]
    assert all(re.fullmatch(r"\d{1,19}", b["reply"]["in_reply_to_tweet_id"]) for b in bodies[1:])


def test_thread_chains_the_ids_it_got_back(fault_server: ScriptedServer) -> None:
    """Each reply names the id X returned for the previous part; the result keeps the first."""
    fault_server.push(created("11"), created("12"), created("13"))
    result = channel(fault_server.url).send([post("k1", LONG)])[0]
    assert result.provider_id == "11"
    replies = [r.json().get("reply", {}).get("in_reply_to_tweet_id") for r in fault_server.requests]
    assert replies == [None, "11", "12"]


def test_rate_limit_headers_are_kept(fault_server: ScriptedServer) -> None:
    """The answer's x-rate-limit-* headers are exposed instead of assuming a tier."""
    fault_server.push(
        created(
            "5",
            **{
                "x-rate-limit-limit": "100",
                "x-rate-limit-remaining": "97",
                "x-rate-limit-reset": "1790000000",
            },
        )
    )
    ch = channel(fault_server.url)
    ch.send([post("k", "hello")])
    assert ch.last_rate_limit == RateLimit(limit=100, remaining=97, reset=1790000000)


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (
            Reply(429, {"title": "Too Many Requests"}, {"x-rate-limit-reset": "1"}),
            RetryableChannelError,
        ),
        (Reply(503, {"title": "Service Unavailable"}), RetryableChannelError),
        (Reply(201, {"data": {"id": "1"}}, delay=2.0), RetryableChannelError),
        (Reply(401, {"title": "Unauthorized", "detail": "Unauthorized"}), PermanentChannelError),
        (Reply(403, {"title": "Forbidden", "detail": "not permitted"}), PermanentChannelError),
    ],
)
def test_channel_faults_raise(
    fault_server: ScriptedServer, reply: Reply, error: type[Exception]
) -> None:
    """429/5xx/timeouts raise retryable; rejected credentials raise permanent, token masked."""
    fault_server.push(reply)
    with pytest.raises(error) as caught:
        channel(fault_server.url, timeout=0.5).send([post("k", "hello")])
    assert TOKEN not in str(caught.value)


def test_duplicate_post_fails_that_message_only(fault_server: ScriptedServer) -> None:
    """X refusing a duplicate fails that post; the next one in the batch is still posted."""
    duplicate = {
        "detail": "You are not allowed to create a Tweet with duplicate content.",
        "title": "Forbidden",
        "status": 403,
    }
    fault_server.push(Reply(403, duplicate), created("9"))
    results = channel(fault_server.url).send([post("a", "same"), post("b", "other")])
    assert [(r.status, r.retryable) for r in results] == [("failed", False), ("sent", False)]
    assert "duplicate" in (results[0].error or "")


def test_broken_thread_is_not_retried(fault_server: ScriptedServer) -> None:
    """A thread cut mid-way is failed, not retryable: retrying would re-post its first parts."""
    fault_server.push(created("21"), Reply(500, {"title": "boom"}))
    result = channel(fault_server.url).send([post("k", LONG)])[0]
    assert (result.status, result.retryable, result.provider_id) == ("failed", False, "21")
    assert "1/3" in (result.error or "")


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("", 0),
        ("short", 1),
        ("a" * 280, 1),
        ("a " * 140 + "b", 2),
        ("ก" * 280, 1),  # Thai counts 1 per character
        ("日" * 141, 2),  # CJK counts 2
        ("x" * 600, 3),  # no spaces: hard split
        (LONG, 3),
    ],
)
def test_split_thread_table(text: str, parts: int) -> None:
    """Texts split at word boundaries into numbered parts that each fit X's weighted 280."""
    posts = split_thread(text)
    assert len(posts) == parts
    assert all(weighted_length(p) <= 280 for p in posts)
    if parts > 1:
        assert [p.rsplit(" ", 1)[1] for p in posts] == [f"{i}/{parts}" for i in range(1, parts + 1)]
        rejoined = " ".join(p.rsplit(" ", 1)[0] for p in posts)
        assert rejoined.replace(" ", "") == text.replace(" ", "")


def test_url_counts_23() -> None:
    """A URL counts 23 whatever its length, as X counts it."""
    assert weighted_length("see https://example.org/" + "p" * 100) == len("see ") + 23


def test_to_url_masks_the_token() -> None:
    """The printed configuration hides the bearer token."""
    ch = channel("http://127.0.0.1:9")
    assert ch.to_url() == "x-social://****" and TOKEN not in repr(ch)


def test_answer_without_id_stops_the_batch(fault_server: ScriptedServer) -> None:
    """A 201 without a post id stops rather than risk posting the same text twice."""
    fault_server.push(Reply(201, {"data": {}}))
    with pytest.raises(PermanentChannelError, match="without a post id"):
        channel(fault_server.url).send([post("k", "hello")])
