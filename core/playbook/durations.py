"""Durations as people write them in playbooks (``15m``, ``1h30m``, ``2d``) as ``timedelta``.

SLA targets are read by triage and the SLA sweep as ``timedelta``; the YAML keeps the short
form an incident commander can read at a glance.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

_UNITS = (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
_PATTERN = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
DURATION_REGEX = r"^(?=\d)(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?$"
_HINT = "write a number with a unit (w, d, h, m, s), e.g. 15m, 1h, 1h30m or 2d"


def parse_duration(text: str) -> timedelta:
    """Parse ``1h30m``-style text; raise ValueError saying how to write it when it is not one."""
    cleaned = text.strip().lower()
    match = _PATTERN.match(cleaned)
    if not cleaned or match is None:
        raise ValueError(f"{text!r} is not a duration: {_HINT}")
    pairs = zip(match.groups(), _UNITS, strict=True)
    seconds = sum(int(part) * unit for part, (_, unit) in pairs if part)
    if seconds <= 0:
        raise ValueError(f"{text!r} is zero: an SLA target must be longer than 0, e.g. 15m")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest ``1h30m`` form of a duration, so a dumped playbook reads like the original."""
    remaining = int(value.total_seconds())
    parts = []
    for suffix, unit in _UNITS[1:]:  # weeks read worse than days in an SLA, so stop at days
        count, remaining = divmod(remaining, unit)
        if count:
            parts.append(f"{count}{suffix}")
    return "".join(parts) or "0s"


def _coerce(value: Any) -> Any:
    """Accept text (or a ready ``timedelta``); refuse a bare number: it has no unit."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, str):
        return parse_duration(value)
    raise ValueError(f"{value!r} is not a duration: {_HINT}")


Duration = Annotated[
    timedelta,
    BeforeValidator(_coerce),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": DURATION_REGEX, "examples": ["15m", "1h30m"]}),
]
"""A pydantic field type: ``15m`` in YAML, ``timedelta`` in Python, a pattern in the JSON Schema."""
