"""Inbound webhooks through the real app: Twilio SMS, SendGrid Inbound Parse, the reply form."""

from __future__ import annotations

import json
from base64 import b64encode
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from pydantic import SecretStr
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from crisiscast.config import InboundEmailSettings, Settings, TwilioSettings
from crisiscast.incidents.store.database import Store, create_incident
from crisiscast.incidents.store.models import Case, InboundMessage, OptOut, TimelineEvent
from crisiscast.web.app import create_app

TOKEN = "twilio-auth-token-for-tests"
PUBLIC = "https://crisis.example.org"
SMS_URL = f"{PUBLIC}/webhooks/twilio/sms"
FLOOD = Path(__file__).resolve().parents[2] / "playbooks" / "regional-flood.yaml"
MAIL_USER, MAIL_PASSWORD = "parse", "inbound-secret"


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Settings with Twilio and Inbound Parse secrets, behind a proxy at PUBLIC."""
    twilio = TwilioSettings("AC" + "0" * 32, SecretStr(TOKEN), from_number="+15005550006")
    inbound = InboundEmailSettings(MAIL_USER, SecretStr(MAIL_PASSWORD))
    return Settings(tmp_path, db_url, twilio=twilio, public_url=PUBLIC, inbound_email=inbound)


@pytest.fixture
def incident(store: Store) -> str:
    """An active regional-flood incident (languages en, th, lo)."""
    with store.session() as session:
        row = create_incident(
            session, playbook_id="regional-flood", playbook_path=str(FLOOD), title="Flood",
            params={"area": "Riverside"}, languages=["en", "th", "lo"], exercise=False,
            now=datetime.now(UTC),
        )  # fmt: skip
        return row.ref


@pytest.fixture
def client(settings: Settings, store: Store, incident: str) -> Iterator[TestClient]:
    """The real ASGI app of ``crisiscast serve`` on the test store."""
    with TestClient(create_app(settings, "launch-token")) as test_client:
        yield test_client


def sms(client: TestClient, body: str, sid: str = "SM" + "1" * 32, sender: str = "+66812345678",
        *, url: str = SMS_URL, token: str = TOKEN) -> tuple[int, str]:  # fmt: skip
    """Post an inbound SMS signed by the real RequestValidator for ``url``."""
    params = {"MessageSid": sid, "From": sender, "To": "+15005550006", "Body": body}
    response = post_signed(client, params, url=url, token=token)
    return response.status_code, response.text


def post_signed(
    client: TestClient, params: dict[str, str], *, url: str = SMS_URL, token: str = TOKEN
) -> Response:
    """Post a form to the SMS webhook, signed by the real RequestValidator for ``url``."""
    signature = RequestValidator(token).compute_signature(url, params)
    return client.post(
        "/webhooks/twilio/sms", content=urlencode(params),
        headers={"X-Twilio-Signature": signature,
                 "Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip


def count(store: Store, model: type[object]) -> int:
    with store.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def only_case(store: Store) -> Case:
    with store.session() as session:
        (case,) = session.scalars(select(Case)).all()
        return case


def test_trapped_people_open_an_urgent_case_with_its_why(client: TestClient, store: Store) -> None:
    """ "200 people are trapped" is urgent, says why, and gets the emergency line in TwiML."""
    status, twiml = sms(client, "200 people are trapped by the water near the school")
    assert status == 200 and twiml.startswith("<?xml") and "<Message>" in twiml
    case = only_case(store)
    assert case.severity == "urgent" and case.why is not None
    assert any("trapped" in reason for reason in case.why["why"])
    assert case.first_response_due is not None
    assert (case.first_response_due - case.opened_at).total_seconds() == 15 * 60
    assert f"case {case.id}" in twiml and "+15005550006" in twiml
    assert count(store, InboundMessage) == 1


def test_thai_reply_gets_a_thai_acknowledgement(client: TestClient, store: Store) -> None:
    """A Thai message is answered in Thai, with the playbook's Thai route label."""
    status, twiml = sms(client, "มีคนติดอยู่บนหลังคา ช่วยด้วย")
    assert status == 200
    assert "เราได้รับข้อความของคุณแล้ว" in twiml and "เหตุฉุกเฉิน" in twiml
    assert "We received" not in twiml
    assert only_case(store).language == "th"


