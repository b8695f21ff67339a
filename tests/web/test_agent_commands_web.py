"""Agents' commands through the real webhooks: who may command, and at most once (issue 12).

F1: an email from an agent's address acts only when SendGrid's SPF and DKIM pass for the
agent's domain AND the agent confirms it by SMS from their registered phone.
F2: an agent SMS or email is applied at most once per provider id; stale signed SendGrid
events are refused (tests/web/test_receipts.py).
F4: case numbers past the id range are answered, never a 5xx.
"""

from __future__ import annotations

import itertools
import json
import re
from base64 import b64encode
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from pydantic import SecretStr
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from crisiscast.channels.outbox import outbox_path, read_outbox
from crisiscast.config import InboundEmailSettings, Settings, TwilioSettings
from crisiscast.incidents.agents.roster import add_agent, assign_case, holder_of
from crisiscast.incidents.cases.opening import open_case
from crisiscast.incidents.store.database import Store, create_incident
from crisiscast.incidents.store.models import Agent, Case, InboundMessage, TimelineEvent
from crisiscast.web.app import create_app

TOKEN = "twilio-auth-token-for-tests"
PUBLIC = "https://crisis.example.org"
SMS_URL = f"{PUBLIC}/webhooks/twilio/sms"
FLOOD = Path(__file__).resolve().parents[2] / "playbooks" / "regional-flood.yaml"
MAIL_USER, MAIL_PASSWORD = "parse", "inbound-secret"
NOI_PHONE, NOI_EMAIL = "+66810000099", "noi@example.org"
OTHER_PHONE = "+66810000098"
AUTHENTIC = {"SPF": "pass", "dkim": "{@example.org : pass}"}
_sids = itertools.count(1)


def sid() -> str:
    return f"SM{next(_sids):032d}"


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    twilio = TwilioSettings("AC" + "0" * 32, SecretStr(TOKEN), from_number="+15005550006")
    inbound = InboundEmailSettings(MAIL_USER, SecretStr(MAIL_PASSWORD))
    return Settings(tmp_path, db_url, twilio=twilio, public_url=PUBLIC, inbound_email=inbound)


@pytest.fixture
def seeded(store: Store) -> tuple[str, int]:
    """An exercise incident (SMS to the outbox) with the urgent case "200 people trapped",
    held by agent Noi (phone and email); another agent, Ben, holds nothing."""
    with store.session() as session:
        incident = create_incident(
            session, playbook_id="regional-flood", playbook_path=str(FLOOD), title="Flood",
            params={"area": "Riverside"}, languages=["en", "th", "lo"], exercise=True,
            now=datetime.now(UTC),
        )  # fmt: skip
        case = open_case(
            session, incident_id=incident.id, contact_id=None, channel="sms", severity="urgent",
            category="rescue", subcategory=None, language="en",
            why={"why": ["200 people trapped"]}, due=None, status="new", now=datetime.now(UTC),
        )  # fmt: skip
        noi = add_agent(session, name="Noi", phone=NOI_PHONE, email=NOI_EMAIL, languages=["en"])
        add_agent(session, name="Ben", phone=OTHER_PHONE, email="ben@example.org")
        assign_case(session, case, noi, now=datetime.now(UTC))
        return incident.ref, case.id


@pytest.fixture
def client(settings: Settings, store: Store, seeded: tuple[str, int]) -> Iterator[TestClient]:
    with TestClient(create_app(settings, "launch-token")) as test_client:
        yield test_client


