"""What triage looks for, as plain frozen data (no pydantic): built from a playbook or built in.

The engine reads only this, so it stays fast and testable; ``from_playbook.py`` is the one
place that knows the playbook schema. Ranks everywhere mean 0 = most severe.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class SignalRule:
    """Phrases (per language) that, when found, raise impact and/or urgency."""

    name: str
    patterns: Mapping[str, tuple[str, ...]]
    impact: str | None = None
    urgency: str | None = None
    negatable: bool = False  # "no one was hurt": a negation just before the phrase cancels it
    calming: bool = False  # "we are fine": alone among the signals, the rules overrule the model


@dataclass(frozen=True)
class Combination:
    """Signals that together mean more than each alone: one phrase from every group.

    "my grandmother cannot walk" is a high; with "water coming into my house" it is danger to
    life. Fires under ``name`` with its own impact and urgency.
    """

    name: str
    groups: tuple[tuple[str, ...], ...]
    impact: str | None = None
    urgency: str | None = None


@dataclass(frozen=True)
class Subcategory:
    """A subcategory and the phrases that point to it."""

    name: str
    patterns: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class CategoryRule:
    """A category; it is chosen when its own or its subcategories' phrases are found.

    ``topics`` are phrases of things the category is about with no subcategory of their own
    (a playbook's supplies category without a clothing subcategory still knows "soap").
    """

    name: str
    patterns: Mapping[str, tuple[str, ...]]
    subcategories: tuple[Subcategory, ...] = ()
    topics: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Question:
    """A triage question, answered once one of its signals fires."""

    id: str
    answered_by: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class TriageConfig:
    """Severity scales, matrix and the rules; ``use_model`` lets the shipped model add to them.

    ``people_impact`` and ``money_impact`` are (at least this many, impact rank) steps for
    the counts triage reads from text ("200 people", "$5,000"); ranks index ``impact``. Money
    is compared as written, whatever the currency. Hashed by identity (``eq=False``) so the
    compiled phrase index is built once per config object.
    """

    levels: tuple[str, ...]
    impact: tuple[str, ...]
    urgency: tuple[str, ...]
    matrix: Mapping[str, Mapping[str, str]]
    default_impact: str
    default_urgency: str
    languages: tuple[str, ...]
    signals: tuple[SignalRule, ...] = ()
    categories: tuple[CategoryRule, ...] = ()
    questions: tuple[Question, ...] = ()
    use_model: bool = True
    people_impact: tuple[tuple[int, int], ...] = ((100, 0), (20, 1), (5, 2), (1, 3))
    money_impact: tuple[tuple[int, int], ...] = ((1_000_000, 0), (10_000, 1), (100, 2), (1, 3))
    everyone_impact: int = 1  # "everyone", "the whole village": rank of impact it implies
    fallback_category: str = "other"
    combinations: tuple[Combination, ...] = ()
    routes: Mapping[str, str] = field(default_factory=dict)  # need -> channel (the playbook's)
    category_routes: Mapping[str, str] = field(default_factory=dict)  # category[/sub] -> need
    life_categories: tuple[str, ...] = ("rescue", "emergency")  # danger to life picks these
    # (signal, category): a reply asking to reschedule or to claim takes that category first
    asks: tuple[tuple[str, str], ...] = ()
    # category -> signals without which its topic (subcategory) words do not pick it
    topics_need: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # (signal, category): unmet needs with no category phrase ("nowhere to go") -> supplies
    needs: tuple[tuple[str, str], ...] = ()
    # signals that make a reply urgent but leave its route to a category it names: a sick
    # person asking for a nurse or an inhaler goes to the agent who sends one, first in queue
    soft_life: tuple[str, ...] = ()
    emergency_need: str = "emergency"
    operating_point: str = "urgent_recall"

    @property
    def default_language(self) -> str:
        """The playbook's first language: used when the text gives no better clue."""
        return self.languages[0]

    def level_for(self, impact: str, urgency: str) -> str:
        """The severity level the matrix gives for one impact and urgency."""
        return self.matrix[impact][urgency]

    def impact_at(self, rank: int) -> str:
        """Impact name at a rank, clipped to the scale (configs may have fewer steps)."""
        return self.impact[min(max(rank, 0), len(self.impact) - 1)]

    def need_for(self, category: str, subcategory: str | None, urgent: bool) -> str | None:
        """The route need a reply takes: danger to life first, then its category's route.

        A category named like one of the playbook's route needs takes that route; otherwise the
        ``category_routes`` table decides ("aid_claim" -> "account"). The fallback category
        takes no route. Without routes (no playbook), the table's need is reported as is.
        """
        if urgent and (not self.routes or self.emergency_need in self.routes):
            return self.emergency_need
        if category == self.fallback_category:
            return None
        candidates = (
            self.category_routes.get(f"{category}/{subcategory}") if subcategory else None,
            category if category in self.routes else None,
            self.category_routes.get(category),
            category,
        )
        for need in candidates:
            if need is not None and (not self.routes or need in self.routes):
                return need
        return "account" if "account" in self.routes else None
