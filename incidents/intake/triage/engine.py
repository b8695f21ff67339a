"""Triage of one reply: severity, category, route, language, the why and the open questions.

Rules first: the config's signals (phrases, head counts, sums of money, and combinations such as
a vulnerable person with a hazard where they are) give an impact and an urgency, and the
config's matrix turns them into a severity. A harm phrase right after a negation ("no one was
hurt") does not count. When no signal fires, the shipped model (if enabled) decides at the
config's operating point; when signals do fire, the more severe verdict wins, so a rule can
always raise a reply above the model. Two exceptions: a short reply whose only signal says all
is well ("we are fine") stays low, and the model abstains on a reply with no word it was trained
on (Thai or Lao without English), and a reply asking to claim or to reschedule is not made
urgent by the high-recall cut alone. A blank reply is reported as empty. The category then
picks the route: danger to life first, then a software fault, then what the reply asks for,
then what it mentions. A sick person asking for care by name ("please send a nurse") stays
urgent but takes the route of the care named, not the hotline (``config.soft_life``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from crisiscast.incidents.intake.triage import counts
from crisiscast.incidents.intake.triage.config import TriageConfig
from crisiscast.incidents.intake.triage.language import detect_language
from crisiscast.incidents.intake.triage.lexicon import (
    NEGATIONS_EN,
    NEGATIONS_TH_LO,
    NOT_PEOPLE_EN,
    NOT_PEOPLE_TH_LO,
)
from crisiscast.incidents.intake.triage.model import TriageModel, default_model
from crisiscast.incidents.intake.triage.rules import (
    compact,
    compile_rules,
    has_unspaced_script,
    normalise_phrase,
    tokens,
)

PEOPLE = "people_affected"
MONEY = "money_at_stake"
_LINKS = re.compile(
    r"https?://\S+|www\.\S+|\b[\w-]+(?:\.[\w-]+)*\.(?:org|com|net|gov|la|th|io)\b\S*"
)
# What every link above contains: a cheap first look (the full pattern cost a tenth of triage).
_LINK_HINT = re.compile(r"://|www\.|\.(?:org|com|net|gov|la|th|io)\b")
SURE = 0.5  # P(urgent) at which the model alone sends a reply to the emergency route
CALM_WORDS = 12  # "we are fine" overrules the model only in a reply this short
EMPTY = "empty"


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
    decided_by: str  # "rules", "model", "default" or "empty" (a blank reply)
    confidence: float
    scores: Mapping[str, float] = field(default_factory=dict)
    need: str | None = None  # the route need: the category's, or emergency for danger to life
    route: str | None = None  # the playbook's channel for that need
    operating_point: str = ""  # the model's operating point in force
    empty: bool = False

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
            "operating_point": self.operating_point,
            "need": self.need,
            "route": self.route,
            "empty": self.empty,
            "confidence": round(self.confidence, 4),
            "scores": {k: round(v, 4) for k, v in self.scores.items()},
        }


@dataclass(frozen=True)
class _Fired:
    signal: str
    evidence: str
    impact: str | None
    urgency: str | None
    calming: bool = False

    @property
    def decides(self) -> bool:
        """Whether the signal sets a level (``request`` only completes combinations)."""
        return self.impact is not None or self.urgency is not None


def triage(
    text: str,
    config: TriageConfig,
    *,
    model: TriageModel | None = None,
    urgent_cut: float | None = None,
) -> TriageResult:
    """Triage one reply: the rules' verdict, or the model's where it is more severe.

    ``model`` defaults to the shipped one when ``config.use_model``; ``urgent_cut`` overrides the
    cut of the config's operating point (the model says urgent once P(urgent) reaches it).
    """
    if not text.strip():
        return _empty(text, config)
    lowered = counts.ascii_digits(_without_links(normalise_phrase(text)))
    words = tokens(lowered)
    fired = _signals(lowered, words, config)
    fired += _combinations(fired, config)
    deciding = [f for f in fired if f.decides]
    impact = _most(config.impact, [f.impact for f in deciding], config.default_impact)
    urgency = _most(config.urgency, [f.urgency for f in deciding], config.default_urgency)
    rule_level = config.level_for(impact, urgency)
    why = [_explain(f) for f in deciding]
    severity, decided_by, confidence = rule_level, "rules" if deciding else "default", 1.0
    probabilities: dict[str, float] = {}
    calm = bool(deciding) and all(f.calming for f in deciding) and len(words) <= CALM_WORDS
    if config.use_model and not calm:
        model = model or default_model()
        probabilities = model.probabilities(text)
        if not probabilities:
            why.append("model: abstained (no word it was trained on)")
        else:
            cut = model.urgent_cut_for(config.operating_point) if urgent_cut is None else urgent_cut
            if _asks_routine(fired, config) and rule_level != config.levels[0]:
                cut = None  # "how do I claim?" is no emergency unless the rules see danger
            model_level, confidence_m = _model_level(probabilities, model, config, cut)
            if not deciding or _rank(config, model_level) < _rank(config, rule_level):
                severity, decided_by, confidence = model_level, "model", confidence_m
                why.append(f"model: {model_level} (p={confidence_m:.2f}, {config.operating_point})")
    life = rule_level == config.levels[0]
    soft = life and _only_soft_life(deciding, config)
    sure = severity == config.levels[0] and probabilities.get(config.levels[0], 0.0) >= SURE
    names = tuple(dict.fromkeys(f.signal for f in fired))
    answered = set(names)
    category, subcategory, need = _route(
        lowered, words, config, answered, calm=calm, life=life, sure=sure, soft=soft
    )
    return TriageResult(
        severity=severity,
        category=category,
        subcategory=subcategory,
        language=detect_language(text, config.languages, config.default_language),
        why=tuple(why),
        signals=names,
        unanswered=tuple(q.id for q in config.questions if answered.isdisjoint(q.answered_by)),
        impact=impact,
        urgency=urgency,
        decided_by=decided_by,
        confidence=confidence,
        scores=probabilities,
        need=need,
        route=config.routes.get(need) if need else None,
        operating_point=config.operating_point,
    )


def _route(
    lowered: str,
    words: list[str],
    config: TriageConfig,
    fired: set[str],
    *,
    calm: bool,
    life: bool,
    sure: bool,
    soft: bool = False,
) -> tuple[str, str | None, str | None]:
    """Category, subcategory and route need. Danger to life first: the rules saw it, or the
    model is sure of it (P(urgent) >= 0.5). A reply the high-recall point alone makes urgent
    goes first in the queue but keeps its category and route ("how do I claim?" still goes to
    an agent message); so does one made urgent only by ``config.soft_life`` signals when it
    names a category ("fever here, need a nurse"). All is well: no category, no route."""
    if calm:
        return config.fallback_category, None, None
    if soft:
        category, subcategory = _category(lowered, words, config, fired, False, sure)
        if category not in (config.fallback_category, *config.life_categories):
            return category, subcategory, config.need_for(category, subcategory, False)
    category, subcategory = _category(lowered, words, config, fired, life, life or sure)
    uncategorised = category in (config.fallback_category, *config.life_categories)
    need = config.need_for(category, subcategory, life or (sure and uncategorised))
    return category, subcategory, need


def _only_soft_life(deciding: list[_Fired], config: TriageConfig) -> bool:
    """Whether the reply is urgent by the rules only through ``config.soft_life`` signals."""
    hard = [f for f in deciding if f.signal not in config.soft_life]
    impact = _most(config.impact, [f.impact for f in hard], config.default_impact)
    urgency = _most(config.urgency, [f.urgency for f in hard], config.default_urgency)
    return config.level_for(impact, urgency) != config.levels[0]


def _without_links(text: str) -> str:
    """The reply with links blanked out ("help.example.org/help" asks for nothing)."""
    return _LINKS.sub(" ", text) if _LINK_HINT.search(text) else text


def _empty(text: str, config: TriageConfig) -> TriageResult:
    """A blank reply: nothing to triage, so it is reported as empty (at the lowest level)."""
    return TriageResult(
        severity=config.levels[-1],
        category=config.fallback_category,
        subcategory=None,
        language=config.default_language,
        why=("empty reply",),
        signals=(),
        unanswered=tuple(q.id for q in config.questions),
        impact=config.impact[-1],
        urgency=config.urgency[-1],
        decided_by=EMPTY,
        confidence=1.0,
        operating_point=config.operating_point,
        empty=True,
    )


def _signals(lowered: str, words: list[str], config: TriageConfig) -> list[_Fired]:
    """Phrase signals plus the built-in readers of head counts and money."""
    rules = compile_rules(config)
    by_name = rules.signal_rules
    fired: dict[str, _Fired] = {}
    for hit in rules.signals.find(lowered, words):
        if hit.owner not in fired:
            rule = by_name[hit.owner]
            if rule.negatable and _negated(lowered, hit.phrase):
                continue
            fired[hit.owner] = _Fired(
                hit.owner, repr(hit.phrase), rule.impact, rule.urgency, rule.calming
            )
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


def _combinations(fired: list[_Fired], config: TriageConfig) -> list[_Fired]:
    """Combinations whose every group has a fired signal ("grandmother" + "water coming in")."""
    names = {f.signal for f in fired}
    found = []
    for combo in config.combinations:
        if combo.name not in names and not any(names.isdisjoint(g) for g in combo.groups):
            evidence = " + ".join(next(n for n in g if n in names) for g in combo.groups)
            found.append(_Fired(combo.name, evidence, combo.impact, combo.urgency))
    return found


def _negated(lowered: str, phrase: str) -> bool:
    """Whether every occurrence of a harm phrase follows a negation in its clause, or names
    an animal or a thing just before it ("no one was hurt", "ควายตาย")."""
    if has_unspaced_script(phrase):
        text = lowered if phrase in lowered else compact(lowered)
        starts = [m.start() for m in re.finditer(re.escape(phrase), text)]
        return bool(starts) and all(
            text[:i].endswith(NEGATIONS_TH_LO) or _about_things(text[max(0, i - 14) : i])
            for i in starts
        )
    plain, negated = _negation_patterns(phrase)
    occurrences = [m.start() for m in plain.finditer(lowered)]
    things = sum(_about_things(lowered[max(0, i - 20) : i]) for i in occurrences)
    return len(negated.findall(lowered)) + things >= max(len(occurrences), 1)


def _about_things(before: str) -> bool:
    """Whether the words just before a harm phrase name an animal or a thing."""
    if has_unspaced_script(before):
        return any(word in before for word in NOT_PEOPLE_TH_LO)
    return not NOT_PEOPLE_EN.isdisjoint(tokens(before))


@lru_cache(maxsize=1024)
def _negation_patterns(phrase: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The phrase as a whole word, and the phrase up to two words after a negation (no
    punctuation between: "no power, people trapped" is not a negation of "trapped")."""
    word = r"(?<![\w'])" + re.escape(phrase) + r"(?![\w'])"
    negation = r"(?<![\w'])(?:" + "|".join(map(re.escape, sorted(NEGATIONS_EN))) + r")"
    return re.compile(word), re.compile(negation + r"(?:\s+[\w']+){0,2}\s+" + re.escape(phrase))


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
    """One line of ``why``: the signal and what fired it."""
    return f"{fired.signal.replace('_', ' ')}: {fired.evidence}"


