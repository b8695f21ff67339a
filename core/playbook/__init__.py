"""Playbooks: the YAML format, its validation with precise locations, and template rendering.

load_playbook(path)               validate + test-render; PlaybookError lists every problem
playbook_json_schema()            JSON Schema for editors
resolve_params(playbook, raw)     ``--param key=value`` strings -> typed values
render_announcement / render_all  messages per channel and language
"""

from __future__ import annotations

from typing import Any

from crisiscast.playbook.durations import format_duration, parse_duration
from crisiscast.playbook.load import load_playbook
from crisiscast.playbook.params import resolve_params, sample_params
from crisiscast.playbook.render import (
    RenderedMessage,
    render_all,
    render_announcement,
    render_title,
)
from crisiscast.playbook.schema import (
    Announcement,
    Playbook,
    Route,
    Severity,
    SeverityLevel,
    Signal,
)


def playbook_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the playbook format, for completion in editors."""
    schema = Playbook.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://crisiscast.example.org/schema/playbook.json"
    return schema


__all__ = [
    "Announcement",
    "Playbook",
    "RenderedMessage",
    "Route",
    "Severity",
    "SeverityLevel",
    "Signal",
    "format_duration",
    "load_playbook",
    "parse_duration",
    "playbook_json_schema",
    "render_all",
    "render_announcement",
    "render_title",
    "resolve_params",
    "sample_params",
]
