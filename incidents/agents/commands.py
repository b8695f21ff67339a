"""Agents' SMS and email commands: ``ACK 42``, ``DONE 42 note``, ``ASK 42 question``,
``INFO 42``, ``STATUS 42 dispatched``...

Agents answer pages from a phone, in a hurry, often in their own language: any case, loose
spacing (``ack42``, `` Done  #42 ``), Thai and Lao words and digits (``รับ ๔๒``, ``ສຳເລັດ 42``)
are all understood. Parsing is pure and never raises on bad input: it returns either a
:class:`Command` or a :class:`Rejection` whose ``reply`` is the text to send back.
:func:`authorize` then checks the sender and the case ownership, also without a database.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache


class Verb(StrEnum):
    ACK = "ACK"
    DONE = "DONE"
    ESC = "ESC"
    PASS = "PASS"  # noqa: S105 (the PASS command, not a password)
    NEXT = "NEXT"
    OFF = "OFF"
    HELP = "HELP"
    ASK = "ASK"  # a question to the customer: the SLA pauses until they answer
    JOIN = "YES"  # a standby agent accepting "reply YES to join incident INC-3"
    CONFIRM = "CONFIRM"  # by SMS: apply the email command with this number (``desk``)
    INFO = "INFO"  # the case's details by SMS: words, severity, status, place, contact, link
    STATUS = "STATUS"  # set one of the playbook's statuses: STATUS 42 dispatched


# Words per language. Thai and Lao are written without spaces, so a number may follow directly.
KEYWORDS: Mapping[str, Mapping[Verb, tuple[str, ...]]] = {
    "en": {
        Verb.ACK: ("ack", "accept", "ok"),
        Verb.DONE: ("done", "resolved", "fixed"),
        Verb.ESC: ("esc", "escalate"),
        Verb.PASS: ("pass", "decline"),
        Verb.NEXT: ("next",),
        Verb.OFF: ("off",),
        Verb.HELP: ("help", "?"),
        Verb.JOIN: ("yes", "join"),
        Verb.ASK: ("ask",),
        Verb.CONFIRM: ("confirm",),
        Verb.INFO: ("info", "details"),
        Verb.STATUS: ("status",),
    },
    "th": {
        Verb.ACK: ("รับทราบ", "รับ"),
        Verb.DONE: ("เสร็จแล้ว", "เสร็จ"),
        Verb.ESC: ("ยกระดับ", "ส่งต่อ"),
        Verb.PASS: ("ไม่รับ", "ข้าม"),
        Verb.NEXT: ("ถัดไป",),
        Verb.OFF: ("เลิกงาน",),
        Verb.HELP: ("วิธีใช้", "ช่วย"),
        Verb.JOIN: ("ตกลง", "ใช่"),
        Verb.ASK: ("ถาม",),
        Verb.CONFIRM: ("ยืนยัน",),
        Verb.INFO: ("ข้อมูล", "รายละเอียด"),
        Verb.STATUS: ("สถานะ",),
    },
    "lo": {
        Verb.ACK: ("ຮັບຊາບ", "ຮັບ"),
        Verb.DONE: ("ສຳເລັດ", "ແລ້ວ"),
        Verb.ESC: ("ຍົກລະດັບ", "ສົ່ງຕໍ່"),
        Verb.PASS: ("ບໍ່ຮັບ", "ຂ້າມ"),
        Verb.NEXT: ("ຕໍ່ໄປ",),
        Verb.OFF: ("ເລີກວຽກ",),
        Verb.HELP: ("ວິທີໃຊ້", "ຊ່ວຍ"),
        Verb.JOIN: ("ຕົກລົງ", "ແມ່ນ"),
        Verb.ASK: ("ຖາມ",),
        Verb.CONFIRM: ("ຢືນຢັນ",),
        Verb.INFO: ("ຂໍ້ມູນ", "ລາຍລະອຽດ"),
        Verb.STATUS: ("ສະຖານະ",),
    },
}

NEEDS_CASE = frozenset({Verb.ACK, Verb.DONE, Verb.ESC, Verb.PASS, Verb.ASK, Verb.INFO, Verb.STATUS})
NEEDS_NUMBER = NEEDS_CASE | {Verb.CONFIRM}  # CONFIRM's number names an email command
# Case ids are 32-bit integers on PostgreSQL: a larger number names no case, and sending it to
# the database would overflow (a 5xx). Checked on the digit count before int() reads it, so
# thousands of digits cost nothing either (int() refuses over 4300 of them).
MAX_CASE_ID = 2**31 - 1
_MAX_DIGITS = len(str(MAX_CASE_ID))
TAKES_NOTE = frozenset({Verb.DONE, Verb.ESC, Verb.PASS, Verb.ASK, Verb.STATUS})
# ASK's question and STATUS's status are the command's whole point.
NEEDS_NOTE = frozenset({Verb.ASK, Verb.STATUS})
_NOTE_EXAMPLE: Mapping[Verb, str] = {Verb.ASK: "your question", Verb.STATUS: "dispatched"}
_NOTE_WHAT: Mapping[Verb, str] = {
    Verb.ASK: "what the customer should answer",
    Verb.STATUS: "the new status (one the playbook names, e.g. dispatched)",
}
# GSM-7 only (no "|", which costs two septets): these go out by SMS.
USAGE = (
    "ACK 42, DONE 42 note, ESC 42, PASS 42, ASK 42 question, INFO 42, STATUS 42 dispatched, "
    "NEXT, OFF, HELP"
)
HELP_TEXT = (
    "crisiscast commands: ACK 42 take case 42; DONE 42 note = resolved; ESC 42 = escalate; "
    "PASS 42 = give it to someone else; ASK 42 question = ask the customer, SLA paused until "
    "they answer (the answer is sent to you); INFO 42 = the case's details; STATUS 42 "
    "dispatched = set a status of the playbook; NEXT = send me a case; OFF = stop paging me; "
    "CONFIRM 7 = apply the email command 7; HELP."
)
# Polite particles people add in Thai and Lao ("รับ 42 ครับ"): not part of the command.
PARTICLES = ("ครับ", "ค่ะ", "คะ", "จ้า", "จ้ะ", "ເດີ", "ເຈົ້າ")
# \d matches Thai (๔๒) and Lao (໔໒) digits too, and int() reads them.
_CASE = re.compile(r"^#?\s*(\d+)(?:\s+(.*))?$", re.DOTALL)
_WORD = re.compile(r"^(\S+)")


@dataclass(frozen=True)
class Command:
    """A well-formed command; ``case_id`` is set for ACK/DONE/ESC/PASS/ASK (``note`` holds
    ASK's question); for CONFIRM it holds the number of the email command to apply."""

    verb: Verb
    case_id: int | None = None
    note: str = ""


@dataclass(frozen=True)
class Rejection:
    """A command that cannot be carried out; ``reply`` says why and what to send instead."""

    reply: str


@lru_cache(maxsize=32)
def _vocabulary(languages: frozenset[str]) -> tuple[tuple[str, Verb], ...]:
    """(word, verb) pairs for English plus ``languages``, longest words first."""
    pairs = [
        (word.casefold(), verb)
        for language in {"en", *languages}
        for verb, words in KEYWORDS.get(language, {}).items()
        for word in words
    ]
    return tuple(sorted(pairs, key=lambda pair: (-len(pair[0]), pair[0])))


def _split_verb(text: str, languages: Collection[str]) -> tuple[Verb, str] | None:
    """The verb at the start of ``text`` and the rest, if a known word starts it."""
    folded = text.casefold()
    for word, verb in _vocabulary(frozenset(languages)):
        if not folded.startswith(word):
            continue
        rest = text[len(word) :]
        # A Latin word must end at a boundary ("acknowledge" is not "ack" + "nowledge").
        if word.isascii() and word.isalpha() and rest[:1].isalpha():
            continue
        return verb, rest.strip()
    return None


def _drop_particles(rest: str, *, trailing: bool = True) -> str:
    """Remove polite particles before the case number and (if ``trailing``) at the very end.

    An ASK keeps its trailing particle: it belongs to the question the customer reads.
    """
    changed = True
    while changed:
        changed = False
        for particle in PARTICLES:
            if rest.startswith(particle):
                rest, changed = rest[len(particle) :].strip(), True
            if trailing and rest.endswith(particle):
                rest, changed = rest[: -len(particle)].strip(), True
    return rest


def _significant(digits: str) -> str:
    """``digits`` without leading zeros of any script (Thai zeros too)."""
    start = next((i for i, c in enumerate(digits) if unicodedata.decimal(c, 0) != 0), len(digits))
    return digits[start:]


def parse(text: str, languages: Collection[str] = ("en", "th", "lo")) -> Command | Rejection:
    """Read one command from an SMS body or an email's first line."""
    cleaned = " ".join(text.split())
    if not cleaned:
        return Rejection(f"Empty message. Commands: {USAGE}")
    found = _split_verb(cleaned, languages)
    if found is None:
        word = _WORD.match(cleaned)
        shown = word.group(1)[:20] if word else cleaned[:20]
        return Rejection(f"Unknown command {shown!r}. Commands: {USAGE}")
    verb, rest = found
    rest = _drop_particles(rest, trailing=verb is not Verb.ASK)
    if verb not in NEEDS_NUMBER:
        if rest and verb is not Verb.HELP:  # "help me" still deserves the help text
            return Rejection(f"{verb} takes nothing after it: send just {verb}.")
        return Command(verb)
    match = _CASE.match(rest)
    if match is None:
        if verb is Verb.CONFIRM:
            return Rejection("CONFIRM needs the number from the SMS: send CONFIRM 42.")
        example = f"{verb} 42 {_NOTE_EXAMPLE[verb]}" if verb in NEEDS_NOTE else f"{verb} 42"
        return Rejection(f"{verb} needs a case number: send {example} (the number from the page).")
    digits, note = match.group(1), (match.group(2) or "").strip()
    if len(_significant(digits)) > _MAX_DIGITS or int(digits) > MAX_CASE_ID:
        shown = digits if len(digits) <= 20 else digits[:20] + "..."  # GSM-7, not "…"
        return Rejection(
            f"There is no case {shown}: case numbers go up to {MAX_CASE_ID}. Check the number "
            "in the page, or send NEXT for your next case."
        )
    case_id = int(digits)
    if note and verb not in TAKES_NOTE:
        return Rejection(f"{verb} takes only a case number: send {verb} {case_id}.")
    if verb in NEEDS_NOTE and not _drop_particles(note):  # "ถาม 42 ครับ" asks nothing
        noun = "a question" if verb is Verb.ASK else "a status"
        return Rejection(
            f"{verb} needs {noun} after the case number: send {verb} {case_id} "
            f"followed by {_NOTE_WHAT[verb]}."
        )
    return Command(verb, case_id, note)


def from_email(subject: str, body: str) -> str:
    """The command text in an agent's email: the first line typed above the quoted page.

    Falls back to the subject without its ``Re:``/``Fwd:`` prefixes, so replying with
    "ACK 42" as the subject works too.
    """
    for line in body.splitlines():
        stripped = line.strip()
        if stripped.startswith(">") or (stripped.lower().startswith("on ") and "wrote" in stripped):
            break
        if stripped:
            return stripped
    return re.sub(r"^\s*((re|fwd?|aw|tr)\s*:\s*)+", "", subject, flags=re.IGNORECASE).strip()


def authorize(
    parsed: Command | Rejection,
    *,
    agent_id: int | None,
    holders: Mapping[int, int | None],
) -> Command | Rejection:
    """Check who sent a command: a known agent, acting on a case that is theirs.

    ``agent_id`` is the agent the sender's number or address belongs to (None: unknown);
    ``holders`` maps every case id of the incident to the agent holding it (None: nobody).
    The unknown-sender reply names no case and no agent: it may go to a stranger.
    """
    if agent_id is None:
        return Rejection(
            "This number is not registered as a crisiscast agent, so commands from it are "
            "ignored. Ask the incident commander to add it (crisiscast agents add)."
        )
    if isinstance(parsed, Rejection) or parsed.case_id is None or parsed.verb not in NEEDS_CASE:
        return parsed
    case_id = parsed.case_id
    if case_id not in holders:
        return Rejection(
            f"Case {case_id} does not exist in this incident. Check the number in the page, "
            "or send NEXT for a case."
        )
    holder = holders[case_id]
    if holder != agent_id:
        whose = "nobody yet" if holder is None else "another agent"
        return Rejection(
            f"Case {case_id} is assigned to {whose}, not to you, so {parsed.verb} was not "
            "applied. Send NEXT to get a case of your own."
        )
    return parsed


_CONFIRMATIONS: Mapping[Verb, str] = {
    Verb.ACK: "Case {case} is yours. Reply DONE {case} when resolved, ESC {case} if stuck.",
    Verb.DONE: "Case {case} marked resolved. Thank you.",
    Verb.ESC: "Case {case} escalated; the commander and a backup agent are told.",
    Verb.PASS: "Case {case} passed on; it goes to another agent.",
    Verb.NEXT: "Looking for the next case for you; it comes in a separate message.",
    Verb.OFF: "You are off: no more pages. Your open cases go to other agents.",
    Verb.HELP: HELP_TEXT,
    Verb.ASK: "Case {case}: question sent; SLA paused until the customer answers.",
    Verb.JOIN: "Thank you: you are on the incident until your pass ends. Pages follow.",
    Verb.CONFIRM: "Email command {case} confirmed.",
    Verb.INFO: "Case {case}: details follow.",
    Verb.STATUS: "Case {case} is now {note}.",
}


def confirmation(command: Command) -> str:
    """The text sent back once a command has been applied."""
    return _CONFIRMATIONS[command.verb].format(case=command.case_id, note=command.note)
