"""One contract every channel keeps, run against each of them (SDK channels through Prism)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from channel_servers import ScriptedServer
from pydantic import SecretStr

from crisiscast.channels.apprise_chat import AppriseChatChannel
from crisiscast.channels.base import CHANNEL_KINDS, Channel, OutgoingMessage
from crisiscast.channels.failover import CircuitBreaker, SmsFailover
from crisiscast.channels.outbox import OutboxChannel
from crisiscast.channels.registry import PREPARERS
from crisiscast.channels.sendgrid_email import SendGridEmailChannel
from crisiscast.channels.twilio_sms import TwilioSmsChannel
from crisiscast.channels.x_social import ApiSession, XSocialChannel
from crisiscast.config import SenderRate, SendGridSettings, TwilioSettings, XSettings

SECRET = "contract-secret-0123456789abcdef"


@dataclass
class Case:
    channel: Channel
    batch: list[OutgoingMessage]
    server: ScriptedServer | None
    # SendGrid's spec declares no X-Message-Id header, so Prism sends none (real SendGrid does).
    gives_provider_ids: bool = True


def _twilio(request: pytest.FixtureRequest, tmp_path: Path) -> Case:
    proxy: ScriptedServer = request.getfixturevalue("twilio_proxy")
    channel = TwilioSmsChannel(_twilio_settings("ab"), base_url=proxy.url)
    batch = [OutgoingMessage(f"k{i}", f"+1500555000{i}", "en", "Call 0800 123") for i in (1, 2)]
    return Case(channel, batch, proxy)


def _twilio_settings(account: str) -> TwilioSettings:
    pool = (SenderRate("+15005550006", 100.0),)
    return TwilioSettings("AC" + account * 16, SecretStr(SECRET), senders=pool)


def _failover(request: pytest.FixtureRequest, tmp_path: Path) -> Case:
    proxy: ScriptedServer = request.getfixturevalue("twilio_proxy")
    primary = TwilioSmsChannel(_twilio_settings("ab"), base_url=proxy.url)
    secondary = TwilioSmsChannel(_twilio_settings("cd"), base_url=proxy.url)
    channel = SmsFailover(primary, secondary, CircuitBreaker(threshold=1, cooldown=60))
    batch = [OutgoingMessage(f"k{i}", f"+1500555000{i}", "en", "Call 0800 123") for i in (1, 2)]
    return Case(channel, batch, proxy)


def _sendgrid(request: pytest.FixtureRequest, tmp_path: Path) -> Case:
    proxy: ScriptedServer = request.getfixturevalue("sendgrid_proxy")
    settings = SendGridSettings(SecretStr(SECRET), "alerts@cc.example")
    channel = SendGridEmailChannel(settings, host=proxy.url)
    batch = [OutgoingMessage(f"k{i}", f"u{i}@example.org", "en", "Call", "Outage") for i in (1, 2)]
    return Case(channel, batch, proxy, gives_provider_ids=False)


def _x(request: pytest.FixtureRequest, tmp_path: Path) -> Case:
    proxy: ScriptedServer = request.getfixturevalue("x_proxy")
    channel = XSocialChannel(XSettings(SecretStr(SECRET)), session=ApiSession(proxy.url))
    batch = [OutgoingMessage(f"k{i}", None, "en", f"Outage update {i}") for i in (1, 2)]
    return Case(channel, batch, proxy)


def _apprise(request: pytest.FixtureRequest, tmp_path: Path) -> Case:
    server: ScriptedServer = request.getfixturevalue("fault_server")
    channel = AppriseChatChannel([server.url.replace("http://", f"json://bot:{SECRET}@")])
    batch = [OutgoingMessage(f"k{i}", None, "en", f"Outage update {i}", "Outage") for i in (1, 2)]
    return Case(channel, batch, server)


def _outbox(request: pytest.FixtureRequest, tmp_path: Path) -> Case:
    channel = OutboxChannel("sms", tmp_path, preparer=PREPARERS["sms"])
    batch = [OutgoingMessage(f"k{i}", f"+1500555000{i}", "en", "Call 0800 123") for i in (1, 2)]
    return Case(channel, batch, None)


FACTORIES: dict[str, Callable[[pytest.FixtureRequest, Path], Case]] = {
    "twilio-sms": _twilio,
    "failover-sms": _failover,
    "sendgrid-email": _sendgrid,
    "x-social": _x,
    "apprise-chat": _apprise,
    "outbox": _outbox,
}


@pytest.fixture(params=list(FACTORIES))
def case(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Case]:
    """Each channel, pointed at a real local endpoint that accepts its requests."""
    built = FACTORIES[request.param](request, tmp_path)
    yield built
    built.channel.close()


def test_declares_what_it_is(case: Case) -> None:
    """Kind, name, encoding and limits are declared as class attributes."""
    cls = type(case.channel)
    assert cls.kind in CHANNEL_KINDS and cls.name
    assert cls.batch_size >= 1 and isinstance(cls.encoding, str)
    assert cls.rate_per_second is None or cls.rate_per_second > 0
    assert cls.max_length is None or cls.max_length > 0


def test_one_result_per_message_in_order(case: Case) -> None:
    """send answers one result per message, same keys, same order, all sent."""
    results = case.channel.send(case.batch)
    assert [r.key for r in results] == [m.key for m in case.batch]
    assert [r.status for r in results] == ["sent", "sent"]
    if case.gives_provider_ids:
        assert all(r.provider_id for r in results)


def test_prepare_is_pure(case: Case) -> None:
    """prepare makes no request and gives the same answer twice."""
    before = len(case.server.requests) if case.server else 0
    first = case.channel.prepare(case.batch[0])
    assert first == case.channel.prepare(case.batch[0])
    assert first.message == case.batch[0] and first.segments >= 1
    assert (len(case.server.requests) if case.server else 0) == before


def test_to_url_and_repr_hide_secrets(case: Case) -> None:
    """The printed configuration never contains the secret."""
    assert SECRET not in case.channel.to_url() and SECRET not in repr(case.channel)


def test_debug_logs_hold_no_secret_or_address(case: Case, caplog: pytest.LogCaptureFixture) -> None:
    """Even at DEBUG, sending logs neither the credential nor a recipient's address."""
    caplog.set_level(logging.DEBUG)
    case.channel.send(case.batch)
    assert SECRET not in caplog.text
    assert not [m.address for m in case.batch if m.address and m.address in caplog.text]
