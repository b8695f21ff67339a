"""Polling X mentions: spec-valid requests (Prism), since_id from the store, dedupe, faults."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from channel_servers import (
    Prism,
    Reply,
    ScriptedServer,
    contract,
    prism_missing_reason,
    skip_unless_ci,
)
from pydantic import SecretStr
from sqlalchemy import select

from crisiscast.channels.x_social import ApiSession
from crisiscast.config import XSettings
from crisiscast.errors import RetryableChannelError
from crisiscast.flows.poll_mentions import newest_stored, poll_once, x_client
from crisiscast.incidents.store.database import Store
from crisiscast.incidents.store.models import Case, InboundMessage

TOKEN = "x-oauth2-user-token-for-mentions"
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
USER = "2244994945"


@pytest.fixture(scope="module")
def prism_x_mentions() -> Iterator[str]:
    """Prism serving X's API v2 spec (dynamic bodies, no injected errors)."""
    reason = prism_missing_reason()
    if reason is not None:
        skip_unless_ci(reason)
    prism = Prism(contract("x/x_api_v2_openapi.json"), "--dynamic", "--seed", "3")
    try:
        prism.wait()
        yield prism.url
    finally:
        prism.stop()


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    """A real local HTTP server answering with the pages a test queues."""
    with ScriptedServer() as scripted:
        yield scripted


def client_for(url: str):  # type: ignore[no-untyped-def]
    return x_client(XSettings(bearer_token=SecretStr(TOKEN)), ApiSession(url, timeout=5))


def page(*tweets: tuple[str, str, str], next_token: str | None = None) -> Reply:
    """One mentions page: (id, author id, text) tweets, their authors, and meta."""
    meta: dict[str, object] = {"result_count": len(tweets)}
    if next_token:
        meta["next_token"] = next_token
    return Reply(200, {
        "data": [{"id": i, "author_id": a, "text": t, "edit_history_tweet_ids": [i]}
                 for i, a, t in tweets],
        "includes": {"users": [{"id": a, "username": f"user{a}", "name": "N"}
                               for _, a, _ in tweets]},
        "meta": meta,
    })  # fmt: skip


def query(path: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(path).query)


def test_mentions_request_is_valid_against_the_x_spec(prism_x_mentions: str, store: Store) -> None:
    """get_me and get_users_mentions as sent are accepted by Prism; what came back is stored.

    Prism invents ids that are not numbers, so the mentions call is given a real-looking id.
    """
    with ScriptedServer(upstream=prism_x_mentions) as proxy:
        client = client_for(proxy.url)
        assert "data" in client.get_me(user_auth=False)
        report = poll_once(store, client, USER, now=NOW)
        paths = [urlsplit(r.path).path for r in proxy.requests]
        assert paths[0] == "/2/users/me" and set(paths[1:]) == {f"/2/users/{USER}/mentions"}
        assert query(proxy.requests[1].path)["max_results"] == ["100"]
        assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in proxy.requests)
    with store.session() as session:
        stored = session.scalars(select(InboundMessage)).all()
    assert report.stored == len(stored) and all(m.channel == "social" for m in stored)


def test_new_mentions_become_cases_from_their_handles(server: ScriptedServer, store: Store) -> None:
    """Each mention is stored with the author's @handle and triaged into a case."""
    server.push(page(("1001", "42", "@flood_help 200 people are trapped at the temple"),
                     ("1002", "43", "@flood_help just checking in")))  # fmt: skip
    report = poll_once(store, client_for(server.url), USER, now=NOW)
    assert (report.fetched, report.stored, report.outcomes) == (2, 2, {"case": 2})
    with store.session() as session:
        senders = sorted(m.sender for m in session.scalars(select(InboundMessage)))
        severities = sorted(c.severity for c in session.scalars(select(Case)))
    assert senders == ["@user42", "@user43"] and severities == ["low", "urgent"]
    assert "since_id" not in query(server.requests[0].path)


def test_since_id_is_the_newest_stored_mention(server: ScriptedServer, store: Store) -> None:
    """The next poll asks only for mentions after the newest stored one (999 < 1000 numerically)."""
    server.push(page(("999", "1", "first"), ("1000", "2", "second")), page())
    poll_once(store, client_for(server.url), USER, now=NOW)
    assert newest_stored(store) == "1000"
    poll_once(store, client_for(server.url), USER, now=NOW)
    assert query(server.requests[1].path)["since_id"] == ["1000"]


def test_pages_are_followed_and_repeats_not_stored_twice(
    server: ScriptedServer, store: Store
) -> None:
    """Pagination tokens are followed; a mention seen again is a duplicate, not a new case."""
    server.push(
        page(("2001", "5", "need water"), next_token="t2"), page(("2002", "6", "need food"))
    )
    assert poll_once(store, client_for(server.url), USER, now=NOW).stored == 2
    assert query(server.requests[1].path)["pagination_token"] == ["t2"]
    server.push(page(("2002", "6", "need food")))
    again = poll_once(store, client_for(server.url), USER, now=NOW)
    assert (again.fetched, again.duplicates, again.stored) == (1, 1, 0)


def test_rate_limit_is_retryable(server: ScriptedServer, store: Store) -> None:
    """A 429 from X is a retryable error: the next scheduled run picks up where this one was."""
    server.push(Reply(429, {"title": "Too Many Requests"}, {"x-rate-limit-reset": "0"}))
    with pytest.raises(RetryableChannelError):
        poll_once(store, client_for(server.url), USER, now=NOW)