def test_just_checking_in_is_low(client: TestClient, store: Store) -> None:
    """A message with no need in it opens a low-severity case."""
    status, _ = sms(client, "just checking in")
    assert status == 200 and only_case(store).severity == "low"


def test_forged_signature_is_refused_and_nothing_stored(client: TestClient, store: Store) -> None:
    """A request signed with another token gets 403 and leaves no trace in the store."""
    assert sms(client, "200 people are trapped", token="not-the-token")[0] == 403
    assert count(store, InboundMessage) == 0 and count(store, Case) == 0


def test_missing_signature_is_refused(client: TestClient, store: Store) -> None:
    """A request without X-Twilio-Signature gets 403 and nothing is stored."""
    response = client.post(
        "/webhooks/twilio/sms", content="MessageSid=SM1&From=%2B66812345678&Body=hi",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    assert response.status_code == 403 and count(store, InboundMessage) == 0


def test_signature_is_checked_against_the_public_url(client: TestClient, store: Store) -> None:
    """A signature for the URL the app sees (not the public one) is a forgery."""
    assert sms(client, "hello", url="http://testserver/webhooks/twilio/sms")[0] == 403
    assert count(store, InboundMessage) == 0


def test_duplicate_is_stored_and_acknowledged_once(client: TestClient, store: Store) -> None:
    """Twilio's retry of the same MessageSid gets 200 with an empty TwiML response."""
    first = sms(client, "our house is flooded, we need water")
    second = sms(client, "our house is flooded, we need water")
    assert first[0] == second[0] == 200
    assert "<Message>" in first[1] and "<Message>" not in second[1]
    assert count(store, InboundMessage) == 1 and count(store, Case) == 1


def test_second_message_joins_the_case_without_a_second_reply(
    client: TestClient, store: Store
) -> None:
    """An auto-responder answering our answer gets no reply back: one per case per window."""
    assert "<Message>" in sms(client, "we need food", sid="SM" + "a" * 32)[1]
    assert "<Message>" not in sms(client, "Thanks for your message!", sid="SM" + "b" * 32)[1]
    assert count(store, Case) == 1 and count(store, InboundMessage) == 2
    with store.session() as session:
        kinds = session.scalars(select(TimelineEvent.kind)).all()
    assert kinds.count("auto_reply") == 1


def test_later_urgent_message_raises_the_case(client: TestClient, store: Store) -> None:
    """A case that turns out worse becomes urgent, with the urgent SLA from its opening."""
    sms(client, "just checking in", sid="SM" + "c" * 32)
    sms(client, "the water is rising, my father is trapped", sid="SM" + "d" * 32)
    case = only_case(store)
    assert case.severity == "urgent" and case.first_response_due is not None
    assert (case.first_response_due - case.opened_at).total_seconds() == 15 * 60


def test_oversized_body_gets_413_and_nothing_stored(client: TestClient, store: Store) -> None:
    """A body over the limit is refused before it is read whole."""
    status, _ = sms(client, "x" * 20_000)
    assert status == 413 and count(store, InboundMessage) == 0


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b"\xff\xfe\x00garbage", "application/x-www-form-urlencoded", 400),
        (b'{"Body": "hi"}', "application/json", 415),
        (b"a=1&a=2", "application/x-www-form-urlencoded", 400),
    ],
)
def test_malformed_bodies_get_4xx(
    client: TestClient, store: Store, content: bytes, content_type: str, status: int
) -> None:
    """Bodies that are not a Twilio form are refused with a 4xx, never a 500."""
    response = client.post(
        "/webhooks/twilio/sms", content=content,
        headers={"Content-Type": content_type, "X-Twilio-Signature": "x"},
    )  # fmt: skip
    assert response.status_code == status and count(store, InboundMessage) == 0


def test_signed_request_without_message_sid_is_400(client: TestClient, store: Store) -> None:
    """A correctly signed form that lacks MessageSid is refused as malformed."""
    response = post_signed(client, {"From": "+66812345678", "Body": "hi"})
    assert response.status_code == 400 and count(store, InboundMessage) == 0


