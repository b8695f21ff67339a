"""smtp-email: stdlib smtplib against a small local SMTP server; refused recipients, relay
trouble mid-batch, failover from SendGrid to SMTP, and CRISISCAST_SMTP_URL."""

from __future__ import annotations

import email
import socketserver
import threading
from collections.abc import Iterator
from email.message import Message

import pytest
from channel_servers import Reply, ScriptedServer
from pydantic import SecretStr

from crisiscast.channels.base import OutgoingMessage
from crisiscast.channels.failover import CircuitBreaker, EmailFailover
from crisiscast.channels.sendgrid_email import SendGridEmailChannel
from crisiscast.channels.smtp_email import KEY_HEADER, SmtpEmailChannel
from crisiscast.config import SendGridSettings, SmtpSettings, load_settings, parse_smtp_url
from crisiscast.errors import ConfigError


class SmtpStub(socketserver.ThreadingTCPServer):
    """A minimal SMTP server on 127.0.0.1: records each message; ``refuse`` holds recipients
    answered 550; after ``fail_after`` messages every MAIL FROM gets 421."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.messages: list[Message] = []
        self.refuse: set[str] = set()
        self.fail_after: int | None = None
        self.lock = threading.Lock()

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _Handler(socketserver.StreamRequestHandler):
    server: SmtpStub

    def _say(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self._say("220 stub ESMTP")
        while line := self.rfile.readline():
            verb = line[:4].upper().decode(errors="replace")
            if verb == "EHLO":
                self._say("250-stub")
                self._say("250 8BITMIME")
            elif verb == "MAIL":
                failing = self.server.fail_after is not None and (
                    len(self.server.messages) >= self.server.fail_after
                )
                self._say("421 try again later" if failing else "250 OK")
            elif verb == "RCPT":
                address = line.decode().split("<", 1)[1].split(">", 1)[0]
                self._say("550 no such user" if address in self.server.refuse else "250 OK")
            elif verb == "DATA":
                self._say("354 go ahead")
                data = b""
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data += chunk
                with self.server.lock:
                    self.server.messages.append(email.message_from_bytes(data))
                self._say("250 queued")
            elif verb == "QUIT":
                self._say("221 bye")
                return
            else:
                self._say("250 OK")


@pytest.fixture
def relay() -> Iterator[SmtpStub]:
    """The stub on a free loopback port, stopped after the test."""
    server = SmtpStub()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)  # fmt: skip
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def smtp(relay: SmtpStub) -> SmtpEmailChannel:
    settings = SmtpSettings("127.0.0.1", relay.port, "alerts@cc.example", tls="none", rate=1000.0)
    return SmtpEmailChannel(settings, timeout=2.0)


def msg(key: str, address: str, language: str = "en") -> OutgoingMessage:
    return OutgoingMessage(key, address, language, f"Call 0800 123 [{language}]", "Outage")


def test_one_email_per_recipient_with_its_delivery_key(relay: SmtpStub) -> None:
    """Each recipient gets their own email (nobody sees another's address), keyed back."""
    results = smtp(relay).send([msg("k1", "ana@example.org"), msg("k2", "ben@example.org", "th")])
    assert [r.status for r in results] == ["sent", "sent"]
    first, second = relay.messages
    assert (first["To"], first[KEY_HEADER], first["Subject"]) == ("ana@example.org", "k1", "Outage")
    assert second["Content-Language"] == "th" and second["To"] == "ben@example.org"
    assert results[0].provider_id == first["Message-ID"].strip("<>")


def test_refused_recipient_fails_alone(relay: SmtpStub) -> None:
    """A 550 for one address fails that message only; the batch goes on."""
    relay.refuse.add("nobody@example.org")
    batch = [
        msg("a", "ana@example.org"),
        msg("b", "nobody@example.org"),
        msg("c", "cy@example.org"),
    ]
    results = smtp(relay).send(batch)
    assert [r.status for r in results] == ["sent", "failed", "sent"]
    assert "550" in (results[1].error or "") and "nobody" not in (results[1].error or "")


def test_relay_trouble_mid_batch_defers_the_rest(relay: SmtpStub) -> None:
    """A 421 after one message: it stays sent, the rest come back deferred (retryable)."""
    relay.fail_after = 1
    results = smtp(relay).send([msg("a", "a@example.org"), msg("b", "b@example.org")])
    assert [(r.status, r.retryable) for r in results] == [("sent", False), ("failed", True)]
    assert len(relay.messages) == 1


def test_sendgrid_down_fails_over_to_smtp_once_each(relay: SmtpStub) -> None:
    """SendGrid answering 503: the batch goes out over SMTP, once per person, recorded as such."""
    with ScriptedServer(default=Reply(503, {"errors": []})) as sendgrid_down:
        primary = SendGridEmailChannel(SendGridSettings(SecretStr("SG.down"), "alerts@cc.example"),
                                       host=sendgrid_down.url)  # fmt: skip
        channel = EmailFailover(primary, smtp(relay), CircuitBreaker(1, 60.0))
        batch = [msg(f"k{i}", f"p{i}@example.org") for i in range(5)]
        results = channel.send(batch)
    assert {r.status for r in results} == {"sent"}
    assert sorted(m["To"] for m in relay.messages) == sorted(m.address or "" for m in batch)
    assert all((r.provider_id or "").startswith("failover:smtp-email:") for r in results)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://bot:p%40ss@mail.example.org?from=alerts@example.org",
         ("mail.example.org", 587, "starttls", "bot", "p@ss", 10.0)),
        ("smtps://mail.example.org?from=a@example.org&rate=2",
         ("mail.example.org", 465, "ssl", None, None, 2.0)),
        ("smtp://127.0.0.1:2525?from=a@example.org&tls=none",
         ("127.0.0.1", 2525, "none", None, None, 10.0)),
    ],
)  # fmt: skip
def test_smtp_url(url: str, expected: tuple[object, ...]) -> None:
    """CRISISCAST_SMTP_URL gives the relay, its TLS, the login and the rate."""
    s = parse_smtp_url(url)
    assert s is not None
    password = s.password.get_secret_value() if s.password else None
    assert (s.host, s.port, s.tls, s.username, password, s.rate) == expected
    assert "p@ss" not in repr(s)


@pytest.mark.parametrize(
    "url",
    ["http://mail.example.org?from=a@b.c", "smtp://mail.example.org", "smtp://h?from=a@b&tls=x"],
)
def test_bad_smtp_url_says_the_form(url: str) -> None:
    """A URL that cannot be used is refused with the form to write."""
    with pytest.raises(ConfigError, match="CRISISCAST_SMTP_URL must look like"):
        load_settings({"CRISISCAST_SMTP_URL": url})


def test_smtp_alone_serves_email_and_masks_the_password() -> None:
    """With only SMTP configured, email is live over it; its URL hides the password."""
    from crisiscast.channels.registry import channel_for

    settings = load_settings({"CRISISCAST_SMTP_URL": "smtp://bot:hunter22@h:25?from=a@b.example"})
    assert settings.live_channels() == ["email"]
    channel = channel_for("email", settings)
    assert channel.name == "smtp-email" and "hunter22" not in channel.to_url()
