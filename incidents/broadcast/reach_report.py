"""How many people a target reaches, per channel and language, before anything is sent.

For each per-recipient channel (SMS, email) and each language a message is sent in: the
contacts reached, and those suppressed because they opted out or have no address on that
channel; and how many of the reached get the fallback language because the playbook lacks
theirs (with which languages they have). Counted in the database, grouped by language: a
million contacts cost a few grouped scans, not a loop in Python.

``send_time_lines`` adds how long the send will take at the configured providers' rates
("100,000 SMS over 10 senders at 100/s: about 2 min"), for the preview.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, and_, case, func, literal, or_, select
from sqlalchemy.orm import Session

from crisiscast.channels.senders import send_time
from crisiscast.config import Settings
from crisiscast.incidents.broadcast.decisions import PER_RECIPIENT, pick_language
from crisiscast.incidents.store.models import Contact, OptOut


@dataclass
class ReachRow:
    """One channel x message language."""

    channel: str
    language: str
    reached: int = 0
    opted_out: int = 0
    no_address: int = 0
    fallback: int = 0  # reached contacts whose own language the playbook lacks
    fallback_from: dict[str, int] = field(default_factory=dict)  # their languages

    @property
    def suppressed(self) -> int:
        return self.opted_out + self.no_address


def _audience_clause(audiences: Mapping[str, Sequence[str]], channel: str) -> Any:
    """The same label rule as the broadcast (``decisions.Reach``)."""
    defined = sorted(audiences)
    if not defined:
        return literal(True)
    chosen = sorted(name for name, kinds in audiences.items() if channel in kinds)
    return or_(Contact.audience.not_in(defined), Contact.audience.in_(chosen))


def reach_report(
    session: Session,
    contact_ids: Select[Any],
    *,
    channels: Sequence[str],
    languages: Sequence[str],
    audiences: Mapping[str, Sequence[str]] | None = None,
) -> list[ReachRow]:
    """Rows per per-recipient channel of ``channels`` x message language, for the contacts
    ``contact_ids`` selects. ``languages`` are the message's, fallback first."""
    if not languages:
        return []
    fallback = languages[0]
    rows: dict[tuple[str, str], ReachRow] = {}
    for channel in (c for c in channels if c in PER_RECIPIENT):
        address = Contact.phone if channel == "sms" else Contact.email
        opted = select(OptOut.address).where(OptOut.channel == channel)
        out = and_(address.is_not(None), or_(Contact.opted_out_at.is_not(None), address.in_(opted)))
        query = (
            select(
                Contact.language,
                func.count(),
                func.sum(case((address.is_(None), 1), else_=0)),
                func.sum(case((out, 1), else_=0)),
            )
            .where(Contact.id.in_(contact_ids), _audience_clause(audiences or {}, channel))
            .group_by(Contact.language)
        )
        for language, total, no_address, opted_out in session.execute(query):
            sent_in = pick_language(language, list(languages), fallback)
            row = rows.setdefault((channel, sent_in), ReachRow(channel, sent_in))
            reached = int(total) - int(no_address or 0) - int(opted_out or 0)
            row.reached += reached
            row.no_address += int(no_address or 0)
            row.opted_out += int(opted_out or 0)
            own = (language or "").split("-")[0]
            if sent_in != language and own != sent_in and reached:
                row.fallback += reached
                name = language or "unknown"
                row.fallback_from[name] = row.fallback_from.get(name, 0) + reached
    return [rows[k] for k in sorted(rows)]


def fallback_summary(rows: Sequence[ReachRow]) -> str | None:
    """``12 contacts get the fallback language en (their languages: fr 10, unknown 2)``,
    counted on the channel with most fallbacks; None when nobody falls back."""
    worst = max(rows, key=lambda r: r.fallback, default=None)
    by_language: dict[str, int] = {}
    for row in rows:
        if worst is not None and row.channel == worst.channel:
            for name, count in row.fallback_from.items():
                by_language[name] = by_language.get(name, 0) + count
    total = sum(by_language.values())
    if not total:
        return None
    detail = ", ".join(f"{k} {v}" for k, v in sorted(by_language.items()))
    fallback = worst.language if worst else ""
    who = "contact gets" if total == 1 else "contacts get"
    return f"{total} {who} the fallback language {fallback} (their languages: {detail})"


def send_time_lines(
    rows: Sequence[ReachRow], settings: Settings, segments: Mapping[str, int] | None = None
) -> list[str]:
    """One line per per-recipient channel: how long its reached contacts take at the
    providers' configured rates (``segments``: SMS segments per message, 1 by default)."""
    reached: dict[str, int] = {}
    for row in rows:
        reached[row.channel] = reached.get(row.channel, 0) + row.reached
    lines = []
    for channel, count in sorted(reached.items()):
        line = send_time(channel, count, settings, (segments or {}).get(channel, 1))
        if line:
            lines.append(line)
    return lines
