"""twilio-sms: the official SDK against Prism serving Twilio's spec, and against faults."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any

import pytest
from channel_servers import Reply, ScriptedServer
from pydantic import SecretStr

from crisiscast.channels.base import OutgoingMessage
from crisiscast.channels.twilio_sms import TwilioSmsChannel, classify, prepare_sms
from crisiscast.config import SenderRate, TwilioSettings
from crisiscast.errors import ConfigError, PermanentChannelError, RetryableChannelError

SID = "AC" + "0123456789abcdef" * 2
TOKEN = "twilio-test-token-0123456789"
NUMBER = "+15005550009"


def settings(rate: float = 1000.0, concurrency: int = 1, **overrides: str) -> TwilioSettings:
    """One sender (the from-number, or the Messaging Service when given) at ``rate``; requests
    one at a time unless ``concurrency`` says otherwise, so scripted replies meet messages in
    order."""
    values = {"from_number": "+15005550006", "status_callback": "https://cc.example/twilio/status"}
    values.update(overrides)
    sender = values.get("messaging_service_sid") or values["from_number"]
    return TwilioSettings(
        account_sid=SID, auth_token=SecretStr(TOKEN), senders=(SenderRate(sender, rate),),
        concurrency=concurrency, **values,  # type: ignore[arg-type]
    )  # fmt: skip


_OPEN: list[TwilioSmsChannel] = []


@pytest.fixture(autouse=True)
def _close_channels() -> Iterator[None]:
    """Every channel a test made is closed after it (its send loop and HTTP session)."""
    yield
    while _OPEN:
        _OPEN.pop().close()


def channel(url: str, timeout: float = 5.0, **overrides: Any) -> TwilioSmsChannel:
    made = TwilioSmsChannel(settings(**overrides), base_url=url, timeout=timeout)
    _OPEN.append(made)
    return made


def msg(
    key: str, address: str | None = NUMBER, text: str = "Call 0800 123 for help"
) -> OutgoingMessage:
    return OutgoingMessage(key=key, address=address, language="en", text=text)


def twilio_error(status: int, code: int | None) -> Reply:
    body = {"status": status, "message": f"The 'To' number {NUMBER} is not valid", "code": code}
    return Reply(status, body)


def test_contract_sends_what_the_spec_accepts(twilio_proxy: ScriptedServer) -> None:
    """Each message is one spec-valid Messages.json POST with To, Body, From and StatusCallback."""
    results = channel(twilio_proxy.url).send([msg("k1"), msg("k2", "+447700900123", "สวัสดี")])
    assert [r.status for r in results] == ["sent", "sent"]
    assert all(r.provider_id and r.provider_id.startswith("SM") for r in results)
    first, second = twilio_proxy.requests
    assert first.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert first.form() == {
        "To": [NUMBER],
        "Body": ["Call 0800 123 for help"],
        "From": ["+15005550006"],
        "StatusCallback": ["https://cc.example/twilio/status"],
    }
    assert second.form()["Body"] == ["สวัสดี"]
    auth = base64.b64decode(first.headers["Authorization"].split()[1]).decode()
    assert auth == f"{SID}:{TOKEN}"


def test_contract_messaging_service_replaces_from(twilio_proxy: ScriptedServer) -> None:
    """With a Messaging Service SID the request names the service, not a From number."""
    service = "MG" + "a" * 32
    result = channel(twilio_proxy.url, messaging_service_sid=service).send([msg("k1")])
    assert result[0].status == "sent"
    form = twilio_proxy.requests[0].form()
    assert form["MessagingServiceSid"] == [service]
    assert "From" not in form


@pytest.mark.parametrize(
    ("code", "reason"),
    [(21211, "invalid 'To'"), (21610, "unsubscribed"), (21614, "not a mobile"), (None, "HTTP 400")],
)
def test_recipient_errors_fail_that_message_only(
    fault_server: ScriptedServer, code: int | None, reason: str
) -> None:
    """A bad or unsubscribed number fails its own message (not retryable); the batch goes on."""
    fault_server.push(
        Reply(201, {"sid": "SM1"}), twilio_error(400, code), Reply(201, {"sid": "SM3"})
    )
    results = channel(fault_server.url).send([msg("a"), msg("b"), msg("c")])
    assert [r.status for r in results] == ["sent", "failed", "sent"]
    assert results[1].retryable is False
    assert reason in (results[1].error or "")
    assert NUMBER not in (results[1].error or "")


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (twilio_error(500, None), RetryableChannelError),
        (twilio_error(503, None), RetryableChannelError),
        (twilio_error(401, 20003), PermanentChannelError),
        (twilio_error(403, None), PermanentChannelError),
        (twilio_error(400, 21606), PermanentChannelError),
    ],
)
def test_channel_trouble_before_any_send_raises(
    fault_server: ScriptedServer, reply: Reply, error: type[Exception]
) -> None:
    """5xx raise retryable; bad credentials or sender permanent; no number or token leaks."""
    fault_server.push(reply)
    with pytest.raises(error) as caught:
        channel(fault_server.url, timeout=0.5).send([msg("a"), msg("b")])
    assert NUMBER not in str(caught.value) and TOKEN not in str(caught.value)
    assert len(fault_server.requests) == 1


def test_trouble_mid_batch_defers_the_rest_without_resending(fault_server: ScriptedServer) -> None:
    """After a 503 mid-batch, sent ones stay sent and the rest come back retryable, unsent."""
    fault_server.push(Reply(201, {"sid": "SM1"}), twilio_error(503, None))
    results = channel(fault_server.url).send([msg("a"), msg("b"), msg("c")])
    assert [(r.status, r.retryable) for r in results] == [
        ("sent", False),
        ("failed", True),
        ("failed", True),
    ]
    assert results[0].provider_id == "SM1"
    assert len(fault_server.requests) == 2


def test_timeout_is_an_unknown_outcome_never_resent(fault_server: ScriptedServer) -> None:
    """A request that timed out may have been sent: it fails for good, the rest is deferred."""
    fault_server.push(Reply(201, {"sid": "SMlate"}, delay=1.0))
    results = channel(fault_server.url, timeout=0.3).send([msg("a"), msg("b")])
    assert (results[0].status, results[0].retryable) == ("failed", False)
    assert "outcome unknown" in (results[0].error or "")
    assert (results[1].status, results[1].retryable) == ("failed", True)
    assert len(fault_server.requests) == 1


@pytest.mark.parametrize("code", [20429, None])
def test_429_holds_the_sender_for_retry_after_then_sends_again(
    fault_server: ScriptedServer, code: int | None
) -> None:
    """A 429 was not accepted: the sender waits Retry-After, then the same message goes once."""
    refused = twilio_error(429, code)
    fault_server.push(Reply(refused.status, refused.body, headers={"Retry-After": "0.4"}))
    fault_server.default = Reply(201, {"sid": "SMok"})
    ch = channel(fault_server.url)
    started = time.monotonic()
    results = ch.send([msg("a")])
    assert time.monotonic() - started >= 0.4
    assert [(r.status, r.provider_id) for r in results] == [("sent", "SMok")]
    assert len(fault_server.requests) == 2
    assert ch.dispatcher.rate_limited == 1


def test_429_again_and_again_becomes_channel_trouble(fault_server: ScriptedServer) -> None:
    """A provider that keeps refusing is trouble (retried later), not an endless loop."""
    refused = twilio_error(429, 20429)
    fault_server.default = Reply(429, refused.body, headers={"Retry-After": "0"})
    with pytest.raises(RetryableChannelError, match="rate limited"):
        channel(fault_server.url).send([msg("a")])
    assert len(fault_server.requests) == 5


def test_senders_share_the_batch(fault_server: ScriptedServer) -> None:
    """Two senders of a pool both send: a Messaging Service and a short code, by their own field."""
    fault_server.default = Reply(201, {"sid": "SMok"})
    pool = (SenderRate("MG" + "b" * 32, 1000.0), SenderRate("12345", 1000.0))
    made = TwilioSmsChannel(
        TwilioSettings(account_sid=SID, auth_token=SecretStr(TOKEN), senders=pool, concurrency=4),
        base_url=fault_server.url,
    )
    _OPEN.append(made)
    results = made.send([msg(str(i)) for i in range(20)])
    assert {r.status for r in results} == {"sent"}
    forms = [r.form() for r in fault_server.requests]
    by_service = sum("MessagingServiceSid" in f for f in forms)
    by_code = sum(f.get("From") == ["12345"] for f in forms)
    assert by_service + by_code == 20 and by_service >= 5 and by_code >= 5


def test_missing_address_fails_without_a_request(fault_server: ScriptedServer) -> None:
    """A message without a phone number fails on its own and costs no API call."""
    results = channel(fault_server.url).send([msg("a", address=None)])
    assert results[0].status == "failed" and not results[0].retryable
    assert fault_server.requests == []


def test_batch_larger_than_declared_is_refused() -> None:
    """A batch over batch_size is a caller bug, refused before anything is sent."""
    ch = channel("http://127.0.0.1:9")
    with pytest.raises(ValueError, match="batch_size"):
        ch.send([msg(str(i)) for i in range(ch.batch_size + 1)])


def test_to_url_masks_token_and_number() -> None:
    """The printed configuration hides the auth token and the sender's number."""
    ch = channel("http://127.0.0.1:9", rate=1.0)
    url = ch.to_url()
    assert TOKEN not in url and "+15005550006" not in url
    assert url.startswith(f"twilio-sms://{SID}:****@+1500****006")
    assert TOKEN in ch.to_url(redact=False)
    assert TOKEN not in repr(ch)


