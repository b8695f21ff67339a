"""Issue 16's examples, pinned: danger to life first, category decides the route, Thai and Lao."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

import pytest

from crisiscast.errors import ConfigError, PlaybookError
from crisiscast.incidents.intake.triage import (
    TriageConfig,
    config_from_playbook,
    default_model,
    run_triage,
    triage,
)
from crisiscast.playbook import load_playbook

PLAYBOOKS = Path(__file__).resolve().parents[4] / "playbooks"


@pytest.fixture(scope="module")
def outage() -> TriageConfig:
    """The SaaS outage playbook (English only, technical/account/rescheduling routes)."""
    return config_from_playbook(load_playbook(PLAYBOOKS / "saas-outage.yaml"))


@pytest.fixture(scope="module")
def breach() -> TriageConfig:
    """The data breach playbook (security/privacy/account, a privacy route)."""
    return config_from_playbook(load_playbook(PLAYBOOKS / "data-breach.yaml"))


def test_trapped_people_are_rescue_not_water(flood: TriageConfig) -> None:
    """People trapped by rising water are urgent rescue/trapped on the emergency line."""
    result = triage("Water rising fast, 12 people trapped at the school", flood)
    assert (result.severity, result.category, result.subcategory) == ("urgent", "rescue", "trapped")
    assert (result.need, result.route) == ("emergency", "phone")


@pytest.mark.parametrize(
    "text",
    [
        "my grandmother cannot walk, water coming into my house",
        "ยายเดินไม่ได้ น้ำเข้าบ้านแล้ว",
        "ยาย เดิน ไม่ ได้ น้ำ เข้า บ้าน แล้ว",
        "ແມ່ຕູ້ຍ່າງບໍ່ໄດ້ ນ້ຳເຂົ້າເຮືອນແລ້ວ",
    ],
)
def test_vulnerable_person_with_hazard_is_urgent(flood: TriageConfig, text: str) -> None:
    """Someone who cannot walk, with water coming in: danger to life, spaced or not."""
    result = triage(text, flood)
    assert result.severity == "urgent"
    assert "person_at_risk" in result.signals
    assert (result.category, result.route) == ("rescue", "phone")


def test_vulnerable_person_alone_is_not_urgent_by_rule(flood: TriageConfig) -> None:
    """ "my grandmother" with no hazard where she is does not fire the combination."""
    result = triage("my grandmother says thank you for the rice", replace(flood, use_model=False))
    assert "person_at_risk" not in result.signals
    assert result.severity != "urgent"


@pytest.mark.parametrize(
    "text",
    [
        "How do I claim flood compensation?",
        "ຈະຂໍເງິນຊົດເຊີຍນ້ຳຖ້ວມໄດ້ແນວໃດ",
        "จะขอเงินชดเชยน้ำท่วมได้ที่ไหน",
    ],
)
def test_compensation_questions_take_the_administrative_route(
    flood: TriageConfig, text: str
) -> None:
    """A claims question is aid_claim and goes to an agent message, in all three languages."""
    result = triage(text, flood)
    assert result.category == "aid_claim"
    assert (result.need, result.route) == ("account", "agent_message")


def test_thai_compensation_question_is_not_high(flood: TriageConfig) -> None:
    """The Thai claims question is routine (medium), not high as the old flood rule said."""
    assert triage("จะขอเงินชดเชยน้ำท่วมได้ที่ไหน", flood).severity == "medium"


def test_blank_line_is_reported_as_empty(flood: TriageConfig) -> None:
    """A blank reply is empty, not a low-severity reply someone wrote."""
    for text in ("", "   ", "\t"):
        result = triage(text, flood)
        assert result.empty and result.decided_by == "empty"
        assert result.need is None


def test_blank_line_in_cli_output_is_empty(flood_path: Path) -> None:
    """``crisiscast triage`` answers a blank line with "empty": true on its own line."""
    out = io.StringIO()
    run_triage(io.StringIO("help, trapped\n\nwe are fine\n"), out, flood_path)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["empty"] for line in lines] == [False, True, False]
    assert lines[1]["line"] == 2


@pytest.mark.parametrize(
    "text",
    [
        "we are fine, just checking in",
        "no one was hurt, just a lot of mud",
        "เราสบายดี แค่ทักมาถามข่าว",
        "ພວກເຮົາສະບາຍດີ ພຽງແຕ່ຖາມຂ່າວ",
    ],
)
def test_all_is_well_is_low(flood: TriageConfig, text: str) -> None:
    """A short "we are fine" reply is low whatever the model thinks."""
    result = triage(text, flood)
    assert result.severity == "low"
    assert result.decided_by == "rules"


@pytest.mark.parametrize(
    ("text", "negated"),
    [
        ("no one was hurt", True),
        ("nobody injured here", True),
        ("ไม่มีใครบาดเจ็บ", True),
        ("ບໍ່ມີໃຜບາດເຈັບ", True),
        ("no power, people trapped upstairs", False),
        ("nobody was injured but 2 people are missing", False),
        ("my neighbour is trapped under the wall", False),
    ],
)
def test_negation_cancels_harm(flood: TriageConfig, text: str, negated: bool) -> None:
    """A harm phrase right after a negation in its clause does not count; others still do."""
    result = triage(text, replace(flood, use_model=False))
    assert ("danger_to_life" not in result.signals) is negated
    assert (result.severity == "urgent") is not negated


@pytest.mark.parametrize(
    "text",
    [
        "ຊ່ວຍແດ່ ນ້ຳຖ້ວມເຮືອນ ມີຄົນເຈັບ",
        "ແມ່ຂ້ອຍເປັນພະຍາດຫົວໃຈ ຕ້ອງການຢາດ່ວນ",
        "ช่วยด้วย น้ำท่วมบ้าน มีคนเจ็บ",
        "แม่เป็นโรคหัวใจ ต้องการยาด่วน",
    ],
)
def test_thai_and_lao_danger_is_urgent_without_the_model(flood: TriageConfig, text: str) -> None:
    """Injured people and urgent medicine are urgent by rule; the model abstains on them."""
    result = triage(text, flood)
    assert result.severity == "urgent"
    assert result.decided_by == "rules"
    assert "model: abstained (no word it was trained on)" in result.why
    assert result.route == "phone"


def test_thai_reschedule_takes_the_self_service_route(flood: TriageConfig) -> None:
    """Moving tomorrow's appointment is low, rescheduling, on the self-service portal."""
    result = triage("อยากเลื่อนนัดหมายวันพรุ่งนี้", flood)
    assert (result.severity, result.category) == ("low", "rescheduling")
    assert (result.need, result.route) == ("rescheduling", "self_service")


