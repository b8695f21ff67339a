"""Poll X for mentions of the organisation's account and take them in like any other reply.

Schedule it (prefect.yaml entrypoint ``flows/poll_mentions.py:poll_mentions``), e.g. every
minute. The cursor (``since_id``) is persisted in the store itself: it is the newest mention
already stored, so there is no second place to keep in step, and a lost cursor costs only
re-reading mentions the store then recognises by tweet id.

Mentions are stored, triaged and opened as cases; they get no public auto-reply (a public
answer with a case number to someone in distress is for an agent to decide).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests
import tweepy
from prefect import flow
from sqlalchemy import func, select

from crisiscast.channels.x_social import ApiSession
from crisiscast.config import XSettings, load_settings
from crisiscast.errors import ConfigError, RetryableChannelError
from crisiscast.incidents.intake.inbound import Inbound, Intake
from crisiscast.incidents.store.database import Store
from crisiscast.incidents.store.models import InboundMessage

log = logging.getLogger(__name__)

CHANNEL = "social"
PAGE_SIZE = 100
MAX_PAGES = 10  # 1,000 mentions a run; the next run continues from the newest stored


@dataclass
class PollReport:
    """Counts only (no handles, no text): what one poll did."""

    fetched: int = 0
    stored: int = 0
    duplicates: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


def newest_stored(store: Store) -> str | None:
    """The newest mention id already stored: the next poll's ``since_id``.

    Tweet ids are decimal strings of growing length, so the longest, then the greatest,
    is the newest.
    """
    with store.session() as session:
        return session.scalar(
            select(InboundMessage.provider_id)
            .where(InboundMessage.channel == CHANNEL)
            .order_by(func.length(InboundMessage.provider_id).desc(),
                      InboundMessage.provider_id.desc())
            .limit(1)
        )  # fmt: skip


def x_client(settings: XSettings, session: requests.Session | None = None) -> tweepy.Client:
    """A tweepy client with the OAuth 2 user token; ``session`` may point it elsewhere."""
    client = tweepy.Client(
        bearer_token=settings.bearer_token.get_secret_value(),
        return_type=dict,  # the JSON as sent: no model objects to trip over odd fields
        wait_on_rate_limit=False,  # never sleep inside a flow run; the schedule retries
    )
    client.session = session or ApiSession()
    return client


def _list(page: dict[str, Any], *keys: str) -> list[dict[str, Any]]:
    """A list inside the response (``data``, ``includes.users``), empty when absent."""
    value: Any = page
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return [item for item in value or [] if isinstance(item, dict) and "id" in item]


def fetch_mentions(
    client: tweepy.Client, user_id: str, since_id: str | None
) -> list[tuple[str, str, str]]:
    """(tweet id, author, text) of mentions newer than ``since_id``, oldest first."""
    found: list[tuple[str, str, str]] = []
    token: str | None = None
    for _ in range(MAX_PAGES):
        try:
            page = client.get_users_mentions(
                user_id, since_id=since_id, max_results=PAGE_SIZE, pagination_token=token,
                expansions=["author_id"], user_fields=["username"], user_auth=False,
            )  # fmt: skip
        except (tweepy.TooManyRequests, tweepy.TwitterServerError) as exc:
            raise RetryableChannelError(
                f"X mentions: {exc}; the next scheduled run retries"
            ) from exc
        except tweepy.TweepyException as exc:
            raise ConfigError(f"X mentions refused: {exc}. Check X_BEARER_TOKEN's scopes") from exc
        users = {str(u.get("id")): u.get("username") for u in _list(page, "includes", "users")}
        for tweet in _list(page, "data"):
            author = str(tweet.get("author_id", "unknown"))
            handle = users.get(author) or author
            found.append((str(tweet["id"])[:200], f"@{handle}", str(tweet.get("text", ""))))
        token = (page.get("meta") or {}).get("next_token")
        if not token:
            break
    found.sort(key=lambda item: (len(item[0]), item[0]))
    return found


def poll_once(
    store: Store, client: tweepy.Client, user_id: str | None = None, *, now: datetime
) -> PollReport:
    """Fetch new mentions and give each to intake (store first, then triage and case)."""
    if user_id is None:
        me: dict[str, Any] = client.get_me(user_auth=False)
        user_id = str(me["data"]["id"])
    intake = Intake(store)
    report = PollReport()
    for tweet_id, author, text in fetch_mentions(client, user_id, newest_stored(store)):
        report.fetched += 1
        result = intake.receive(Inbound(CHANNEL, tweet_id, author, text), now=now)
        if result.outcome == "duplicate":
            report.duplicates += 1
            continue
        report.stored += 1
        report.outcomes[result.outcome] = report.outcomes.get(result.outcome, 0) + 1
    return report


@flow(name="poll-mentions", retries=0)
def poll_mentions(database_url: str | None = None, user_id: str | None = None) -> dict[str, int]:
    """One poll of X mentions into the incident store (scheduled; a failed run is just late)."""
    settings = load_settings()
    if settings.x is None:
        raise ConfigError("polling X mentions needs X_BEARER_TOKEN (an OAuth 2 user token)")
    store = Store(database_url or settings.database_url)
    try:
        report = poll_once(store, x_client(settings.x), user_id, now=datetime.now(UTC))
    finally:
        store.dispose()
    log.info("x mentions: fetched=%d stored=%d duplicates=%d", report.fetched, report.stored,
             report.duplicates)  # fmt: skip
    return {"fetched": report.fetched, "stored": report.stored, "duplicates": report.duplicates}