def test_without_twilio_token_the_route_answers_503(
    tmp_path: Path, db_url: str, store: Store
) -> None:
    """No auth token configured: 503 that says what to set, never an unsigned accept."""
    with TestClient(create_app(Settings(tmp_path, db_url), "t")) as client:
        response = client.post("/webhooks/twilio/sms", data={"MessageSid": "SM1", "Body": "hi"})
    assert response.status_code == 503 and "TWILIO_AUTH_TOKEN" in response.text
    assert count(store, InboundMessage) == 0


def test_stop_opts_out_instead_of_opening_a_case(client: TestClient, store: Store) -> None:
    """STOP records an opt-out; Twilio sends the carrier confirmation, so our TwiML is empty."""
    status, twiml = sms(client, "STOP")
    assert status == 200 and "<Message>" not in twiml
    assert count(store, OptOut) == 1 and count(store, Case) == 0
    assert count(store, InboundMessage) == 1


def test_thai_stop_is_confirmed_in_thai(client: TestClient, store: Store) -> None:
    """หยุด (stop) opts out and is confirmed in Thai, which Twilio would not do."""
    status, twiml = sms(client, "หยุด")
    assert status == 200 and "ยกเลิกการรับข่าวสารแล้ว" in twiml
    assert count(store, OptOut) == 1 and count(store, Case) == 0


# --- SendGrid Inbound Parse -------------------------------------------------------------------


def auth(user: str = MAIL_USER, password: str = MAIL_PASSWORD) -> dict[str, str]:
    return {"Authorization": "Basic " + b64encode(f"{user}:{password}".encode()).decode()}


def parse_post(client: TestClient, text: str, *, message_id: str = "<m1@example.com>",
               extra_headers: str = "", headers: dict[str, str] | None = None) -> int:  # fmt: skip
    """A real multipart Inbound Parse post, with an attachment SendGrid would include."""
    mail_headers = f"Message-ID: {message_id}\nFrom: Nok <nok@example.com>\n{extra_headers}"
    fields = {"from": "Nok <Nok@Example.com>", "to": "help@crisis.example.org",
              "subject": "Flood", "text": text, "headers": mail_headers,
              "envelope": json.dumps({"from": "nok@example.com"})}  # fmt: skip
    files = {"attachment1": ("photo.jpg", b"\xff\xd8\xff" + b"0" * 100, "image/jpeg")}
    response = client.post("/webhooks/sendgrid/inbound", data=fields, files=files,
                           headers=auth() if headers is None else headers)  # fmt: skip
    return response.status_code


def test_inbound_email_is_stored_triaged_and_answered(
    client: TestClient, store: Store, settings: Settings
) -> None:
    """An email opens a case for its lower-cased sender and the reply goes out by email."""
    assert parse_post(client, "Two elderly neighbours are trapped upstairs") == 200
    case = only_case(store)
    assert case.severity == "urgent" and case.channel == "email"
    with store.session() as session:
        (message,) = session.scalars(select(InboundMessage)).all()
    assert message.sender == "nok@example.com" and message.provider_id == "<m1@example.com>"
    (sent,) = [
        json.loads(x) for x in (settings.outbox_dir / "email.jsonl").read_text().splitlines()
    ]
    assert sent["address"] == "nok@example.com" and f"case {case.id}" in json.dumps(sent)


def test_inbound_email_needs_basic_auth(client: TestClient, store: Store) -> None:
    """No or wrong credentials get 401 and nothing is stored."""
    assert parse_post(client, "hello", headers={}) == 401
    assert parse_post(client, "hello", headers=auth(password="wrong")) == 401
    assert count(store, InboundMessage) == 0


def test_inbound_email_retry_is_stored_once(client: TestClient, store: Store) -> None:
    """SendGrid's retry of the same Message-ID is accepted and not stored twice."""
    assert parse_post(client, "we need water") == parse_post(client, "we need water") == 200
    assert count(store, InboundMessage) == 1 and count(store, Case) == 1


def test_auto_reply_email_is_never_answered(
    client: TestClient, store: Store, settings: Settings
) -> None:
    """Mail marked Auto-Submitted is stored and triaged but gets no acknowledgement."""
    assert (
        parse_post(client, "I am out of office", extra_headers="Auto-Submitted: auto-replied")
        == 200
    )
    assert count(store, Case) == 1
    assert not (settings.outbox_dir / "email.jsonl").exists()