@pytest.mark.parametrize(
    ("text", "segments", "encoding", "truncated"),
    [
        ("a" * 160, 1, "gsm7", False),
        ("a" * 161, 2, "gsm7", False),
        ("ภาษาไทย " * 9, 2, "ucs2", False),
        ("word " * 400, 11, "gsm7", True),
    ],
)
def test_prepare_counts_segments_and_truncates(
    text: str, segments: int, encoding: str, truncated: bool
) -> None:
    """prepare shows the body as sent, its encoding and segments; over 1600 chars it is cut."""
    prepared = prepare_sms(msg("k", text=text))
    assert (prepared.segments, prepared.encoding, prepared.truncated) == (
        segments,
        encoding,
        truncated,
    )
    assert len(prepared.parts[0]) <= 1600
    if truncated:
        assert prepared.parts[0].endswith("word...")


@pytest.mark.parametrize(
    ("status", "code", "outcome"),
    [
        (400, 21211, "recipient"),
        (400, 21610, "recipient"),
        (400, 21614, "recipient"),
        (400, 21612, "recipient"),
        (429, 20429, "retry"),
        (429, None, "retry"),
        (502, None, "retry"),
        (401, 20003, "permanent"),
        (400, 21606, "permanent"),
        (404, 20404, "permanent"),
        (400, 99999, "recipient"),
    ],
)
def test_classify_table(status: int, code: int | None, outcome: str) -> None:
    """Each Twilio status/code pair maps to a recipient failure, a retry or a permanent stop."""
    assert classify(status, code)[0] == outcome


def test_sender_is_required() -> None:
    """Without a from-number or Messaging Service the channel refuses to start, saying which."""
    bare = TwilioSettings(account_sid=SID, auth_token=SecretStr(TOKEN))
    with pytest.raises(ConfigError, match="TWILIO_FROM_NUMBER"):
        TwilioSmsChannel(bare)
