"""Text features shared by training and inference, so both see exactly the same strings.

Pure Python on purpose: inference must not import numpy or scikit-learn. A reply becomes
feature strings with counts (its distinct words, each with its character n-grams, and its
distinct word pairs), scaled by 1/sqrt(total count). The scale needs no vocabulary, so pruning
the model's weights never changes how the rest are scaled, and a word's share of the score
depends on the word alone, so inference can cache it per word.
"""

from __future__ import annotations

import itertools
import math
import re

_URL = re.compile(r"https?://\S+|www\.\S+")
_MENTION = re.compile(r"@\w+")
_DIGITS = re.compile(r"\d+")
# Places and storm names of the training events (Haiti 2010, Chile 2010, Pakistan 2010, Sandy
# 2012): the model must learn what people say, not where these messages came from, so they
# all become one token. Replies from other crises name other places.
_EVENT_NAMES = re.compile(
    r"\b(?:haiti|haitian|haitians|port[- ]au[- ]prince|leogane|jacmel|carrefour|delmas|"
    r"petion[- ]?ville|gonaives|cap[- ]haitien|les cayes|cayes|croix[- ]des[- ]bouquets|"
    r"chile|chilean|santiago|concepcion|talca|valparaiso|pakistan|pakistani|sindh|punjab|"
    r"karachi|lahore|peshawar|swat|sandy|hurricanesandy|new york|nyc|new jersey|nj|hoboken|"
    r"brooklyn|manhattan|staten island|queens|jersey)\b"
)
# A word starts and ends with a letter or 0 (apostrophes only inside: "don't", not "dogs'")
_WORD = re.compile(r"[a-z0](?:[a-z0']*[a-z0])?")

CHAR_MIN = 3
CHAR_MAX = 5


def normalise(text: str) -> str:
    """Lower-case and mask what does not generalise: links, handles, event places, digits."""
    text = _URL.sub(" url ", text.lower())
    text = _MENTION.sub(" user ", text)
    text = _EVENT_NAMES.sub(" place ", text)
    return _DIGITS.sub("0", text)


def words(text: str) -> list[str]:
    """Latin-script words of a normalised text (apostrophes kept inside words)."""
    return _WORD.findall(text)


def word_features(word: str) -> tuple[str, ...]:
    """The ``w:`` word feature and the distinct ``c:`` character n-grams of " word "."""
    padded = f" {word} "
    size = len(padded)
    grams = dict.fromkeys(
        "c:" + padded[i : i + n] for n in range(CHAR_MIN, CHAR_MAX + 1) for i in range(size - n + 1)
    )
    return ("w:" + word, *grams)


def reply_parts(text: str) -> tuple[list[str], list[str]]:
    """The distinct words of a reply and its distinct ``b:`` word-pair features, in order."""
    toks = words(normalise(text))
    pairs = dict.fromkeys(f"b:{a} {b}" for a, b in itertools.pairwise(toks))
    return list(dict.fromkeys(toks)), list(pairs)


def feature_counts(text: str) -> dict[str, int]:
    """Every feature of one reply with its count: each distinct word adds its word features,
    so an n-gram shared by two words counts twice. Per-word sums are what inference caches."""
    unique_words, pairs = reply_parts(text)
    counts = dict.fromkeys(pairs, 1)
    for word in unique_words:
        for feat in word_features(word):
            counts[feat] = counts.get(feat, 0) + 1
    return counts


def scale(n_features: int) -> float:
    """Weight of each present feature: unit length over all of them, known or not."""
    return 1.0 / math.sqrt(n_features) if n_features else 0.0
