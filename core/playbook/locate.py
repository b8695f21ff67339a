"""Where things are in the YAML: key paths mapped to 1-based line/column, and findings to Problems.

Validation works on plain data and pydantic models, which have forgotten the source text; this
module keeps an index from key path (``("severity", "levels", 1)``) to position, built from
yaml's node tree, so every problem can point at the line to edit.
"""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from crisiscast.errors import Problem

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Spot:
    """Position of one key (or sequence item) and of its value; all 1-based."""

    line: int
    column: int
    value_line: int
    value_column: int
    block: bool  # value is a ``|`` or ``>`` block scalar: its text starts on the next line


@dataclass(frozen=True)
class Finding:
    """A problem at a key path, before it has been given a line number."""

    path: Path
    message: str
    template_line: int | None = None  # line inside a template, for Jinja syntax errors


MAX_NODES = 50_000


def too_big(root: yaml.Node, limit: int = MAX_NODES) -> bool:
    """True when the document expands to more than ``limit`` values.

    Aliases are shared in memory but expanded by every walk over the data, so a few lines of
    nested anchors can stand for billions of values; refuse those before validating them.
    """
    count = 0
    stack = [root]
    while stack:
        node = stack.pop()
        count += 1
        if count > limit:
            return True
        if isinstance(node, yaml.MappingNode):
            stack.extend(value for pair in node.value for value in pair)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return False


def build_index(root: yaml.Node) -> tuple[dict[Path, Spot], list[tuple[Path, yaml.Node, str]]]:
    """Index every key path of the document; also return duplicate keys (path, node, first line)."""
    index: dict[Path, Spot] = {(): _spot(root, root)}
    duplicates: list[tuple[Path, yaml.Node, str]] = []
    stack: list[tuple[Path, yaml.Node]] = [((), root)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key_node, value_node in node.value:
                key = str(key_node.value)
                if key in seen:
                    duplicates.append(((*path, key), key_node, f"line {seen[key]}"))
                    continue
                seen[key] = key_node.start_mark.line + 1
                index[(*path, key)] = _spot(key_node, value_node)
                stack.append(((*path, key), value_node))
        elif isinstance(node, yaml.SequenceNode):
            for position, item in enumerate(node.value):
                index[(*path, position)] = _spot(item, item)
                stack.append(((*path, position), item))
    return index, duplicates


def _spot(key_node: yaml.Node, value_node: yaml.Node) -> Spot:
    style = getattr(value_node, "style", None)
    return Spot(
        line=key_node.start_mark.line + 1,
        column=key_node.start_mark.column + 1,
        value_line=value_node.start_mark.line + 1,
        value_column=value_node.start_mark.column + 1,
        block=style in ("|", ">"),
    )


def format_path(path: Path) -> str:
    """``("severity", "levels", 1, "name")`` -> ``severity.levels[1].name``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def problem_for(file: str, index: dict[Path, Spot], finding: Finding) -> Problem:
    """Place a finding at the deepest part of its path that exists in the document."""
    path = finding.path
    depth = len(path)
    while depth > 0 and path[:depth] not in index:
        depth -= 1
    spot = index.get(path[:depth])
    line = column = None
    if spot is not None:
        line, column = spot.line, spot.column
        if finding.template_line is not None:
            line, column = spot.value_line, spot.value_column
            if spot.block:  # block text starts on the line after ``|``, indented under the key
                line, column = line + finding.template_line, spot.column + 2
            else:
                line += finding.template_line - 1
    return Problem(file, line, column, format_path(path), finding.message)


_PATTERN_HINTS = {
    r"^[a-z0-9]+(-[a-z0-9]+)*$": "use lowercase letters, digits and '-', e.g. saas-outage",
    r"^[a-z][a-z0-9_]*$": "use lowercase letters, digits and '_', starting with a letter",
    r"^https?://\S+$": "use a full URL, e.g. https://example.com/help",
    r"^\+[1-9]\d{6,14}$": 'use E.164 form, e.g. "+15005550006" (quoted)',
    r"^[^@\s]+@[^@\s]+\.[^@\s]+$": "use an address like help@example.com",
}


def pydantic_findings(exc: ValidationError, model: type[BaseModel]) -> list[Finding]:
    """Turn pydantic's errors into findings whose messages say what was expected."""
    errors = [
        (tuple(part for part in error["loc"] if part != "[key]"), error)
        for error in exc.errors(include_url=False)
    ]
    unknown = {path for path, error in errors if error["type"] == "extra_forbidden"}
    return [
        Finding(path, _message(error, path, model))
        for path, error in errors
        if not (error["type"] == "missing" and _misspelt(path, unknown))
    ]


def _misspelt(missing: Path, unknown: set[Path]) -> bool:
    """A missing key next to an unknown key that resembles it is one typo: report it once."""
    siblings = [str(path[-1]) for path in unknown if path[:-1] == missing[:-1]]
    return bool(difflib.get_close_matches(str(missing[-1]), siblings, n=1))


def _message(error: Any, path: Path, model: type[BaseModel]) -> str:
    kind, value = error["type"], error.get("input")
    text = str(error["msg"])
    if kind == "missing":
        return f"missing required key {path[-1]!r}: add `{path[-1]}: ...`"
    if kind == "extra_forbidden":
        return _unknown_key(str(path[-1]), _model_at(model, path[:-1]))
    if kind in ("value_error", "assertion_error"):
        return text.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind == "string_type" and not isinstance(value, dict | list):
        return (
            f"expected text, got {value!r}: YAML reads unquoted yes/no/on/off, numbers, dates "
            f'and +phone numbers as other types, so quote it, e.g. "{_as_written(value)}"'
        )
    if kind == "string_pattern_mismatch":
        pattern = error.get("ctx", {}).get("pattern", "")
        return f"{value!r} is not allowed here: {_PATTERN_HINTS.get(pattern, text)}"
    got = "" if isinstance(value, dict | list) else f" (got {value!r})"
    return f"{text}{got}"


def _as_written(value: Any) -> str:
    """Best guess at what the user typed for a value YAML turned into a bool, number or date."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _unknown_key(key: str, model: type[BaseModel] | None) -> str:
    if model is None:
        return f"unknown key {key!r}: remove it"
    allowed = list(model.model_fields)
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown key {key!r}: {hint}expected one of {', '.join(allowed)}"


def _model_at(model: type[BaseModel], path: Path) -> type[BaseModel] | None:
    """The model class that validates the mapping at ``path`` (for listing its allowed keys)."""
    current: Any = model
    for part in path:
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return None
            current = _unwrap(field.annotation, part_is_container=False)
        else:
            current = _unwrap(current, part_is_container=True)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any, part_is_container: bool) -> Any:
    """Step through Optional/Annotated, and into list/dict items when the path indexes them."""
    while True:
        origin = typing.get_origin(annotation)
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if origin is typing.Annotated or origin in (typing.Union, types.UnionType):
            annotation = args[0]
        elif part_is_container and origin in (list, dict):
            return args[-1]
        else:
            return annotation
