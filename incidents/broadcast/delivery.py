"""Broadcast bookkeeping around the ledger: start, finish, recall, and provider receipts.

Receipts (Twilio status callbacks, SendGrid's event webhook) only move a row forward along
``RECEIPT_TRANSITIONS``: a late or repeated callback never turns a failure into a success or
undoes a newer state. The lead's web routes call ``apply_twilio_status`` and
``apply_sendgrid_events`` after checking the providers' signatures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from crisiscast.channels.failover import routed_id
from crisiscast.incidents.audience.optout import record_opt_out
from crisiscast.incidents.broadcast import ledger as lg
from crisiscast.incidents.broadcast.decisions import Content
from crisiscast.incidents.broadcast.ledger_counts import ledger_counts
from crisiscast.incidents.store.database import add_event, get_incident
from crisiscast.incidents.store.models import Announcement, AnnouncementStatus, Incident
from crisiscast.incidents.store.sqltypes import session_timestamp

# target status -> the statuses a receipt may move a row from
RECEIPT_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "delivered": ("queued", "sent"),
    "failed": ("queued", "sent"),
}
_TWILIO_STATUS = {"delivered": "delivered", "undelivered": "failed", "failed": "failed",
                  "canceled": "failed"}  # fmt: skip
_SENDGRID_FAILED = {"bounce", "dropped", "blocked"}
_SENDGRID_OPT_OUT = {"unsubscribe", "group_unsubscribe", "spamreport"}


def start_broadcast(session: Session, incident_id: int, announcement_ids: Sequence[str]) -> None:
    """Pending announcements become ``broadcasting``."""
    session.execute(
        update(Announcement)
        .where(
            Announcement.incident_id == incident_id,
            Announcement.announcement_id.in_(list(announcement_ids)),
            Announcement.status == AnnouncementStatus.PENDING,
        )
        .values(status=AnnouncementStatus.BROADCASTING)
    )


def contact_bounds(session: Session, target_id: int | None = None) -> tuple[int, int]:
    """Lowest and highest contact id (of a target's members when given), ``(1, 0)`` when there
    are none (no shards)."""
    if target_id is not None:
        row = session.execute(
            text(
                "SELECT min(contact_id), max(contact_id) FROM target_members WHERE target_id = :t"
            ),
            {"t": target_id},
        ).one()
        return (1, 0) if row[0] is None else (int(row[0]), int(row[1]))
    row = session.execute(text("SELECT min(id), max(id) FROM contacts")).one()
    return (1, 0) if row[0] is None else (int(row[0]), int(row[1]))


def load_contents(
    session: Session, incident_id: int, announcement: str, channel: str
) -> tuple[dict[str, Content], str]:
    """The staged rows of one announcement on one channel, by language; and the default language."""
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise ValueError(f"incident INC-{incident_id} does not exist")
    rows = session.scalars(
        select(Announcement).where(
            Announcement.incident_id == incident_id,
            Announcement.announcement_id == announcement,
            Announcement.channel == channel,
        )
    )
    contents = {r.language: Content(r.id, r.language, r.body, r.subject, r.html) for r in rows}
    if not contents:
        raise ValueError(
            f"INC-{incident_id}: announcement {announcement!r} has no {channel} message staged"
        )
    default = incident.languages[0] if incident.languages else next(iter(contents))
    return contents, default if default in contents else next(iter(contents))


def finish_broadcast(
    session: Session,
    incident_id: int,
    reports: Sequence[Mapping[str, Any]],
    *,
    now: datetime,
    reconciled: int = 0,
) -> dict[str, Any]:
    """Close the broadcasting announcements and record per-channel counts on the timeline.

    ``reconciled``: rows an interrupted run had written to the outbox, recorded before sending.
    """
    # Stopped by Ctrl-C, or this machine could not write (a full disk): the announcements
    # stay ``broadcasting`` (the truth) until a resume, which ``broadcast INC-n`` is.
    stopped = any(r.get("stopped") for r in reports)
    if not (stopped or any(r.get("local_error") for r in reports)):
        session.execute(
            update(Announcement)
            .where(
                Announcement.incident_id == incident_id,
                Announcement.status == AnnouncementStatus.BROADCASTING,
            )
            .values(status=AnnouncementStatus.SENT)
        )
    counts = ledger_counts(session, incident_id)
    errors = sorted({f"{r.get('channel')}: {r['error']}" for r in reports if r.get("error")})
    # This machine's write failures (disk full): their rows are queued, a rerun sends them.
    local = sorted({f"{r.get('channel')}: {r['error']}" for r in reports
                    if r.get("error") and r.get("local_error")})  # fmt: skip
    summary = {
        "counts": counts,
        "errors": errors,
        "local_errors": local,
        "shards": len(reports),
        "reconciled": reconciled + sum(int(r.get("reconciled", 0)) for r in reports),
        "unknown_after_crash": sum(int(r.get("unknown", 0)) for r in reports),
        "recalled": any(r.get("recalled") for r in reports),
    }
    text_counts = "; ".join(
        f"{channel} " + ", ".join(f"{status}={n}" for status, n in by.items())
        for channel, by in counts.items()
    )
    message = f"broadcast: {text_counts or 'nothing to send'}"
    if errors:
        message += f"; {len(errors)} channel errors"
    if stopped:
        ref = session.get_one(Incident, incident_id).ref
        message += f"; stopped by Ctrl-C, the rest not sent: `crisiscast broadcast {ref}` sends it"
    add_event(session, incident_id, "broadcast", message, data=summary, now=now)
    return summary


def recall(session: Session, ref: str | int, *, now: datetime) -> int:
    """Stop an incident's broadcast: shards stop at their next batch, queued rows are suppressed.

    Returns how many queued deliveries were suppressed now (running shards suppress the rest).
    """
    incident = get_incident(session, ref)
    session.execute(
        update(Announcement)
        .where(
            Announcement.incident_id == incident.id,
            Announcement.status.in_([AnnouncementStatus.PENDING, AnnouncementStatus.BROADCASTING]),
        )
        .values(status=AnnouncementStatus.RECALLED)
    )
    suppressed = lg.suppress_queued(session, incident.id, lg.RECALLED, now=now)
    add_event(session, incident.id, "recalled",
              f"broadcast recalled; {suppressed} queued deliveries suppressed",
              data={"suppressed": suppressed}, now=now)  # fmt: skip
    return suppressed


def _move(
    session: Session,
    column: str,
    value: str | Sequence[str],
    status: str,
    error: str | None,
    now: datetime,
) -> int:
    """Move the row whose ``column`` is ``value`` (or one of the values) to ``status`` if the
    transition table allows."""
    allowed = ", ".join(f"'{s}'" for s in RECEIPT_TRANSITIONS[status])
    values = [value] if isinstance(value, str) else list(value)
    names = ", ".join(f":v{i}" for i in range(len(values)))
    result = session.execute(
        text(
            f"UPDATE deliveries SET status = :status, last_error = :error, updated_at = :now "  # noqa: S608 - fixed SQL and checked names inlined; values bound
            f"WHERE {column} IN ({names}) AND status IN ({allowed})"
        ),
        {"status": status, "error": error, "now": session_timestamp(session, now),
         **{f"v{i}": v for i, v in enumerate(values)}},
    )  # fmt: skip
    return max(int(getattr(result, "rowcount", 0) or 0), 0)


def apply_twilio_status(session: Session, form: Mapping[str, str], *, now: datetime) -> int:
    """Apply a Twilio status callback (MessageSid, MessageStatus, ErrorCode); rows changed."""
    sid = form.get("MessageSid") or form.get("SmsSid")
    status = _TWILIO_STATUS.get((form.get("MessageStatus") or "").lower())
    if not sid or status is None:
        return 0  # queued / sending / sent callbacks: the ledger already says sent
    error = None
    if status == "failed":
        code = form.get("ErrorCode") or "none"
        error = f"twilio {form.get('MessageStatus', '').lower()} (error {code})"
    # A message the failover account sent is recorded as failover:twilio-sms:<sid>.
    return _move(session, "provider_id", (sid, routed_id("twilio-sms", sid)), status, error, now)


def apply_sendgrid_events(
    session: Session, events: Sequence[Mapping[str, Any]], *, now: datetime
) -> int:
    """Apply SendGrid event webhook events, mapped by ``custom_args.delivery_key``; rows changed.

    Unsubscribes and spam reports become permanent email opt-outs.
    """
    changed = 0
    for event in events:
        kind = str(event.get("event", ""))
        custom = event.get("custom_args")
        key = event.get("delivery_key") or (
            custom.get("delivery_key") if isinstance(custom, Mapping) else None
        )
        if kind in _SENDGRID_OPT_OUT and event.get("email"):
            changed += record_opt_out(session, str(event["email"]).strip().lower(), "email",
                                      f"sendgrid {kind}", now=now)  # fmt: skip
        if not key:
            continue
        if kind == "delivered":
            changed += _move(session, "idempotency_key", str(key), "delivered", None, now)
        elif kind in _SENDGRID_FAILED:
            reason = str(event.get("type") or event.get("status") or "")
            error = f"sendgrid {kind}" + (f" ({reason})" if reason else "")
            changed += _move(session, "idempotency_key", str(key), "failed", error, now)
    return changed
