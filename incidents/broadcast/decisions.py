"""Pure decisions of a broadcast: who is reached on which channel, shards, language, retries.

Nothing here reads a clock, a database or the network: the flow passes ``now``, random
numbers and rows in, so each rule is tested as a table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from crisiscast.errors import ConfigError

# Channels that reach each person at their own address; the rest post once per language.
PER_RECIPIENT = frozenset({"sms", "email"})
# Contacts per shard task: a shard streams its contacts in batches, so size costs no memory;
# fewer tasks cost less Prefect overhead (1M x 2 channels: 15 s at 100k, 18 s at 50k).
DEFAULT_SHARD_SIZE = 100_000


@dataclass(frozen=True, slots=True)
class Content:
    """One staged announcement row: what a recipient in ``language`` gets on a channel."""

    row_id: int
    language: str
    text: str
    subject: str | None
    html: str | None


@dataclass(frozen=True, slots=True)
class Reach:
    """Which contacts a per-recipient channel reaches, as audience names for a SQL filter.

    A contact is reached when it is in the announcement's target (``target_id``: its resolved
    ``target_members``; None only for a target that is explicitly everyone), and its audience
    lists the channel in the playbook, or is not one the playbook names (``all``, the import's
    default): a person on the list must never miss a warning because of a label.
    """

    channel: str
    audiences: tuple[str, ...]
    defined: tuple[str, ...]
    target_id: int | None = None


def address_column(channel: str) -> str:
    """The contacts column a per-recipient channel sends to."""
    if channel not in PER_RECIPIENT:
        raise ValueError(f"{channel!r} is not a per-recipient channel: it has no address column")
    return "phone" if channel == "sms" else "email"


def reach(
    audiences: Mapping[str, Sequence[str]], channel: str, target_id: int | None = None
) -> Reach:
    """The audiences of a playbook that ``channel`` reaches, in a target (see :class:`Reach`)."""
    chosen = tuple(sorted(name for name, kinds in audiences.items() if channel in kinds))
    return Reach(channel, chosen, tuple(sorted(audiences)), target_id)


# What an exercise SMS starts with, per language (CAP "Exercise": nobody may take it as real).
EXERCISE_MARKERS = {
    "en": "EXERCISE", "th": "การฝึกซ้อม", "lo": "ການຝຶກຊ້ອມ", "fr": "EXERCICE",
    "es": "SIMULACRO", "de": "ÜBUNG", "it": "ESERCITAZIONE", "pt": "EXERCÍCIO",
    "vi": "DIỄN TẬP", "zh": "演习", "ja": "訓練", "id": "LATIHAN", "ms": "LATIHAN",
    "km": "សមយុទ្ធ", "my": "လေ့ကျင့်ခန်း",
}  # fmt: skip


def exercise_marked(text: str, language: str) -> str:
    """``text`` starting with the exercise marker of its language (English when unknown);
    unchanged when it already starts with it."""
    marker = EXERCISE_MARKERS.get(language.split("-")[0], EXERCISE_MARKERS["en"])
    if text.lstrip().upper().startswith(marker.upper()):
        return text
    return f"{marker}: {text}"


def shards(lowest: int, highest: int, size: int = DEFAULT_SHARD_SIZE) -> list[tuple[int, int]]:
    """Contact id ranges ``(lo, hi)`` inclusive covering ``lowest..highest``, ``size`` ids each.

    Tasks get these bounds, never the contacts: Prefect hashes task inputs.
    """
    if size < 1:
        raise ValueError(f"shard size must be at least 1, not {size}")
    if highest < lowest:
        return []
    return [(lo, min(lo + size - 1, highest)) for lo in range(lowest, highest + 1, size)]


def pick_language(wanted: str | None, available: Sequence[str], default: str) -> str:
    """The contact's language when the message exists in it, else its base language
    (``th`` for ``th-TH``), else the playbook's default."""
    if wanted is not None and wanted in available:
        return wanted
    base = (wanted or "").split("-")[0]
    return base if base in available else default


Recipients = dict[int, list[tuple[int, str | None]]]  # announcement row -> (contact, address)


def split_batch(
    contacts: Sequence[tuple[int, str | None, str | None, bool]],
    contents: Mapping[str, Content],
    default_language: str,
    opted_out_addresses: set[str],
) -> tuple[Recipients, Recipients]:
    """Who gets which message, and who is suppressed: (to send, opted out), each by the
    announcement row in the contact's language. Contacts are (id, address, language, opted out
    of everything), in id order; the order is kept within each row."""
    send: Recipients = {}
    quiet: Recipients = {}
    rows: dict[str | None, int] = {}  # a contact's language -> the row it gets
    available = list(contents)
    for contact_id, address, language, out in contacts:
        row = rows.get(language)
        if row is None:
            row = contents[pick_language(language, available, default_language)].row_id
            rows[language] = row
        target = quiet if out or address in opted_out_addresses else send
        target.setdefault(row, []).append((contact_id, address))
    return send, quiet


def backoff_seconds(attempt: int, *, base: float, cap: float, jitter: float) -> float:
    """Exponential backoff with full jitter: ``attempt`` 1, 2, 3 ... -> up to base*2^(n-1).

    ``jitter`` is a random number in [0, 1) from the caller, so the schedule is testable.
    """
    if attempt < 1:
        raise ValueError(f"attempt counts from 1, not {attempt}")
    ceiling: float = min(cap, base * 2.0 ** (attempt - 1))
    return ceiling / 2 + ceiling / 2 * jitter


def pace_wait(sent: int, started: float, now: float, rate: float | None) -> float:
    """Seconds to wait so that ``sent`` messages since ``started`` stay within ``rate``/s."""
    if not rate:
        return 0.0
    due = started + sent / rate
    return max(0.0, due - now)


def update_texts(texts: Mapping[str, str], fallback: str, ref: str) -> dict[str, str]:
    """An update's texts by language, with ``""`` (``--text 'words'``) read as ``fallback``,
    the incident's fallback language, which must have a text. One rule and one set of words
    for the CLI's cold path and serve's warm route."""
    resolved = dict(texts)
    if "" in resolved:
        if fallback in resolved:
            raise ConfigError(f"--text for {fallback} (the fallback) is given twice")
        resolved[fallback] = resolved.pop("")
    if fallback not in resolved:
        raise ConfigError(
            f"the update has no text in {fallback}, {ref}'s fallback language: "
            f"add --text '...' (or --text {fallback}=...)"
        )
    return resolved
