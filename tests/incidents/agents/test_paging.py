"""Pages to agents: what the SMS says, that it is sent, and that every outcome is recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from desk_support import CUSTOMER, T0, flood, make_agent, make_case, make_incident
from sqlalchemy import select
from sqlalchemy.orm import Session

from crisiscast.channels.sms_segments import count_segments
from crisiscast.config import load_settings
from crisiscast.incidents.agents import case_link
from crisiscast.incidents.agents.paging import (
    Senders,
    compose_page,
    csat_text,
    location_text,
    message_customer,
    page_agent,
    reminder_text,
    why_summary,
)
from crisiscast.incidents.cases.conversation import conversation
from crisiscast.incidents.store.database import Store
from crisiscast.incidents.store.models import Case, Contact, TimelineEvent

LINK = "https://crisis.example.org/c/42.3.Ab3dE_9hIk2M"


def _senders(tmp_path: Path, outbox: Path) -> Senders:
    settings = load_settings({"CRISISCAST_HOME": str(tmp_path)})
    return Senders(settings, outbox)


def _events(store: Store, kind: str) -> list[TimelineEvent]:
    with store.session() as session:
        return list(session.scalars(select(TimelineEvent).where(TimelineEvent.kind == kind)))


def test_page_has_severity_why_masked_contact_and_commands(store: Store) -> None:
    """The page names the case and why, masks the customer's number and lists
    the commands (GSM-7 separators: no "|", which costs two septets)."""
    with store.session() as session:
        case = make_case(session, make_incident(session))
        text = compose_page(case, incident_ref="INC-1", contact=CUSTOMER)
    assert text.startswith(f"URGENT case {case.id} INC-1 (rescue)")
    assert "signal trapped" in text
    assert CUSTOMER not in text
    assert "+6681****678" in text
    assert f"ACK {case.id}, DONE {case.id} note, ASK {case.id} question, INFO {case.id}" in text
    assert "|" not in text


def _case(session: Session, language: str) -> Case:
    case = make_case(session, make_incident(session), language=language)
    case.why = {"why": ["time pressure: 'rising fast'", "danger to life: 'trapped'"]}
    return case


def test_english_page_carries_the_words_place_and_link_in_two_gsm7_segments(
    store: Store,
) -> None:
    """An English page quotes the customer, says where they are, links the case, and costs
    at most two GSM-7 segments, even when the customer wrote a lot."""
    short = "Water is rising fast, 200 people are trapped on the school roof!"
    with store.session() as session:
        case = _case(session, "en")
        pages = [
            compose_page(
                case,
                incident_ref="INC-1",
                contact=CUSTOMER,
                words=words,
                location="13.75630,100.50180 TH-10",
                link=LINK,
            )
            for words in ([short], [short, "we have no food " * 20])
        ]
    whole, cut = pages
    assert f'"{short}"' in whole
    assert "Where: 13.75630,100.50180 TH-10" in whole
    assert LINK in whole and "+6681****678" in whole
    assert f'"{short} / we have no food' in cut and '..."' in cut
    for page in pages:
        count = count_segments(page)
        assert (count.encoding, count.segments <= 2) == ("gsm7", True), page
        assert CUSTOMER not in page and "…" not in page


TYPOGRAPHIC = "We\u2019re stuck \u2013 \u201cplease\u201d hurry\u2026"


def test_typographic_punctuation_of_the_customer_keeps_the_page_gsm7(store: Store) -> None:
    """Curly quotes, dashes and "…" from a phone's keyboard are sent as their GSM-7 forms."""
    with store.session() as session:
        case = _case(session, "en")
        page = compose_page(case, incident_ref="INC-1", contact=CUSTOMER,
                            words=[TYPOGRAPHIC])  # fmt: skip
    assert '"We\'re stuck - "please" hurry..."' in page
    assert count_segments(page).encoding == "gsm7"


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("th", "น้ำท่วมบ้าน มีคนติดอยู่ในบ้าน 5 คน ช่วยด้วย"),
        ("th", "น้ำท่วมสูงมาก ติดอยู่บนหลังคา 12 คน มีเด็กและผู้สูงอายุ ช่วยด้วย " * 4),
        ("lo", "ນ້ຳຖ້ວມເຮືອນ ມີຄົນຕິດຢູ່ໃນເຮືອນ 5 ຄົນ ຊ່ວຍແດ່"),
    ],
)
def test_thai_and_lao_pages_fit_two_ucs2_segments_with_the_words(
    store: Store, language: str, words: str
) -> None:
    """Thai and Lao make a page UCS-2 (67 characters a segment): it still fits in two, with
    the customer's words first (cut with "..." when long) and the commands."""
    with store.session() as session:
        case = _case(session, language)
        page = compose_page(case, incident_ref="INC-1", contact=CUSTOMER, words=[words],
                            location="13.75630,100.50180", link=LINK)  # fmt: skip
    count = count_segments(page)
    assert (count.encoding, count.segments) == ("ucs2", 2), page
    quoted = page.splitlines()[1]
    assert quoted.startswith('"' + words[:12])
    assert f"ACK {case.id}" in page and f"INFO {case.id}" in page
    assert CUSTOMER not in page


