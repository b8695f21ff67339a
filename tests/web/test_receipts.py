"""Delivery receipts through the real app: Twilio status callbacks and SendGrid's Event Webhook.

Twilio requests are signed with the twilio SDK's RequestValidator; SendGrid posts are signed the
way SendGrid signs them (ECDSA P-256, SHA-256 over timestamp + raw body, base64 DER), with a key
pair made for the test run.
"""

from __future__ import annotations

import json
import time
from base64 import b64encode
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import text
from twilio.request_validator import RequestValidator

from crisiscast.config import Settings, TwilioSettings, load_settings
from crisiscast.errors import ConfigError
from crisiscast.incidents.broadcast import ledger as lg
from crisiscast.incidents.store.database import Store, add_announcement, create_incident
from crisiscast.web.app import create_app

TOKEN = "twilio-auth-token-for-tests"
PUBLIC = "https://crisis.example.org"
STATUS_URL = f"{PUBLIC}/webhooks/twilio/status"
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
PHONE, EMAIL, SID = "+66812345678", "ann@example.org", "SM" + "a" * 32
FORM = "application/x-www-form-urlencoded"


def public_key_text(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> str:
    """The public half as SendGrid shows it: base64 DER (SubjectPublicKeyInfo), no PEM armour."""
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return b64encode(der).decode()


@pytest.fixture(scope="module")
def signing_key() -> ec.EllipticCurvePrivateKey:
    """SendGrid's side of the Signed Event Webhook: a P-256 private key."""
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def settings(tmp_path: Path, db_url: str, signing_key: ec.EllipticCurvePrivateKey) -> Settings:
    """Twilio and the SendGrid verification key configured, behind a proxy at PUBLIC."""
    twilio = TwilioSettings("AC" + "0" * 32, SecretStr(TOKEN), from_number="+15005550006",
                            status_callback=STATUS_URL)  # fmt: skip
    return Settings(tmp_path, db_url, twilio=twilio, public_url=PUBLIC,
                    sendgrid_event_key=public_key_text(signing_key))  # fmt: skip


@pytest.fixture
def email_key(store: Store) -> str:
    """One SMS row (sent, Twilio id SID) and one email row (sent); the email row's key."""
    with store.session() as session:
        incident = create_incident(
            session, playbook_id="p", playbook_path="p.yaml", title="Flood", params={},
            languages=["en"], exercise=False, now=NOW,
        )  # fmt: skip
        queued, ids = [], {}
        for channel, address in (("sms", PHONE), ("email", EMAIL)):
            ann = add_announcement(
                session, incident.id, announcement_id="warning", when="launch", channel=channel,
                language="en", subject=None, body="Flood warning", html=None, now=NOW,
            )  # fmt: skip
            key = lg.delivery_key(incident.id, ann.id, channel, address)
            queued.append(lg.QueuedDelivery(key, incident.id, ann.id, channel, None, address))
        lg.queue_deliveries(session, queued, now=NOW)
        for channel in ("sms", "email"):
            (row,) = lg.queued_rows(session, incident.id, channel, None)
            ids[channel] = (row.id, row.idempotency_key)
        outcomes = [lg.Outcome(ids["sms"][0], "sent", SID),
                    lg.Outcome(ids["email"][0], "sent", "sg-message-1")]  # fmt: skip
        lg.record_outcomes(session, outcomes, now=NOW, attempt=1)
        return ids["email"][1]


@pytest.fixture
def client(settings: Settings, store: Store, email_key: str) -> Iterator[TestClient]:
    """The real ASGI app of ``crisiscast serve`` on the seeded store."""
    with TestClient(create_app(settings, "launch-token")) as test_client:
        yield test_client


def row(store: Store, address: str) -> tuple[str, str | None]:
    """(status, last_error) of the ledger row for ``address``."""
    with store.session() as session:
        found = session.execute(
            text("SELECT status, last_error FROM deliveries WHERE address = :a"), {"a": address}
        ).one()
        return found[0], found[1]


def status_callback(client: TestClient, status: str, *, token: str = TOKEN,
                    url: str = STATUS_URL, **extra: str) -> int:  # fmt: skip
    """Post a Twilio status callback for SID signed for ``url`` with ``token``; the status code."""
    params = {"AccountSid": "AC" + "0" * 32, "MessageSid": SID, "SmsSid": SID,
              "MessageStatus": status, "To": PHONE, "From": "+15005550006", **extra}  # fmt: skip
    return post_status(client, params, RequestValidator(token).compute_signature(url, params))


def post_status(client: TestClient, params: dict[str, str], signature: str) -> int:
    """Post ``params`` form-encoded to the status route with ``signature``; the status code."""
    headers = {"X-Twilio-Signature": signature, "Content-Type": FORM}
    return client.post(
        "/webhooks/twilio/status", content=urlencode(params), headers=headers
    ).status_code


def sendgrid_post(client: TestClient, body: bytes, key: ec.EllipticCurvePrivateKey,
                  *, timestamp: str | None = None, sent_body: bytes | None = None,
                  ) -> tuple[int, str]:  # fmt: skip
    """Post ``sent_body`` (default ``body``) with SendGrid's signature over timestamp + body
    (default: signed now, as SendGrid does)."""
    timestamp = str(int(time.time())) if timestamp is None else timestamp
    signature = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    response = client.post(
        "/webhooks/sendgrid/events", content=body if sent_body is None else sent_body,
        headers={"Content-Type": "application/json",
                 "X-Twilio-Email-Event-Webhook-Signature": b64encode(signature).decode(),
                 "X-Twilio-Email-Event-Webhook-Timestamp": timestamp},
    )  # fmt: skip
    return response.status_code, response.text


def events(kind: str, delivery_key: str, **fields: Any) -> bytes:
    """A SendGrid batch with one event; custom_args arrive flattened into the event."""
    event = {"email": EMAIL, "timestamp": 1764061190, "event": kind, "sg_event_id": "e1",
             "sg_message_id": "sg-1.filter", "delivery_key": delivery_key, **fields}  # fmt: skip
    return json.dumps([event]).encode()


# --- Twilio status callbacks ---------------------------------------------------------------


def test_delivered_callback_marks_the_row_delivered(client: TestClient, store: Store) -> None:
    """A signed 'delivered' callback answers 204 and the SMS row becomes delivered."""
    assert status_callback(client, "delivered") == 204
    assert row(store, PHONE) == ("delivered", None)


def test_undelivered_callback_records_the_error_code(client: TestClient, store: Store) -> None:
    """'undelivered' with ErrorCode 30003 makes the row failed with the code in last_error."""
    assert status_callback(client, "undelivered", ErrorCode="30003") == 204
    assert row(store, PHONE) == ("failed", "twilio undelivered (error 30003)")


def test_repeated_and_late_callbacks_are_harmless(client: TestClient, store: Store) -> None:
    """A retried 'delivered' and a late 'failed' after it leave the row delivered."""
    assert status_callback(client, "sent") == 204
    assert status_callback(client, "delivered") == 204
    assert status_callback(client, "delivered") == 204
    assert status_callback(client, "failed", ErrorCode="30008") == 204
    assert row(store, PHONE) == ("delivered", None)


@pytest.mark.parametrize(
    ("token", "url"),
    [("not-the-token", STATUS_URL), (TOKEN, "http://testserver/webhooks/twilio/status")],
    ids=["other-token", "url-the-app-sees"],
)
def test_forged_callback_is_refused_and_changes_nothing(
    client: TestClient, store: Store, token: str, url: str
) -> None:
    """A callback signed with another token, or for another URL, gets 403; the row stays sent."""
    assert status_callback(client, "failed", token=token, url=url) == 403
    assert row(store, PHONE) == ("sent", None)


def test_unsigned_callback_is_refused(client: TestClient, store: Store) -> None:
    """No X-Twilio-Signature: 403 and the row stays sent."""
    response = client.post("/webhooks/twilio/status", headers={"Content-Type": FORM},
                           content=f"MessageSid={SID}&MessageStatus=failed")  # fmt: skip
    assert response.status_code == 403 and row(store, PHONE) == ("sent", None)


def test_configured_status_callback_url_is_accepted(
    tmp_path: Path, store: Store, email_key: str
) -> None:
    """Signed for TWILIO_STATUS_CALLBACK (another host than the public URL) is accepted."""
    callback = "https://hooks.example.net/crisis/webhooks/twilio/status?region=th"
    twilio = TwilioSettings("AC" + "0" * 32, SecretStr(TOKEN), from_number="+15005550006",
                            status_callback=callback)  # fmt: skip
    with TestClient(create_app(Settings(tmp_path, store.url.render_as_string(False),
                                        twilio=twilio), "t")) as client:  # fmt: skip
        assert status_callback(client, "delivered", url=callback) == 204
    assert row(store, PHONE) == ("delivered", None)


@pytest.mark.parametrize(
    ("content", "content_type", "expected"),
    [
        (f"MessageSid={SID}&MessageStatus=delivered", "application/json", 415),
        (b"MessageSid=\xff\xfe", FORM, 400),
        ("MessageSid=" + "x" * 20_000, FORM, 413),
    ],
    ids=["wrong-type", "not-utf8", "too-large"],
)
def test_malformed_callback_gets_4xx(
    client: TestClient, store: Store, content: str | bytes, content_type: str, expected: int
) -> None:
    """Wrong type 415, undecodable 400, oversized 413: never a 500, nothing changes."""
    headers = {"Content-Type": content_type, "X-Twilio-Signature": "x"}
    response = client.post("/webhooks/twilio/status", content=content, headers=headers)
    assert response.status_code == expected and row(store, PHONE) == ("sent", None)


def test_signed_callback_without_status_is_a_bad_request(client: TestClient) -> None:
    """A signed callback that lacks MessageStatus gets 400 naming the missing fields."""
    params = {"MessageSid": SID}
    signature = RequestValidator(TOKEN).compute_signature(STATUS_URL, params)
    response = client.post(
        "/webhooks/twilio/status",
        content=urlencode(params),
        headers={"X-Twilio-Signature": signature, "Content-Type": FORM},
    )
    assert response.status_code == 400 and "MessageStatus" in response.text


def test_status_route_without_twilio_is_unavailable(tmp_path: Path, store: Store) -> None:
    """Without Twilio credentials the route answers 503 and names the variables to set."""
    settings = Settings(tmp_path, store.url.render_as_string(False), public_url=PUBLIC)
    with TestClient(create_app(settings, "t")) as client:
        response = client.post("/webhooks/twilio/status", content="MessageSid=SM1",
                               headers={"Content-Type": FORM})  # fmt: skip
    assert response.status_code == 503 and "TWILIO_AUTH_TOKEN" in response.text


# --- SendGrid Event Webhook ----------------------------------------------------------------


def test_delivered_event_marks_the_row_delivered(
    client: TestClient, store: Store, email_key: str, signing_key: ec.EllipticCurvePrivateKey
) -> None:
    """A signed 'delivered' event answers 200 and the email row becomes delivered."""
    assert sendgrid_post(client, events("delivered", email_key), signing_key)[0] == 200
    assert row(store, EMAIL) == ("delivered", None)


def test_bounce_event_marks_the_row_failed(
    client: TestClient, store: Store, email_key: str, signing_key: ec.EllipticCurvePrivateKey
) -> None:
    """A signed 'bounce' event makes the row failed with the bounce type in last_error."""
    body = events("bounce", email_key, type="bounce", status="5.1.1", reason="no such user")
    assert sendgrid_post(client, body, signing_key)[0] == 200
    assert row(store, EMAIL) == ("failed", "sendgrid bounce (bounce)")


def test_repeated_batch_is_harmless(
    client: TestClient, store: Store, email_key: str, signing_key: ec.EllipticCurvePrivateKey
) -> None:
    """SendGrid re-posting a batch, then a late bounce, leaves the row delivered."""
    body = events("delivered", email_key)
    assert sendgrid_post(client, body, signing_key)[0] == 200
    assert sendgrid_post(client, body, signing_key)[0] == 200
    assert sendgrid_post(client, events("bounce", email_key), signing_key)[0] == 200
    assert row(store, EMAIL) == ("delivered", None)


def test_event_signed_with_another_key_is_refused(
    client: TestClient, store: Store, email_key: str
) -> None:
    """A post signed with a key that is not SendGrid's gets 403 and changes nothing."""
    other = ec.generate_private_key(ec.SECP256R1())
    status, message = sendgrid_post(client, events("bounce", email_key), other)
    assert status == 403 and "Signature" in message
    assert row(store, EMAIL) == ("sent", None)


@pytest.mark.parametrize(
    ("age", "status"), [(25 * 3600 + 60, 403), (24 * 3600, 200), (-600, 403), (-60, 200)]
)
def test_stale_signed_events_are_refused(
    client: TestClient, store: Store, email_key: str, signing_key: ec.EllipticCurvePrivateKey,
    age: int, status: int,
) -> None:  # fmt: skip
    """Pins F2's freshness window: a correctly signed post older than 25 h (SendGrid retries
    for up to 24 h) or over 5 min in the future is refused with 403 and changes nothing;
    inside the window it is applied."""
    timestamp = str(int(time.time()) - age)
    code, message = sendgrid_post(client, events("bounce", email_key), signing_key,
                                  timestamp=timestamp)  # fmt: skip
    assert code == status
    assert row(store, EMAIL)[0] == ("sent" if status == 403 else "failed")
    assert ("refused" in message) == (status == 403)


@pytest.mark.parametrize("tamper", ["body", "timestamp"])
def test_tampered_event_post_is_refused(
    client: TestClient, store: Store, email_key: str, signing_key: ec.EllipticCurvePrivateKey,
    tamper: str,
) -> None:  # fmt: skip
    """A body or timestamp changed after signing gets 403 and changes nothing."""
    signed = events("delivered", email_key)
    if tamper == "body":
        status, _ = sendgrid_post(client, signed, signing_key,
                                  sent_body=events("bounce", email_key))  # fmt: skip
    else:
        signature = signing_key.sign(b"1764061200" + signed, ec.ECDSA(hashes.SHA256()))
        status = client.post("/webhooks/sendgrid/events", content=signed, headers={
            "X-Twilio-Email-Event-Webhook-Signature": b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": "1764061201"}).status_code  # fmt: skip
    assert status == 403 and row(store, EMAIL) == ("sent", None)


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Twilio-Email-Event-Webhook-Signature": "not base64!",
          "X-Twilio-Email-Event-Webhook-Timestamp": "1764061200"},
     {"X-Twilio-Email-Event-Webhook-Signature": "AAAA",
      "X-Twilio-Email-Event-Webhook-Timestamp": "1764061200"}],
    ids=["unsigned", "not-base64", "not-a-signature"],
)  # fmt: skip
def test_unsigned_or_garbled_signature_is_refused(
    client: TestClient, store: Store, email_key: str, headers: dict[str, str]
) -> None:
    """No signature, or one that is not base64 DER, gets 403 (not 500) and changes nothing."""
    response = client.post("/webhooks/sendgrid/events", content=events("bounce", email_key),
                           headers={"Content-Type": "application/json", **headers})  # fmt: skip
    assert response.status_code == 403 and row(store, EMAIL) == ("sent", None)


