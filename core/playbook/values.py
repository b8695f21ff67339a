"""Typed playbook parameters: turn what a user typed (or a YAML default) into the declared type.

One converter serves both the playbook's own ``default``/``example`` values (checked at validate
time) and the ``--param key=value`` strings of the CLI, so both accept exactly the same things.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any, Literal

ParamType = Literal["string", "integer", "number", "boolean", "datetime", "choice"]

_TRUE = {"true", "yes", "y", "on", "1"}
_FALSE = {"false", "no", "n", "off", "0"}
SAMPLE_DATETIME = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def convert(kind: ParamType, value: Any, choices: Sequence[str] | None = None) -> Any:
    """Return ``value`` as ``kind``; raise ValueError saying what was expected, with an example."""
    converter = _CONVERTERS[kind]
    return converter(value, choices or ())


def _string(value: Any, _: Sequence[str]) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f'{value!r} is not text: expected a string, e.g. "Payments API"')
    return str(value)


def _integer(value: Any, _: Sequence[str]) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not an integer: expected a whole number, e.g. 60")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip().replace("_", ""))
        except ValueError:
            pass
    raise ValueError(f"{value!r} is not an integer: expected a whole number, e.g. 60")


def _number(value: Any, _: Sequence[str]) -> float:
    if not isinstance(value, bool) and isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise ValueError(f"{value!r} is not a number: expected e.g. 2.5")


def _boolean(value: Any, _: Sequence[str]) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(f"{value!r} is not a boolean: expected true or false")


def _datetime(value: Any, _: Sequence[str]) -> datetime:
    parsed: datetime | None = None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):  # YAML reads a bare 2026-01-01 as a date: midnight of it
        parsed = datetime.combine(value, time())
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            parsed = None
    if parsed is None:
        raise ValueError(
            f"{value!r} is not an ISO 8601 date-time: expected e.g. 2026-03-01T14:30:00+07:00"
        )
    # A time without an offset is ambiguous across regions; UTC is the one safe reading.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _choice(value: Any, choices: Sequence[str]) -> str:
    if isinstance(value, str) and value in choices:
        return value
    raise ValueError(f"{value!r} is not one of the choices: expected one of {', '.join(choices)}")


_CONVERTERS = {
    "string": _string,
    "integer": _integer,
    "number": _number,
    "boolean": _boolean,
    "datetime": _datetime,
    "choice": _choice,
}


def sample(kind: ParamType, name: str, choices: Sequence[str] | None = None) -> Any:
    """A stand-in value for rendering templates at validate time when the playbook gives none."""
    samples: dict[str, Any] = {
        "string": f"<{name}>",
        "integer": 1,
        "number": 1.5,
        "boolean": True,
        "datetime": SAMPLE_DATETIME,
        "choice": (choices or ["<choice>"])[0],
    }
    return samples[kind]
