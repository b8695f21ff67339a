"""A validated playbook as a ``TriageConfig``: the one module that knows the playbook schema.

Playbook categories carry no phrases, only names. A category or subcategory that shares its
name with a built-in one (rescue/trapped, supplies/water ...) borrows the built-in phrases in
every language, so Thai and Lao replies find it too; any other is matched by its name. The
phrases of built-in subcategories the playbook does not name are kept as topics of a category
whose topic words need an ask (its supplies without a clothing subcategory still know "soap"
and "ผ้าอนามัย", when a reply asks for them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from crisiscast.incidents.intake.triage.builtin import (
    ASKS,
    CATEGORIES,
    CATEGORY_ROUTES,
    COMBINATIONS,
    DEFAULT_OPERATING_POINT,
    NEEDS,
    SOFT_LIFE,
    TOPICS_NEED,
)
from crisiscast.incidents.intake.triage.builtin import SIGNALS as BUILT_IN_SIGNALS
from crisiscast.incidents.intake.triage.config import (
    CategoryRule,
    Combination,
    Question,
    SignalRule,
    Subcategory,
    TriageConfig,
)

if TYPE_CHECKING:
    from crisiscast.playbook.schema import Category, Playbook

_BUILT_IN = {c.name: c for c in CATEGORIES}


def config_from_playbook(
    playbook: Playbook, *, use_model: bool = True, operating_point: str | None = None
) -> TriageConfig:
    """The triage view of a validated playbook: its matrix, signals, categories, questions and
    routes (need -> channel); ``operating_point`` picks the model's point (default
    ``urgent_recall``)."""
    severity = playbook.severity
    languages = tuple(playbook.languages)
    signals = _signals(playbook)
    return TriageConfig(
        levels=tuple(level.name for level in severity.levels),
        impact=tuple(severity.impact),
        urgency=tuple(severity.urgency),
        matrix={i: dict(row) for i, row in severity.matrix.items()},
        default_impact=severity.default.impact,
        default_urgency=severity.default.urgency,
        languages=languages,
        signals=signals,
        categories=tuple(
            _category(c, languages[0], _names(playbook.categories)) for c in playbook.categories
        ),
        questions=tuple(Question(q.id, tuple(q.answered_by)) for q in playbook.triage_questions),
        use_model=use_model,
        combinations=_combinations(signals, set(severity.impact), set(severity.urgency)),
        routes={route.need: route.channel for route in playbook.routes},
        category_routes=CATEGORY_ROUTES,
        asks=ASKS,
        topics_need=TOPICS_NEED,
        needs=NEEDS,
        soft_life=SOFT_LIFE,
        operating_point=operating_point or _playbook_point(playbook) or DEFAULT_OPERATING_POINT,
    )


def _playbook_point(playbook: Playbook) -> str | None:
    """The playbook's ``severity.operating_point``, if it names one."""
    return playbook.severity.operating_point


def _combinations(
    signals: tuple[SignalRule, ...], impact: set[str], urgency: set[str]
) -> tuple[Combination, ...]:
    """The built-in combinations the playbook's scales can express and its signals can fire."""
    names = {s.name for s in signals}
    return tuple(
        combo
        for combo in COMBINATIONS
        if (combo.impact is None or combo.impact in impact)
        and (combo.urgency is None or combo.urgency in urgency)
        and all(names & set(group) for group in combo.groups)
    )


def _signals(playbook: Playbook) -> tuple[SignalRule, ...]:
    """The playbook's signals, on top of the built-in ones its scales can express.

    A playbook written for an outage still has to see "people are trapped" or "our hospital's
    systems are down": built-in signals stay, kept only where their impact and urgency labels
    exist in the playbook's scales. A playbook signal named like a built-in one keeps its own
    levels and adds its phrases to the built-in ones (a playbook's six danger phrases must not
    drop the hundred the built-in rule knows in three languages), with the built-in's
    negation and calming behaviour.
    """
    built_in = {rule.name: rule for rule in BUILT_IN_SIGNALS}
    own = tuple(
        _merged(s.name, s.patterns, s.impact, s.urgency, built_in.get(s.name))
        for s in playbook.severity.signals
    )
    names = {rule.name for rule in own}
    impact, urgency = set(playbook.severity.impact), set(playbook.severity.urgency)
    kept = tuple(
        rule
        for rule in BUILT_IN_SIGNALS
        if rule.name not in names
        and (rule.impact is None or rule.impact in impact)
        and (rule.urgency is None or rule.urgency in urgency)
    )
    return own + kept


def _merged(
    name: str,
    patterns: Mapping[str, list[str]],
    impact: str | None,
    urgency: str | None,
    built_in: SignalRule | None,
) -> SignalRule:
    """A playbook signal, with the phrases of its built-in namesake added."""
    phrases = _lowered(patterns)
    if built_in is None:
        return SignalRule(name, phrases, impact, urgency)
    for lang, extra in built_in.patterns.items():
        phrases[lang] = tuple(dict.fromkeys((*phrases.get(lang, ()), *extra)))
    return SignalRule(
        name, phrases, impact, urgency, negatable=built_in.negatable, calming=built_in.calming
    )


def _lowered(raw: Mapping[str, list[str]]) -> dict[str, tuple[str, ...]]:
    return {lang: tuple(p.lower() for p in phrases) for lang, phrases in raw.items()}


def _names(categories: list[Category]) -> frozenset[str]:
    """Every category and subcategory name of the playbook, as the phrase it is matched by."""
    names = {c.name for c in categories} | {s for c in categories for s in c.subcategories}
    return frozenset(n.replace("_", " ") for n in names)


def _category(category: Category, language: str, reserved: frozenset[str]) -> CategoryRule:
    built_in = _BUILT_IN.get(category.name)
    subs = {s.name: s for s in built_in.subcategories} if built_in else {}

    def phrases(name: str, borrowed: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        # A borrowed phrase that is another of the playbook's names ("medicine") belongs there.
        merged = {lang: tuple(p for p in ps if p not in reserved) for lang, ps in borrowed.items()}
        # The name is a phrase too, unless a built-in namesake chose not to use it ("water"
        # alone fires on every flood reply; its built-in phrases say "drinking water").
        phrase = name.replace("_", " ").lower()
        if not borrowed or phrase in borrowed.get(language, ()):
            merged[language] = (*merged.get(language, ()), phrase)
        return merged

    # Only where topic words need an ask (supplies): elsewhere a borrowed word strays ("job",
    # "ສັນຍາ" contract inside ສັນຍານ signal, "ช้า" slow inside เช้า morning).
    unnamed = [
        sub
        for name, sub in subs.items()
        if name not in category.subcategories and category.name in TOPICS_NEED
    ]
    topics: dict[str, tuple[str, ...]] = {}
    for sub in unnamed:
        for lang, found in sub.patterns.items():
            kept = tuple(p for p in found if p not in reserved)
            topics[lang] = tuple(dict.fromkeys((*topics.get(lang, ()), *kept)))
    return CategoryRule(
        name=category.name,
        patterns=phrases(category.name, built_in.patterns if built_in else {}),
        subcategories=tuple(
            Subcategory(name, phrases(name, subs[name].patterns if name in subs else {}))
            for name in category.subcategories
        ),
        topics=topics,
    )
