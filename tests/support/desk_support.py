"""Helpers shared by the agent tests (store, desk, paging, and the sweep and stand-down flows).

An incident of the regional-flood playbook, cases opened the way intake opens them (with SLA
due times and the customer's inbound message), and agents with their own test numbers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from crisiscast.incidents.agents.roster import add_agent
from crisiscast.incidents.cases.opening import open_case, sla_due
from crisiscast.incidents.store.database import create_incident
from crisiscast.incidents.store.models import Agent, Case, InboundMessage, Incident
from crisiscast.playbook import Playbook, load_playbook

ROOT = Path(__file__).resolve().parents[2]
FLOOD = str(ROOT / "playbooks" / "regional-flood.yaml")
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
CUSTOMER = "+66812345678"


def flood() -> Playbook:
    """The regional-flood playbook (urgent: first response 15m, resolution 2h)."""
    return load_playbook(FLOOD)


def make_incident(session: Session, *, now: datetime = T0, exercise: bool = True) -> Incident:
    """An active regional-flood incident."""
    return create_incident(
        session,
        playbook_id="regional-flood",
        playbook_path=FLOOD,
        title="Flood",
        params={"area": "Riverside"},
        languages=["en", "th", "lo"],
        exercise=exercise,
        now=now,
    )


def make_case(
    session: Session,
    incident: Incident,
    *,
    severity: str = "urgent",
    now: datetime = T0,
    sender: str = CUSTOMER,
    channel: str = "sms",
    language: str = "th",
    category: str | None = "rescue",
) -> Case:
    """A case as intake opens it, with the customer's message stored against it."""
    case = open_case(
        session,
        incident_id=incident.id,
        contact_id=None,
        channel=channel,
        severity=severity,
        category=category,
        subcategory=None,
        language=language,
        why={"why": ["signal trapped (urgency critical)"], "decided_by": "rules"},
        due=sla_due(flood().severity, severity, now),
        status="new",
        now=now,
    )
    session.add(
        InboundMessage(
            incident_id=incident.id,
            channel=channel,
            sender=sender,
            body="help",
            received_at=now,
            case_id=case.id,
        )
    )
    session.flush()
    return case


def make_agent(session: Session, n: int, **values: object) -> Agent:
    """Agent number ``n`` with phone +1500555010<n> and email agent<n>@example.org."""
    defaults: dict[str, object] = {
        "name": f"Agent {n}",
        "phone": f"+1500555{n:04d}",
        "email": f"agent{n}@example.org",
        "skills": ["rescue"],
        "languages": ["th", "en"],
        "capacity": 3,
    }
    defaults.update(values)
    return add_agent(session, **defaults)  # type: ignore[arg-type]
