"""Parameters at launch: ``--param key=value`` strings to typed values, with defaults applied."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from crisiscast.errors import PlaybookError, Problem
from crisiscast.playbook.locate import Finding
from crisiscast.playbook.schema import Parameter, Playbook
from crisiscast.playbook.values import convert, sample


def resolve_params(playbook: Playbook, raw: Mapping[str, str]) -> dict[str, Any]:
    """Typed values for every parameter; PlaybookError lists every bad, missing or unknown one.

    An optional parameter with no default and no value resolves to None, so a template can
    test it with ``{% if name %}``.
    """
    problems: list[Problem] = []
    resolved: dict[str, Any] = {}
    for name in raw:
        if name not in playbook.parameters:
            problems.append(playbook.problem(Finding(("parameters",), _unknown(playbook, name))))
    for name, parameter in playbook.parameters.items():
        try:
            resolved[name] = _resolve_one(name, parameter, raw)
        except ValueError as exc:
            problems.append(playbook.problem(Finding(("parameters", name), str(exc))))
    if problems:
        raise PlaybookError(problems)
    return resolved


def _resolve_one(name: str, parameter: Parameter, raw: Mapping[str, str]) -> Any:
    if name in raw:
        try:
            return convert(parameter.type, raw[name], parameter.choices)
        except ValueError as exc:
            raise ValueError(
                f"--param {name}: {exc}; pass it as --param {_example(name, parameter)}"
            ) from None
    if parameter.default is not None:
        return convert(parameter.type, parameter.default, parameter.choices)
    if parameter.required:
        raise ValueError(
            f"required parameter {name!r} ({parameter.type}) was not given: "
            f"pass it as --param {_example(name, parameter)}"
        )
    return None


def _unknown(playbook: Playbook, name: str) -> str:
    known = list(playbook.parameters)
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    takes = ", ".join(known) if known else "no parameters"
    return f"unknown parameter {name!r}: {hint}this playbook takes {takes}"


def _example(name: str, parameter: Parameter) -> str:
    """``service="Payments API"``: how to write this parameter on a command line."""
    value = parameter.example if parameter.example is not None else parameter.default
    if value is None:
        value = sample(parameter.type, name, parameter.choices)
    if hasattr(value, "isoformat"):
        value = value.isoformat()
    if isinstance(value, bool):
        value = str(value).lower()
    text = str(value)
    return f'{name}="{text}"' if (" " in text or not text) else f"{name}={text}"


def sample_params(playbook: Playbook) -> dict[str, Any]:
    """Values to render templates with at validate time: example, else default, else a sample."""
    values: dict[str, Any] = {}
    for name, parameter in playbook.parameters.items():
        value = parameter.example if parameter.example is not None else parameter.default
        if value is None:
            value = sample(parameter.type, name, parameter.choices)
        values[name] = convert(parameter.type, value, parameter.choices)
    return values
