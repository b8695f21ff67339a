"""The contact directory's named audiences: lists, saved filters, and the targets they make.

A launch, broadcast or update reaches exactly the target it names: one or more lists, a
filter (``language=th,tag=elderly``), an area (see ``areas``), or, as an explicit choice,
everyone. A target is resolved once, when it is created, into ``target_members`` by one
``INSERT ... SELECT`` in the database: the broadcast's hot path joins that table, it never
evaluates a filter per batch in Python.

Filter expressions: comma-separated terms, all of which must hold; ``|`` separates values any
of which may match; ``!=`` negates a term.

    language=th|lo          the contact's language (as stored: never rewritten)
    tag=elderly             one of the contact's tags
    area=TH-10              one of the contact's area codes
    region=TH               the region its phone number was read in
    list=flood-zone-a       member of that list
    field.ward=3  (or ward=3)  an extra CSV column, exactly
    @night-shift            a saved filter, by name

    select = resolve_target(session, TargetSpec(lists=("flood-zone-a",), filter="tag=elderly"))
    target = create_target(session, spec, incident_id=incident.id, now=now)
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    exists,
    false,
    func,
    insert,
    literal,
    not_,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from crisiscast.errors import ConfigError
from crisiscast.incidents.store.models import (
    Contact,
    ContactList,
    ContactListMember,
    SavedFilter,
    Target,
    TargetMember,
)

DEFAULT_LIST = "default"  # where migration 0007 put the contacts imported before lists
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_TERM = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_.-]*)\s*(!=|=)\s*(.*?)\s*$")
_KEYS = ("language", "tag", "area", "region", "list")
NO_TARGET = (
    "name who this reaches: --list NAME (see `crisiscast lists`), --filter "
    "'language=th,tag=elderly', --audience contacts.csv, or --everyone to reach every contact"
)
# An area selector narrows candidate contact ids to those inside an area (geo targeting):
# (session, the area as stored in the target's spec, a Select of candidate ids) -> ids.
AreaSelector = Callable[[Session, Mapping[str, Any], Select[Any]], Iterable[int]]
AREA_SELECTOR_MODULE = "crisiscast.incidents.audience.area_select"


def check_name(name: str, what: str = "list") -> str:
    """A list or filter name: letters, digits, ``-``, ``_``, ``.``; ConfigError says the fix."""
    if not NAME.match(name):
        raise ConfigError(
            f"{what} name {name!r}: use letters, digits, '-', '_' or '.' (e.g. flood-zone-a)"
        )
    return name


@dataclass(frozen=True)
class TargetSpec:
    """What a commander asked to reach. Empty (no list, filter, area or everyone) is refused."""

    lists: tuple[str, ...] = ()
    filter: str | None = None
    area: Mapping[str, Any] | None = None
    everyone: bool = False

    def __post_init__(self) -> None:
        for name in self.lists:
            check_name(name)
        if self.everyone and (self.lists or self.filter or self.area):
            raise ConfigError(
                "--everyone reaches every contact: give it alone, or name lists/filters instead"
            )

    @property
    def empty(self) -> bool:
        return not (self.lists or self.filter or self.area or self.everyone)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.lists:
            data["lists"] = list(self.lists)
        if self.filter:
            data["filter"] = self.filter
        if self.area:
            data["area"] = dict(self.area)
        if self.everyone:
            data["everyone"] = True
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> TargetSpec:
        data = data or {}
        return cls(
            lists=tuple(data.get("lists") or ()),
            filter=data.get("filter") or None,
            area=data.get("area") or None,
            everyone=bool(data.get("everyone")),
        )

    def describe(self) -> str:
        """How people read it: ``lists flood-zone-a; filter tag=elderly``."""
        if self.everyone:
            return "everyone"
        parts = []
        if self.lists:
            parts.append(f"list{'s' if len(self.lists) > 1 else ''} {', '.join(self.lists)}")
        if self.filter:
            parts.append(f"filter {self.filter}")
        if self.area:
            parts.append(f"area {self.area.get('description') or 'given'}")
        return "; ".join(parts) or "nobody"

    def merged(self, other: TargetSpec) -> TargetSpec:
        """Both selectors' lists; ``other``'s filter and area when it has them."""
        if other.everyone or self.everyone:
            return other if other.everyone else self
        lists = tuple(dict.fromkeys(self.lists + other.lists))
        return TargetSpec(lists, other.filter or self.filter, other.area or self.area)


def require_target(spec: TargetSpec | None) -> TargetSpec:
    """``spec`` when it names someone; else the error that says how to name a target."""
    if spec is None or spec.empty:
        raise ConfigError(f"no target: {NO_TARGET}")
    return spec


# --- lists and saved filters --------------------------------------------------------------


def get_list(session: Session, name: str) -> ContactList:
    row = session.scalar(select(ContactList).where(ContactList.name == name))
    if row is None:
        known = ", ".join(session.scalars(select(ContactList.name).order_by(ContactList.name)))
        raise ConfigError(
            f"no list named {name!r} (lists: {known or 'none yet'}); create one with "
            f"`crisiscast contacts import FILE --list {name}`"
        )
    return row


def ensure_list(
    session: Session, name: str, *, now: datetime, description: str | None = None
) -> ContactList:
    """The list ``name``, created when new."""
    check_name(name)
    row = session.scalar(select(ContactList).where(ContactList.name == name))
    if row is None:
        row = ContactList(name=name, description=description, created_at=now)
        session.add(row)
        session.flush()
    return row


def add_members(session: Session, list_id: int, contact_ids: Sequence[int]) -> None:
    """Put contacts on a list; those already on it stay once."""
    if not contact_ids:
        return
    existing = set(
        session.scalars(
            select(ContactListMember.contact_id).where(
                ContactListMember.list_id == list_id,
                ContactListMember.contact_id.in_(list(contact_ids)),
            )
        )
    )
    new = [{"list_id": list_id, "contact_id": c} for c in dict.fromkeys(contact_ids)
           if c not in existing]  # fmt: skip
    if new:
        session.execute(insert(ContactListMember), new)


def list_counts(session: Session) -> list[tuple[str, int, str | None]]:
    """(name, members, description) of every list, by name."""
    rows = session.execute(
        select(ContactList.name, func.count(ContactListMember.contact_id), ContactList.description)
        .outerjoin(ContactListMember, ContactListMember.list_id == ContactList.id)
        .group_by(ContactList.id, ContactList.name, ContactList.description)
        .order_by(ContactList.name)
    )
    return [(name, int(count), description) for name, count, description in rows]


def save_filter(session: Session, name: str, expression: str, *, now: datetime) -> SavedFilter:
    """Save (or replace) a named filter, checked first."""
    check_name(name, "filter")
    parse_filter(expression, session)
    row = session.scalar(select(SavedFilter).where(SavedFilter.name == name))
    if row is None:
        row = SavedFilter(name=name, expression=expression, created_at=now)
        session.add(row)
    else:
        row.expression = expression
    session.flush()
    return row


def saved_filters(session: Session) -> list[tuple[str, str]]:
    return [
        (f.name, f.expression)
        for f in session.scalars(select(SavedFilter).order_by(SavedFilter.name))
    ]


# --- filters ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    key: str  # language | tag | area | region | list | field.<name>
    values: tuple[str, ...]
    negated: bool = False


def parse_filter(expression: str, session: Session | None = None, _depth: int = 0) -> list[Term]:
    """Terms of a filter expression (see the module doc); ConfigError names the bad term."""
    terms: list[Term] = []
    for raw in (part for part in expression.split(",") if part.strip()):
        part = raw.strip()
        if part.startswith("@"):
            name = part[1:]
            if session is None or _depth > 3:
                raise ConfigError(f"filter {expression!r}: {part} cannot be expanded here")
            saved = session.scalar(select(SavedFilter.expression).where(SavedFilter.name == name))
            if saved is None:
                raise ConfigError(
                    f"filter {expression!r}: no saved filter named {name!r}; save one with "
                    f"`crisiscast filters save {name} 'language=th'`"
                )
            terms += parse_filter(saved, session, _depth + 1)
            continue
        match = _TERM.match(part)
        if not match or not match.group(3):
            raise ConfigError(
                f"filter {expression!r}: {part!r} is not key=value; write e.g. "
                "'language=th,tag=elderly' (keys: language, tag, area, region, list, or a "
                "CSV column such as ward=3)"
            )
        key, op, value = match.group(1).lower(), match.group(2), match.group(3)
        if key not in _KEYS and not key.startswith("field."):
            key = f"field.{key}"
        values = tuple(v.strip() for v in value.split("|") if v.strip())
        if key == "language":
            values = tuple(v.lower().replace("_", "-") for v in values)
        if key == "region":
            values = tuple(v.upper() for v in values)
        terms.append(Term(key, values, op == "!="))
    if not terms:
        raise ConfigError(f"filter {expression!r} is empty; write e.g. 'language=th'")
    return terms


def _json_has(column: Any, value: str, dialect: str) -> ColumnElement[bool]:
    """``value`` is an element of the JSON list ``column`` (tags, area codes)."""
    if dialect == "postgresql":
        return type_coerce(column, JSONB).contains([value])
    each = func.json_each(column).table_valued("value").alias("each")
    return exists(select(literal(1)).select_from(each).where(each.c.value == value))


def _field_is(key: str, value: str, dialect: str) -> ColumnElement[bool]:
    """The extra CSV column ``key`` of the contact is exactly ``value``."""
    if dialect == "postgresql":
        same: ColumnElement[bool] = type_coerce(Contact.fields, JSONB)[key].astext == value
        return same
    path = "$." + json.dumps(key)
    return func.json_extract(Contact.fields, path) == value


def _term_clause(session: Session, term: Term, dialect: str) -> ColumnElement[bool]:
    options: list[ColumnElement[bool]] = []
    for value in term.values:
        if term.key == "language":
            options.append(Contact.language == value)
        elif term.key == "region":
            options.append(Contact.region == value)
        elif term.key == "tag":
            options.append(_json_has(Contact.tags, value, dialect))
        elif term.key == "area":
            options.append(_json_has(Contact.area_codes, value, dialect))
        elif term.key == "list":
            members = select(ContactListMember.contact_id).where(
                ContactListMember.list_id == get_list(session, value).id
            )
            options.append(Contact.id.in_(members))
        else:
            options.append(_field_is(term.key.removeprefix("field."), value, dialect))
    clause = or_(*options) if options else false()
    return not_(clause) if term.negated else clause


def filter_clauses(session: Session, expression: str) -> list[ColumnElement[bool]]:
    dialect = session.get_bind().dialect.name
    terms = parse_filter(expression, session)
    return [_term_clause(session, term, dialect) for term in terms]


# --- targets ------------------------------------------------------------------------------


def resolve_target(session: Session, spec: TargetSpec) -> Select[Any]:
    """The ids of the contacts ``spec`` names by lists and filter (an area narrows them
    further in :func:`create_target`). Unknown lists or bad filters raise ConfigError."""
    require_target(spec)
    query = select(Contact.id)
    if spec.everyone:
        return query
    if spec.lists:
        ids = [get_list(session, name).id for name in spec.lists]
        query = query.where(
            Contact.id.in_(
                select(ContactListMember.contact_id).where(ContactListMember.list_id.in_(ids))
            )
        )
    if spec.filter:
        query = query.where(and_(*filter_clauses(session, spec.filter)))
    return query


def area_selector() -> AreaSelector:
    """The geo-targeting selector, from ``audience.area_select`` (``select_contact_ids``)."""
    try:
        module = importlib.import_module(AREA_SELECTOR_MODULE)
    except ImportError:
        raise ConfigError("area targets are not available in this version") from None
    selector: AreaSelector = module.select_contact_ids
    return selector


def create_target(
    session: Session,
    spec: TargetSpec,
    *,
    incident_id: int | None,
    now: datetime,
    area: AreaSelector | None = None,
) -> Target:
    """Record ``spec`` and resolve it once into ``target_members`` (none when everyone)."""
    query = resolve_target(session, spec)
    target = Target(
        incident_id=incident_id, spec=spec.to_json(), description=spec.describe(),
        everyone=spec.everyone, created_at=now,
    )  # fmt: skip
    session.add(target)
    session.flush()
    if spec.everyone:
        target.size = int(session.scalar(select(func.count(Contact.id))) or 0)
        return target
    if spec.area:
        selector = area or area_selector()
        batch: list[dict[str, int]] = []
        size = 0
        for contact_id in selector(session, spec.area, query):
            batch.append({"target_id": target.id, "contact_id": int(contact_id)})
            if len(batch) >= 10_000:
                session.execute(insert(TargetMember), batch)
                size, batch = size + len(batch), []
        if batch:
            session.execute(insert(TargetMember), batch)
        target.size = size + len(batch)
        return target
    chosen = query.with_only_columns(literal(target.id), Contact.id)
    session.execute(insert(TargetMember).from_select(["target_id", "contact_id"], chosen))
    target.size = int(
        session.scalar(
            select(func.count())
            .select_from(TargetMember)
            .where(TargetMember.target_id == target.id)
        )
        or 0
    )
    return target


def target_members(session: Session, target: Target) -> Select[Any]:
    """The contact ids a target reaches, as a query."""
    if target.everyone:
        return select(Contact.id)
    return select(TargetMember.contact_id).where(TargetMember.target_id == target.id)
