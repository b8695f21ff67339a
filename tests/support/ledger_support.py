"""Shared setup (no tests): a small incident with queued ledger rows, for the ledger, opt-out
and receipt tests."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from crisiscast.incidents.broadcast import ledger as lg
from crisiscast.incidents.store import database as st

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
PHONES = ("+66812345678", "+8562055512345")
EMAILS = ("ann@example.org",)


def seed(session: Session) -> int:
    """An incident with one SMS row per phone and one email row per address, all queued."""
    incident = st.create_incident(
        session, playbook_id="p", playbook_path="p.yaml", title="Flood", params={},
        languages=["en"], exercise=False, now=NOW,
    )  # fmt: skip
    rows = []
    for channel, addresses in (("sms", PHONES), ("email", EMAILS)):
        announcement = st.add_announcement(
            session, incident.id, announcement_id="warning", when="launch", channel=channel,
            language="en", subject=None, body="Flood warning", html=None, now=NOW,
        )  # fmt: skip
        rows += [
            lg.QueuedDelivery(lg.delivery_key(incident.id, announcement.id, channel, a),
                              incident.id, announcement.id, channel, None, a)
            for a in addresses
        ]  # fmt: skip
    lg.queue_deliveries(session, rows, now=NOW)
    return incident.id


def statuses(session: Session) -> dict[str, tuple[str, str | None]]:
    """address -> (status, last_error)."""
    result = session.execute(text("SELECT address, status, last_error FROM deliveries"))
    return {row[0]: (row[1], row[2]) for row in result}
