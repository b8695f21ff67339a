"""sendgrid-email: the official SDK against Prism serving SendGrid's Mail v3 spec, and faults."""

from __future__ import annotations

import pytest
from channel_servers import Reply, ScriptedServer
from pydantic import SecretStr

from crisiscast.channels.base import OutgoingMessage
from crisiscast.channels.sendgrid_email import SendGridEmailChannel
from crisiscast.config import SendGridSettings
from crisiscast.errors import PermanentChannelError, RetryableChannelError

API_KEY = "SG.test-key-0123456789abcdef"
SENDER = "alerts@cc.example"


def channel(url: str, timeout: float = 5.0) -> SendGridEmailChannel:
    settings = SendGridSettings(api_key=SecretStr(API_KEY), from_email=SENDER)
    return SendGridEmailChannel(settings, host=url, timeout=timeout)


def msg(key: str, address: str | None, language: str = "en", **kw: str) -> OutgoingMessage:
    values = {"subject": f"Outage ({language})", "text": f"Call 0800 123 [{language}]"}
    values.update(kw)
    return OutgoingMessage(key=key, address=address, language=language, **values)  # type: ignore[arg-type]


def test_contract_groups_by_language_with_delivery_keys(sendgrid_proxy: ScriptedServer) -> None:
    """One spec-valid request per language; each recipient carries its delivery key."""
    batch = [
        msg("k1", "ana@example.org", "en", html="<p>Call 0800 123</p>"),
        msg("k2", "ben@example.org", "th"),
        msg("k3", "cy@example.org", "en", html="<p>Call 0800 123</p>"),
    ]
    results = channel(sendgrid_proxy.url).send(batch)
    assert [(r.key, r.status) for r in results] == [("k1", "sent"), ("k2", "sent"), ("k3", "sent")]
    english, thai = (r.json() for r in sendgrid_proxy.requests)
    assert [r.path for r in sendgrid_proxy.requests] == ["/v3/mail/send"] * 2
    assert english["personalizations"] == [
        {"to": [{"email": "ana@example.org"}], "custom_args": {"delivery_key": "k1"}},
        {"to": [{"email": "cy@example.org"}], "custom_args": {"delivery_key": "k3"}},
    ]
    assert english["content"] == [
        {"type": "text/plain", "value": "Call 0800 123 [en]"},
        {"type": "text/html", "value": "<p>Call 0800 123</p>"},
    ]
    assert english["from"] == {"email": SENDER} and english["subject"] == "Outage (en)"
    assert thai["headers"] == {"Content-Language": "th"}
    assert sendgrid_proxy.requests[0].headers["Authorization"] == f"Bearer {API_KEY}"


def test_full_batch_is_one_request(sendgrid_proxy: ScriptedServer) -> None:
    """1,000 recipients with one content go out as a single request, the published maximum."""
    batch = [msg(f"k{i}", f"user{i}@example.org") for i in range(1000)]
    results = channel(sendgrid_proxy.url).send(batch)
    assert {r.status for r in results} == {"sent"}
    assert len(sendgrid_proxy.requests) == 1
    assert len(sendgrid_proxy.requests[0].json()["personalizations"]) == 1000


def test_bad_addresses_fail_alone(fault_server: ScriptedServer) -> None:
    """Missing or malformed addresses and missing subjects fail; the rest is still sent."""
    fault_server.push(Reply(202, b"", {"X-Message-Id": "msg-1"}))
    batch = [msg("a", None), msg("b", "not-an-email"), msg("c", "x@example.org", subject="")]
    batch.append(msg("d", "ok@example.org"))
    results = channel(fault_server.url).send(batch)
    assert [r.status for r in results] == ["failed", "failed", "failed", "sent"]
    assert results[3].provider_id == "msg-1"
    assert len(fault_server.requests) == 1


@pytest.mark.parametrize(
    ("reply", "error", "words"),
    [
        (Reply(429, {"errors": []}), RetryableChannelError, "HTTP 429"),
        (Reply(500, {"errors": []}), RetryableChannelError, "HTTP 500"),
        (Reply(202, b"", delay=2.0), RetryableChannelError, "timed out"),
        (
            Reply(401, {"errors": [{"message": "bad key"}]}),
            PermanentChannelError,
            "SENDGRID_API_KEY",
        ),
        (
            Reply(
                400,
                {"errors": [{"field": "personalizations.0.to", "message": "bad ana@example.org"}]},
            ),
            PermanentChannelError,
            "personalizations.0.to: bad a***@example.org",
        ),
        (Reply(413, {"errors": [{"message": "too large"}]}), PermanentChannelError, "30 MB"),
    ],
)
def test_http_faults_map_to_channel_errors(
    fault_server: ScriptedServer, reply: Reply, error: type[Exception], words: str
) -> None:
    """429/5xx/timeouts are retryable; 400/401/413 permanent with the reason; emails masked."""
    fault_server.push(reply)
    with pytest.raises(error) as caught:
        channel(fault_server.url, timeout=0.5).send([msg("a", "ana@example.org")])
    assert words in str(caught.value)
    assert "ana@example.org" not in str(caught.value) and API_KEY not in str(caught.value)


def test_second_group_failing_keeps_the_first_sent(fault_server: ScriptedServer) -> None:
    """When a later request hits 429, the sent group stays sent and the rest is deferred."""
    fault_server.push(Reply(202, b"", {"X-Message-Id": "m1"}), Reply(429, {"errors": []}))
    batch = [msg("a", "a@example.org", "en"), msg("b", "b@example.org", "fr")]
    results = channel(fault_server.url).send(batch)
    assert [(r.status, r.retryable) for r in results] == [("sent", False), ("failed", True)]


def test_to_url_masks_the_api_key() -> None:
    """The printed configuration never shows the API key unless asked to."""
    ch = channel("http://127.0.0.1:9")
    assert API_KEY not in ch.to_url() and API_KEY not in repr(ch)
    assert ch.to_url().startswith(f"sendgrid-email://****@{SENDER}")
    assert API_KEY in ch.to_url(redact=False)
