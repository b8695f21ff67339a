"""sendgrid-email: the official SDK against Prism serving SendGrid's Mail v3 spec, and faults."""

from __future__ import annotations

import time

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
        (Reply(500, {"errors": []}), RetryableChannelError, "HTTP 500"),
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
    """5xx are retryable; 400/401/413 permanent with the reason; emails masked."""
    fault_server.push(reply)
    with pytest.raises(error) as caught:
        channel(fault_server.url, timeout=0.5).send([msg("a", "ana@example.org")])
    assert words in str(caught.value)
    assert "ana@example.org" not in str(caught.value) and API_KEY not in str(caught.value)


def test_second_group_failing_keeps_the_first_sent(fault_server: ScriptedServer) -> None:
    """When a later request hits a 503, the sent group stays sent and the rest is deferred."""
    fault_server.push(Reply(202, b"", {"X-Message-Id": "m1"}), Reply(503, {"errors": []}))
    batch = [msg("a", "a@example.org", "en"), msg("b", "b@example.org", "fr")]
    results = channel(fault_server.url).send(batch)
    assert [(r.status, r.retryable) for r in results] == [("sent", False), ("failed", True)]


def test_timeout_leaves_the_request_unknown_never_resent(fault_server: ScriptedServer) -> None:
    """A request that timed out may have gone out: its recipients fail for good, not resent."""
    fault_server.push(Reply(202, b"", delay=1.0))
    batch = [msg("a", "a@example.org"), msg("b", "b@example.org"), msg("c", "c@example.org", "fr")]
    results = channel(fault_server.url, timeout=0.3).send(batch)
    assert [(r.status, r.retryable) for r in results] == [
        ("failed", False), ("failed", False), ("failed", True),
    ]  # fmt: skip
    assert "outcome unknown" in (results[0].error or "")
    assert len(fault_server.requests) == 1


@pytest.mark.parametrize(
    "headers",
    [{"Retry-After": "0.4"}, {"X-RateLimit-Reset": "{reset}"}],
    ids=["retry-after", "reset"],
)
def test_429_waits_then_sends_the_same_request_once(
    fault_server: ScriptedServer, headers: dict[str, str]
) -> None:
    """A 429 was not accepted: the account's bucket holds until the reset, then one resend."""
    reset = {k: v.format(reset=f"{time.time() + 0.4:.3f}") for k, v in headers.items()}
    fault_server.push(Reply(429, {"errors": []}, reset), Reply(202, b"", {"X-Message-Id": "m2"}))
    ch = channel(fault_server.url)
    started = time.monotonic()
    results = ch.send([msg("a", "a@example.org")])
    assert time.monotonic() - started >= 0.35
    assert [(r.status, r.provider_id) for r in results] == [("sent", "m2")]
    assert len(fault_server.requests) == 2 and ch.rate_limited == 1


def test_requests_keep_to_the_configured_rate(fault_server: ScriptedServer) -> None:
    """At 2 requests/s, three content groups wait 0.5 s before the second and the third."""
    fault_server.default = Reply(202, b"")
    now = [100.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    settings = SendGridSettings(SecretStr(API_KEY + "-rate"), SENDER, requests_per_second=2.0)
    ch = SendGridEmailChannel(settings, host=fault_server.url, clock=lambda: now[0], sleep=sleep)
    batch = [msg(str(i), f"u{i}@example.org", lang) for i, lang in enumerate(["en", "fr", "th"])]
    assert {r.status for r in ch.send(batch)} == {"sent"}
    assert sleeps == [pytest.approx(0.5), pytest.approx(0.5)]
    assert ch.requests == 3


def test_to_url_masks_the_api_key() -> None:
    """The printed configuration never shows the API key unless asked to."""
    ch = channel("http://127.0.0.1:9")
    assert API_KEY not in ch.to_url() and API_KEY not in repr(ch)
    assert ch.to_url().startswith(f"sendgrid-email://****@{SENDER}")
    assert API_KEY in ch.to_url(redact=False)
