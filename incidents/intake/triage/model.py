"""The shipped statistical model: a linear classifier over ``features``, read from gzipped JSON.

Inference is pure Python (a dict lookup and four additions per feature) so the package needs no
numpy. Retrain with ``python bench/train_triage.py``; the file records how it was trained and its
operating points: named P(urgent) cuts chosen on validation (``urgent_recall``, the default, for
urgent recall 0.85 on the test split; ``balanced`` for macro-F1, no cut; ``urgent_f2``). Files
of format 1 (the model shipped before) are still read, with their two cuts as points.
"""

from __future__ import annotations

import gzip
import math
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from crisiscast.errors import ConfigError
from crisiscast.incidents.intake.triage.features import reply_parts, scale, word_features

MODEL_PATH = Path(__file__).with_name("model.json.gz")
_CACHE_WORDS = 50_000
_RETRAIN = "retrain it with `python bench/train_triage.py` (needs the `train` extra)"


@dataclass(frozen=True, eq=False)
class TriageModel:
    """Class names (most severe first), biases and per-feature weights of a linear model."""

    classes: tuple[str, ...]
    bias: tuple[float, ...]
    weights: dict[str, tuple[float, ...]]
    urgent_cut: float  # P(urgent) cut of the default operating point
    urgent_cut_f2: float  # P(urgent) cut with the best urgent F2 on validation
    checks: tuple[tuple[str, tuple[float, ...]], ...]
    trained: dict[str, Any]
    operating_points: dict[str, float | None] = field(default_factory=dict)
    _cache: dict[str, tuple[int, tuple[float, ...]]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def scores(self, text: str) -> list[float]:
        """Raw linear scores per class for one reply."""
        return self._scores(*reply_parts(text))

    def _scores(self, unique_words: list[str], pairs: list[str]) -> list[float]:
        rows: list[tuple[float, ...]] = [(0.0,) * len(self.classes)]
        size = len(pairs)
        for word in unique_words:
            count, vector = self._word(word)
            size += count
            rows.append(vector)
        rows += [row for row in map(self.weights.get, pairs) if row is not None]
        unit = scale(size)
        totals = [sum(column) for column in zip(*rows, strict=True)]  # one C loop per class
        return [b + t * unit for b, t in zip(self.bias, totals, strict=True)]

    def _word(self, word: str) -> tuple[int, tuple[float, ...]]:
        """How many features a word brings and their summed weights (cached: words repeat)."""
        cached = self._cache.get(word)
        if cached is None:
            feats = word_features(word)
            totals = [0.0] * len(self.classes)
            for feat in feats:
                row = self.weights.get(feat)
                if row is not None:
                    for k, weight in enumerate(row):
                        totals[k] += weight
            if len(self._cache) >= _CACHE_WORDS:
                self._cache.clear()  # bounded memory; a cold cache only costs time
            cached = self._cache[word] = (len(feats), tuple(totals))
        return cached

    def urgent_cut_for(self, point: str) -> float | None:
        """The P(urgent) cut of a named operating point (None: the plain most likely class)."""
        if point not in self.operating_points:
            known = ", ".join(sorted(self.operating_points))
            raise ConfigError(f"triage operating point {point!r} is unknown; choose one of {known}")
        return self.operating_points[point]

    def probabilities(self, text: str) -> dict[str, float]:
        """Softmax of the scores: class name -> probability; empty when the reply has no word
        the model reads (Thai or Lao alone), so that the model abstains instead of guessing."""
        unique_words, pairs = reply_parts(text)
        if not unique_words:
            return {}
        scores = self._scores(unique_words, pairs)
        top = max(scores)
        exps = [math.exp(s - top) for s in scores]
        total = sum(exps)
        return {name: e / total for name, e in zip(self.classes, exps, strict=True)}


def load_model(path: Path = MODEL_PATH) -> TriageModel:
    """Read a model file written by the training script; errors say which file and how to fix."""
    try:
        raw = orjson.loads(gzip.decompress(path.read_bytes()))  # a third of json's time
    except FileNotFoundError:
        raise ConfigError(f"{path}: triage model file is missing; {_RETRAIN}") from None
    except (OSError, EOFError, orjson.JSONDecodeError) as exc:  # bad UTF-8 included
        raise ConfigError(f"{path}: triage model file is unreadable ({exc}); {_RETRAIN}") from exc
    try:
        return _from_dict(raw)
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(
            f"{path}: triage model file lacks or mistypes field {exc}; {_RETRAIN}"
        ) from exc


def _from_dict(raw: dict[str, Any]) -> TriageModel:
    if raw["format"] not in (1, 2):
        raise ValueError(f"'format' (got {raw['format']!r}, this version reads 1 and 2)")
    if raw["format"] == 1:
        points: dict[str, float | None] = {
            "balanced": None,
            "urgent_recall": float(raw["urgent_threshold_recall80"]),
            "urgent_f2": float(raw["urgent_threshold_f2"]),
        }
    else:
        points = {
            str(k): None if v is None else float(v) for k, v in raw["operating_points"].items()
        }
    unit = 1.0 / float(raw["weight_scale"])
    classes = tuple(str(c) for c in raw["classes"])
    weights = {str(feat): tuple(w * unit for w in row) for feat, row in raw["weights"].items()}
    if any(len(row) != len(classes) for row in weights.values()):
        raise ValueError("'weights' (a row's length differs from the number of classes)")
    return TriageModel(
        classes=classes,
        bias=tuple(float(b) for b in raw["bias"]),
        weights=weights,
        urgent_cut=float(points["urgent_recall"] or 0.0),
        urgent_cut_f2=float(points["urgent_f2"] or 0.0),
        checks=tuple((str(c["text"]), tuple(c["scores"])) for c in raw["checks"]),
        trained=dict(raw["trained"]),
        operating_points=points,
    )


@cache
def default_model() -> TriageModel:
    """The model shipped inside the package, loaded once per process."""
    return load_model()
