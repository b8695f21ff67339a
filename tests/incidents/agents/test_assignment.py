"""Assignment: queue order, language/skill/load routing, capacity, and reassignment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from crisiscast.incidents.agents.assignment import (
    AgentSlot,
    Choice,
    Holding,
    PastAssignment,
    QueuedCase,
    Release,
    ReleaseReason,
    assign,
    choose_agent,
    due_releases,
    excluded_agents,
    loads,
    pick_for_agent,
    queue_order,
)
from crisiscast.incidents.store.models import Agent, Case

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
URGENT, HIGH, LOW = 0, 1, 3


def _case(
    case_id: int, rank: int, minutes: int | None, language: str = "th", skill: str = "rescue"
) -> QueuedCase:
    due = None if minutes is None else NOW + timedelta(minutes=minutes)
    return QueuedCase(case_id, rank, due, language, skill)


def _agent(
    agent_id: int,
    languages: str = "th",
    skills: str = "rescue",
    *,
    capacity: int = 5,
    load: int = 0,
    active: bool = True,
    pass_expires_at: datetime | None = None,
) -> AgentSlot:
    return AgentSlot(
        agent_id,
        frozenset(languages.split()),
        frozenset(skills.split()),
        capacity,
        load,
        active,
        pass_expires_at,
    )


def test_queue_is_urgent_first_then_by_due_time() -> None:
    """Urgent cases come before high ones even if due later; ties go to the earlier due time."""
    cases = [_case(1, HIGH, 5), _case(2, URGENT, 30), _case(3, URGENT, 10), _case(4, LOW, None)]
    assert [c.id for c in queue_order(cases)] == [3, 2, 1, 4]


def test_language_then_skill_then_load() -> None:
    """Default routing: a Thai speaker beats a skilled non-speaker; then the less loaded wins."""
    case = _case(1, URGENT, 10, language="th", skill="rescue")
    agents = [
        _agent(1, "en", "rescue"),
        _agent(2, "th", "supplies"),
        _agent(3, "th", "rescue", load=3),
        _agent(4, "th", "rescue", load=1),
    ]
    assert choose_agent(case, agents, NOW) == Choice(1, 4, ("language", "skill"))
    assert choose_agent(case, agents[:3], NOW) == Choice(1, 3, ("language", "skill"))
    assert choose_agent(case, agents[:2], NOW) == Choice(1, 2, ("language",))


def test_routing_order_comes_from_the_playbook() -> None:
    """routing [skill, language, load] prefers the skilled agent over the speaker."""
    case = _case(1, URGENT, 10, language="th", skill="rescue")
    agents = [_agent(1, "en", "rescue"), _agent(2, "th", "supplies")]
    assert choose_agent(case, agents, NOW, routing=["skill", "language", "load"]) == Choice(
        1, 1, ("skill",)
    )


def test_no_match_still_gets_an_agent_rather_than_nobody() -> None:
    """An urgent Lao case goes to an English-only agent when nobody else is on duty."""
    choice = choose_agent(_case(1, URGENT, 5, language="lo"), [_agent(9, "en", "technical")], NOW)
    assert choice == Choice(1, 9, ())


def test_off_full_or_expired_agents_are_never_chosen() -> None:
    """Inactive, full and out-of-pass agents get nothing; with nobody left the case waits."""
    agents = [
        _agent(1, active=False),
        _agent(2, capacity=2, load=2),
        _agent(3, pass_expires_at=NOW),
    ]
    plan = assign([_case(1, URGENT, 5)], agents, NOW)
    assert plan.choices == ()
    assert plan.unassigned == (1,)


@given(
    st.lists(st.integers(min_value=0, max_value=3), min_size=0, max_size=40),
    st.lists(st.tuples(st.integers(1, 4), st.integers(0, 4)), min_size=1, max_size=6),
)
def test_nobody_is_ever_above_capacity(ranks: list[int], slots: list[tuple[int, int]]) -> None:
    """However many cases arrive, no agent ends up holding more than their capacity."""
    cases = [_case(i, rank, i) for i, rank in enumerate(ranks)]
    agents = [_agent(i, capacity=cap, load=min(load, cap)) for i, (cap, load) in enumerate(slots)]
    plan = assign(cases, agents, NOW)
    given_to: dict[int, int] = {}
    for choice in plan.choices:
        given_to[choice.agent_id] = given_to.get(choice.agent_id, 0) + 1
    for agent in agents:
        assert agent.load + given_to.get(agent.id, 0) <= agent.capacity
    free = sum(a.capacity - a.load for a in agents)
    assert len(plan.choices) == min(len(cases), free)
    # When capacity runs out, it is the least pressing cases that wait.
    assigned = {c.case_id for c in plan.choices}
    order = [c.id for c in queue_order(cases)]
    assert order[: len(assigned)] == [i for i in order if i in assigned]


def test_load_is_spread_between_equal_agents() -> None:
    """Four equal cases and two equal agents: two each."""
    plan = assign([_case(i, HIGH, i) for i in range(4)], [_agent(1), _agent(2)], NOW)
    assert sorted(
        loads([Holding(0, c.case_id, c.agent_id, NOW) for c in plan.choices]).values()
    ) == [2, 2]


def test_an_agent_who_passed_is_not_offered_the_case_again() -> None:
    """After PASS (or no ACK) the case goes to someone else, or waits."""
    history = [
        PastAssignment(1, 1, "pass"),
        PastAssignment(1, 2, "no_ack"),
        PastAssignment(2, 1, "resolved"),
    ]
    excluded = excluded_agents(history)
    assert excluded == {1: {1, 2}}
    plan = assign(
        [_case(1, URGENT, 5)], [_agent(1), _agent(2), _agent(3, "en")], NOW, exclude=excluded
    )
    assert plan.choices == (Choice(1, 3, ("skill",)),)
    alone = assign([_case(1, URGENT, 5)], [_agent(1)], NOW, exclude=excluded)
    assert alone.unassigned == (1,)


def test_releases_on_no_ack_pass_expiry_and_off() -> None:
    """Unacked past the timeout, expired pass and OFF release; acked and fresh ones stay."""
    agents = {
        1: _agent(1),
        2: _agent(2, pass_expires_at=NOW - timedelta(minutes=1)),
        3: _agent(3, active=False),
    }
    holdings = [
        Holding(10, 100, 1, NOW - timedelta(minutes=6)),  # no ACK in 5 minutes
        Holding(11, 101, 1, NOW - timedelta(minutes=2)),  # still has time
        Holding(12, 102, 1, NOW - timedelta(hours=1), acked_at=NOW - timedelta(minutes=59)),
        Holding(13, 103, 2, NOW - timedelta(minutes=1), acked_at=NOW),
        Holding(14, 104, 3, NOW - timedelta(minutes=1)),
        Holding(15, 105, 99, NOW),  # an agent that no longer exists
    ]
    assert due_releases(holdings, agents, NOW) == [
        Release(10, 100, 1, ReleaseReason.NO_ACK),
        Release(13, 103, 2, ReleaseReason.PASS_EXPIRED),
        Release(14, 104, 3, ReleaseReason.AGENT_OFF),
        Release(15, 105, 99, ReleaseReason.AGENT_OFF),
    ]
    assert due_releases(holdings[:1], agents, NOW, ack_timeout=timedelta(minutes=10)) == []


def test_next_gives_the_most_pressing_case_the_agent_fits() -> None:
    """NEXT prefers a case in the agent's language and skill, then language, then any."""
    cases = [
        _case(1, URGENT, 5, "lo", "rescue"),
        _case(2, HIGH, 5, "th", "supplies"),
        _case(3, LOW, 5),
    ]
    assert pick_for_agent(_agent(1, "th", "rescue"), cases, NOW) == cases[2]
    assert pick_for_agent(_agent(1, "th", "technical"), cases, NOW) == cases[1]
    assert pick_for_agent(_agent(1, "en", "technical"), cases, NOW) == cases[0]
    assert pick_for_agent(_agent(1, capacity=1, load=1), cases, NOW) is None
    assert pick_for_agent(_agent(1, "th", "rescue"), cases[:1], NOW, exclude={1: {1}}) is None


def test_slots_read_stored_cases_and_agents() -> None:
    """A case is queued by its first-response due until answered, then by its resolution due."""
    row = Case(
        id=3, channel="sms", severity="urgent", language="lo", category="rescue", opened_at=NOW,
        first_response_due=NOW + timedelta(minutes=15), resolution_due=NOW + timedelta(hours=2),
    )  # fmt: skip
    assert QueuedCase.of(row, 0) == QueuedCase(3, 0, NOW + timedelta(minutes=15), "lo", "rescue")
    row.first_responded_at = NOW
    assert QueuedCase.of(row, 0).due == NOW + timedelta(hours=2)
    agent = Agent(
        id=4, name="Khamla", languages=["lo", "th"], skills=["rescue"], capacity=6,
        active=True, pass_expires_at=None,
    )  # fmt: skip
    assert AgentSlot.of(agent, load=2) == AgentSlot(
        4, frozenset({"lo", "th"}), frozenset({"rescue"}), 6, 2, True, None
    )
