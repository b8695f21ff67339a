"""Load a playbook file: YAML with positions, model validation, cross-checks, template renders.

Every stage adds to one list of problems, each with file:line:column, so ``crisiscast validate``
shows everything wrong at once and never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from crisiscast.errors import PlaybookError, Problem
from crisiscast.playbook.checks import cross_checks
from crisiscast.playbook.locate import (
    MAX_NODES,
    Finding,
    Spot,
    build_index,
    format_path,
    problem_for,
    pydantic_findings,
    too_big,
)
from crisiscast.playbook.params import sample_params
from crisiscast.playbook.render import template_findings
from crisiscast.playbook.schema import Playbook

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_YAML_HINT = (
    "check the indentation, and quote values that contain ': ' or start with "
    "{ [ * & ! | > ' \" % @ or `"
)


def load_playbook(path: str | Path) -> Playbook:
    """Read, validate and test-render a playbook; raise PlaybookError listing every problem."""
    file = str(path)
    text = _read(file)
    data, spots, problems = parse_yaml(file, text)
    if data is None:
        raise PlaybookError(problems)
    try:
        playbook = Playbook.model_validate(data)
    except ValidationError as exc:
        problems += [problem_for(file, spots, f) for f in pydantic_findings(exc, Playbook)]
        raise PlaybookError(_sorted(problems)) from None
    playbook._source = file
    playbook._spots = spots
    findings: list[Finding] = cross_checks(playbook)
    findings += template_findings(playbook, sample_params(playbook))
    problems += [problem_for(file, spots, finding) for finding in findings]
    if problems:
        raise PlaybookError(_sorted(problems))
    return playbook


def _sorted(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.line or 0, p.column or 0, p.path))


def _read(file: str) -> str:
    path = Path(file)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        message = (
            "file not found: check the path (`crisiscast init DIR` copies the example "
            "playbooks into DIR to start from)"
        )
    except IsADirectoryError:
        message = "is a directory: give a playbook file, e.g. playbooks/saas-outage.yaml"
    except UnicodeDecodeError as exc:
        message = f"not UTF-8 text (byte {exc.start}): save the file as UTF-8"
    except OSError as exc:
        message = f"cannot be read: {exc.strerror}"
    raise PlaybookError([Problem(file, None, None, "", message)])


def parse_yaml(
    file: str, text: str
) -> tuple[dict[str, Any] | None, dict[Any, Spot], list[Problem]]:
    """The document as data, its key-path index, and problems (syntax, duplicates, not a mapping).

    Data is None when the file cannot be used at all; duplicate keys are reported and, as
    YAML does, the last occurrence is kept, so validation can go on and find more.
    """
    try:
        loader = _Loader(text)  # the pure-Python reader checks the characters here
    except yaml.reader.ReaderError as exc:
        return None, {}, [_character_problem(file, text, exc)]
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        return None, {}, [_syntax_problem(file, exc)]
    except yaml.reader.ReaderError as exc:
        return None, {}, [_character_problem(file, text, exc)]
    finally:
        loader.dispose()
    if node is None or not isinstance(data, dict):
        kind = "empty" if node is None else f"a {type(data).__name__}"
        line = node.start_mark.line + 1 if node is not None else 1
        message = f"the top level is {kind}; a playbook is a mapping starting with `id:`, `title:`"
        return None, {}, [Problem(file, line, 1, "", message)]
    if too_big(node):
        message = f"the document expands to more than {MAX_NODES} values (nested anchors/aliases?)"
        return None, {}, [Problem(file, 1, 1, "", f"{message}: write the playbook out plainly")]
    spots, duplicates = build_index(node)
    problems = [
        Problem(
            file,
            key.start_mark.line + 1,
            key.start_mark.column + 1,
            format_path(path),
            f"duplicate key {path[-1]!r} (first at {first}): YAML keeps only the last one; "
            "remove or rename one",
        )
        for path, key, first in duplicates
    ]
    return data, spots, problems


def _character_problem(file: str, text: str, exc: yaml.reader.ReaderError) -> Problem:
    """A character YAML does not allow (NUL, other control characters), at its line:column."""
    position = min(max(exc.position, 0), len(text))
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    char = text[position] if position < len(text) else ""
    code = f"U+{ord(char):04X}" if char else repr(exc.character)
    return Problem(
        file, line, column, "",
        f"character {code} is not allowed in YAML ({exc.reason}): delete it, or write it as an "
        "escape such as \\x00 inside a double-quoted string",
    )  # fmt: skip


def _syntax_problem(file: str, exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    what = " ".join(part for part in (exc.context, exc.problem) if part)
    line = mark.line + 1 if mark else None
    column = mark.column + 1 if mark else None
    return Problem(file, line, column, "", f"YAML syntax error: {what}; {_YAML_HINT}")
