"""The Prism mocks really check requests against the specs, so a passing contract test means
the channel's request matched the provider's spec (and a broken request would be caught)."""

from __future__ import annotations

import base64
import http.client
import json
from urllib.parse import urlsplit

import pytest

SID = "AC" + "0" * 32


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    target = urlsplit(url)
    conn = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=10)
    try:
        conn.request("POST", target.path, body=body, headers=headers)
        return conn.getresponse().status
    finally:
        conn.close()


def test_twilio_mock_rejects_a_message_without_to(prism_twilio: str) -> None:
    """Twilio's spec requires To: a body without it is refused with 422."""
    auth = base64.b64encode(f"{SID}:token".encode()).decode()
    status = post(
        f"{prism_twilio}/2010-04-01/Accounts/{SID}/Messages.json",
        b"Body=hello&From=%2B15005550006",
        {"Authorization": f"Basic {auth}", "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 422


def test_sendgrid_mock_rejects_mail_without_personalizations(prism_sendgrid: str) -> None:
    """SendGrid's spec requires personalizations: a body without them is refused."""
    body = json.dumps({"from": {"email": "a@cc.example"}, "subject": "s"}).encode()
    headers = {"Authorization": "Bearer SG.key", "Content-Type": "application/json"}
    assert post(f"{prism_sendgrid}/v3/mail/send", body, headers) in (400, 422)


@pytest.mark.parametrize(
    ("headers", "expected"), [({}, 401), ({"Authorization": "Bearer x-token"}, 422)]
)
def test_x_mock_checks_auth_and_body(prism_x: str, headers: dict[str, str], expected: int) -> None:
    """X's spec: no credentials is 401; a reply id that is not a tweet id is 422."""
    body = json.dumps({"text": "hi", "reply": {"in_reply_to_tweet_id": "not-an-id"}}).encode()
    status = post(f"{prism_x}/2/tweets", body, {"Content-Type": "application/json", **headers})
    assert status == expected