def test_thai_and_lao_digits_count_people(flood: TriageConfig) -> None:
    """Thai and Lao digits are read as numbers: "๑๒ คน" and "໑໒ ຄົນ" are 12 people."""
    for text in ("มี๑๒คนติดอยู่", "ມີ໑໒ຄົນຕິດຢູ່"):
        result = triage(text, flood)
        assert "people affected: 12" in result.why
        assert result.severity == "urgent"


@pytest.mark.parametrize(
    ("text", "category", "route"),
    [
        ("the app keeps crashing when I send my location", "technical", "live_chat"),
        ("please reschedule my house inspection", "rescheduling", "self_service"),
    ],
)
def test_flood_category_decides_route(
    flood: TriageConfig, text: str, category: str, route: str
) -> None:
    """Technical -> live chat, rescheduling -> self-service portal."""
    result = triage(text, replace(flood, use_model=False))
    assert (result.category, result.route) == (category, route)


def test_outage_routes(outage: TriageConfig) -> None:
    """Outage replies: a hospital at risk rings the phone; billing goes to an agent."""
    urgent = triage("our hospital's patient records system is down", outage)
    assert (urgent.severity, urgent.route) == ("urgent", "phone")
    billing = triage("please send the invoice for november again", replace(outage, use_model=False))
    assert (billing.category, billing.route) == ("account", "agent_message")


