"""Triage of one reply: severity, category, language, the why and the unanswered questions.

Rules first: the config's signals (phrases, head counts, sums of money) give an impact and an
urgency, and the config's matrix turns them into a severity. When no signal fires, the shipped
model (if enabled) decides. When signals do fire, the more severe of the two verdicts wins, so a
playbook's rule can always raise a reply above what the model says.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crisiscast.incidents.intake.triage import counts
from crisiscast.incidents.intake.triage.config import TriageConfig
from crisiscast.incidents.intake.triage.language import detect_language
from crisiscast.incidents.intake.triage.model import TriageModel, default_model
from crisiscast.incidents.intake.triage.rules import compile_rules, normalise_phrase, tokens

PEOPLE = "people_affected"
MONEY = "money_at_stake"


@dataclass(frozen=True)
class TriageResult:
    """What triage decided about one reply, and why (``why`` is shown to agents as is)."""

    severity: str
    category: str
    subcategory: str | None
    language: str
    why: tuple[str, ...]
    signals: tuple[str, ...]
    unanswered: tuple[str, ...]
    impact: str
    urgency: str
    decided_by: str  # "rules", "model" or "default"
    confidence: float
    scores: Mapping[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the CLI's output line)."""
        return {
            "severity": self.severity,
            "category": self.category,
            "subcategory": self.subcategory,
            "language": self.language,
            "why": list(self.why),
            "signals": list(self.signals),
            "unanswered": list(self.unanswered),
            "impact": self.impact,
            "urgency": self.urgency,
            "decided_by": self.decided_by,
            "confidence": round(self.confidence, 4),
            "scores": {k: round(v, 4) for k, v in self.scores.items()},
        }


@dataclass(frozen=True)
class _Fired:
    signal: str
    evidence: str
    impact: str | None
    urgency: str | None


def triage(
    text: str,
    config: TriageConfig,
    *,
    model: TriageModel | None = None,
    urgent_cut: float | None = None,
) -> TriageResult:
    """Triage one reply: the rules' verdict, or the model's where it is more severe.

    ``model`` defaults to the shipped one when ``config.use_model``; ``urgent_cut`` makes the
    model say urgent whenever P(urgent) reaches it (more urgent recall, less precision).
    """
    lowered = counts.ascii_digits(normalise_phrase(text))
    words = tokens(lowered)
    fired = _signals(lowered, words, config)
    impact = _most(config.impact, [f.impact for f in fired], config.default_impact)
    urgency = _most(config.urgency, [f.urgency for f in fired], config.default_urgency)
    rule_level = config.level_for(impact, urgency)
    why = [_explain(f) for f in fired]
    severity, decided_by, confidence = rule_level, "rules" if fired else "default", 1.0
    probabilities: dict[str, float] = {}
    if config.use_model:
        model = model or default_model()
        probabilities = model.probabilities(text)
        model_level, confidence_m = _model_level(probabilities, model, config, urgent_cut)
        if not fired or _rank(config, model_level) < _rank(config, rule_level):
            severity, decided_by, confidence = model_level, "model", confidence_m
            why.append(f"model: {model_level} (p={confidence_m:.2f})")
    category, subcategory = _category(lowered, words, config)
    names = tuple(dict.fromkeys(f.signal for f in fired))
    return TriageResult(
        severity=severity,
        category=category,
        subcategory=subcategory,
        language=detect_language(text, config.languages, config.default_language),
        why=tuple(why),
        signals=names,
        unanswered=tuple(q.id for q in config.questions if not set(q.answered_by) & set(names)),
        impact=impact,
        urgency=urgency,
        decided_by=decided_by,
        confidence=confidence,
        scores=probabilities,
    )


def _signals(lowered: str, words: list[str], config: TriageConfig) -> list[_Fired]:
    """Phrase signals plus the built-in readers of head counts and money."""
    by_name = {s.name: s for s in config.signals}
    fired: dict[str, _Fired] = {}
    for hit in compile_rules(config).signals.find(lowered, words):
        if hit.owner not in fired:
            rule = by_name[hit.owner]
            fired[hit.owner] = _Fired(hit.owner, repr(hit.phrase), rule.impact, rule.urgency)
    people = counts.people_count(lowered)
    whole = counts.everyone(lowered)
    if people and (not whole or people[0] >= 100):
        rank = _step(config.people_impact, people[0])
        _keep_worse(fired, _Fired(PEOPLE, f"{people[0]:,}", config.impact_at(rank), None), config)
    elif whole:
        impact = config.impact_at(config.everyone_impact)
        _keep_worse(fired, _Fired(PEOPLE, repr(whole), impact, None), config)
    money = counts.money_amount(lowered)
    if money:
        rank = _step(config.money_impact, int(money[0]))
        _keep_worse(fired, _Fired(MONEY, repr(money[1]), config.impact_at(rank), None), config)
    return list(fired.values())


def _keep_worse(fired: dict[str, _Fired], new: _Fired, config: TriageConfig) -> None:
    """A count fires under its signal's name; a playbook phrase of that name that already
    fired with a more severe impact ("many families") is kept rather than lowered."""
    old = fired.get(new.signal)
    if (
        old is None
        or old.impact is None
        or (
            new.impact is not None
            and config.impact.index(new.impact) < config.impact.index(old.impact)
        )
    ):
        fired[new.signal] = new


def _step(steps: tuple[tuple[int, int], ...], value: int) -> int:
    """Impact rank of the first step the value reaches (the least severe rank otherwise)."""
    return next((rank for least, rank in steps if value >= least), steps[-1][1] if steps else 0)


def _most(scale: tuple[str, ...], found: list[str | None], default: str) -> str:
    """The most severe value found on a scale (scale is ordered most severe first)."""
    ranks = [scale.index(v) for v in found if v is not None and v in scale]
    return scale[min(ranks)] if ranks else default


def _explain(fired: _Fired) -> str:
    return f"{fired.signal.replace('_', ' ')}: {fired.evidence}"


def _rank(config: TriageConfig, level: str) -> int:
    return config.levels.index(level) if level in config.levels else len(config.levels)


def _model_level(
    probabilities: dict[str, float],
    model: TriageModel,
    config: TriageConfig,
    urgent_cut: float | None,
) -> tuple[str, float]:
    """The model's class mapped onto the config's levels by relative rank."""
    best = max(probabilities, key=probabilities.__getitem__)
    top = model.classes[0]
    if urgent_cut is not None and probabilities[top] >= urgent_cut:
        best = top
    position = model.classes.index(best) / max(len(model.classes) - 1, 1)
    level = config.levels[round(position * (len(config.levels) - 1))]
    return level, probabilities[best]


def _category(lowered: str, words: list[str], config: TriageConfig) -> tuple[str, str | None]:
    """The category with the most phrase hits (first one on ties) and its leading subcategory."""
    hits = compile_rules(config).categories.find(lowered, words)
    if not hits:
        return config.fallback_category, None
    tally: dict[str, int] = {}
    for hit in hits:
        tally[hit.owner[0]] = tally.get(hit.owner[0], 0) + 1
    category = max(tally, key=tally.__getitem__)
    sub = next((h.owner[1] for h in hits if h.owner[0] == category and h.owner[1]), None)
    return category, sub