@pytest.mark.parametrize(
    "body",
    [b'[{"event": "delivered"', b'{"event": "delivered"}', b'["delivered"]', b"[" * 100_000,
     b"\xff\xfe[]"],
    ids=["truncated", "object-not-array", "array-of-strings", "deeply-nested", "not-utf8"],
)  # fmt: skip
def test_malformed_signed_batch_is_a_bad_request(
    client: TestClient, store: Store, signing_key: ec.EllipticCurvePrivateKey, body: bytes
) -> None:
    """A signed body that is not a JSON array of objects gets 400, never 500."""
    status, message = sendgrid_post(client, body, signing_key)
    assert status == 400 and message
    assert row(store, EMAIL) == ("sent", None)


def test_oversized_batch_is_refused(
    client: TestClient, signing_key: ec.EllipticCurvePrivateKey
) -> None:
    """A post over the size limit gets 413 before it is verified or parsed."""
    body = b"[" + b", ".join([b'{"event": "open"}'] * 200_000) + b"]"
    assert sendgrid_post(client, body, signing_key)[0] == 413


def test_events_route_without_key_is_unavailable(tmp_path: Path, store: Store) -> None:
    """Without SENDGRID_EVENT_WEBHOOK_PUBLIC_KEY the route answers 503 and says what to set."""
    with TestClient(create_app(Settings(tmp_path, store.url.render_as_string(False)), "t")) as c:
        response = c.post("/webhooks/sendgrid/events", content=b"[]",
                          headers={"Content-Type": "application/json"})  # fmt: skip
    assert response.status_code == 503
    assert "SENDGRID_EVENT_WEBHOOK_PUBLIC_KEY" in response.text


