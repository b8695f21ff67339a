"""twilio-sms: the official SDK against Prism serving Twilio's spec, and against faults."""

from __future__ import annotations

import base64

import pytest
from channel_servers import Reply, ScriptedServer
from pydantic import SecretStr

from crisiscast.channels.base import OutgoingMessage
from crisiscast.channels.twilio_sms import (
    RedirectingHttpClient,
    TwilioSmsChannel,
    classify,
    prepare_sms,
)
from crisiscast.config import TwilioSettings
from crisiscast.errors import ConfigError, PermanentChannelError, RetryableChannelError

SID = "AC" + "0123456789abcdef" * 2
TOKEN = "twilio-test-token-0123456789"
NUMBER = "+15005550009"


def settings(**overrides: str) -> TwilioSettings:
    values = {"from_number": "+15005550006", "status_callback": "https://cc.example/twilio/status"}
    values.update(overrides)
    return TwilioSettings(account_sid=SID, auth_token=SecretStr(TOKEN), **values)  # type: ignore[arg-type]


def channel(url: str, timeout: float = 5.0, **overrides: str) -> TwilioSmsChannel:
    client = RedirectingHttpClient(url, timeout=timeout)
    return TwilioSmsChannel(settings(**overrides), http_client=client)


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
        (twilio_error(429, None), RetryableChannelError),
        (twilio_error(429, 20429), RetryableChannelError),
        (twilio_error(500, None), RetryableChannelError),
        (twilio_error(503, None), RetryableChannelError),
        (twilio_error(401, 20003), PermanentChannelError),
        (twilio_error(403, None), PermanentChannelError),
        (twilio_error(400, 21606), PermanentChannelError),
        (Reply(201, {"sid": "SMlate"}, delay=2.0), RetryableChannelError),
    ],
)
def test_channel_trouble_before_any_send_raises(
    fault_server: ScriptedServer, reply: Reply, error: type[Exception]
) -> None:
    """429/5xx/timeouts raise retryable; bad credentials or sender permanent; no number leaks."""
    fault_server.push(reply)
    with pytest.raises(error) as caught:
        channel(fault_server.url, timeout=0.5).send([msg("a"), msg("b")])
    assert NUMBER not in str(caught.value) and TOKEN not in str(caught.value)
    assert len(fault_server.requests) == 1


def test_trouble_mid_batch_defers_the_rest_without_resending(fault_server: ScriptedServer) -> None:
    """After a 429 mid-batch, sent ones stay sent and the rest come back retryable, unsent."""
    fault_server.push(Reply(201, {"sid": "SM1"}), twilio_error(429, 20429))
    results = channel(fault_server.url).send([msg("a"), msg("b"), msg("c")])
    assert [(r.status, r.retryable) for r in results] == [
        ("sent", False),
        ("failed", True),
        ("failed", True),
    ]
    assert results[0].provider_id == "SM1"
    assert len(fault_server.requests) == 2


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
    ch = channel("http://127.0.0.1:9")
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
