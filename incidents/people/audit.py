"""The audit log: who did what, when, from where, and what changed. Append-only (the model
refuses updates and deletes); written in the same transaction as the change it records, so a
change without its record (or a record without its change) cannot happen.

The model's listeners refuse changing or deleting a loaded entry; ``_refuse_bulk`` below also
refuses ``update(AuditEvent)`` / ``delete(AuditEvent)`` statements run through any ORM session
(those bypass the model's listeners). Raw SQL on the table is not stopped here: that needs a
database trigger.

Never put a password, token, phone number or email address in ``detail``: the log is exported
with reports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import ORMExecuteState, Session

from crisiscast.errors import StoreError
from crisiscast.incidents.store.models import AuditEvent


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: a signed-in user, an agent texting, the CLI on this machine, or the system.

    ``source`` says from where: ``api 10.0.0.7``, ``console 10.0.0.7``, ``sms``, ``email``,
    ``cli``. Never a phone number or email address (the audit log is exported with reports).
    """

    name: str
    source: str
    user_id: int | None = None

    @classmethod
    def system(cls) -> Actor:
        """crisiscast itself (the sweep, a flow)."""
        return cls(name="crisiscast", source="system")

    @classmethod
    def cli(cls) -> Actor:
        """Someone at this machine's shell, with access to the store's file or URL."""
        return cls(name="cli", source="cli")

    @classmethod
    def agent(cls, agent_id: int, name: str, via: str) -> Actor:
        """An agent acting by SMS or email (``via``)."""
        return cls(name=f"agent:{agent_id} {name}", source=via)


def record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    now: datetime,
    incident_id: int | None = None,
    subject: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Append one entry; the caller's commit makes it and the change it records durable."""
    entry = AuditEvent(
        at=now,
        actor=actor.name[:200],
        user_id=actor.user_id,
        action=action,
        incident_id=incident_id,
        subject=subject,
        source=actor.source[:100],
        detail=None if detail is None else dict(detail),
    )
    session.add(entry)
    session.flush()
    return entry


def events(
    session: Session,
    *,
    incident_id: int | None = None,
    action: str | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> Sequence[AuditEvent]:
    """Entries in the order they happened, from ``after_id`` on (keyset pagination)."""
    query = select(AuditEvent).where(AuditEvent.id > after_id)
    if incident_id is not None:
        query = query.where(AuditEvent.incident_id == incident_id)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    return session.scalars(query.order_by(AuditEvent.id).limit(limit)).all()


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk(state: ORMExecuteState) -> None:
    """Refuse bulk UPDATE/DELETE of audit entries, which skip the model's own listeners."""
    if not (state.is_update or state.is_delete):
        return
    mapper = state.bind_mapper
    if mapper is not None and mapper.class_ is AuditEvent:
        raise StoreError("the audit log is append-only: its entries cannot be changed or deleted")
