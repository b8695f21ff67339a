"""Who a launch or update reaches, as form fields: contact lists, a filter, an area, everyone,
or a contacts CSV on the server; and the posted form back into the API's target.

``read_target`` is pure apart from reading the area's inputs (``areas.area_option``), so a
wrong circle or polygon is named on its own field. The target is the one ``LaunchBody``
checks, so the console reaches exactly whom the API and the CLI would.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from crisiscast.errors import ConfigError
from crisiscast.incidents.audience.areas import area_option

LIST_PREFIX = "list."
TEXT_FIELDS = ("filter", "circle", "polygon", "area_codes")


@dataclass(frozen=True)
class ListChoice:
    """A stored contact list as a checkbox: its name and how many it holds."""

    name: str
    members: int


def read_target(
    form: Mapping[str, str], lists: Sequence[ListChoice]
) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """The target the form asks for (None: nothing chosen, so the default applies) and the
    errors by field name."""
    errors: dict[str, str] = {}
    known = {c.name for c in lists}
    chosen = [n[len(LIST_PREFIX) :] for n, v in form.items() if n.startswith(LIST_PREFIX) and v]
    unknown = [n for n in chosen if n not in known]
    if unknown:
        errors["lists"] = (
            f"Contact lists: no list named {', '.join(unknown)}; choose from the list."
        )
    target: dict[str, Any] = {}
    if chosen and not unknown:
        target["lists"] = [c.name for c in lists if c.name in chosen]
    if form.get("filter", "").strip():
        target["filter"] = form["filter"].strip()
    try:
        area = area_option(
            circles=[form["circle"]] if form.get("circle", "").strip() else [],
            polygons=[form["polygon"]] if form.get("polygon", "").strip() else [],
            codes=form.get("area_codes", "").split(),
        )
    except ConfigError as exc:
        field = "polygon" if "polygon" in str(exc) else "circle"
        if "area code" in str(exc):
            field = "area_codes"
        errors[field] = f"Area: {exc}"
        area = None
    if area is not None:
        target["area"] = area
    if form.get("everyone") == "true":
        if target:
            errors["everyone"] = (
                "Everyone reaches every contact: untick it, or clear the lists, filter and area."
            )
        target = {"everyone": True}
    return (target or None), errors


def audience_html(
    form: Mapping[str, str],
    lists: Sequence[ListChoice],
    errors: Mapping[str, str],
    *,
    for_update: bool = False,
) -> str:
    """The audience fieldset: lists, filter, area and everyone (and for a launch, the
    contacts CSV and its region), each with its hint and error."""
    default = "the launch's audience" if for_update else "the playbook's audiences' lists"
    boxes = "".join(
        f'<div class="check"><input type="checkbox" id="list-{i}" name="{LIST_PREFIX}'
        f'{escape(c.name)}" value="yes"{" checked" if form.get(LIST_PREFIX + c.name) else ""}>'
        f' <label for="list-{i}">{escape(c.name)} ({c.members:,} contacts)</label></div>'
        for i, c in enumerate(lists)
    )
    lists_part = (
        f'<fieldset id="lists"{_invalid(errors, "lists")}><legend>Contact lists</legend>'
        f"{_error(errors, 'lists')}{boxes}</fieldset>"
        if lists
        else "<p>No contact list is stored yet: import one with "
        "<code>crisiscast contacts import</code>, or name a contacts CSV below.</p>"
    )
    fields = [
        _text(
            form,
            errors,
            "filter",
            "Filter",
            "Contact fields, e.g. language=th,tag=elderly; a saved filter by its name.",
        ),
        _text(
            form,
            errors,
            "circle",
            "Area: circle",
            "Latitude,longitude and radius in km, e.g. 13.75,100.5 5.",
        ),
        _text(
            form,
            errors,
            "polygon",
            "Area: polygon",
            "CAP pairs latitude,longitude, first pair repeated last.",
        ),
        _text(form, errors, "area_codes", "Area: codes", "Codes separated by spaces, e.g. TH-10."),
    ]
    everyone = (
        '<div class="check"><input type="checkbox" id="everyone" name="everyone" value="true"'
        f"{' checked' if form.get('everyone') == 'true' else ''}{_described(errors, 'everyone')}>"
        ' <label for="everyone">Everyone in the directory</label>'
        f"{_error(errors, 'everyone')}</div>"
    )
    csv = (
        ""
        if for_update
        else _text(
            form,
            errors,
            "audience",
            "Contacts CSV on the server",
            "A file path as the server sees it; imported onto its own list.",
        )
        + _text(
            form,
            errors,
            "default_region",
            "Region of national numbers",
            "ISO code, e.g. TH for 081 234 5678.",
            default="US",
        )
    )
    return (
        '<fieldset id="audience"><legend>Audience</legend>'
        f'<p class="hint">Nothing chosen: {default}.</p>'
        f"{lists_part}{''.join(fields)}{everyone}{csv}</fieldset>"
    )


def _described(errors: Mapping[str, str], name: str, hint: bool = False) -> str:
    ids = ([f"{name}-hint"] if hint else []) + ([f"{name}-error"] if name in errors else [])
    out = f' aria-describedby="{" ".join(ids)}"' if ids else ""
    return out + (' aria-invalid="true"' if name in errors else "")


def _invalid(errors: Mapping[str, str], name: str) -> str:
    return f' aria-describedby="{name}-error"' if name in errors else ""


def _error(errors: Mapping[str, str], name: str) -> str:
    text = errors.get(name)
    return f'<span class="field-error" id="{name}-error">{escape(text)}</span>' if text else ""


def _text(
    form: Mapping[str, str],
    errors: Mapping[str, str],
    name: str,
    label: str,
    hint: str,
    default: str = "",
) -> str:
    value = form.get(name, default) if form else default
    return (
        f'<label for="{name}">{escape(label)}</label>'
        f'<span class="hint" id="{name}-hint">{escape(hint)}</span>{_error(errors, name)}'
        f'<input type="text" id="{name}" name="{name}" value="{escape(value)}"'
        f"{_described(errors, name, hint=True)}>"
    )