def _rank(config: TriageConfig, level: str) -> int:
    return config.levels.index(level) if level in config.levels else len(config.levels)


def _model_level(
    probabilities: dict[str, float],
    model: TriageModel,
    config: TriageConfig,
    urgent_cut: float | None,
) -> tuple[str, float]:
    """The model's class mapped onto the config's levels by relative rank; urgent once
    P(urgent) reaches the operating point's cut."""
    best = max(probabilities, key=probabilities.__getitem__)
    top = model.classes[0]
    if urgent_cut is not None and probabilities[top] >= urgent_cut:
        best = top
    position = model.classes.index(best) / max(len(model.classes) - 1, 1)
    level = config.levels[round(position * (len(config.levels) - 1))]
    return level, probabilities[best]


def _category(
    lowered: str, words: list[str], config: TriageConfig, fired: set[str], life: bool, danger: bool
) -> tuple[str, str | None]:
    """The category and its leading subcategory, in this order of precedence:

    1. danger to life found by the rules: the config's life category (rescue);
    2. what the reply asks for (``config.asks``): rescheduling, then a claim;
    3. the category with the most phrase hits (config order on ties); a life category only
       where there is danger to life, and a category's topic words ("rice", "milk") only in a
       reply that asks for it (``config.topics_need``): a report of flooded rice fields is no
       request for rice;
    4. with no phrase hit, unmet needs (``config.needs``): "we have nowhere else" -> supplies.
    """
    hits = compile_rules(config).categories.find(lowered, words)
    names = [c.name for c in config.categories]
    first = next((n for n in config.life_categories if n in names), None) if life else None
    if first is None:
        first = next((c for s, c in config.asks if s in fired and c in names), None)
    if not danger:
        hits = [h for h in hits if h.owner.category not in config.life_categories]
    hits = [h for h in hits if not h.owner.topic or _asked_for(h.owner.category, fired, config)]
    if not hits and first is None:
        needed = next((c for s, c in config.needs if s in fired and c in names), None)
        return (needed, None) if needed else (config.fallback_category, None)
    tally: dict[str, int] = {}
    for hit in hits:
        tally[hit.owner.category] = tally.get(hit.owner.category, 0) + 1
    category = first or max((n for n in names if n in tally), key=tally.__getitem__)
    sub = next(
        (h.owner.subcategory for h in hits if h.owner.category == category and h.owner.subcategory),
        None,
    )
    return category, sub


def _asked_for(category: str, fired: set[str], config: TriageConfig) -> bool:
    """Whether a category's topic words count: it needs no asking, or the reply asks."""
    needed = config.topics_need.get(category)
    return needed is None or not fired.isdisjoint(needed)


def _asks_routine(fired: list[_Fired], config: TriageConfig) -> bool:
    """Whether the reply asks to reschedule or to claim (the signals of ``config.asks``)."""
    asking = {signal for signal, _ in config.asks}
    return any(f.signal in asking for f in fired)
