"""A real playbook drives triage: its matrix, default, signals in its languages and questions."""

from __future__ import annotations

from dataclasses import replace

from crisiscast.incidents.intake.triage import TriageConfig, triage


def test_playbook_scales_and_signals_are_taken(flood: TriageConfig) -> None:
    """The adapter keeps the playbook's levels, default cell, languages and signal names."""
    assert flood.levels == ("urgent", "high", "medium", "low")
    assert (flood.default_impact, flood.default_urgency) == ("moderate", "medium")
    assert flood.languages == ("en", "th", "lo")
    assert "danger_to_life" in {s.name for s in flood.signals}
    assert [q.id for q in flood.questions][:2] == ["how_many", "financial_impact"]


def test_playbook_thai_signal_fires(flood: TriageConfig) -> None:
    """The playbook's Thai phrase for a roof rescue fires and makes the reply urgent."""
    result = triage("พวกเราอยู่บนหลังคา น้ำขึ้นเร็วมาก", flood)
    assert result.language == "th"
    assert result.severity == "urgent"
    assert "danger_to_life" in result.signals
    assert "dangerous" not in result.unanswered


def test_playbook_category_names_are_matched(flood: TriageConfig) -> None:
    """A playbook category without phrases is found by its (sub)category name."""
    result = triage("we are out of medicine", flood)
    assert (result.category, result.subcategory) == ("supplies", "medicine")


def test_playbook_default_applies_without_model(flood: TriageConfig) -> None:
    """With the model off, a reply with no signal gets the playbook's default cell (medium)."""
    assert triage("hello", replace(flood, use_model=False)).severity == "medium"


def test_small_count_does_not_lower_a_playbook_phrase(flood: TriageConfig) -> None:
    """The playbook's "many families" (significant) stays when the reply also says "3 people"."""
    result = triage("many families here, 3 people hurt", flood)
    assert result.impact in {"extensive", "significant"}
    assert "people affected: 'many families'" in result.why


def test_thai_reply_finds_a_playbook_category_by_borrowed_phrases(flood: TriageConfig) -> None:
    """A playbook category named like a built-in one (supplies/water) is found in Thai too."""
    result = triage("ไม่มีน้ำดื่มเลย", flood)
    assert (result.category, result.subcategory) == ("supplies", "water")


def test_outage_playbook_still_sees_danger_it_does_not_name() -> None:
    """An outage playbook without a hospital signal still makes "hospital systems down" urgent."""
    from pathlib import Path

    from crisiscast.incidents.intake.triage import config_from_playbook
    from crisiscast.playbook import load_playbook

    playbook = Path(__file__).resolve().parents[4] / "playbooks" / "saas-outage.yaml"
    outage = config_from_playbook(load_playbook(playbook))
    result = triage("our hospital's systems are down", outage)
    assert result.severity == "urgent"
    assert any("hospital" in reason for reason in result.why)
    assert triage("just checking in", outage).severity == "low"


def test_playbook_signal_replaces_the_built_in_of_the_same_name(flood: TriageConfig) -> None:
    """A playbook's own danger_to_life rule is the one used, not the built-in one beside it."""
    assert [s.name for s in flood.signals].count("danger_to_life") == 1