def test_malformed_multipart_is_400(client: TestClient, store: Store) -> None:
    """A body that does not match its multipart boundary is refused, not a 500."""
    response = client.post(
        "/webhooks/sendgrid/inbound", content=b"--nope\r\nnot multipart at all",
        headers={**auth(), "Content-Type": "multipart/form-data; boundary=XYZ"},
    )  # fmt: skip
    assert response.status_code == 400 and count(store, InboundMessage) == 0


# --- the public reply form ---------------------------------------------------------------------


def reply(client: TestClient, ref: str, **fields: str) -> tuple[int, str]:
    response = client.post(f"/incidents/{ref}/reply", data=fields)
    return response.status_code, response.text


def test_web_form_confirms_in_the_replys_language(
    client: TestClient, store: Store, incident: str
) -> None:
    """A Thai form reply opens a case and gets an accessible Thai confirmation page."""
    status, page = reply(client, incident, contact="+66 81 234 5678", message="ไม่มีอาหาร ไม่มีน้ำดื่ม")
    assert status == 200 and '<html lang="th">' in page and 'role="status"' in page
    case = only_case(store)
    assert case.channel == "web" and f"(เคส {case.id})" in page


def test_web_form_problems_say_which_field(client: TestClient, store: Store, incident: str) -> None:
    """A missing contact is a 422 naming the field; an unknown incident is a 404."""
    status, page = reply(client, incident, contact="", message="help")
    assert status == 422 and "contact:" in page
    assert reply(client, "INC-999", contact="a@example.com", message="help")[0] == 404
    assert count(store, InboundMessage) == 0


def test_web_form_is_size_and_rate_limited(client: TestClient, store: Store, incident: str) -> None:
    """Oversized posts get 413; a sixth message from one contact within minutes gets 429."""
    assert reply(client, incident, contact="a@example.com", message="x" * 20_000)[0] == 413
    codes = [reply(client, incident, contact="a@example.com", message=f"update {n}")[0]
             for n in range(6)]  # fmt: skip
    assert codes == [200] * 5 + [429]
    assert count(store, InboundMessage) == 5


def test_agent_acks_a_case_by_sms(client: TestClient, store: Store) -> None:
    """An on-call agent's `ACK n` from their known number acknowledges the case, not a new one."""
    from crisiscast.incidents.agents.roster import add_agent, assign_case

    sms(client, "200 people are trapped by the water near the school")
    case = only_case(store)
    with store.session() as session:
        agent = add_agent(session, name="Noi", phone="+66810000099", languages=["th", "en"])
        assign_case(session, session.get(Case, case.id), agent, now=datetime.now(UTC))
    status, twiml = sms(client, f"ack  {case.id}", sid="SM" + "2" * 32, sender="+66810000099")
    assert status == 200 and "<Message>" in twiml and str(case.id) in twiml
    assert count(store, Case) == 1  # a command, not a customer message
    assert only_case(store).first_responded_at is not None
    status, twiml = sms(client, "ACK 9999", sid="SM" + "3" * 32, sender="+66810000099")
    assert status == 200 and "9999" in twiml
    with store.session() as session:
        assert session.get(Case, 9999) is None


def test_agent_acks_by_email_reply(client: TestClient, store: Store, settings: Settings) -> None:
    """An agent's email whose first line is `ACK n` is read as a command, not a new case; without
    SendGrid's SPF/DKIM passes it is not applied, and the answer says why (issue 12, F1: the
    authenticated path, confirmed by SMS, is in test_agent_commands_web.py)."""
    from crisiscast.incidents.agents.roster import add_agent, assign_case

    sms(client, "200 people are trapped by the water near the school")
    case = only_case(store)
    with store.session() as session:
        agent = add_agent(session, name="Nok", email="nok@example.com", languages=["en"])
        assign_case(session, session.get(Case, case.id), agent, now=datetime.now(UTC))
    text = f"ACK {case.id}\n\nOn Tue, crisiscast wrote:\n> URGENT case {case.id}"
    assert parse_post(client, text, message_id="<agent1@example.com>") == 200
    assert count(store, Case) == 1  # a command, not a new case from the agent
    assert only_case(store).first_responded_at is None  # the email is not authenticated
    (sent,) = [
        json.loads(x) for x in (settings.outbox_dir / "email.jsonl").read_text().splitlines()
    ]
    assert sent["address"] == "nok@example.com" and "not applied" in sent["text"]
