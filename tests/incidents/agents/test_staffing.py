"""Scale-up and release of temporary agents against the playbook's thresholds; pass expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crisiscast.incidents.agents.assignment import AgentSlot, QueuedCase
from crisiscast.incidents.agents.staffing import (
    Activation,
    Pressure,
    ScaleAction,
    backlog,
    decide,
    expired_passes,
    invitation,
    pass_expiry,
    predicted_breaches,
)
from crisiscast.playbook import load_playbook
from crisiscast.playbook.schema import Pool, TemporaryAgents

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
SETTINGS = TemporaryAgents(pass_hours=12, activate_when_backlog=20, release_when_backlog=5)
POOLS = [
    Pool(name="standby-th", languages=["th"], skills=["rescue"], size=10),
    Pool(name="standby-lo", languages=["lo", "th"], skills=["rescue"], size=8),
    Pool(name="standby-en", languages=["en"], skills=["technical"], size=4),
]


def _cases(count: int, rank: int = 0, language: str = "th", minutes: int = 60) -> list[QueuedCase]:
    due = NOW + timedelta(minutes=minutes)
    return [QueuedCase(i, rank, due, language, "rescue") for i in range(count)]


def _agent(agent_id: int, load: int = 0, capacity: int = 5) -> AgentSlot:
    return AgentSlot(agent_id, frozenset({"th"}), frozenset({"rescue"}), capacity, load)


def test_backlog_counts_urgent_and_high_only() -> None:
    """Medium and low cases do not count toward the scale-up backlog."""
    cases = _cases(3, rank=0) + _cases(2, rank=1) + _cases(7, rank=2) + _cases(1, rank=3)
    assert backlog(cases) == 5


def test_predicted_breaches_are_waiting_cases_beyond_free_capacity_due_soon() -> None:
    """Ten waiting cases, room for four: of the six left, those due within 30 minutes count."""
    waiting = _cases(6, minutes=10) + _cases(4, minutes=120)
    waiting = [QueuedCase(i, c.rank, c.due, c.language, c.skill) for i, c in enumerate(waiting)]
    agents = [_agent(1, load=3), _agent(2, load=3), AgentSlot(3, active=False)]
    assert predicted_breaches(waiting, agents, NOW) == 2
    assert predicted_breaches(waiting, agents, NOW, horizon=timedelta(hours=3)) == 6


def test_scale_up_when_the_backlog_passes_the_threshold() -> None:
    """A Thai backlog of 25 asks ceil((25-5)/5) = 4 people, from pools that speak Thai."""
    cases = _cases(25)
    decision = decide(cases, [], [_agent(1)], [], SETTINGS, POOLS, NOW)
    assert decision.action is ScaleAction.ACTIVATE
    assert decision.pressure == Pressure(backlog=25, predicted_breaches=0)
    assert sum(a.count for a in decision.activations) == 4
    assert {a.pool for a in decision.activations} <= {"standby-th", "standby-lo"}
    assert "25 >= activate_when_backlog 20" in decision.reason


def test_predicted_breaches_alone_can_trigger_scale_up() -> None:
    """Twenty-two urgent cases about to breach with nobody free trigger activation."""
    waiting = _cases(22, rank=2, minutes=5)  # medium cases: no backlog, but about to breach
    decision = decide(waiting, waiting, [_agent(1, load=5)], [], SETTINGS, POOLS, NOW)
    assert decision.pressure == Pressure(backlog=0, predicted_breaches=22)
    assert decision.action is ScaleAction.ACTIVATE


def test_no_second_request_for_the_same_pressure() -> None:
    """Active temporary agents and unanswered invitations count toward the target."""
    cases = _cases(25)
    temporary = [_agent(10), _agent(11)]
    decision = decide(cases, [], temporary, temporary, SETTINGS, POOLS, NOW, already_asked=2)
    assert decision.action is ScaleAction.HOLD
    assert decision.reason == "enough standby people already asked"


def test_pools_are_split_by_demand_and_never_above_their_size() -> None:
    """Lao cases go to the Lao pool; a pool never gives more people than it has left."""
    cases = _cases(60, language="lo")
    decision = decide(cases, [], [], [], SETTINGS, POOLS, NOW, used={"standby-lo": 5})
    assert decision.activations == (Activation("standby-lo", 3),)
    used_up = decide(cases, [], [], [], SETTINGS, POOLS, NOW, used={"standby-lo": 8})
    assert used_up.action is ScaleAction.HOLD
    assert used_up.reason == "the standby pools are used up"


def test_release_idle_temporary_agents_when_the_backlog_falls() -> None:
    """At or below release_when_backlog, idle temporary agents go; busy ones finish first."""
    temporary = [_agent(10, load=0), _agent(11, load=2)]
    decision = decide(_cases(5), [], temporary, temporary, SETTINGS, POOLS, NOW)
    assert decision.action is ScaleAction.RELEASE
    assert decision.release == (10,)
    busy = decide(_cases(3), [], temporary[1:], temporary[1:], SETTINGS, POOLS, NOW)
    assert busy.action is ScaleAction.HOLD
    assert "still hold cases" in busy.reason


def test_between_the_thresholds_nothing_changes() -> None:
    """Hysteresis: a backlog between release (5) and activate (20) holds steady."""
    temporary = [_agent(10)]
    decision = decide(_cases(12), [], temporary, temporary, SETTINGS, POOLS, NOW)
    assert decision.action is ScaleAction.HOLD
    assert decision.activations == () and decision.release == ()


def test_pass_expiry_and_expired_passes() -> None:
    """A pass lasts pass_hours or until the stated end; expired active passes are found."""
    assert pass_expiry(NOW, 12) == NOW + timedelta(hours=12)
    until = NOW.replace(hour=16)
    assert pass_expiry(NOW, 12, until=until) == until
    agents = [
        AgentSlot(1, pass_expires_at=NOW - timedelta(seconds=1)),
        AgentSlot(2, pass_expires_at=NOW),
        AgentSlot(3, pass_expires_at=NOW + timedelta(hours=1)),
        AgentSlot(4),  # roster agent: no pass
        AgentSlot(5, active=False, pass_expires_at=NOW - timedelta(hours=1)),  # already released
    ]
    assert expired_passes(agents, NOW) == [1, 2]


def test_invitation_text_says_how_to_join_and_until_when() -> None:
    """The standby SMS says reply YES and the end time."""
    text = invitation("INC-3", "River flood", NOW.replace(hour=23))
    assert "Reply YES to join until 23:00 UTC" in text
    assert text.startswith("crisiscast INC-3: River flood.")


@pytest.mark.parametrize("name", ["regional-flood", "saas-outage", "data-breach"])
def test_the_shipped_playbooks_feed_the_decision(name: str) -> None:
    """Every shipped playbook's staffing section drives a scale-up for a large backlog."""
    playbook = load_playbook(f"playbooks/{name}.yaml")
    settings = playbook.staffing.temporary_agents
    assert settings is not None
    language = playbook.default_language
    cases = _cases(settings.activate_when_backlog, language=language)
    decision = decide(cases, [], [], [], settings, playbook.staffing.pools, NOW)
    assert decision.action is ScaleAction.ACTIVATE


def test_a_backlog_no_pool_fits_still_asks_for_people() -> None:
    """Cases in a language no pool speaks still bring in standby people rather than nobody."""
    decision = decide(_cases(25, language="my"), [], [], [], SETTINGS, POOLS, NOW)
    assert decision.action is ScaleAction.ACTIVATE
    assert sum(a.count for a in decision.activations) == 4
