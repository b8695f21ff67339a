"""Agents' SMS/email commands: parsing in English, Thai and Lao, and who may command what."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crisiscast.channels.sms_segments import count_segments
from crisiscast.incidents.agents.commands import (
    HELP_TEXT,
    KEYWORDS,
    MAX_CASE_ID,
    Command,
    Rejection,
    Verb,
    authorize,
    confirmation,
    from_email,
    parse,
)

ME, OTHER = 7, 8
HOLDERS = {42: ME, 43: OTHER, 44: None}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ACK 42", Command(Verb.ACK, 42)),
        ("ack42", Command(Verb.ACK, 42)),
        ("  Ack   #42  ", Command(Verb.ACK, 42)),
        ("DONE 42 water delivered", Command(Verb.DONE, 42, "water delivered")),
        ("done 42", Command(Verb.DONE, 42)),
        (
            "Done 42\nfamily moved to the shelter",
            Command(Verb.DONE, 42, "family moved to the shelter"),
        ),
        ("ESC 42 needs a boat", Command(Verb.ESC, 42, "needs a boat")),
        ("escalate 42", Command(Verb.ESC, 42)),
        ("PASS 42", Command(Verb.PASS, 42)),
        ("pass 42 no Lao speaker here", Command(Verb.PASS, 42, "no Lao speaker here")),
        ("NEXT", Command(Verb.NEXT)),
        ("next ", Command(Verb.NEXT)),
        ("OFF", Command(Verb.OFF)),
        ("Help", Command(Verb.HELP)),
        ("help me please", Command(Verb.HELP)),
        ("YES", Command(Verb.JOIN)),
    ],
)
def test_english_commands_in_any_case_and_spacing(text: str, expected: Command) -> None:
    """Every command is read whatever the case, spacing or a '#' before the number."""
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("รับ 42", Command(Verb.ACK, 42)),
        ("รับทราบ42", Command(Verb.ACK, 42)),
        ("รับ ๔๒", Command(Verb.ACK, 42)),  # Thai digits
        ("เสร็จ 42 ส่งน้ำแล้ว", Command(Verb.DONE, 42, "ส่งน้ำแล้ว")),
        ("เสร็จแล้ว 42", Command(Verb.DONE, 42)),
        ("ส่งต่อ 42", Command(Verb.ESC, 42)),
        ("ไม่รับ 42", Command(Verb.PASS, 42)),
        ("ถัดไป", Command(Verb.NEXT)),
        ("เลิกงาน", Command(Verb.OFF)),
        ("วิธีใช้", Command(Verb.HELP)),
        ("ใช่", Command(Verb.JOIN)),
        ("รับ 42 ครับ", Command(Verb.ACK, 42)),  # polite particles are not part of it
        ("รับทราบครับ 42", Command(Verb.ACK, 42)),
        ("ถัดไปค่ะ", Command(Verb.NEXT)),
        ("ຮັບ 42", Command(Verb.ACK, 42)),
        ("ຮັບ 42 ເດີ", Command(Verb.ACK, 42)),
        ("ຮັບ ໔໒", Command(Verb.ACK, 42)),  # Lao digits
        ("ສຳເລັດ 42 ຍ້າຍໄປສູນພັກພິງແລ້ວ", Command(Verb.DONE, 42, "ຍ້າຍໄປສູນພັກພິງແລ້ວ")),
        ("ຍົກລະດັບ 42", Command(Verb.ESC, 42)),
        ("ບໍ່ຮັບ 42", Command(Verb.PASS, 42)),
        ("ຕໍ່ໄປ", Command(Verb.NEXT)),
        ("ເລີກວຽກ", Command(Verb.OFF)),
        ("ຊ່ວຍ", Command(Verb.HELP)),
        ("ແມ່ນ", Command(Verb.JOIN)),
    ],
)
def test_thai_and_lao_equivalents(text: str, expected: Command) -> None:
    """Thai and Lao words, digits and polite particles are read; 'do not accept' is PASS."""
    assert parse(text) == expected


def test_languages_outside_the_playbook_are_not_read() -> None:
    """An English-only playbook reads English commands only."""
    assert isinstance(parse("รับ 42", languages=["en"]), Rejection)
    assert parse("ACK 42", languages=[]) == Command(Verb.ACK, 42)


@pytest.mark.parametrize(
    ("text", "reply"),
    [
        ("", "Empty message"),
        ("   ", "Empty message"),
        ("hello there", "Unknown command 'hello'"),
        ("acknowledge 42", "Unknown command 'acknowledge'"),
        ("ACK", "ACK needs a case number: send ACK 42"),
        ("ACK forty-two", "ACK needs a case number"),
        ("DONE", "DONE needs a case number"),
        ("ACK 42 on my way", "ACK takes only a case number: send ACK 42"),
        ("NEXT 42", "NEXT takes nothing after it: send just NEXT"),
        ("OFF now", "OFF takes nothing after it"),
    ],
)
def test_malformed_commands_get_a_reply_that_says_what_to_send(text: str, reply: str) -> None:
    """A malformed command is a Rejection whose reply shows the right form."""
    result = parse(text)
    assert isinstance(result, Rejection)
    assert reply in result.reply
    if "Unknown" in reply or "Empty" in reply:
        assert "ACK 42, DONE 42 note" in result.reply


def test_unknown_number_is_refused_without_revealing_anything() -> None:
    """A number that is no agent's gets a refusal naming no case and no agent."""
    result = authorize(parse("DONE 42"), agent_id=None, holders=HOLDERS)
    assert isinstance(result, Rejection)
    assert "not registered as a crisiscast agent" in result.reply
    assert "42" not in result.reply