# --- settings ------------------------------------------------------------------------------


def test_event_key_is_read_with_or_without_pem_armour(
    tmp_path: Path, signing_key: ec.EllipticCurvePrivateKey
) -> None:
    """The verification key loads as SendGrid shows it, or pasted as a PEM block."""
    bare = public_key_text(signing_key)
    pem = (
        signing_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    for value in (bare, pem):
        env = {"CRISISCAST_HOME": str(tmp_path), "SENDGRID_EVENT_WEBHOOK_PUBLIC_KEY": value}
        assert load_settings(env).sendgrid_event_key == bare


@pytest.mark.parametrize("kind", ["garbage", "rsa"])
def test_wrong_event_key_is_a_config_error(tmp_path: Path, kind: str) -> None:
    """A key that is not base64 DER, or not an EC key, is refused at start naming the variable."""
    value = "not-a-key" if kind == "garbage" else public_key_text(
        rsa.generate_private_key(public_exponent=65537, key_size=2048))  # fmt: skip
    env = {"CRISISCAST_HOME": str(tmp_path), "SENDGRID_EVENT_WEBHOOK_PUBLIC_KEY": value}
    with pytest.raises(ConfigError, match="SENDGRID_EVENT_WEBHOOK_PUBLIC_KEY"):
        load_settings(env)


@pytest.mark.parametrize(
    ("explicit", "expected"),
    [(None, STATUS_URL), ("https://hooks.example.net/status", "https://hooks.example.net/status")],
)
def test_status_callback_defaults_to_the_public_route(
    tmp_path: Path, explicit: str | None, expected: str
) -> None:
    """With CRISISCAST_PUBLIC_URL, SMS ask for receipts at /webhooks/twilio/status by default."""
    env = {"CRISISCAST_HOME": str(tmp_path), "CRISISCAST_PUBLIC_URL": PUBLIC + "/",
           "TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t",
           "TWILIO_FROM_NUMBER": "+15005550006"}  # fmt: skip
    if explicit:
        env["TWILIO_STATUS_CALLBACK"] = explicit
    twilio = load_settings(env).twilio
    assert twilio is not None and twilio.status_callback == expected


def test_no_public_url_means_no_status_callback(tmp_path: Path) -> None:
    """Without a public URL or TWILIO_STATUS_CALLBACK, Twilio is not asked for receipts."""
    env = {"CRISISCAST_HOME": str(tmp_path), "TWILIO_ACCOUNT_SID": "AC1",
           "TWILIO_AUTH_TOKEN": "t", "TWILIO_FROM_NUMBER": "+15005550006"}  # fmt: skip
    twilio = load_settings(env).twilio
    assert twilio is not None and twilio.status_callback is None


def test_the_failover_accounts_receipts_are_accepted(
    tmp_path: Path, store: Store, email_key: str
) -> None:
    """A delivery sent by the second Twilio account gets its receipt signed with that account's
    token: accepted; a third token is still refused."""
    primary = TwilioSettings("AC" + "0" * 32, SecretStr(TOKEN), from_number="+15005550006",
                             status_callback=STATUS_URL)  # fmt: skip
    second = TwilioSettings("AC" + "1" * 32, SecretStr("second-account-token"),
                            from_number="+15005550007", status_callback=STATUS_URL)  # fmt: skip
    settings = Settings(tmp_path, store.url.render_as_string(False), twilio=primary,
                        twilio_fallback=second, public_url=PUBLIC)  # fmt: skip
    with TestClient(create_app(settings, "t")) as client:
        assert status_callback(client, "failed", token="third-token") == 403
        assert status_callback(client, "delivered", token="second-account-token") == 204
    assert row(store, PHONE) == ("delivered", None)
