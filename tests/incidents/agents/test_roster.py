"""The agent roster in the store: adding, finding, releasing, passes and standby invitations."""

from __future__ import annotations

from datetime import timedelta

import pytest
from desk_support import T0, flood, make_agent, make_case, make_incident
from sqlalchemy import select

from crisiscast.errors import StoreError
from crisiscast.incidents.agents import roster as ag
from crisiscast.incidents.agents.assignment import ReleaseReason
from crisiscast.incidents.store.database import Store
from crisiscast.incidents.store.models import Agent, TimelineEvent
from crisiscast.playbook.schema import Pool


def test_added_agent_is_listed_and_found_by_phone_or_email(store: Store) -> None:
    """An agent is found by their SMS number and by their email in any letter case."""
    with store.session() as session:
        agent = make_agent(session, 1, email="Ann@Example.org")
        assert [a.id for a in ag.list_agents(session)] == [agent.id]
        assert ag.find_agent(session, "+15005550001") is agent
        assert ag.find_agent(session, "ANN@example.ORG") is agent
        assert ag.find_agent(session, "+15005559999") is None


def test_a_phone_can_belong_to_one_agent_only(store: Store) -> None:
    """A second agent with the same phone is refused: commands need one owner per number."""
    with store.session() as session:
        make_agent(session, 1)
        with pytest.raises(StoreError, match="another agent already has this phone"):
            make_agent(session, 2, phone="+15005550001")


def test_bad_phone_is_refused_with_the_fix(store: Store) -> None:
    """A phone not in E.164 is refused with an example of the right form."""
    with store.session() as session, pytest.raises(StoreError, match=r"E\.164.*\+15005550006"):
        make_agent(session, 1, phone="0812345678")


def test_roster_loads_once_and_shared_phones_are_reported(store: Store) -> None:
    """The playbook roster is added, updated on reload, and a shared phone is named, not lost."""
    playbook = flood()
    with store.session() as session:
        first = ag.load_roster(session, playbook)
        again = ag.load_roster(session, playbook)
        agents = ag.list_agents(session)
    assert (first.added, again.added, again.updated) == (3, 0, 3)
    assert len(agents) == 3
    assert all(a.phone is not None for a in agents)  # the shipped roster: one number each
    assert first.warnings == ()
    # Two entries on one phone: the sender of a command would be ambiguous.
    roster = playbook.staffing.roster
    shared = [roster[0], *(e.model_copy(update={"phone": roster[0].phone}) for e in roster[1:])]
    crowded = playbook.model_copy(
        update={"staffing": playbook.staffing.model_copy(update={"roster": shared})}
    )
    with store.session() as session:
        session.query(Agent).delete()
        report = ag.load_roster(session, crowded)
        phones = [a.phone is not None for a in ag.list_agents(session)]
    assert phones == [True, False, False]
    assert len(report.warnings) == 2
    assert "Somchai" in report.warnings[0]
    assert "shares a phone" in report.warnings[0]


def test_release_puts_the_agents_cases_back_in_the_queue(store: Store) -> None:
    """Releasing an agent takes them off duty and ends every assignment they held."""
    with store.session() as session:
        incident = make_incident(session)
        agent = make_agent(session, 1)
        case = make_case(session, incident)
        ag.assign_case(session, case, agent, now=T0)
        released = ag.release_agent(session, agent, now=T0, reason=ReleaseReason.AGENT_OFF)
        assert released == [case.id]
        assert not agent.active
        assert ag.holder_of(session, case.id) is None


def test_a_case_has_one_holder(store: Store) -> None:
    """Assigning a held case is refused until its holder is released."""
    with store.session() as session:
        incident = make_incident(session)
        first, second = make_agent(session, 1), make_agent(session, 2)
        case = make_case(session, incident)
        ag.assign_case(session, case, first, now=T0)
        with pytest.raises(StoreError, match=f"case {case.id} is held by agent {first.id}"):
            ag.assign_case(session, case, second, now=T0)


def test_expired_day_pass_releases_the_agent_and_requeues(store: Store) -> None:
    """A temporary agent whose pass ended is released and their case goes back to the queue."""
    end = T0 + timedelta(hours=12)
    with store.session() as session:
        incident = make_incident(session)
        temp = make_agent(session, 1, temporary=True, pass_expires_at=end)
        keep = make_agent(session, 2)
        case = make_case(session, incident)
        ag.assign_case(session, case, temp, now=T0)
        assert ag.expire_passes(session, now=end - timedelta(seconds=1)) == {}
        assert ag.expire_passes(session, now=end) == {temp.id: [case.id]}
        assert (temp.active, keep.active) == (False, True)
        reasons = session.scalars(
            select(TimelineEvent.data).where(TimelineEvent.kind == "case_released")
        ).all()
    assert [r["reason"] for r in reasons if r] == ["pass_expired"]


def test_standby_invitation_and_yes_activate_a_day_pass(store: Store) -> None:
    """Standby people fitting a pool are invited once; YES activates them until the pass end."""
    pool = Pool(name="standby-th", skills=["rescue"], languages=["th"], size=2)
    until = T0 + timedelta(hours=12)
    with store.session() as session:
        incident = make_incident(session)
        thai = [make_agent(session, n, temporary=True, active=False) for n in (1, 2, 3)]
        make_agent(session, 4, temporary=True, active=False, languages=["en"])  # does not fit
        invited = ag.invite_standby(session, incident, pool, 5, now=T0, until=until)
        assert [a.id for a in invited] == [thai[0].id, thai[1].id]  # pool size caps it
        assert ag.invite_standby(session, incident, pool, 5, now=T0, until=until) == []
        joined = ag.accept_invitation(session, thai[0], now=T0 + timedelta(minutes=3))
        assert joined is incident
        assert (thai[0].active, thai[0].pass_expires_at) == (True, until)
        assert ag.accept_invitation(session, thai[2], now=T0) is None  # never invited
        state = ag.standby_state(session, incident.id, now=T0)
        assert state.pending == frozenset({thai[1].id})
        assert ag.accept_invitation(session, thai[1], now=until) is None  # too late


def test_active_temporary_lists_only_agents_on_a_pass(store: Store) -> None:
    """Only temporary agents on duty count as the incident's extra hands."""
    with store.session() as session:
        make_agent(session, 1)
        temp = make_agent(session, 2, temporary=True, pass_expires_at=T0 + timedelta(hours=1))
        make_agent(session, 3, temporary=True, active=False)
        assert [a.id for a in ag.active_temporary(session)] == [temp.id]
        assert session.scalar(select(Agent.id).where(Agent.id == temp.id)) == temp.id