def test_someone_elses_case_is_refused() -> None:
    """An agent cannot act on a case another agent holds, or one nobody holds."""
    theirs = authorize(parse("DONE 43"), agent_id=ME, holders=HOLDERS)
    assert isinstance(theirs, Rejection)
    assert theirs.reply.startswith("Case 43 is assigned to another agent, not to you")
    nobody = authorize(parse("ACK 44"), agent_id=ME, holders=HOLDERS)
    assert isinstance(nobody, Rejection)
    assert "assigned to nobody yet" in nobody.reply


def test_a_case_that_does_not_exist_is_refused() -> None:
    """A number that is no case of the incident says so and suggests NEXT."""
    result = authorize(parse("ACK 99"), agent_id=ME, holders=HOLDERS)
    assert isinstance(result, Rejection)
    assert "Case 99 does not exist in this incident" in result.reply
    assert "NEXT" in result.reply


@pytest.mark.parametrize("text", ["ACK 42", "DONE 42 ok", "ESC 42", "PASS 42", "NEXT", "OFF"])
def test_own_case_and_caseless_commands_pass(text: str) -> None:
    """An agent's command on their own case, or one without a case, is allowed as parsed."""
    parsed = parse(text)
    assert authorize(parsed, agent_id=ME, holders=HOLDERS) == parsed


def test_a_malformed_command_from_an_agent_keeps_its_own_reply() -> None:
    """A known agent's malformed command is answered with the parse error, not an auth error."""
    parsed = parse("ACK")
    assert authorize(parsed, agent_id=ME, holders=HOLDERS) == parsed


@pytest.mark.parametrize(
    ("command", "text"),
    [
        (Command(Verb.ACK, 42), "Case 42 is yours. Reply DONE 42 when resolved, ESC 42 if stuck."),
        (Command(Verb.DONE, 42, "x"), "Case 42 marked resolved. Thank you."),
        (Command(Verb.ESC, 42), "Case 42 escalated; the commander and a backup agent are told."),
        (Command(Verb.PASS, 42), "Case 42 passed on; it goes to another agent."),
        (Command(Verb.HELP), HELP_TEXT),
    ],
)
def test_every_applied_command_is_confirmed(command: Command, text: str) -> None:
    """The confirmation names the case and the next possible step."""
    assert confirmation(command) == text


def test_every_verb_has_a_confirmation() -> None:
    """No command goes unanswered."""
    for verb in Verb:
        assert confirmation(
            Command(verb, 1 if verb in {"ACK", "DONE", "ESC", "PASS", "ASK"} else None)
        )


