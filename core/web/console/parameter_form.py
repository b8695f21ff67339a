"""A playbook's parameters as form fields, and the posted form back into parameters.

Pure functions, so what a commander may type and what they are told when it is wrong are
tested without a browser. Each parameter is posted as ``param.<name>``; every value is
checked with the playbook's own converter (``playbook.values.convert``), so the console
accepts exactly what ``crisiscast launch --param`` accepts. Errors name the field, the
problem and an example; what was typed is kept, so nothing is lost on a second try.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from html import escape

from crisiscast.playbook.schema import Parameter
from crisiscast.playbook.values import convert

PREFIX = "param."
MAX_VALUE = 2000  # a parameter is a name, a number or a sentence, never a document


@dataclass(frozen=True)
class FormField:
    """One input on the form: what it is called, how it is typed, what it holds now."""

    name: str  # the parameter's name (posted as PREFIX + name)
    kind: str  # text, integer, number, boolean, datetime, choice
    label: str
    hint: str
    required: bool
    value: str  # what the field shows: typed before, else the default, else empty
    choices: tuple[str, ...] = ()

    @property
    def input_name(self) -> str:
        return PREFIX + self.name

    @property
    def input_id(self) -> str:
        return "param-" + self.name


def _shown(value: object) -> str:
    """A YAML default as the text a field shows (booleans as true/false, times in ISO)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _hint(parameter: Parameter) -> str:
    parts = [parameter.description.strip()] if parameter.description.strip() else []
    if parameter.type == "datetime":
        parts.append("ISO 8601, e.g. 2026-03-01T14:30:00+07:00; without an offset it is UTC.")
    elif parameter.type == "integer":
        parts.append("A whole number.")
    elif parameter.type == "number":
        parts.append("A number, e.g. 2.5.")
    if parameter.example is not None and parameter.type not in ("boolean", "choice"):
        parts.append(f"Example: {_shown(parameter.example)}.")
    return " ".join(parts)


def form_fields(
    parameters: Mapping[str, Parameter], typed: Mapping[str, str] | None = None
) -> list[FormField]:
    """The fields for a playbook's parameters, in the playbook's order, showing what was
    ``typed`` (the posted form, names with PREFIX) or else each default."""
    typed = typed or {}
    fields = []
    for name, parameter in parameters.items():
        if parameter.type == "boolean":
            value = "true" if typed.get(PREFIX + name) == "true" else "false"
            if not typed:
                value = "true" if parameter.default is True else "false"
        else:
            default = _shown(parameter.default)
            value = typed.get(PREFIX + name, default) if typed else default
        fields.append(
            FormField(
                name=name,
                kind="text" if parameter.type == "string" else parameter.type,
                label=name.replace("_", " ").capitalize(),
                hint=_hint(parameter),
                required=parameter.required,
                value=value,
                choices=tuple(parameter.choices or ()),
            )
        )
    return fields


def read_params(
    parameters: Mapping[str, Parameter], form: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """The posted form as ``--param`` strings (empty optional fields left out, so their
    default applies), and the errors by parameter name; a checkbox not posted is false."""
    params: dict[str, str] = {}
    errors: dict[str, str] = {}
    for name, parameter in parameters.items():
        label = name.replace("_", " ").capitalize()
        raw = form.get(PREFIX + name, "")
        if parameter.type == "boolean":
            params[name] = "true" if raw == "true" else "false"
            continue
        text = raw.strip()
        if len(text) > MAX_VALUE:
            errors[name] = f"{label}: {len(text):,} characters; keep it under {MAX_VALUE:,}."
            continue
        if not text:
            if parameter.required:
                errors[name] = f"{label} is required: fill it in."
            continue
        try:
            convert(parameter.type, text, parameter.choices)
        except ValueError as exc:
            errors[name] = f"{label}: {exc}."
            continue
        params[name] = text
    return params, errors


def field_html(field: FormField, error: str | None = None) -> str:
    """One labelled input with its hint and error, tied to it by ``aria-describedby``."""
    ident = escape(field.input_id)
    name = escape(field.input_name)
    hint_id, error_id = f"{ident}-hint", f"{ident}-error"
    described = " ".join(i for i, present in ((hint_id, field.hint), (error_id, error)) if present)
    aria = f' aria-describedby="{described}"' if described else ""
    aria += ' aria-invalid="true"' if error else ""
    aria += ' aria-required="true"' if field.required else ""
    hint = f'<span class="hint" id="{hint_id}">{escape(field.hint)}</span>' if field.hint else ""
    problem = f'<span class="field-error" id="{error_id}">{escape(error)}</span>' if error else ""
    needed = " (required)" if field.required else ""
    if field.kind == "boolean":
        checked = " checked" if field.value == "true" else ""
        return (
            f'<div class="check"><input type="checkbox" id="{ident}" name="{name}" '
            f'value="true"{checked}{aria}> <label for="{ident}">{escape(field.label)}</label>'
            f"{hint}{problem}</div>"
        )
    label = f'<label for="{ident}">{escape(field.label)}{needed}</label>'
    if field.kind == "choice":
        empty = "Choose one" if field.required else "None"
        options = "".join(
            f'<option value="{escape(c)}"{" selected" if c == field.value else ""}>'
            f"{escape(c or empty)}</option>"
            for c in ("", *field.choices)
            if c or not field.value
        )
        return f'{label}{hint}{problem}<select id="{ident}" name="{name}"{aria}>{options}</select>'
    mode = {"integer": ' inputmode="numeric"', "number": ' inputmode="decimal"'}.get(field.kind, "")
    return (
        f"{label}{hint}{problem}"
        f'<input type="text" id="{ident}" name="{name}" value="{escape(field.value)}"'
        f"{mode}{aria}>"
    )
