"""Column types that keep the store honest on both SQLite and PostgreSQL.

SQLite has no timezone-aware timestamp and no JSON datetime: these types make both databases
give back exactly what was put in (aware UTC datetimes; JSON whose datetimes come back as
datetimes), so code above the store never has to know which database it runs on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator, TypeEngine

# What ``datetime.isoformat()`` writes: date, a "T", time with seconds, optional fraction and
# offset. Only strings of exactly this shape are read back as datetimes.
_ISO_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?([+-]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?$"
)


def _require_aware(value: datetime) -> datetime:
    """Reject naive datetimes: in a crisis "10:00" in an unknown zone is a wrong answer."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"naive datetime {value.isoformat()} given to the store: pass a timezone-aware "
            "datetime, e.g. datetime.now(UTC)"
        )
    return value.astimezone(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        utc = _require_aware(value)
        # SQLite's DATETIME keeps no offset: store naive UTC, re-attach UTC on the way out.
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def encode_json(value: Any) -> Any:
    """Turn datetimes (anywhere inside dicts and lists) into ISO 8601 strings for JSON storage."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): encode_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode_json(v) for v in value]
    return value


def decode_json(value: Any) -> Any:
    """Inverse of :func:`encode_json`: ISO 8601 datetime strings become datetimes again."""
    if isinstance(value, str) and _ISO_DATETIME.match(value):
        return datetime.fromisoformat(value)
    if isinstance(value, dict):
        return {k: decode_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_json(v) for v in value]
    return value


class DateJSON(TypeDecorator[Any]):
    """JSON (JSONB on PostgreSQL) whose datetimes round-trip as ISO 8601 strings."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else encode_json(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else decode_json(value)


def driver_timestamp(now: datetime, dialect: str) -> Any:
    """``now`` as the column type would have stored it (naive UTC text on SQLite)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("the ledger needs a timezone-aware `now`, e.g. datetime.now(UTC)")
    utc = now.astimezone(UTC)
    return utc.strftime("%Y-%m-%d %H:%M:%S.%f") if dialect == "sqlite" else utc


def session_timestamp(session: Session, now: datetime) -> Any:
    """``now`` as the session's driver stores it, for statements that bypass the column types."""
    return driver_timestamp(now, session.get_bind().dialect.name)
