"""Triage decisions on single replies: severity with its why, category, questions, overrides."""

from __future__ import annotations

from dataclasses import replace

import pytest

from crisiscast.incidents.intake.triage import (
    Question,
    SignalRule,
    TriageConfig,
    default_model,
    triage,
)


def test_trapped_people_are_urgent_with_their_why(config: TriageConfig) -> None:
    """A reply "200 people are trapped" is urgent; the why names the danger and the count."""
    result = triage("200 people are trapped", config)
    assert result.severity == "urgent"
    assert "danger to life: 'trapped'" in result.why
    assert "people affected: 200" in result.why
    assert result.decided_by == "rules"
    assert (result.category, result.subcategory) == ("rescue", "trapped")


def test_hospital_systems_down_is_urgent(config: TriageConfig) -> None:
    """A critical facility with a service outage is urgent (extensive impact x high urgency)."""
    result = triage("our hospital's systems are down", config)
    assert result.severity == "urgent"
    assert {"critical_facility", "service_down"} <= set(result.signals)
    assert (result.impact, result.urgency) == ("extensive", "high")


def test_small_talk_is_low(config: TriageConfig) -> None:
    """The reply "just checking in" fires only the all-is-well signal and is low by rule."""
    result = triage("just checking in", config)
    assert result.severity == "low"
    assert result.signals == ("all_fine",)
    assert result.decided_by == "rules"
    assert result.category == "other"


def test_thai_danger_phrase_is_urgent_in_thai(config: TriageConfig) -> None:
    """A Thai reply with no spaces is read as Thai, and its danger phrase makes it urgent."""
    result = triage("มีคนติดอยู่ในบ้านสองร้อยคนช่วยด้วย", config)
    assert result.language == "th"
    assert result.severity == "urgent"
    assert "danger to life: 'ติดอยู่'" in result.why
    assert "people affected: 200" in result.why


def test_thai_digits_count_people(config: TriageConfig) -> None:
    """Thai digits are read as numbers: ๕๐ คน is 50 people, a significant impact."""
    result = triage("น้ำท่วมหมู่บ้าน มี ๕๐ คน", config)
    assert "people affected: 50" in result.why


def test_lao_reply_is_lao_and_urgent(config: TriageConfig) -> None:
    """A Lao reply is detected as Lao by script, and a Lao danger phrase is urgent."""
    result = triage("ພວກເຮົາຕິດຢູ່ເທິງຫຼັງຄາ", config)
    assert result.language == "lo"
    assert result.severity == "urgent"


def test_whole_village_counts_as_people_affected(config: TriageConfig) -> None:
    """The words "the whole village" fire people_affected without a number."""
    result = triage("the whole village has no food", config)
    assert "people affected: 'the whole village'" in result.why
    assert result.severity in {"urgent", "high"}


def test_money_at_stake_is_read(config: TriageConfig) -> None:
    """An amount of money fires money_at_stake with the amount as written."""
    result = triage("we lost $50,000 of stock in the outage", config)
    assert "money at stake: '$50,000'" in result.why


def test_latin_phrases_match_whole_words_only(config: TriageConfig) -> None:
    """The phrase "dam" (a critical facility) does not fire inside "damaged"."""
    result = triage("the fence was damaged", config)
    assert "critical_facility" not in result.signals


def test_playbook_signal_beats_the_model(config: TriageConfig) -> None:
    """A playbook's own rule raises a reply the model calls low to the rule's level."""
    text = "is the sandwich shop open"
    assert triage(text, config).severity != "urgent"
    rule = SignalRule("custom", {"en": ("sandwich shop",)}, impact="extensive", urgency="critical")
    custom = replace(config, signals=(*config.signals, rule))
    result = triage(text, custom)
    assert result.severity == "urgent"
    assert result.decided_by == "rules"
    assert "custom: 'sandwich shop'" in result.why


def test_unanswered_questions_follow_the_signals(config: TriageConfig) -> None:
    """A question is answered once one of its signals fires; the rest stay unanswered."""
    questions = (
        Question("how_many", ("people_affected",)),
        Question("dangerous", ("danger_to_life",)),
        Question("money", ("money_at_stake",)),
    )
    custom = replace(config, questions=questions)
    assert triage("5 people are injured", custom).unanswered == ("money",)
    assert triage("hello", custom).unanswered == ("how_many", "dangerous", "money")


def test_rules_only_config_never_consults_the_model(config: TriageConfig) -> None:
    """With use_model off, a reply with no signal gets the matrix default and no scores."""
    result = triage("hello there", replace(config, use_model=False))
    assert (result.severity, result.decided_by, dict(result.scores)) == ("low", "default", {})


def test_urgent_cut_trades_precision_for_recall(config: TriageConfig) -> None:
    """With a cut at 0, any reply the model scores becomes urgent; without it, it does not."""
    text = "the road to the market is open again"
    assert triage(text, config).severity != "urgent"
    assert triage(text, config, urgent_cut=0.0).severity == "urgent"


@pytest.mark.parametrize(
    ("text", "category", "subcategory"),
    [
        ("we need water", "supplies", "water"),
        ("I can't log in to the app", "technical", "login"),
        ("the bridge is gone", "infrastructure", "roads"),
    ],
)
def test_categories_come_from_phrases(
    config: TriageConfig, text: str, category: str, subcategory: str
) -> None:
    """The category and subcategory are those whose phrases the reply uses."""
    result = triage(text, config)
    assert (result.category, result.subcategory) == (category, subcategory)


def test_model_scores_are_probabilities(config: TriageConfig) -> None:
    """The model's scores cover every class and sum to one."""
    result = triage("we need tents", config)
    assert set(result.scores) == set(default_model().classes)
    assert sum(result.scores.values()) == pytest.approx(1.0)


def test_empty_reply_is_low_and_explained(config: TriageConfig) -> None:
    """An empty reply fires nothing, is low, and still reports every question as unanswered."""
    result = triage("", config)
    assert result.severity == "low"
    assert result.language == "en"
    assert len(result.unanswered) == len(config.questions)
