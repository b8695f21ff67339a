"""SMS segment counting (3GPP TS 23.038): which encoding a text needs and how many parts it costs.

GSM-7: 160 septets in one segment, 153 per segment when concatenated (the UDH takes 7).
Characters of the extension table (``^{}[]~|\\€`` and form feed) are an escape plus a
character: they count 2 and are never split across segments. Any other character forces
UCS-2: 70 UTF-16 code units in one segment, 67 per segment when concatenated; characters outside
the BMP (most emoji) take 2 code units and are never split. Thai and Lao are always UCS-2.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from crisiscast.channels.base import OutgoingMessage, PreparedMessage

Encoding = Literal["gsm7", "ucs2"]

# The GSM 03.38 default alphabet (the escape 0x1B itself is not a character).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The default extension table: each costs an escape septet plus itself.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

SINGLE = {"gsm7": 160, "ucs2": 70}
CONCATENATED = {"gsm7": 153, "ucs2": 67}
MAX_BODY = 1600  # Twilio rejects longer bodies (error 21617)
ELLIPSIS = "..."  # GSM-7, so truncation never switches a message to UCS-2


@dataclass(frozen=True, slots=True)
class SegmentCount:
    """How a text goes out: its encoding, its size in that encoding's units, and its segments."""

    encoding: Encoding
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int


def encoding_for(text: str) -> Encoding:
    """GSM-7 when every character is in the GSM alphabet (basic or extension), else UCS-2."""
    for char in text:
        if char not in GSM7_BASIC and char not in GSM7_EXTENSION:
            return "ucs2"
    return "gsm7"


def non_gsm_characters(text: str) -> str:
    """The distinct characters that force UCS-2, in order of appearance (for the preview)."""
    seen: dict[str, None] = {}
    for char in text:
        if char not in GSM7_BASIC and char not in GSM7_EXTENSION:
            seen.setdefault(char, None)
    return "".join(seen)


def unit_cost(char: str, encoding: Encoding) -> int:
    """Units one character takes: 2 for GSM-7 extension chars and for UCS-2 surrogate pairs."""
    if encoding == "gsm7":
        return 2 if char in GSM7_EXTENSION else 1
    return 2 if ord(char) > 0xFFFF else 1


def split_segments(text: str) -> list[str]:
    """The parts a phone reassembles, never cutting an escape sequence or a surrogate pair."""
    encoding = encoding_for(text)
    costs = [unit_cost(char, encoding) for char in text]
    if sum(costs) <= SINGLE[encoding]:
        return [text] if text else []
    limit = CONCATENATED[encoding]
    parts: list[str] = []
    start = used = 0
    for index, cost in enumerate(costs):
        if used + cost > limit:
            parts.append(text[start:index])
            start, used = index, 0
        used += cost
    parts.append(text[start:])
    return parts


def count_segments(text: str) -> SegmentCount:
    """Encoding, units and segments of ``text``; an empty text is 0 segments."""
    encoding = encoding_for(text)
    units = sum(unit_cost(char, encoding) for char in text)
    fits_one = units <= SINGLE[encoding]
    segments = (1 if units else 0) if fits_one else len(split_segments(text))
    return SegmentCount(encoding=encoding, units=units, segments=segments)


def estimate_cost(text: str, price_per_segment: Decimal, recipients: int = 1) -> Decimal:
    """What sending ``text`` to ``recipients`` people costs at ``price_per_segment``."""
    return price_per_segment * count_segments(text).segments * recipients


def prepare_sms(message: OutgoingMessage) -> PreparedMessage:
    """Pure: the body as sent (cut at a word boundary past 1600 characters), its segments."""
    body = message.text
    truncated = len(body) > MAX_BODY
    if truncated:
        cut = body[: MAX_BODY - len(ELLIPSIS)]
        space = cut.rfind(" ")
        body = (cut[:space] if space > MAX_BODY // 2 else cut).rstrip() + ELLIPSIS
    count = count_segments(body)
    return PreparedMessage(
        message=message,
        parts=(body,),
        segments=count.segments,
        encoding=count.encoding,
        truncated=truncated,
    )