def test_breach_routes(breach: TriageConfig) -> None:
    """Breach replies: a data request reaches the DPO; a password reset goes to live chat."""
    privacy = triage("I want my data deleted from your systems", replace(breach, use_model=False))
    assert (privacy.category, privacy.route) == ("privacy", "email")
    reset = triage("how do i reset my password?", replace(breach, use_model=False))
    assert (reset.category, reset.subcategory, reset.route) == (
        "account",
        "password_reset",
        "live_chat",
    )


def test_operating_point_decides_model_urgent(flood: TriageConfig) -> None:
    """With no rule firing, the model says urgent exactly when P(urgent) reaches the point's cut;
    the output names the point."""
    model = default_model()
    text = "my brother went out this morning and we have not heard from him"
    for point in ("urgent_recall", "balanced", "urgent_f2"):
        result = triage(text, replace(flood, operating_point=point))
        cut = model.urgent_cut_for(point)
        assert result.operating_point == point
        if cut is not None and result.decided_by == "model":
            assert (result.severity == "urgent") is (result.scores["urgent"] >= cut)


def test_default_point_flags_more_urgent_than_balanced(flood: TriageConfig) -> None:
    """The default point's cut is below what the balanced point needs: more urgent recall."""
    model = default_model()
    cut = model.urgent_cut_for("urgent_recall")
    assert cut is not None and 0.0 < cut < 0.5
    assert flood.operating_point == "urgent_recall"


def test_unknown_operating_point_is_an_error(flood: TriageConfig) -> None:
    """A misspelt point fails loudly, naming the known ones."""
    with pytest.raises(ConfigError, match="urgent_recall"):
        triage("the road is flooded", replace(flood, operating_point="recal"))


def test_cli_output_names_point_and_route(flood_path: Path) -> None:
    """Every JSON line says which operating point was in force, and the route taken."""
    out = io.StringIO()
    run_triage(io.StringIO("Water rising fast, 12 people trapped at the school\n"), out, flood_path)
    line = json.loads(out.getvalue())
    assert line["operating_point"] == "urgent_recall"
    assert (line["need"], line["route"]) == ("emergency", "phone")


def test_run_triage_takes_another_operating_point(flood_path: Path) -> None:
    """A caller can pick another point; every output line names it."""
    out = io.StringIO()
    run_triage(io.StringIO("the road is flooded\nwe need food\n"), out, flood_path, "balanced")
    assert {json.loads(line)["operating_point"] for line in out.getvalue().splitlines()} == {
        "balanced"
    }


@pytest.mark.parametrize(
    "text",
    [
        "two people were killed when the wall fell",
        "my son is missing since the flood",
        "he is bleeding a lot",
        "she is unconscious",
        "my father had a heart attack",
        "my neighbours are trapped on their roof",
        "มีคนเสียชีวิตสองคน",
        "ລູກຊາຍຫາຍຈາກສູນພັກພິງ",
    ],
)
def test_harm_to_people_is_danger_to_life(config: TriageConfig, text: str) -> None:
    """Killed, missing, bleeding, unconscious, heart attack, trapped: about oneself or others."""
    result = triage(text, replace(config, use_model=False))
    assert "danger_to_life" in result.signals
    assert result.severity == "urgent"


@pytest.mark.parametrize("text", ["ควายตายหมดเลย", "ໝູຕາຍໝົດ", "our pigs died in the flood"])
def test_harm_to_animals_is_not_danger_to_life(config: TriageConfig, text: str) -> None:
    """A buffalo or pigs dying is a loss, not danger to life."""
    assert "danger_to_life" not in triage(text, replace(config, use_model=False)).signals


def test_thai_word_hiding_a_phrase_does_not_fire(config: TriageConfig) -> None:
    """ขยาย (to extend) contains ยาย (grandmother) but is no vulnerable person."""
    rules = replace(config, use_model=False)
    assert "vulnerable_people" not in triage("ขอขยายเวลายื่นเอกสาร", rules).signals
    assert "vulnerable_people" in triage("ยายอยู่บ้านคนเดียว", rules).signals


def test_sick_person_asking_for_help_is_urgent(config: TriageConfig) -> None:
    """Medical help together with a request is the development set's urgent."""
    result = triage("please send a doctor, my child is sick", replace(config, use_model=False))
    assert "medical_emergency" in result.signals
    assert result.severity == "urgent"


