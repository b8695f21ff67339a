"""Audiences: import contacts from a CSV file, checked row by row, deduplicated, streamed.

A commander imports the list the organisation already has, in a hurry. So a bad row never
stops the import: it is reported with its line number, the field and the fix, and every good
row goes in. Phone numbers are normalised to E.164 with ``phonenumbers`` (a national number
needs the ``default_region`` it was written in, e.g. ``TH`` for ``081 234 5678``); emails are
checked for shape and lower-cased; the same phone or email twice is imported once.

Columns (header row required, case-insensitive, any order): ``phone`` (or ``mobile``),
``email``, ``name``, ``language`` (or ``lang``), ``audience``, ``tags`` (``;``-separated),
``latitude``/``longitude`` (or ``lat``/``lon``), ``area_codes`` (or ``area``; ``;``-separated).
Any other column is kept as a field of the contact (``ward=3``: filter on it later). A row needs
a phone or an email.

A contact's language is what the row says (``th_TH`` is stored as ``th``), never rewritten to
fit a playbook: a playbook without it sends its fallback language, and preview says how many.

The file is checked whole before anything is stored (:func:`check_contacts_file`: readable,
UTF-8, a header naming phone or email, a known region), so a bad file fails the command before
an incident is opened. The import streams in batches inside the caller's transaction: an
interrupted import (Ctrl-C) rolls back whole. Duplicates within the file are found by the
database (a conflict with a contact this import added), so memory stays bounded.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import phonenumbers
from sqlalchemy import delete, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crisiscast.errors import ConfigError
from crisiscast.incidents.audience.directory import add_members, ensure_list
from crisiscast.incidents.store.models import Contact, ContactListMember

_ALIASES = {
    "mobile": "phone", "lang": "language", "e-mail": "email", "lat": "latitude",
    "lon": "longitude", "lng": "longitude", "area": "area_codes", "areas": "area_codes",
    "tag": "tags",
}  # fmt: skip
_KNOWN = {
    "phone", "email", "name", "language", "audience", "tags", "latitude", "longitude",
    "area_codes",
}  # fmt: skip
_LIST_SPLIT = re.compile(r"[;|]")
# RFC 5322 dot-atom addresses (o'brien@, first.last+tag@, and any atext such as ! # $ % & * /
# = ? ^ ` { | } ~), non-ASCII letters as RFC 6531 allows. Never CR/LF, spaces, < > " , ; ( )
# or a backslash: nothing that could end a header or add a recipient where it is used.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff]+"
_LABEL = r"[^\W_](?:[\w-]{0,61}[^\W_])?"
_TLD = r"(?:[^\W\d_]{2,63}|xn--[a-z0-9-]{1,59})"
_EMAIL = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*@(?:{_LABEL}\.)+{_TLD}")
_AUDIENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
INSERT_BATCH = 5_000


@dataclass(frozen=True, slots=True)
class ContactRow:
    """One accepted row, normalised: E.164 phone, lower-case email, a known language."""

    line: int
    phone: str | None
    email: str | None
    name: str | None
    language: str | None
    audience: str
    tags: tuple[str, ...] = ()
    latitude: float | None = None
    longitude: float | None = None
    area_codes: tuple[str, ...] = ()
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RowProblem:
    """A row that was not imported (or imported with a change): where, what, and the fix."""

    line: int
    field: str
    problem: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.problem}"


@dataclass
class ImportReport:
    """What an import did; ``rejected`` and ``notes`` carry line numbers, never the values."""

    source: str
    list_name: str | None = None
    rejects_path: str | None = None
    rows: int = 0
    imported: int = 0
    already_known: int = 0
    duplicates: list[RowProblem] = field(default_factory=list)
    rejected: list[RowProblem] = field(default_factory=list)
    notes: list[RowProblem] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the CLI: counts only, no personal data."""
        into = f" into list {self.list_name}" if self.list_name else ""
        return (
            f"{self.source}: {self.rows} rows, {self.imported} imported{into}, "
            f"{self.already_known} already known, {len(self.duplicates)} duplicates, "
            f"{len(self.rejected)} rejected"
        )

    def problems(self) -> list[RowProblem]:
        """Rejected rows and duplicates, by line."""
        return sorted(self.rejected + self.duplicates, key=lambda p: p.line)


