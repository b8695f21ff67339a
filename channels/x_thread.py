"""Pure text rules for X posts: weighted length and splitting a long text into a thread.

X counts a post's length with weights (twitter-text v3): code points up to U+10FF (Latin,
Greek, Cyrillic, Arabic, Hebrew, Thai, Lao, ...) and a few punctuation ranges count 1; others
(CJK, emoji) count 2; every URL counts 23. Emoji sequences are counted per code point here,
which over-counts them: a part may come out shorter than needed, never too long.
"""

from __future__ import annotations

import re

from crisiscast.channels.base import OutgoingMessage, PreparedMessage

MAX_WEIGHTED = 280
URL_WEIGHT = 23
_LIGHT = ((0, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))
_URL = re.compile(r"https?://\S+")
_TOKEN = re.compile(r"\S+\s*")


def _char_weight(char: str) -> int:
    point = ord(char)
    return 1 if any(low <= point <= high for low, high in _LIGHT) else 2


def weighted_length(text: str) -> int:
    """X's length of ``text``: what must stay within 280."""
    total, position = 0, 0
    for url in _URL.finditer(text):
        total += sum(_char_weight(c) for c in text[position : url.start()]) + URL_WEIGHT
        position = url.end()
    return total + sum(_char_weight(c) for c in text[position:])


def _hard_split(word: str, limit: int) -> list[str]:
    """Cut a single over-long word (no spaces to break at) into pieces within ``limit``."""
    pieces, current = [], ""
    for char in word:
        if current and weighted_length(current + char) > limit:
            pieces.append(current)
            current = ""
        current += char
    return [*pieces, current] if current else pieces


def _chunks(text: str, limit: int) -> list[str]:
    """Greedy word-boundary chunks, each within ``limit`` weighted characters."""
    chunks: list[str] = []
    current = ""
    for token in _TOKEN.findall(text.strip()):
        if weighted_length((current + token).rstrip()) <= limit:
            current += token
            continue
        if current.strip():
            chunks.append(current.rstrip())
        current = ""
        if weighted_length(token.rstrip()) > limit:
            *whole, current = _hard_split(token.rstrip(), limit)
            chunks.extend(whole)
            current += token[len(token.rstrip()) :]
        else:
            current = token
    if current.strip():
        chunks.append(current.rstrip())
    return chunks


def split_thread(text: str, limit: int = MAX_WEIGHTED) -> list[str]:
    """One post when it fits; otherwise word-boundary parts ending " 1/3", " 2/3", " 3/3"."""
    if weighted_length(text) <= limit:
        return [text] if text.strip() else []
    count = 2
    while True:
        marker_room = len(f" {count}/{count}")
        chunks = _chunks(text, limit - marker_room)
        if len(chunks) <= count:
            total = len(chunks)
            return [f"{chunk} {index}/{total}" for index, chunk in enumerate(chunks, 1)]
        count = len(chunks)


def prepare_post(message: OutgoingMessage) -> PreparedMessage:
    """Pure: the posts of the thread (one when it fits in 280 weighted characters)."""
    parts = tuple(split_thread(message.text))
    return PreparedMessage(message=message, parts=parts, segments=len(parts), encoding="utf-8")