def test_previous_model_file_still_loads_with_its_points() -> None:
    """The format-1 model kept for comparison loads; its shipped point had no urgent cut."""
    from crisiscast.incidents.intake.triage import load_model

    previous = load_model(PLAYBOOKS.parent / "bench" / "data" / "triage_model_previous.json.gz")
    assert previous.urgent_cut_for("balanced") is None
    assert set(previous.operating_points) == {"balanced", "urgent_recall", "urgent_f2"}
    assert previous.trained["C"] == 1.0


def test_a_playbook_picks_its_operating_point(flood_path: Path, tmp_path: Path) -> None:
    """``severity.operating_point`` in the playbook is the point `crisiscast triage` uses and
    names; a point the model does not know is a located playbook error."""
    text = flood_path.read_text(encoding="utf-8")
    assert "severity:\n" in text
    chosen = tmp_path / "balanced.yaml"
    chosen.write_text(text.replace("severity:\n", "severity:\n  operating_point: balanced\n", 1))
    assert config_from_playbook(load_playbook(chosen)).operating_point == "balanced"
    out = io.StringIO()
    run_triage(io.StringIO("the road is flooded\n"), out, chosen)
    assert json.loads(out.getvalue())["operating_point"] == "balanced"
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(text.replace("severity:\n", "severity:\n  operating_point: recal\n", 1))
    with pytest.raises(PlaybookError, match="operating_point"):
        load_playbook(wrong)


@pytest.mark.parametrize("text", ["How do I claim flood compensation?", "ຈະຂໍເງິນຊົດເຊີຍນ້ຳຖ້ວມໄດ້ແນວໃດ"])
def test_claims_question_is_not_urgent_at_the_default_point(flood: TriageConfig, text: str) -> None:
    """Asking how to claim is no emergency, even where the high-recall cut would say urgent."""
    result = triage(text, flood)
    assert flood.operating_point == "urgent_recall"
    assert result.severity != "urgent"
    assert (result.category, result.route) == ("aid_claim", "agent_message")


def test_claim_with_danger_to_life_is_still_urgent(flood: TriageConfig) -> None:
    """A claim word does not hide danger to life: the rules' urgent and the hotline win."""
    result = triage("how do I claim compensation, my father is trapped under the wall", flood)
    assert (result.severity, result.category, result.route) == ("urgent", "rescue", "phone")


@pytest.mark.parametrize(
    "text",
    [
        "can we move the doctor's visit at the shelter to monday? please reschedule",
        "ขอเลื่อนวันส่งข้าวสารเป็นวันศุกร์",
        "ຂໍເລື່ອນມື້ກວດເຮືອນເປັນອາທິດໜ້າ",
    ],
)
def test_asking_to_reschedule_comes_before_what_it_mentions(flood: TriageConfig, text: str) -> None:
    """A request to move something is rescheduling, whatever the doctor or rice it names."""
    result = triage(text, replace(flood, use_model=False))
    assert (result.category, result.route) == ("rescheduling", "self_service")


@pytest.mark.parametrize("text", ["the rice fields are all under water now", "ทุ่งนมวัวน้ำท่วมหมด"])
def test_a_report_naming_supplies_asks_for_none(flood: TriageConfig, text: str) -> None:
    """A situational report that only mentions rice or milk takes no supplies route."""
    assert triage(text, replace(flood, use_model=False)).category != "supplies"


@pytest.mark.parametrize(
    "text",
    [
        "please send soap and clothes for the kids",  # clothing: no flood subcategory of its own
        "ขอผ้าอนามัยกับสบู่หน่อย",
        "the house is gone and we have nowhere else",  # unmet need, no supplies word
    ],
)
def test_asking_for_supplies_takes_the_agent_route(flood: TriageConfig, text: str) -> None:
    """Supplies the playbook names no subcategory for, or a need with no item, are supplies."""
    result = triage(text, replace(flood, use_model=False))
    assert (result.category, result.route) == ("supplies", "agent_message")