def sms(client: TestClient, body: str, *, sender: str = NOI_PHONE,
        message_sid: str | None = None) -> tuple[int, str]:  # fmt: skip
    params = {"MessageSid": message_sid or sid(), "From": sender, "To": "+15005550006",
              "Body": body}  # fmt: skip
    signature = RequestValidator(TOKEN).compute_signature(SMS_URL, params)
    response = client.post(
        "/webhooks/twilio/sms", content=urlencode(params),
        headers={"X-Twilio-Signature": signature,
                 "Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    return response.status_code, response.text


def email(client: TestClient, text: str, *, message_id: str, sender: str = NOI_EMAIL,
          auth: dict[str, str] | None = None) -> tuple[int, str]:  # fmt: skip
    """An Inbound Parse post "from" ``sender`` with SendGrid's SPF/DKIM fields ``auth``."""
    fields = {"from": f"Noi <{sender}>", "to": "agents@crisis.example.org", "subject": "Re: page",
              "text": text, "headers": f"Message-ID: {message_id}\nFrom: Noi <{sender}>\n",
              "envelope": json.dumps({"from": sender, "to": ["agents@crisis.example.org"]}),
              **(auth if auth is not None else {"SPF": "fail", "dkim": "none"})}  # fmt: skip
    basic = b64encode(f"{MAIL_USER}:{MAIL_PASSWORD}".encode()).decode()
    response = client.post("/webhooks/sendgrid/inbound", data=fields,
                           files={"x": ("a.txt", b"x", "text/plain")},
                           headers={"Authorization": f"Basic {basic}"})  # fmt: skip
    return response.status_code, response.text


def state(store: Store, case_id: int) -> tuple[bool, bool, int | None]:
    """(Noi active, case resolved, who holds the case)."""
    with store.session() as session:
        noi = session.scalars(select(Agent).where(Agent.email == NOI_EMAIL)).one()
        case = session.get(Case, case_id)
        assert case is not None
        held = holder_of(session, case_id)
        return noi.active, case.resolved_at is not None, held.agent_id if held else None


def sent(settings: Settings, ref: str, kind: str) -> list[dict[str, object]]:
    """What went to the outbox: email replies (top level) and agent SMS (the incident's)."""
    path = settings.outbox_dir / "email.jsonl" if kind == "email" else outbox_path(
        settings.outbox_dir / ref, "sms")  # fmt: skip
    return list(read_outbox(path)) if path.exists() else []


def refusals(store: Store) -> list[TimelineEvent]:
    with store.session() as session:
        query = select(TimelineEvent).where(TimelineEvent.kind == "agent_command_refused")
        return list(session.scalars(query))


# --- F1: email commands need SPF + DKIM for the agent's domain AND an SMS confirmation ----------


def test_f1_forged_email_cannot_take_an_agent_off_or_close_a_case(
    client: TestClient, store: Store, settings: Settings, seeded: tuple[str, int]
) -> None:
    """Pins F1: `OFF` and `DONE 1 closed by attacker` from the agent's address with SPF=fail,
    dkim=none change nothing; the sender is told why (no case data) and the refusal recorded."""
    ref, case_id = seeded
    before = state(store, case_id)
    assert email(client, "OFF", message_id="<forged1@evil.example>")[0] == 200
    assert email(client, f"DONE {case_id} closed by attacker",
                 message_id="<forged2@evil.example>")[0] == 200  # fmt: skip
    assert state(store, case_id) == before == (True, False, before[2])
    replies = sent(settings, ref, "email")
    assert len(replies) == 2 and all("not applied" in str(r["text"]) for r in replies)
    assert all("SPF fail" in str(r["text"]) and "trapped" not in str(r["text"]) for r in replies)
    events = refusals(store)
    assert len(events) == 2
    assert all("not authenticated" in str((e.data or {})["reason"]) for e in events)


def test_f1_dkim_of_another_domain_does_not_count(
    client: TestClient, store: Store, seeded: tuple[str, int]
) -> None:
    """SPF pass plus a DKIM pass for the attacker's own domain is not the agent's domain."""
    _, case_id = seeded
    auth = {"SPF": "pass", "dkim": "{@evil.example : pass}"}
    assert email(client, "OFF", message_id="<x1@evil.example>", auth=auth)[0] == 200
    assert state(store, case_id)[0] is True
    assert "no DKIM signature of example.org passed" in str(refusals(store)[0].data)


def test_f1_authenticated_email_applies_only_once_confirmed_by_sms(
    client: TestClient, store: Store, settings: Settings, seeded: tuple[str, int]
) -> None:
    """Pins F1: SPF and DKIM pass, yet nothing changes until the agent's phone answers
    CONFIRM n; then the command applies, once."""
    ref, case_id = seeded
    status, _ = email(client, f"DONE {case_id} family safe", message_id="<ok1@example.org>",
                      auth=AUTHENTIC)  # fmt: skip
    assert status == 200
    assert state(store, case_id)[1] is False  # not resolved yet
    (page,) = sent(settings, ref, "sms")
    assert page["address"] == NOI_PHONE
    number = re.search(r"CONFIRM (\d+)", str(page["text"]))
    assert number is not None
    assert "CONFIRM" in str(sent(settings, ref, "email")[0]["text"])
    # Another agent's phone cannot confirm it.
    assert "No email command" in sms(client, f"CONFIRM {number[1]}", sender=OTHER_PHONE)[1]
    assert state(store, case_id)[1] is False
    status, twiml = sms(client, f"CONFIRM {number[1]}")
    assert status == 200 and "marked resolved" in twiml
    assert state(store, case_id)[1] is True
    assert "already applied" in sms(client, f"confirm {number[1]}")[1]


def test_f1_email_command_needs_a_phone_to_confirm(
    client: TestClient, store: Store, settings: Settings, seeded: tuple[str, int]
) -> None:
    """An authenticated email from an agent without a phone is refused, and recorded."""
    ref, _ = seeded
    with store.session() as session:
        add_agent(session, name="Mai", email="mai@example.org")
    assert email(client, "NEXT", message_id="<m1@example.org>", sender="mai@example.org",
                 auth=AUTHENTIC)[0] == 200  # fmt: skip
    assert "no phone is registered" in str(sent(settings, ref, "email")[0]["text"])
    assert "no phone" in str(refusals(store)[0].data)


# --- F2: at most once per provider id ------------------------------------------------------------


def test_f2_replayed_agent_sms_is_not_applied_again(
    client: TestClient, store: Store, seeded: tuple[str, int]
) -> None:
    """Pins F2: a signed `OFF` replayed with its MessageSid after the agent's NEXT changes
    nothing and is not answered again."""
    _, case_id = seeded
    off = sid()
    assert "You are off" in sms(client, "OFF", message_sid=off)[1]
    assert state(store, case_id)[0] is False
    sms(client, "NEXT")
    assert state(store, case_id)[0] is True
    status, twiml = sms(client, "OFF", message_sid=off)
    assert status == 200 and "<Message>" not in twiml
    assert state(store, case_id)[0] is True
    with store.session() as session:
        stored = session.scalars(select(InboundMessage).where(InboundMessage.channel == "sms"))
        assert sorted(m.body for m in stored) == ["NEXT", "OFF"]


def test_f2_email_command_retry_is_handled_once(
    client: TestClient, store: Store, settings: Settings, seeded: tuple[str, int]
) -> None:
    """SendGrid's retry of an agent's email (same Message-ID) sends no second confirmation."""
    ref, _ = seeded
    for _ in range(2):
        assert email(client, "NEXT", message_id="<r1@example.org>", auth=AUTHENTIC)[0] == 200
    assert len(sent(settings, ref, "sms")) == 1 and len(sent(settings, ref, "email")) == 1


# --- F4: numbers past the case id range -------------------------------------------------------


@pytest.mark.parametrize(
    "body", ["ACK 99999999999999999999999", "DONE 9223372036854775808", "ACK " + "๙" * 30,
             "รับ " + "๙" * 1000, "ASK 2147483648 are you safe?"],
)  # fmt: skip
def test_f4_numbers_past_the_case_range_get_an_answer(client: TestClient, body: str) -> None:
    """Pins F4: the agent is told there is no such case and to send NEXT; never a 5xx."""
    status, twiml = sms(client, body)
    assert status == 200 and "There is no case" in twiml and "NEXT" in twiml


@hsettings(max_examples=40, deadline=None,
           suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    body=st.one_of(
        st.text(max_size=80),
        st.builds(lambda verb, digits: f"{verb} {digits}",
                  st.sampled_from(["ACK", "DONE", "ESC", "PASS", "ASK", "รับ", "ສຳເລັດ",
                                   "CONFIRM", "ยืนยัน"]),
                  st.text(alphabet="0123456789๐๑๒๓๔๕๖๗๘๙໐໑໒໓໔໕໖໗໘໙", min_size=1,
                          max_size=40)),
    )
)  # fmt: skip
def test_agent_sms_never_gets_a_5xx(client: TestClient, body: str) -> None:
    """Any text from an agent's number is answered with 200 and TwiML."""
    status, twiml = sms(client, body)
    assert status == 200 and twiml.startswith("<?xml")
