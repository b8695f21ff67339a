"""The config's phrases indexed once per config, for signals and for categories.

Latin-script phrases match whole words only ("dam" must not fire on "damaged"): the reply is
split into words once and phrases are looked up by their first word, longest first. Thai and
Lao phrases match anywhere (substring), since those scripts put no spaces between words; they
are only scanned when the reply has such characters, in one pass of an Aho-Corasick automaton
(pyahocorasick) that reports every phrase at once, overlapping ones included ("ตายาย" and
"ยาย"). A substring test per phrase cost 0.63 s of a 25,000-reply run, the largest single cost;
one big regular expression tries every alternative at every position and loses overlaps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Generic, TypeVar

import ahocorasick

from crisiscast.incidents.intake.triage.config import SignalRule, TriageConfig
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
        # first word -> (words, hits) longest first; each phrase's hits are built once (frozen)
        self._spaced: dict[str, list[tuple[tuple[str, ...], list[Hit[Owner]]]]] = {}
        self._unspaced: dict[str, list[Hit[Owner]]] = {}
        self._automaton = ahocorasick.Automaton()
        by_phrase: dict[str, list[Owner]] = {}
        for phrase, owner in entries:
            owners = by_phrase.setdefault(normalise_phrase(phrase).strip(), [])
            if owner not in owners:
                owners.append(owner)
        for phrase, owners in by_phrase.items():
            words = tuple(tokens(phrase))
            hits = [Hit(phrase, owner) for owner in owners]
            if _NO_SPACE.search(phrase) or not words:
                self._unspaced[phrase] = hits
            else:
                self._spaced.setdefault(words[0], []).append((words, hits))
        for candidates in self._spaced.values():
            candidates.sort(key=lambda c: -len(c[0]))
        for phrase in self._unspaced:
            self._automaton.add_word(phrase, phrase)
        if self._unspaced:
            self._automaton.make_automaton()

    def find(self, lowered: str, words: list[str]) -> list[Hit[Owner]]:
        """Every phrase in the reply: whole-word ones in order, then the substring ones.

        At each word the longest phrase starting there wins and the words it covers are not
        looked at again ("no one was hurt" hides its "hurt").
        """
        hits: list[Hit[Owner]] = []
        spaced = self._spaced
        covered = 0  # words before this index belong to a phrase already found
        for i, word in enumerate(words):
            candidates = spaced.get(word)
            if candidates is None or i < covered:
                continue
            for phrase_words, found in candidates:
                size = len(phrase_words)
                if size == 1 or tuple(words[i : i + size]) == phrase_words:
                    hits += found
                    covered = i + size
                    break
        if self._unspaced and _NO_SPACE.search(lowered):
            first: dict[str, int] = {}
            for end, phrase in self._automaton.iter(compact(lowered)):
                first.setdefault(phrase, end - len(phrase) + 1)
            for phrase in sorted(first, key=lambda p: (first[p], p)):
                hits += self._unspaced[phrase]
        return hits


@dataclass(frozen=True)
class CategoryHit:
    """What a category phrase says: its category, its subcategory (if any) and whether it names
    a topic of the category (a subcategory's or a topic's phrase) rather than the category."""

    category: str
    subcategory: str | None
    topic: bool


@dataclass(frozen=True, eq=False)
class CompiledRules:
    """Phrase indexes for a config's signals and its categories."""

    signals: PhraseIndex[str]
    categories: PhraseIndex[CategoryHit]
    signal_rules: dict[str, SignalRule]  # by name


@lru_cache(maxsize=64)
def compile_rules(config: TriageConfig) -> CompiledRules:
    """Index once per config object (configs are immutable and hashed by identity)."""
    signal_entries = [
        (phrase, signal.name)
        for signal in config.signals
        for phrases in signal.patterns.values()
        for phrase in phrases
    ]
    category_entries: list[tuple[str, CategoryHit]] = []
    for category in config.categories:
        for phrases in category.patterns.values():
            category_entries += [(p, CategoryHit(category.name, None, False)) for p in phrases]
        for sub in category.subcategories:
            for phrases in sub.patterns.values():
                category_entries += [
                    (p, CategoryHit(category.name, sub.name, True)) for p in phrases
                ]
        for phrases in category.topics.values():
            category_entries += [(p, CategoryHit(category.name, None, True)) for p in phrases]
    return CompiledRules(
        PhraseIndex(signal_entries),
        PhraseIndex(category_entries),
        {signal.name: signal for signal in config.signals},
    )
