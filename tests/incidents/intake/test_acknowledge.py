"""The auto-acknowledgement: route, questions, options and links per severity and language."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from functools import cache
from pathlib import Path

import pytest

from crisiscast.incidents.intake.acknowledge import (
    best_route,
    compose,
    is_automated,
    is_open,
    opt_out_confirmation,
    should_auto_reply,
)
from crisiscast.incidents.intake.triage import TriageResult, config_from_playbook, triage
from crisiscast.playbook import Playbook, load_playbook

PLAYBOOKS = Path(__file__).resolve().parents[3] / "playbooks"
NOON, NIGHT = time(12, 0), time(23, 30)


@cache
def flood() -> Playbook:
    return load_playbook(PLAYBOOKS / "regional-flood.yaml")


def triaged(text: str) -> TriageResult:
    return triage(text, config_from_playbook(flood()))


def test_urgent_reply_gets_the_emergency_line_and_two_options() -> None:
    """An urgent SMS names the emergency phone line, asks the open questions, gives two options."""
    text = compose(flood(), triaged("200 people are trapped"), case_id=7, local_time=NOON,
                   form="short").text  # fmt: skip
    assert text.splitlines()[0] == "We received your message (case 7)."
    assert "call +15005550006" in text
    assert "1) Go now to the nearest shelter" in text and "2) If you cannot leave" in text
    assert "What do you need first" in text  # the most urgent open question comes first
    assert "Which loss hurts" not in text  # a short form asks at most two


def test_thai_reply_is_answered_entirely_in_thai() -> None:
    """Fixed phrases, route label, questions and options all come in Thai."""
    ack = compose(flood(), triaged("มีคนติดอยู่บนหลังคา"), case_id=3, local_time=NOON, form="short")
    assert ack.language == "th"
    assert "เราได้รับข้อความของคุณแล้ว (เคส 3)" in ack.text and "เหตุฉุกเฉิน" in ack.text
    assert "สองทางเลือกตอนนี้" in ack.text
    assert not any(word in ack.text for word in ("We received", "Two ways", "reply with"))


def test_lao_reply_is_answered_in_lao() -> None:
    """A Lao reply gets the Lao phrases and playbook texts."""
    ack = compose(flood(), triaged("ບໍ່ມີອາຫານ"), case_id=4, local_time=NOON, form="short")
    assert ack.language == "lo" and "ພວກເຮົາໄດ້ຮັບຂໍ້ຄວາມຂອງທ່ານແລ້ວ" in ack.text


def test_low_severity_gets_an_agent_route_and_a_link_not_the_options() -> None:
    """A low case is pointed at an agent and the knowledge base; no emergency options in SMS."""
    ack = compose(flood(), triaged("just checking in"), case_id=9, local_time=NOON, form="short")
    assert ack.route_need == "account"
    assert "https://flood.example.org/faq" in ack.text and "1) " not in ack.text


def test_long_form_carries_reassurance_and_every_resource() -> None:
    """Email and web replies include the reassurance and all the playbook's links."""
    text = compose(flood(), triaged("just checking in"), case_id=9, local_time=NOON,
                   form="long").text  # fmt: skip
    assert "handled floods in this region before" in text
    for url in ("relief.example.gov/flood", "volunteers.example.org", "flood.example.org/health"):
        assert url in text


def test_out_of_hours_says_so_and_points_to_the_open_emergency_line() -> None:
    """At night, the agent route is closed: the reply says when it opens and gives the 24/7 line."""
    ack = compose(flood(), triaged("just checking in"), case_id=1, local_time=NIGHT, form="short")
    assert ack.out_of_hours
    assert (
        "staffed 07:00-22:00" in ack.text
        and "If someone is in danger, call +15005550006" in ack.text
    )


def test_route_follows_the_category() -> None:
    """A technical problem goes to live chat; a rescue to the emergency line."""
    result = triaged("the app shows an error when I log in")
    assert result.category == "technical"
    assert best_route(flood(), result).channel == "live_chat"
    assert best_route(flood(), triaged("we need rescue from the roof")).need == "emergency"


@pytest.mark.parametrize(
    ("hours", "at", "open_"),
    [
        ("24/7", time(3, 0), True),
        ("07:00-22:00", time(7, 0), True),
        ("07:00-22:00", time(22, 0), False),
        ("22:00-06:00", time(2, 0), True),
        ("22:00-06:00", time(12, 0), False),
        ("weekdays", time(3, 0), True),
    ],
)
def test_route_hours(hours: str, at: time, open_: bool) -> None:
    """Hours ranges (wrapping midnight too) are read; an unreadable one is never called closed."""
    assert is_open(hours, at) is open_


def test_one_auto_reply_per_window() -> None:
    """A second auto-reply to the same case waits until the window has passed."""
    sent = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    assert should_auto_reply(None, sent)
    assert not should_auto_reply(sent, sent + timedelta(minutes=59))
    assert should_auto_reply(sent, sent + timedelta(hours=1))


@pytest.mark.parametrize(
    ("headers", "automated"),
    [
        ({"Auto-Submitted": "auto-replied"}, True),
        ({"auto-submitted": "no"}, False),
        ({"Precedence": "bulk"}, True),
        ({"X-Autoreply": "yes"}, True),
        ({"Subject": "help"}, False),
    ],
)
def test_machine_sent_mail_is_recognised(headers: dict[str, str], automated: bool) -> None:
    """RFC 3834 and vacation-reply headers mark mail that must not be auto-answered."""
    assert is_automated(headers) is automated


def test_opt_out_confirmation_per_language() -> None:
    """The opt-out confirmation exists in English, Thai and Lao (English for the rest)."""
    assert "unsubscribed" in opt_out_confirmation("en")
    assert "ยกเลิก" in opt_out_confirmation("th") and "ຍົກເລີກ" in opt_out_confirmation("lo")
    assert opt_out_confirmation("de") == opt_out_confirmation("en")
