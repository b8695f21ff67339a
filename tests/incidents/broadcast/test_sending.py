"""The shard sender with the real Twilio SDK channel against a local fault server: retries with
backoff, giving up, channel failure, pacing, and rows left in flight by a crash."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from channel_servers import Reply, ScriptedServer
from pydantic import SecretStr
from sqlalchemy import text

from crisiscast.channels.twilio_sms import TwilioSmsChannel
from crisiscast.config import SenderRate, TwilioSettings
from crisiscast.incidents.broadcast import ledger as lg
from crisiscast.incidents.broadcast.decisions import Content, reach
from crisiscast.incidents.broadcast.queueing import queue_shard
from crisiscast.incidents.broadcast.sending import RetryPolicy, Shard, ShardReport, run_shard
from crisiscast.incidents.store import database as st
from crisiscast.incidents.store.models import Contact

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
PHONES = ("+15005550001", "+15005550002", "+15005550003")
SID = "AC" + "0123456789abcdef" * 2


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    """A local Twilio stand-in that answers 201 unless a test scripts something else."""
    with ScriptedServer(default=Reply(201, {"sid": "SMok"})) as instance:
        yield instance


def _twilio(server: ScriptedServer) -> TwilioSmsChannel:
    settings = TwilioSettings(
        account_sid=SID, auth_token=SecretStr("token-0123456789"), from_number="+15005550006",
        senders=(SenderRate("+15005550006", 1000.0),), concurrency=1,
    )  # fmt: skip
    return TwilioSmsChannel(settings, base_url=server.url, timeout=2.0)


def _seed(store: st.Store) -> tuple[int, dict[str, Content]]:
    with store.session() as session:
        incident = st.create_incident(
            session, playbook_id="p", playbook_path="p.yaml", title="t", params={},
            languages=["en"], exercise=False, now=NOW,
        )  # fmt: skip
        row = st.add_announcement(
            session, incident.id, announcement_id="warning", when="launch", channel="sms",
            language="en", subject=None, body="Flood warning", html=None, now=NOW,
        )  # fmt: skip
        session.add_all([Contact(phone=p, language="en") for p in PHONES])
        return incident.id, {"en": Content(row.id, "en", "Flood warning", None, None)}


def _ledger(store: st.Store) -> list[tuple[str, str | None, int, str | None]]:
    with store.session() as session:
        rows = session.execute(
            text("SELECT status, provider_id, attempts, last_error FROM deliveries ORDER BY id")
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


def _run(store: st.Store, server: ScriptedServer, policy: RetryPolicy, **kw: int) -> ShardReport:
    incident_id, contents = _seed(store)
    shard = Shard(incident_id, "sms", (1, 10), reach({}, "sms"))
    with _twilio(server) as channel:
        return run_shard(store, shard, channel, contents, "en", policy, **kw)


def test_rate_limited_batch_is_retried_after_backoff(
    store: st.Store, server: ScriptedServer
) -> None:
    """A 503 before anything was sent is retried after a jittered backoff; one SMS per number.
    (A 429 is the channel's own business: tests/channels/test_twilio_sms.py.)"""
    sleeps: list[float] = []
    server.push(Reply(503, {"status": 503, "message": "Service unavailable"}))
    report = _run(
        store, server, RetryPolicy(base_seconds=1.0, rate_per_second=1e6, sleep=sleeps.append)
    )
    assert [(s, p, a) for s, p, a, _ in _ledger(store)] == [("sent", "SMok", 2)] * 3
    assert len(sleeps) == 1 and 0.5 <= sleeps[0] <= 1.0
    assert len(server.requests) == 4  # the refused one, then one per number
    assert report.sent == 3


def test_retries_give_up_and_record_the_reason(store: st.Store, server: ScriptedServer) -> None:
    """When the provider keeps answering 503, rows end failed with the reason after max_attempts."""
    server.default = Reply(503, {"status": 503, "message": "unavailable"})
    policy = RetryPolicy(max_attempts=3, rate_per_second=1e6, sleep=lambda _: None)
    _run(store, server, policy)
    rows = _ledger(store)
    assert [(s, a) for s, _, a, _ in rows] == [("failed", 3)] * 3
    assert all("503" in (error or "") for *_, error in rows)


def test_permanent_channel_failure_is_reported_not_raised(
    store: st.Store, server: ScriptedServer
) -> None:
    """Bad credentials stop this channel's shard with the reason in the report and the ledger."""
    server.default = Reply(401, {"status": 401, "code": 20003, "message": "Authenticate"})
    report = _run(store, server, RetryPolicy(rate_per_second=1e6, sleep=lambda _: None))
    assert report.error
    assert {s for s, *_ in _ledger(store)} == {"failed"}
    assert len(server.requests) == 1


def test_rows_in_flight_at_a_crash_are_not_resent(store: st.Store, server: ScriptedServer) -> None:
    """Rows handed to Twilio by a run that died are marked 'outcome unknown', never sent again."""
    incident_id, contents = _seed(store)
    shard = Shard(incident_id, "sms", (1, 10), reach({}, "sms"))
    policy = RetryPolicy(rate_per_second=1e6, sleep=lambda _: None)
    with store.session() as session:  # what a killed run leaves: queued, then marked in flight
        queue_shard(session, incident_id, reach({}, "sms"), (1, 10), contents, "en", NOW)
        ids = [r.id for r in lg.queued_rows(session, incident_id, "sms", (1, 10))]
        lg.mark_in_flight(session, ids, now=NOW)
    with _twilio(server) as channel:
        report = run_shard(store, shard, channel, contents, "en", policy)
    assert report.unknown == 3
    assert [(s, e) for s, _, _, e in _ledger(store)] == [("failed", lg.UNKNOWN_AFTER_CRASH)] * 3
    assert server.requests == []


def test_sending_is_paced_to_the_channel_rate(store: st.Store, server: ScriptedServer) -> None:
    """At 2 messages/s, one per batch, the sender waits 0.5 s per message handed over."""
    now = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    policy = RetryPolicy(rate_per_second=2.0, sleep=sleep, clock=lambda: now[0])
    _run(store, server, policy, batch_size=1)
    assert sleeps == [pytest.approx(0.5), pytest.approx(0.5)]


def test_preview_says_how_long_each_channel_takes() -> None:
    """The reach rows' reached counts become one send-time line per channel."""
    from crisiscast.config import load_settings
    from crisiscast.incidents.broadcast.reach_report import ReachRow, send_time_lines

    rows = [ReachRow("sms", "en", reached=60_000), ReachRow("sms", "th", reached=40_000),
            ReachRow("email", "en", reached=3)]  # fmt: skip
    env = {"TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": "t" * 20, "TWILIO_SENDERS": "12345"}
    lines = send_time_lines(rows, load_settings(env))
    assert lines == [
        "3 emails to the outbox (no email provider configured): no provider limit",
        "100,000 SMS over 1 sender at 100/s: about 17 min",
    ]


def test_a_pooled_channel_is_not_paced_again(store: st.Store, server: ScriptedServer) -> None:
    """Twilio's pool keeps each sender's rate itself: the shard adds no 1/s pacing on top."""
    sleeps: list[float] = []
    report = _run(store, server, RetryPolicy(sleep=sleeps.append), batch_size=1)
    assert report.sent == 3 and sleeps == []
