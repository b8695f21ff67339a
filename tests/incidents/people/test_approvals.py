"""The two-person rule as the domain decides it: who may approve, what a decision records."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crisiscast.errors import AccessError
from crisiscast.incidents.people import approvals
from crisiscast.incidents.people.audit import Actor, events
from crisiscast.incidents.people.users import create_user
from crisiscast.incidents.store.database import Store
from crisiscast.incidents.store.models import ApprovalStatus

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


def _people(store: Store) -> tuple[Actor, Actor]:
    with store.session() as session:
        ana = create_user(session, "ana", "commander", now=NOW)
        ben = create_user(session, "ben", "comms", now=NOW)
        return (
            Actor(f"user:{ana.id} ana", "api 10.0.0.1", ana.id),
            Actor(f"user:{ben.id} ben", "api 10.0.0.2", ben.id),
        )


@pytest.mark.parametrize(
    ("policy", "exercise", "needed"),
    [
        ("required", False, True),
        ("required", True, False),
        ("none", False, False),
        (None, False, False),
    ],
)
def test_needed_unless_exercise(policy: str | None, exercise: bool, needed: bool) -> None:
    """Only ``required`` asks for a second person, and an exercise is waived."""
    assert approvals.needed(policy, exercise=exercise) is needed


def test_requester_cannot_approve_but_another_can(store: Store) -> None:
    """The requester's approval is refused with why; a second user's is recorded and audited."""
    ana, ben = _people(store)
    with store.session() as session:
        row = approvals.request(
            session, ana, "launch", {"playbook": "x"}, {"kind": "launch"}, now=NOW
        )
        with pytest.raises(AccessError, match="requested by you"):
            approvals.decide(session, row, ana, approve=True, now=NOW)
        approvals.decide(session, row, ben, approve=True, now=NOW, reason="ok")
        assert row.status is ApprovalStatus.APPROVED and row.decided_by == ben.user_id
        with pytest.raises(approvals.AlreadyDecided):
            approvals.decide(session, row, ben, approve=False, now=NOW)
        logged = [(e.action, e.user_id) for e in events(session)]
    assert logged == [("launch.requested", ana.user_id), ("approve", ben.user_id)]


def test_cli_may_ask_but_not_approve(store: Store) -> None:
    """The serve token is no one in particular: it asks, a signed-in user approves."""
    ana, _ = _people(store)
    with store.session() as session:
        row = approvals.request(session, Actor.cli(), "recall", {"ref": "INC-1"}, None, now=NOW)
        with pytest.raises(AccessError, match="second person who signed in"):
            approvals.decide(session, row, Actor.cli(), approve=True, now=NOW)
        approvals.decide(session, row, ana, approve=True, now=NOW)
        assert row.status is ApprovalStatus.APPROVED


def test_own_rejection_is_a_cancel(store: Store) -> None:
    """The requester withdrawing is ``cancelled``; someone else's no is ``rejected``."""
    ana, ben = _people(store)
    with store.session() as session:
        mine = approvals.request(session, ana, "update", {"ref": "INC-1"}, None, now=NOW)
        theirs = approvals.request(session, ana, "update", {"ref": "INC-1"}, None, now=NOW)
        approvals.decide(session, mine, ana, approve=False, now=NOW)
        approvals.decide(session, theirs, ben, approve=False, now=NOW)
        assert (mine.status, theirs.status) == (ApprovalStatus.CANCELLED, ApprovalStatus.REJECTED)
        assert [a.id for a in approvals.listed(session)] == []
        assert len(approvals.listed(session, status=None)) == 2
