"""incident_summary: the counts and latest events the dashboard and CLI show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from crisiscast.incidents.broadcast.ledger import QueuedDelivery, queue_deliveries
from crisiscast.incidents.reporting.summary import incident_summary
from crisiscast.incidents.store.database import (
    Store,
    add_announcement,
    add_event,
    create_incident,
    get_incident,
)
from crisiscast.incidents.store.models import (
    Announcement,
    AnnouncementStatus,
    Case,
    Delivery,
    DeliveryStatus,
    Incident,
)

NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)


def _incident(session: Session) -> Incident:
    return create_incident(
        session,
        playbook_id="payments-outage",
        playbook_path="playbooks/payments_outage.yaml",
        title="Payments down",
        params={"service": "Payments API", "eta": NOW + timedelta(hours=2)},
        languages=["en"],
        exercise=True,
        now=NOW,
    )


def _announce(session: Session, incident_id: int, channel: str, language: str) -> Announcement:
    return add_announcement(
        session,
        incident_id,
        announcement_id="first-notice",
        when="launch",
        channel=channel,
        language=language,
        subject=None,
        body="Payments are down.",
        html=None,
        now=NOW,
    )


def _case(incident_id: int, severity: str, status: str) -> Case:
    return Case(
        incident_id=incident_id, channel="sms", severity=severity, status=status, opened_at=NOW
    )


def test_summary_counts_announcements_deliveries_and_cases(store: Store) -> None:
    """Counts are grouped by channel (or severity) and status, for this incident only."""
    with store.session() as session:
        incident = _incident(session)
        other = _incident(session)
        sms = _announce(session, incident.id, "sms", "en")
        _announce(session, incident.id, "sms", "th").status = AnnouncementStatus.SENT
        email = _announce(session, incident.id, "email", "en")
        _announce(session, other.id, "sms", "en")
        rows = [
            QueuedDelivery(f"s{n}", incident.id, sms.id, "sms", None, f"+4470000000{n}")
            for n in range(3)
        ]
        rows.append(QueuedDelivery("e0", incident.id, email.id, "email", None, "a@example.org"))
        queue_deliveries(session, rows, now=NOW)
        session.add_all(
            [
                _case(incident.id, "urgent", "new"),
                _case(incident.id, "urgent", "new"),
                _case(incident.id, "low", "resolved"),
                _case(other.id, "urgent", "new"),
            ]
        )
    with store.session() as session:
        session.get_one(Delivery, 1).status = DeliveryStatus.FAILED
    with store.session() as session:
        summary = incident_summary(session, get_incident(session, incident.id))
    assert summary.announcements == {"sms": {"pending": 1, "sent": 1}, "email": {"pending": 1}}
    assert summary.deliveries == {"sms": {"failed": 1, "queued": 2}, "email": {"queued": 1}}
    assert summary.cases == {"urgent": {"new": 2}, "low": {"resolved": 1}}
    assert (summary.ref, summary.status, summary.exercise) == (incident.ref, "active", True)
    assert summary.params["eta"] == NOW + timedelta(hours=2)


def test_summary_shows_the_latest_events_oldest_first(store: Store) -> None:
    """Only the last N events are shown, in the order they happened."""
    with store.session() as session:
        incident = _incident(session)
        add_event(session, incident.id, "launched", "launched", now=NOW)
        for minute in range(1, 6):
            add_event(
                session, incident.id, "note", f"m{minute}", now=NOW + timedelta(minutes=minute)
            )
    with store.session() as session:
        summary = incident_summary(session, get_incident(session, incident.id), events=3)
    assert [e.message for e in summary.events] == ["m3", "m4", "m5"]
    assert summary.events[-1].at == NOW + timedelta(minutes=5)


def test_summary_of_a_quiet_incident_is_empty_not_missing(store: Store) -> None:
    """An incident with nothing recorded yet has empty counts and no events, not errors."""
    with store.session() as session:
        incident = _incident(session)
    with store.session() as session:
        summary = incident_summary(session, get_incident(session, incident.id))
    assert (summary.announcements, summary.deliveries, summary.cases) == ({}, {}, {})
    assert summary.events == ()