@pytest.mark.parametrize(
    ("subject", "body", "text"),
    [
        ("Re: [INC-3] urgent case 42", "ACK 42\n\nOn Tue, crisiscast wrote:\n> Case 42", "ACK 42"),
        ("Re: case 42", "\n\n  DONE 42 evacuated  \n> quoted page", "DONE 42 evacuated"),
        ("RE: Fwd: ESC 42", "> only the quoted page", "ESC 42"),
        ("Re: ACK 42", "", "ACK 42"),
    ],
)
def test_email_commands_come_from_the_first_typed_line(subject: str, body: str, text: str) -> None:
    """An email command is the first line above the quote, else the subject without Re:."""
    assert from_email(subject, body) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ASK 42 which floor are you on?", Command(Verb.ASK, 42, "which floor are you on?")),
        ("  ask#42   how   many people? ", Command(Verb.ASK, 42, "how many people?")),
        ("Ask 42\nis anyone injured", Command(Verb.ASK, 42, "is anyone injured")),
        ("ถาม 42 อยู่ชั้นไหนครับ", Command(Verb.ASK, 42, "อยู่ชั้นไหนครับ")),  # the particle stays
        ("ถาม๔๒ มีกี่คน", Command(Verb.ASK, 42, "มีกี่คน")),
        ("ຖາມ 42 ມີຈັກຄົນ", Command(Verb.ASK, 42, "ມີຈັກຄົນ")),
        ("ຖາມ ໔໒ ຢູ່ໃສ", Command(Verb.ASK, 42, "ຢູ່ໃສ")),
    ],
)
def test_ask_reads_the_case_and_keeps_the_question(text: str, expected: Command) -> None:
    """ASK in English, Thai and Lao, any case and spacing, keeps the question as typed."""
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "reply"),
    [
        ("ASK", "ASK needs a case number: send ASK 42 your question"),
        ("ASK where are you", "ASK needs a case number"),
        ("ASK 42", "ASK needs a question after the case number: send ASK 42 followed by"),
        ("ถาม 42 ครับ", "ASK needs a question after the case number"),
        ("asking 42 where", "Unknown command 'asking'"),
    ],
)
def test_ask_without_a_case_or_a_question_is_refused(text: str, reply: str) -> None:
    """ASK needs both a case number and a non-empty question; the reply says what to send."""
    result = parse(text)
    assert isinstance(result, Rejection)
    assert reply in result.reply


def test_ask_is_only_for_the_holder_and_is_confirmed() -> None:
    """Only the case's holder may ASK; the confirmation says the SLA is paused."""
    theirs = authorize(parse("ASK 43 where?"), agent_id=ME, holders=HOLDERS)
    assert isinstance(theirs, Rejection)
    assert theirs.reply.startswith("Case 43 is assigned to another agent, not to you, so ASK")
    mine = authorize(parse("ASK 42 where?"), agent_id=ME, holders=HOLDERS)
    assert isinstance(mine, Command)
    assert confirmation(mine) == "Case 42: question sent; SLA paused until the customer answers."


def test_help_and_usage_list_ask() -> None:
    """HELP and the usage line in every rejection name the ASK command."""
    assert "ASK 42 question" in HELP_TEXT
    result = parse("hello")
    assert isinstance(result, Rejection)
    assert "ASK 42 question" in result.reply


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("INFO 42", Command(Verb.INFO, 42)),
        ("details #42", Command(Verb.INFO, 42)),
        ("ข้อมูล ๔๒", Command(Verb.INFO, 42)),
        ("รายละเอียด 42 ครับ", Command(Verb.INFO, 42)),
        ("ຂໍ້ມູນ 42", Command(Verb.INFO, 42)),
        ("STATUS 42 dispatched", Command(Verb.STATUS, 42, "dispatched")),
        ("สถานะ 42 dispatched ครับ", Command(Verb.STATUS, 42, "dispatched")),
        ("ສະຖານະ42 on_site", Command(Verb.STATUS, 42, "on_site")),
    ],
)
def test_info_and_status_in_english_thai_and_lao(text: str, expected: Command) -> None:
    """INFO 42 and STATUS 42 dispatched are read in all three languages (a polite particle
    after the status is not part of it)."""
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "reply"),
    [
        ("INFO", "INFO needs a case number: send INFO 42"),
        ("INFO 42 please", "INFO takes only a case number: send INFO 42."),
        ("STATUS", "STATUS needs a case number: send STATUS 42 dispatched"),
        ("STATUS 42", "STATUS needs a status after the case number: send STATUS 42 followed by"),
    ],
)
def test_info_and_status_without_what_they_need_say_what_to_send(text: str, reply: str) -> None:
    """A bare INFO or STATUS is answered with the form to send."""
    result = parse(text)
    assert isinstance(result, Rejection) and result.reply.startswith(reply)


