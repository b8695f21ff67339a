"""Setting a case's status to any the playbook names (``dispatched``, ``on_site``...), not
only the first. Built-in statuses keep their meaning: ``resolved``/``closed`` stamp the
resolution time, which stops the SLA sweep; moving a case out of them reopens it.

Every change is recorded twice in one transaction: in the case's conversation (people read
the case) and in the audit log (who changed it, from where).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from crisiscast.errors import ConfigError
from crisiscast.incidents.cases.conversation import add_entry
from crisiscast.incidents.cases.opening import CLOSED_STATUSES
from crisiscast.incidents.people.audit import Actor, record
from crisiscast.incidents.store.models import Case
from crisiscast.playbook.schema import DEFAULT_STATUSES


def case_statuses(playbook_statuses: Sequence[str] | None) -> list[str]:
    """The statuses a case of this playbook may take: the playbook's, then the built-ins."""
    ordered = [*(playbook_statuses or []), *DEFAULT_STATUSES]
    return list(dict.fromkeys(ordered))


def set_case_status(
    session: Session,
    case: Case,
    status: str,
    *,
    allowed: Sequence[str],
    actor: Actor,
    now: datetime,
) -> str:
    """Move ``case`` to ``status`` (one of ``allowed``); returns the status it had."""
    wanted = status.strip().lower()
    if wanted not in allowed:
        raise ConfigError(
            f"case {case.id}: status {status!r} is not one of this playbook's: {', '.join(allowed)}"
        )
    previous = case.status
    if wanted == previous:
        return previous
    case.status = wanted
    if wanted in CLOSED_STATUSES:
        case.resolved_at = case.resolved_at or now
    elif previous in CLOSED_STATUSES:
        case.resolved_at = None
    add_entry(session, case.id, "status", f"{previous} -> {wanted}", author=actor.name, now=now)
    record(
        session,
        actor,
        "case.status",
        now=now,
        incident_id=case.incident_id,
        subject=f"case {case.id}",
        detail={"from": previous, "to": wanted},
    )
    return previous