def normalize_phone(raw: str, default_region: str) -> str:
    """E.164 form of ``raw``; ValueError says why it is not a valid number."""
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(
            f"not a phone number ({str(exc.args[0] if exc.args else exc).rstrip('.')}): "
            f"write it as +<country code><number>, or nationally for region {default_region}"
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(
            "not a valid number for its country: check the digits and the country code "
            f"(national numbers are read as region {default_region})"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(raw: str) -> str:
    """Lower-cased address; ValueError when it cannot be an address (the CSV import and the
    public reply form share this one check)."""
    email = raw.strip().lower()
    local = email.rpartition("@")[0]
    if (
        len(local) > 64
        or len(email) > 254
        or not _EMAIL.fullmatch(email)
        or any(c.isspace() or not c.isprintable() for c in email)  # U+2028, NEL, ...
    ):
        raise ValueError("not an email address: expected name@example.org")
    return email


def _header(row: Sequence[str], source: str) -> list[str]:
    names = [_ALIASES.get(n.strip().lower(), n.strip().lower()) for n in row]
    if not {"phone", "email"} & set(names):
        raise ConfigError(
            f"{source}:1: missing columns: the header has no 'phone' or 'email' column (found: "
            f"{', '.join(n for n in names if n) or 'nothing'}); the first row must name "
            "the columns, e.g. name,phone,email,language"
        )
    return names


def check_region(default_region: str) -> str:
    """The upper-cased ISO 3166 region; ConfigError with the fix when it is not one."""
    region = default_region.strip().upper()
    if phonenumbers.country_code_for_region(region) == 0:
        raise ConfigError(
            f"--region {default_region!r} is not a region code: use an ISO 3166 code "
            "such as US, GB, TH or LA"
        )
    return region


def check_contacts_file(path: str | Path, default_region: str) -> None:
    """Fail before anything happens: a missing file, not UTF-8 (with the line), a header
    without phone or email, or an unknown region. Streams: memory is one line at a time."""
    source = str(path)
    check_region(default_region)
    try:
        handle = Path(path).open("rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise ConfigError(
            f"{source}: cannot read the contacts file ({exc.strerror}); give the path of a CSV file"
        ) from None
    with handle:
        first = b""
        for line, raw in enumerate(handle, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                raise ConfigError(
                    f"{source}:{line}: not UTF-8 text; save the file as CSV UTF-8 (in a "
                    "spreadsheet: Save As, 'CSV UTF-8') and import it again"
                ) from None
            if line == 1:
                first = raw
    if not first.strip():
        raise ConfigError(f"{source}: the file is empty; give a header row and contacts")
    header = next(csv.reader([first.decode("utf-8-sig")]))
    _header(header, source)


def _split(value: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v.strip() for v in _LIST_SPLIT.split(value) if v.strip()))


def _coordinate(raw: str, low: float, high: float) -> float | None:
    if not raw:
        return None
    number = float(raw)  # ValueError: caller reports
    if not math.isfinite(number) or not low <= number <= high:
        raise ValueError(f"must be between {low:g} and {high:g}")
    return number


def _place(values: dict[str, str], line: int) -> tuple[float | None, float | None] | RowProblem:
    try:
        latitude = _coordinate(values.get("latitude", ""), -90, 90)
    except ValueError:
        return RowProblem(line, "latitude", "write decimal degrees between -90 and 90")
    try:
        longitude = _coordinate(values.get("longitude", ""), -180, 180)
    except ValueError:
        return RowProblem(line, "longitude", "write decimal degrees between -180 and 180")
    if (latitude is None) != (longitude is None):
        return RowProblem(line, "latitude/longitude", "give both or neither")
    return latitude, longitude


def _check_row(
    line: int,
    values: dict[str, str],
    *,
    default_region: str,
    languages: Sequence[str],
    notes: list[RowProblem],
    extras: dict[str, str] | None = None,
) -> ContactRow | RowProblem:
    """Validate one row; a problem names the field and the fix, never the value."""
    extras = extras or {}
    raw_phone, raw_email = values.get("phone", ""), values.get("email", "")
    if not raw_phone and not raw_email:
        return RowProblem(line, "phone/email", "neither is given: a contact needs one of them")
    try:
        phone = normalize_phone(raw_phone, default_region) if raw_phone else None
    except ValueError as exc:
        return RowProblem(line, "phone", str(exc))
    try:
        email = normalize_email(raw_email) if raw_email else None
    except ValueError as exc:
        return RowProblem(line, "email", str(exc))
    audience = values.get("audience") or "all"
    if not _AUDIENCE.match(audience):
        return RowProblem(line, "audience", "use letters, digits, '-' or '_' (e.g. residents)")
    place = _place(values, line)
    if isinstance(place, RowProblem):
        return place
    # Kept as the file says (its primary subtag: lo-LA -> lo), never fitted to the playbook.
    language = (values.get("language") or "").strip().lower().replace("_", "-").split("-")[0]
    if language and not language.isalpha():
        return RowProblem(line, "language", "write a language code such as en, th or lo")
    if language and languages and language not in languages:
        notes.append(
            RowProblem(
                line,
                "language",
                f"{language!r} is not one of {', '.join(languages)}; kept, and sent the "
                f"fallback {languages[0]} by this playbook",
            )
        )
    return ContactRow(
        line, phone, email, values.get("name") or None, language or None, audience,
        tags=_split(values.get("tags", "")), latitude=place[0], longitude=place[1],
        area_codes=_split(values.get("area_codes", "")), fields=extras,
    )  # fmt: skip


def parse_contacts(
    lines: Iterable[str],
    *,
    default_region: str,
    languages: Sequence[str],
    source: str = "<contacts>",
    report: ImportReport | None = None,
    dedupe: bool = True,
    on_reject: Callable[[RowProblem, list[str]], None] | None = None,
) -> Iterator[ContactRow]:
    """Yield the good, first-seen rows of a CSV; record rejected rows and duplicates in ``report``.

    Streams: memory holds the seen phones/emails for dedupe (``dedupe=False``: nothing, the
    database finds duplicates), never the whole file. ``languages`` (the playbook's, default
    first; may be empty) only add notes: a contact's language is kept as the file says.
    """
    report = report if report is not None else ImportReport(source)
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        raise ConfigError(f"{source}: the file is empty; give a header row and contacts")
    names = _header(header, source)
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        report.rows += 1
        values = {n: c.strip() for n, c in zip(names, row, strict=False) if n in _KNOWN}
        extras = {n: c.strip() for n, c in zip(names, row, strict=False)
                  if n and n not in _KNOWN and c.strip()}  # fmt: skip
        checked = _check_row(
            line, values, default_region=default_region, languages=languages,
            notes=report.notes, extras=extras,
        )  # fmt: skip
        if isinstance(checked, RowProblem):
            report.rejected.append(checked)
            if on_reject:
                on_reject(checked, row)
            continue
        if not dedupe:
            yield checked
            continue
        first = next((seen[a] for a in (checked.phone, checked.email) if a in seen), None)
        if first is not None:
            report.duplicates.append(RowProblem(line, "phone/email", f"same as line {first}"))
            continue
        for address in (checked.phone, checked.email):
            if address:
                seen[address] = line
        yield checked


def _values(row: ContactRow, region: str) -> dict[str, Any]:
    return {
        "audience": row.audience, "name": row.name, "phone": row.phone, "email": row.email,
        "language": row.language, "opted_out_at": None, "latitude": row.latitude,
        "longitude": row.longitude, "area_codes": list(row.area_codes), "tags": list(row.tags),
        "fields": row.fields, "region": region,
    }  # fmt: skip


def _insert(
    session: Session, rows: list[ContactRow], region: str, newer_than: int, report: ImportReport
) -> list[int]:
    """Insert a batch, skipping phones/emails already stored; count new, known and duplicate
    rows in ``report`` (a duplicate conflicts with a contact id above ``newer_than``: one this
    import added); return the contact ids of every row."""
    unique: list[ContactRow] = []
    first: dict[str, int] = {}
    for row in rows:  # duplicates within the batch
        earlier = next((first[a] for a in (row.phone, row.email) if a and a in first), None)
        if earlier is not None:
            report.duplicates.append(RowProblem(row.line, "phone/email", f"same as line {earlier}"))
            continue
        for address in (row.phone, row.email):
            if address:
                first[address] = row.line
        unique.append(row)
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    # RETURNING counts the new rows on both databases (executemany rowcount is not reliable).
    statement = (
        module.insert(Contact.__table__)
        .on_conflict_do_nothing()
        .returning(Contact.id, Contact.phone, Contact.email)
    )
    ids: dict[str, int] = {}
    inserted = session.execute(statement, [_values(r, region) for r in unique]).all()
    report.imported += len(inserted)
    for contact_id, phone, email in inserted:
        for address in (phone, email):
            if address:
                ids[address] = contact_id
    missing = [r for r in unique if not any(a in ids for a in (r.phone, r.email) if a)]
    if missing:
        phones = [r.phone for r in missing if r.phone]
        emails = [r.email for r in missing if r.email]
        found = session.execute(
            select(Contact.id, Contact.phone, Contact.email).where(
                or_(Contact.phone.in_(phones), Contact.email.in_(emails))
            )
        )
        for contact_id, phone, email in found:
            for address in (phone, email):
                if address:
                    ids.setdefault(address, contact_id)
    chosen: list[int] = []
    new_ids = {i for i, _, _ in inserted}
    for row in unique:
        contact_id = next(ids[a] for a in (row.phone, row.email) if a and a in ids)
        if contact_id in new_ids:
            pass
        elif contact_id > newer_than:
            report.duplicates.append(
                RowProblem(row.line, "phone/email", "same as an earlier row of this file")
            )
        else:
            report.already_known += 1
        chosen.append(contact_id)
    return chosen


class _Rejects:
    """The rejects CSV: every rejected row with its line and reason, opened at the first one."""

    def __init__(self, path: Path | None, header: Callable[[], list[str]]) -> None:
        self.path, self.header = path, header
        self.handle: Any = None
        self.writer: Any = None

    def __call__(self, problem: RowProblem, row: list[str]) -> None:
        if self.path is None:
            return
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.handle = self.path.open("w", encoding="utf-8", newline="")
            self.writer = csv.writer(self.handle)
            self.writer.writerow(["line", "field", "problem", *self.header()])
        self.writer.writerow([problem.line, problem.field, problem.problem, *row])

    def duplicates(self, problems: Iterable[RowProblem]) -> None:
        for problem in problems:
            self(problem, [])

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()


def _first_row(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return next(csv.reader(handle), [])


def import_contacts(
    session: Session,
    path: str | Path,
    *,
    default_region: str,
    languages: Sequence[str] = (),
    list_name: str | None = None,
    rejects: str | Path | None = None,
    now: datetime | None = None,
    replace: bool = False,
) -> ImportReport:
    """Import a contacts CSV into the directory (and onto ``list_name``, created if new).

    Contacts already stored are kept as they are (and put on the list). ``default_region``
    (ISO 3166 code, e.g. ``TH``) reads national numbers; ``languages`` (a playbook's) only add
    notes. ``rejects`` names a CSV written with every rejected row, its line and reason.
    ``replace``: the list becomes exactly this file's contacts (``--audience FILE``).
    Everything happens in the caller's transaction: an interrupted import leaves nothing.
    """
    source = str(path)
    region = check_region(default_region)
    check_contacts_file(path, region)
    report = ImportReport(source, list_name=list_name)
    members = None
    if list_name:
        members = ensure_list(session, list_name, now=now or datetime.now(UTC))
        if replace:
            session.execute(
                delete(ContactListMember).where(ContactListMember.list_id == members.id)
            )
    newer_than = int(session.scalar(select(func.coalesce(func.max(Contact.id), 0))) or 0)
    writer = _Rejects(Path(rejects) if rejects else None, lambda: _first_row(Path(path)))
    try:
        with Path(path).open(encoding="utf-8-sig", newline="") as handle:
            batch: list[ContactRow] = []
            rows = parse_contacts(
                handle, default_region=region, languages=languages, source=source,
                report=report, dedupe=False, on_reject=writer,
            )  # fmt: skip
            for row in rows:
                batch.append(row)
                if len(batch) >= INSERT_BATCH:
                    ids = _insert(session, batch, region, newer_than, report)
                    if members is not None:
                        add_members(session, members.id, ids)
                    batch = []
            if batch:
                ids = _insert(session, batch, region, newer_than, report)
                if members is not None:
                    add_members(session, members.id, ids)
        writer.duplicates(sorted(report.duplicates, key=lambda p: p.line))
    finally:
        writer.close()
    if writer.writer is not None:
        report.rejects_path = str(rejects)
    return report


def audience_list(path: str | Path) -> str:
    """The list a contacts CSV given as ``--audience`` goes onto: its file name
    (``flood-zone-a.csv`` -> ``flood-zone-a``)."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(path).stem).strip("-._") or "imported"
    return name[:100]


def rejects_path(path: str | Path) -> str:
    """Where an import writes its rejected rows by default: beside the file,
    ``<name>.rejects.csv``."""
    source = Path(path)
    return str(source.with_name(f"{source.stem}.rejects.csv"))
