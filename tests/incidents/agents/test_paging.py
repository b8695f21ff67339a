"""Pages to agents: what the SMS says, that it is sent, and that every outcome is recorded."""

from __future__ import annotations

import json
from pathlib import Path

from desk_support import CUSTOMER, T0, flood, make_agent, make_case, make_incident
from sqlalchemy import select

from crisiscast.config import load_settings
from crisiscast.incidents.agents.paging import (
    Senders,
    compose_page,
    csat_text,
    message_customer,
    page_agent,
    reminder_text,
    why_summary,
)
from crisiscast.incidents.store.database import Store
from crisiscast.incidents.store.models import TimelineEvent


def _senders(tmp_path: Path, outbox: Path) -> Senders:
    settings = load_settings({"CRISISCAST_HOME": str(tmp_path)})
    return Senders(settings, outbox)


def _events(store: Store, kind: str) -> list[TimelineEvent]:
    with store.session() as session:
        return list(session.scalars(select(TimelineEvent).where(TimelineEvent.kind == kind)))


def test_page_has_severity_why_masked_contact_and_commands(store: Store) -> None:
    """The page names the case and why, masks the customer's number and lists the commands."""
    with store.session() as session:
        case = make_case(session, make_incident(session))
        text = compose_page(case, incident_ref="INC-1", contact=CUSTOMER)
    assert text.startswith(f"URGENT case {case.id} INC-1 (rescue)")
    assert "signal trapped" in text
    assert CUSTOMER not in text
    assert "+6681****678" in text
    assert f"ACK {case.id} | DONE {case.id} note | ASK {case.id} question" in text
    assert f"ESC {case.id} | PASS {case.id} | HELP" in text


def test_why_summary_is_short_and_puts_a_raise_first() -> None:
    """A follow-up's raise is named first, and long reasons are cut to fit one SMS."""
    why = {"why": ["a" * 200], "raised": {"why": ["signal injured"]}}
    summary = why_summary(why)
    assert summary.startswith("signal injured; a")
    assert len(summary) == 90
    assert why_summary(None) == "no reason recorded"


def test_page_is_sent_by_sms_and_recorded(store: Store, tmp_path: Path) -> None:
    """A page goes to the agent's number through the SMS channel and lands on the timeline."""
    outbox = tmp_path / "outbox"
    senders = _senders(tmp_path, outbox)
    with store.session() as session:
        agent = make_agent(session, 1)
        case = make_case(session, make_incident(session))
        result = page_agent(session, senders, case, agent, incident_ref="INC-1", now=T0)
    senders.close()
    assert result.status == "sent"
    line = json.loads((outbox / "sms.jsonl").read_text(encoding="utf-8"))
    assert line["address"] == "+15005550001"
    assert f"case {case.id}" in line["text"]
    [event] = _events(store, "agent_paged")
    assert event.data is not None
    assert (event.data["case_id"], event.data["agent_id"]) == (case.id, agent.id)
    assert "+1500" not in event.message  # no number on the timeline


def test_failed_channel_is_recorded_as_a_failed_page(store: Store, tmp_path: Path) -> None:
    """When the SMS channel fails, the page is recorded as failed with the reason, not lost."""
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("x")
    senders = _senders(tmp_path, blocked)
    with store.session() as session:
        agent = make_agent(session, 1)
        case = make_case(session, make_incident(session))
        result = page_agent(session, senders, case, agent, incident_ref="INC-1", now=T0)
    assert result.status == "failed"
    [event] = _events(store, "page_failed")
    assert "cannot open" in event.message


def test_agent_without_phone_is_not_paged_but_recorded(store: Store, tmp_path: Path) -> None:
    """An agent with no phone gets no SMS; the timeline says they are on the web queue."""
    senders = _senders(tmp_path, tmp_path / "outbox")
    with store.session() as session:
        agent = make_agent(session, 1, phone=None)
        case = make_case(session, make_incident(session))
        result = page_agent(session, senders, case, agent, incident_ref="INC-1", now=T0)
    assert result.status == "suppressed"
    assert not (tmp_path / "outbox" / "sms.jsonl").exists()
    assert "web queue" in _events(store, "page_failed")[0].message


def test_customer_note_goes_to_the_case_sender(store: Store, tmp_path: Path) -> None:
    """A reminder reaches the customer on the case's channel, in their language."""
    outbox = tmp_path / "outbox"
    senders = _senders(tmp_path, outbox)
    with store.session() as session:
        case = make_case(session, make_incident(session), language="th")
        text = reminder_text(case.id, case.language)
        result = message_customer(session, senders, case, text, key="r1", subject="Case")
        social = make_case(session, make_incident(session), channel="social")
        skipped = message_customer(session, senders, social, text, key="r2", subject="Case")
    senders.close()
    assert result.status == "sent"
    line = json.loads((outbox / "sms.jsonl").read_text(encoding="utf-8"))
    assert (line["address"], line["language"]) == (CUSTOMER, "th")
    assert "เคส" in line["text"]
    assert skipped.status == "suppressed"


def test_csat_question_comes_from_the_playbook_in_the_case_language() -> None:
    """The satisfaction question is the playbook's, in the customer's language when it has it."""
    playbook = flood()
    assert csat_text(playbook, 7, "th").startswith("เราช่วยเหลือคุณ")
    assert csat_text(playbook, 7, "fr").startswith("How well did we help you")
