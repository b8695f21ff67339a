"""A shard on a failover channel: the primary answers 503 mid-shard, the second account sends
the rest; the ledger records each delivery once with the provider that sent it, and a Twilio
status callback for a failover delivery finds its row."""

from __future__ import annotations

from datetime import UTC, datetime

from channel_servers import Reply, ScriptedServer
from pydantic import SecretStr
from sqlalchemy import text

from crisiscast.channels.failover import CircuitBreaker, SmsFailover
from crisiscast.channels.twilio_sms import TwilioSmsChannel
from crisiscast.config import SenderRate, TwilioSettings
from crisiscast.incidents.broadcast.decisions import Content, reach
from crisiscast.incidents.broadcast.delivery import apply_twilio_status
from crisiscast.incidents.broadcast.sending import RetryPolicy, Shard, run_shard
from crisiscast.incidents.store import database as st
from crisiscast.incidents.store.models import Contact

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
PHONES = [f"+1500555{i:04d}" for i in range(12)]


def _twilio(url: str, account: str) -> TwilioSmsChannel:
    settings = TwilioSettings(
        "AC" + account * 32, SecretStr("token-0123456789"),
        senders=(SenderRate("+15005550006", 1000.0), SenderRate("12345", 1000.0)), concurrency=1,
    )  # fmt: skip
    return TwilioSmsChannel(settings, base_url=url, timeout=2.0)


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


def test_primary_outage_mid_shard_moves_only_the_rest_and_records_the_route(
    store: st.Store,
) -> None:
    """5 go out on the primary, then 503s: after the threshold the other 7 go through the second
    account. Every number is sent once across both; the ledger says which account sent each."""
    incident_id, contents = _seed(store)
    with ScriptedServer(default=Reply(503, {"status": 503, "message": "down"})) as primary, \
            ScriptedServer(default=Reply(201, {"sid": "SMbackup"})) as backup:  # fmt: skip
        primary.push(*[Reply(201, {"sid": f"SMprimary{i}"}) for i in range(5)])
        channel = SmsFailover(_twilio(primary.url, "a"), _twilio(backup.url, "b"),
                              CircuitBreaker(threshold=2, cooldown=60.0))  # fmt: skip
        sleeps: list[float] = []
        policy = RetryPolicy(sleep=sleeps.append)
        shard = Shard(incident_id, "sms", (1, 100), reach({}, "sms"))
        with channel:
            report = run_shard(store, shard, channel, contents, "en", policy, batch_size=4)
        accepted = [r.form()["To"][0] for r in primary.requests[:5]]
        accepted += [r.form()["To"][0] for r in backup.requests]
    assert sorted(accepted) == sorted(PHONES)  # 0 duplicates, 0 missed
    assert report.sent == 12 and report.failed == 0
    assert len(sleeps) == 1  # one backoff below the threshold, then failover
    with store.session() as session:
        rows = session.execute(
            text("SELECT status, provider_id, attempts FROM deliveries ORDER BY id")
        ).all()
        assert {status for status, _, _ in rows} == {"sent"}
        ids = [provider for _, provider, _ in rows]
        assert ids[:5] == [f"SMprimary{i}" for i in range(5)]
        assert ids[5:] == ["failover:twilio-sms:SMbackup"] * 7
        changed = apply_twilio_status(
            session, {"MessageSid": "SMprimary0", "MessageStatus": "delivered"}, now=NOW
        )
        assert changed == 1
        changed = apply_twilio_status(
            session, {"MessageSid": "SMbackup", "MessageStatus": "delivered"}, now=NOW
        )
        assert changed == 7  # the stand-in server gave every message one sid
