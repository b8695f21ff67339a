"""English replies the third round of route rules fixed: each kind pinned with fresh replies.

Care asked for by name goes to the agent who sends it, a named person out of reach is danger to
life, software that fails is a technical problem whatever it is used for, many people locked
out is an outage, refunds and credits are account questions, a threat at the door is an
emergency. Written for these tests, not taken from the labelled replies.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from crisiscast.incidents.intake.triage import TriageConfig, config_from_playbook, triage
from crisiscast.playbook import load_playbook

PLAYBOOKS = Path(__file__).resolve().parents[4] / "playbooks"


@pytest.fixture(scope="module")
def configs() -> dict[str, TriageConfig]:
    """The three example playbooks' triage configs, by playbook name."""
    names = ("regional-flood", "saas-outage", "data-breach")
    return {n: config_from_playbook(load_playbook(PLAYBOOKS / f"{n}.yaml")) for n in names}


@pytest.mark.parametrize(
    ("playbook", "text", "need"),
    [
        # Care asked for by name: the agent who sends a nurse or medicine, not the hotline.
        ("regional-flood", "my daughter has a fever, please send a nurse", "account"),
        ("regional-flood", "need antibiotics and bandages for my dad's leg wound", "account"),
        (
            "regional-flood",
            "three kids in the camp with fever, can a nurse come by tomorrow",
            "account",
        ),
        ("regional-flood", "where is the nearest evacuation shelter that takes dogs?", "account"),
        ("regional-flood", "we need a gas cylinder to cook for the children", "account"),
        # Sick and asking for help with nothing named: the hotline.
        ("regional-flood", "my husband is sick please help", "emergency"),
        # A named person out of reach or still inside: danger to life.
        (
            "regional-flood",
            "haven't heard from my sister since the river broke its banks",
            "emergency",
        ),
        (
            "regional-flood",
            "my uncle is still inside the house and the water keeps rising",
            "emergency",
        ),
        # Software that fails: live chat, whatever the form is for.
        ("regional-flood", "the claim form won't submit, it says error", "technical"),
        ("regional-flood", "the live chat is not working", "technical"),
        ("regional-flood", "the map on your site shows the wrong evacuation point", "technical"),
        ("saas-outage", "dashboard shows blank charts since the incident", "technical"),
        ("data-breach", "the password reset code expired before I could use it", "technical"),
        # Many people locked out is an outage; one person locked out is an account question.
        ("saas-outage", "half of our users are locked out since 9am", "technical"),
        ("saas-outage", "our team can't log in, 40 people waiting", "technical"),
        ("saas-outage", "I am locked out of my own admin account", "account"),
        # Credits, refunds, cancelling: the account route, even after an outage.
        ("saas-outage", "will we get service credits for yesterday's downtime?", "account"),
        ("saas-outage", "please cancel our subscription, this is the third outage", "account"),
        ("saas-outage", "can you cancel my appointment with the onboarding team", "rescheduling"),
        # Breach: a threat at the door is an emergency; spam and reused passwords are security.
        (
            "data-breach",
            "someone knocking on my door says he knows where I live from the leak",
            "emergency",
        ),
        ("data-breach", "my email account sent spam to everyone I know", "account"),
        (
            "data-breach",
            "I used the same password on other sites, should I change them?",
            "account",
        ),
    ],
)
def test_english_reply_takes_its_route(
    configs: dict[str, TriageConfig], playbook: str, text: str, need: str
) -> None:
    """Each reply takes the route its kind needs, through its own playbook."""
    assert triage(text, configs[playbook]).need == need


@pytest.mark.parametrize(
    ("playbook", "text"),
    [
        ("regional-flood", "the water is still inside the house, it smells bad"),
        ("regional-flood", "our rice field is under water"),
        ("regional-flood", "the river threatened to burst all night, calm now"),
        ("data-breach", "nothing suspicious on my side, thanks"),
    ],
)
def test_reports_take_no_route(configs: dict[str, TriageConfig], playbook: str, text: str) -> None:
    """Water inside a house, a flooded field, a calm night, nothing unusual: no route."""
    assert triage(text, configs[playbook]).need is None


def test_sick_person_asking_for_a_nurse_stays_urgent(configs: dict[str, TriageConfig]) -> None:
    """The agent route does not lower the severity: still urgent, first in the queue."""
    flood = replace(configs["regional-flood"], use_model=False)
    result = triage("my daughter has a fever, please send a nurse", flood)
    assert (result.severity, result.category, result.subcategory) == (
        "urgent",
        "supplies",
        "medicine",
    )
    assert result.route == "agent_message"


@pytest.mark.parametrize(
    "text",
    [
        "we cant find our son since this morning",
        "the current took our boat with my grandfather on it",
    ],
)
def test_named_person_out_of_reach_is_urgent_by_rule(
    configs: dict[str, TriageConfig], text: str
) -> None:
    """A relative out of reach or taken by the water is danger to life without the model."""
    result = triage(text, replace(configs["regional-flood"], use_model=False))
    assert "person_missing" in result.signals
    assert (result.severity, result.category, result.route) == ("urgent", "rescue", "phone")


def test_a_thing_out_of_reach_is_no_emergency(configs: dict[str, TriageConfig]) -> None:
    """ "can't find my ID card" names no person: no danger to life, a claims question."""
    flood = replace(configs["regional-flood"], use_model=False)
    result = triage("can't find my ID card, do I need it for the claim?", flood)
    assert "person_missing" not in result.signals
    assert result.severity != "urgent"
    assert result.route == "agent_message"