def test_help_usage_and_replies_stay_gsm7() -> None:
    """HELP and the usage list INFO and STATUS and use no character that makes an SMS UCS-2."""
    usage, too_big = parse("hello"), parse("ACK " + "1" * 30)
    assert isinstance(usage, Rejection) and isinstance(too_big, Rejection)
    assert "INFO 42" in usage.reply
    for text in (HELP_TEXT, usage.reply, too_big.reply):
        assert count_segments(text).encoding == "gsm7", text
    assert "STATUS 42 dispatched" in HELP_TEXT and "CONFIRM" in HELP_TEXT


# --- issue 12: numbers past the case id range (F4), CONFIRM, and parse never raises ----------


@pytest.mark.parametrize(
    "text",
    [
        "ACK 99999999999999999999999",
        "DONE 9223372036854775808",
        "ACK " + "๙" * 30,  # 30 Thai digits
        "ສຳເລັດ " + "໙" * 30,  # Lao digits
        "ACK " + "1" * 5000,  # past int()'s 4300-digit limit: must not raise either
        "ACK 2147483648",
    ],
)
def test_case_numbers_past_the_id_range_are_rejected_with_help(text: str) -> None:
    """Pins F4 (parsing): no Command carries a number the case id column cannot hold; the reply
    says there is no such case and to send NEXT, and stays short."""
    result = parse(text)
    assert isinstance(result, Rejection)
    assert result.reply.startswith("There is no case") and "NEXT" in result.reply
    assert len(result.reply) < 200


def test_largest_case_id_and_leading_zeros_are_fine() -> None:
    assert parse(f"ACK {MAX_CASE_ID}") == Command(Verb.ACK, MAX_CASE_ID)
    assert parse("รับ " + "๐" * 30 + "๔๒") == Command(Verb.ACK, 42)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CONFIRM 17", Command(Verb.CONFIRM, 17)),
        ("confirm17", Command(Verb.CONFIRM, 17)),
        ("ยืนยัน ๑๗", Command(Verb.CONFIRM, 17)),
        ("ຢືນຢັນ 17", Command(Verb.CONFIRM, 17)),
    ],
)
def test_confirm_takes_the_number_from_the_sms(text: str, expected: Command) -> None:
    assert parse(text) == expected
    # CONFIRM's number names an email command, not a case: authorize does not check holders.
    assert authorize(expected, agent_id=ME, holders={}) == expected


def test_confirm_without_a_number_says_what_to_send() -> None:
    result = parse("CONFIRM")
    assert isinstance(result, Rejection) and "CONFIRM 42" in result.reply


DIGITS = "0123456789๐๑๒๓๔๕๖๗๘๙໐໑໒໓໔໕໖໗໘໙"
WORDS = [word for table in KEYWORDS.values() for words in table.values() for word in words]


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.text(),
        st.builds(
            lambda word, space, digits, rest: f"{word}{space}{digits}{rest}",
            st.sampled_from(WORDS),
            st.sampled_from(["", " ", " #", "\n", "\u00a0"]),
            st.text(alphabet=DIGITS, max_size=60),
            st.text(max_size=20),
        ),
    )
)
def test_parse_never_raises_and_never_overflows(text: str) -> None:
    """Any text, including commands with Thai/Lao/Latin digits of any length, parses to a
    Command (with a case number in range) or a Rejection, never an exception."""
    result = parse(text)
    assert isinstance(result, Command | Rejection)
    if isinstance(result, Command) and result.case_id is not None:
        assert 0 <= result.case_id <= MAX_CASE_ID
    else:
        assert isinstance(result, Command) or result.reply
