"""The two-person rule: a launch, update or recall that waits for a second person.

A playbook with ``approval: required`` (exercises are waived) does not send on the word of
one person: the request and its preview (reach per channel and language, SMS segments and
cost) are stored on an ``approvals`` row, and a second commander or comms user sees that same
preview before approving. Whoever asked can never approve it (not even under another role),
and the CLI on this machine (no user) may ask but not approve: the second person must be
someone who signed in. The interfaces run what was asked once it is approved and store the
outcome in ``result``; the decision itself is taken here, in the caller's transaction, with
its audit entry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisiscast.errors import AccessError, ConfigError, NotFoundError
from crisiscast.incidents.people.audit import Actor, record
from crisiscast.incidents.store.models import Approval, ApprovalStatus

KINDS = ("launch", "update", "recall")


class AlreadyDecided(ConfigError):
    """The approval was approved, rejected or cancelled before this decision (a 409)."""


def needed(policy: str | None, *, exercise: bool) -> bool:
    """Whether an action needs a second person: the playbook says ``required`` and it is not
    an exercise (an exercise sends nothing out, so it may run on one person's word)."""
    return policy == "required" and not exercise


def request(
    session: Session,
    actor: Actor,
    kind: str,
    what: Mapping[str, Any],
    preview: Mapping[str, Any] | None,
    *,
    now: datetime,
    incident_id: int | None = None,
) -> Approval:
    """Store a request for a second person's approval and audit it (``<kind>.requested``)."""
    if kind not in KINDS:
        raise ConfigError(f"approval kind {kind!r} is not one of: {', '.join(KINDS)}")
    row = Approval(
        kind=kind,
        incident_id=incident_id,
        request=dict(what),
        preview=None if preview is None else dict(preview),
        status=ApprovalStatus.PENDING,
        requested_by=actor.user_id,
        requester=actor.name[:200],
        requested_at=now,
    )
    session.add(row)
    session.flush()
    record(
        session,
        actor,
        f"{kind}.requested",
        now=now,
        incident_id=incident_id,
        subject=f"approval {row.id}",
        detail={"approval_id": row.id},
    )
    return row


def get(session: Session, approval_id: int, *, lock: bool = False) -> Approval:
    """The approval with this id; NotFoundError says how to list them. ``lock`` holds the row
    until the transaction commits (PostgreSQL; SQLite's writer lock does it), for a decision."""
    row = (
        session.get(Approval, approval_id, with_for_update=lock)
        if 0 < approval_id <= 2**31 - 1
        else None
    )
    if row is None:
        raise NotFoundError(
            f"approval {approval_id} does not exist: GET /api/v1/approvals lists the pending ones"
        )
    return row


def listed(
    session: Session, *, status: str | None = "pending", after_id: int = 0, limit: int = 50
) -> Sequence[Approval]:
    """Approvals in the order they were asked (``status`` None: all), keyset from ``after_id``."""
    query = select(Approval).where(Approval.id > after_id)
    if status is not None:
        query = query.where(Approval.status == ApprovalStatus(status))
    return session.scalars(query.order_by(Approval.id).limit(limit)).all()


def check_decider(row: Approval, actor: Actor) -> None:
    """Refuse a decision by the requester themself, or by no one in particular (the CLI).

    AccessError (403) with the reason: the two-person rule needs two different people.
    """
    if actor.user_id is None:
        raise AccessError(
            f"approval {row.id} needs a second person who signed in (a commander or comms "
            "user's token or console session); the CLI's serve token may ask, not approve"
        )
    if row.requested_by is not None and row.requested_by == actor.user_id:
        raise AccessError(
            f"approval {row.id} was requested by you: the two-person rule needs another "
            "commander or comms user to approve it"
        )


def decide(
    session: Session,
    row: Approval,
    actor: Actor,
    *,
    approve: bool,
    now: datetime,
    reason: str | None = None,
) -> Approval:
    """Approve or reject a pending request, with its audit entry (``approve``/``reject``).

    The requester may withdraw their own request: their rejection is a ``cancel``.
    """
    if row.status is not ApprovalStatus.PENDING:
        raise AlreadyDecided(f"approval {row.id} is already {row.status}: nothing to decide")
    own = row.requested_by == actor.user_id and row.requester == actor.name[:200]
    if approve:
        check_decider(row, actor)
        row.status, action = ApprovalStatus.APPROVED, "approve"
    elif own:
        row.status, action = ApprovalStatus.CANCELLED, "cancel"
    else:
        row.status, action = ApprovalStatus.REJECTED, "reject"
    row.decided_by = actor.user_id
    row.decided_at = now
    row.reason = reason
    session.flush()
    record(
        session,
        actor,
        action,
        now=now,
        incident_id=row.incident_id,
        subject=f"approval {row.id}",
        detail={"approval_id": row.id, "kind": row.kind},
    )
    return row


def finish(session: Session, row: Approval, result: Mapping[str, Any]) -> None:
    """Store what running the approved request did (an incident ref, counts, or the error)."""
    row.result = dict(result)
    if row.incident_id is None and isinstance(result.get("incident_id"), int):
        row.incident_id = result["incident_id"]
    session.flush()