def test_why_summary_is_short_and_puts_a_raise_first() -> None:
    """A follow-up's raise is named first, and long reasons are cut to fit (with "...", GSM-7)."""
    why = {"why": ["a" * 200], "raised": {"why": ["signal injured"]}}
    summary = why_summary(why)
    assert summary.startswith("signal injured; a")
    assert len(summary) == 90 and summary.endswith("...")
    assert why_summary(None) == "no reason recorded"


def test_location_comes_from_the_contact_or_triage() -> None:
    """Coordinates and area codes of the contact, else a place triage found in the text."""
    contact = Contact(latitude=13.7563, longitude=100.5018, area_codes=["TH-10"])
    assert location_text(contact, None) == "13.75630,100.50180 TH-10"
    assert location_text(None, {"location": "school roof, Soi 5"}) == "school roof, Soi 5"
    assert location_text(Contact(area_codes=[]), {}) is None


def test_page_is_sent_by_sms_and_recorded(store: Store, tmp_path: Path) -> None:
    """A page goes to the agent's number through the SMS channel with the customer's words and
    the agent's own signed link, and lands on the timeline and in the case's conversation."""
    outbox = tmp_path / "outbox"
    senders = _senders(tmp_path, outbox)
    with store.session() as session:
        agent = make_agent(session, 1)
        case = make_case(session, make_incident(session))
        result = page_agent(session, senders, case, agent, incident_ref="INC-1", now=T0)
        [entry] = conversation(session, case.id)[1:]
    senders.close()
    assert result.status == "sent"
    line = json.loads((outbox / "sms.jsonl").read_text(encoding="utf-8"))
    assert line["address"] == "+15005550001"
    assert f"case {case.id}" in line["text"]
    assert '"help"' in line["text"]  # the customer's own words
    [link] = [word for word in line["text"].split() if "/c/" in word]
    assert link.startswith("http://127.0.0.1:8765/c/")
    secret = case_link.link_secret(senders.settings)
    assert case_link.verify(secret, link.rsplit("/", 1)[1]) == case_link.LinkClaim(
        case.id, agent.id
    )
    assert (entry.kind, entry.body) == ("page", line["text"])
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


def test_a_page_goes_out_without_its_link_when_no_key_can_be_made(
    store: Store, tmp_path: Path
) -> None:
    """A home where the link key cannot be written costs the page its link, not the page."""
    blocked = tmp_path / "home-is-a-file"
    blocked.write_text("x")
    senders = Senders(load_settings({"CRISISCAST_HOME": str(blocked)}), tmp_path / "outbox")
    with store.session() as session:
        agent = make_agent(session, 1)
        case = make_case(session, make_incident(session))
        result = page_agent(session, senders, case, agent, incident_ref="INC-1", now=T0)
    senders.close()
    assert result.status == "sent"
    text = json.loads((tmp_path / "outbox" / "sms.jsonl").read_text(encoding="utf-8"))["text"]
    assert '"help"' in text and "/c/" not in text
