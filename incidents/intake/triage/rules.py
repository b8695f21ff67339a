"""The config's phrases indexed once per config, for signals and for categories.

Latin-script phrases match whole words only ("dam" must not fire on "damaged"): the reply is
split into words once and phrases are looked up by their first word, longest first. Thai and
Lao phrases match anywhere (substring), since those scripts put no spaces between words; they
are only scanned when the reply has such characters. Both are much faster than one big regular
expression, which tries every alternative at every position.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Generic, TypeVar

from crisiscast.incidents.intake.triage.config import TriageConfig
from crisiscast.incidents.intake.triage.lexicon import HIDING_WORDS

Owner = TypeVar("Owner")
_NO_SPACE = re.compile("[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u4e00-\u9fff]")
_TOKEN = re.compile(r"\w+(?:'\w+)*")
_SPACES = re.compile(r"\s+")


def normalise_phrase(text: str) -> str:
    """Lower-case with typographic apostrophes made plain, for phrases and replies alike."""
    return text.lower().replace("\u2019", "'").replace("\u2018", "'")


def tokens(lowered: str) -> list[str]:
    """Words of a lower-cased reply, the way phrases are split too."""
    return _TOKEN.findall(lowered)


def has_unspaced_script(text: str) -> bool:
    """Whether the text has Thai, Lao or another script written without word spaces."""
    return _NO_SPACE.search(text) is not None


def compact(lowered: str) -> str:
    """The reply without spaces: Thai and Lao phrases match whether or not people spaced words
    ("ยาย เดิน ไม่ ได้" as "ยายเดินไม่ได้"); words that hide a phrase (ขยาย) are masked."""
    joined = _SPACES.sub("", lowered)
    for word in HIDING_WORDS:
        if word in joined:
            joined = joined.replace(word, "#" * len(word))
    return joined


@dataclass(frozen=True)
class Hit(Generic[Owner]):
    """One phrase found in a reply, and what it belongs to."""

    phrase: str
    owner: Owner


class PhraseIndex(Generic[Owner]):
    """Phrases -> owners (a signal name, or a category and subcategory)."""

    def __init__(self, entries: list[tuple[str, Owner]]) -> None:
        self._spaced: dict[str, list[tuple[tuple[str, ...], str, list[Owner]]]] = {}
        self._unspaced: dict[str, list[Owner]] = {}
        by_phrase: dict[str, list[Owner]] = {}
        for phrase, owner in entries:
            owners = by_phrase.setdefault(normalise_phrase(phrase).strip(), [])
            if owner not in owners:
                owners.append(owner)
        for phrase, owners in by_phrase.items():
            words = tuple(tokens(phrase))
            if _NO_SPACE.search(phrase) or not words:
                self._unspaced[phrase] = owners
            else:
                self._spaced.setdefault(words[0], []).append((words, phrase, owners))
        for candidates in self._spaced.values():
            candidates.sort(key=lambda c: -len(c[0]))

    def find(self, lowered: str, words: list[str]) -> list[Hit[Owner]]:
        """Every phrase in the reply: whole-word ones in order, then the substring ones."""
        hits: list[Hit[Owner]] = []
        i, n = 0, len(words)
        while i < n:
            step = 1
            for phrase_words, phrase, owners in self._spaced.get(words[i], ()):
                size = len(phrase_words)
                if tuple(words[i : i + size]) == phrase_words:
                    hits.extend(Hit(phrase, owner) for owner in owners)
                    step = size
                    break
            i += step
        if self._unspaced and _NO_SPACE.search(lowered):
            joined = compact(lowered)
            found = [(joined.find(p), p) for p in self._unspaced if p in joined]
            for _, phrase in sorted(found):
                hits.extend(Hit(phrase, owner) for owner in self._unspaced[phrase])
        return hits


@dataclass(frozen=True, eq=False)
class CompiledRules:
    """Phrase indexes for a config's signals and its categories."""

    signals: PhraseIndex[str]
    categories: PhraseIndex[tuple[str, str | None]]


@lru_cache(maxsize=64)
def compile_rules(config: TriageConfig) -> CompiledRules:
    """Index once per config object (configs are immutable and hashed by identity)."""
    signal_entries = [
        (phrase, signal.name)
        for signal in config.signals
        for phrases in signal.patterns.values()
        for phrase in phrases
    ]
    category_entries: list[tuple[str, tuple[str, str | None]]] = []
    for category in config.categories:
        for phrases in category.patterns.values():
            category_entries += [(p, (category.name, None)) for p in phrases]
        for sub in category.subcategories:
            for phrases in sub.patterns.values():
                category_entries += [(p, (category.name, sub.name)) for p in phrases]
    return CompiledRules(PhraseIndex(signal_entries), PhraseIndex(category_entries))
