"""Audiences: import contacts from a CSV file, checked row by row, deduplicated, streamed.

A commander imports the list the organisation already has, in a hurry. So a bad row never
stops the import: it is reported with its line number, the field and the fix, and every good
row goes in. Phone numbers are normalised to E.164 with ``phonenumbers`` (a national number
needs the ``default_region`` it was written in, e.g. ``TH`` for ``081 234 5678``); emails are
checked for shape and lower-cased; the same phone or email twice is imported once.

Columns (header row required, case-insensitive, any order): ``phone`` (or ``mobile``),
``email``, ``name``, ``language`` (or ``lang``), ``audience``. A row needs a phone or an email.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import phonenumbers
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crisiscast.errors import ConfigError
from crisiscast.incidents.store.models import Contact

_ALIASES = {"mobile": "phone", "lang": "language", "e-mail": "email"}
_KNOWN = {"phone", "email", "name", "language", "audience"}
_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;.]{2,}$")
_AUDIENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
INSERT_BATCH = 5_000


@dataclass(frozen=True, slots=True)
class ContactRow:
    """One accepted row, normalised: E.164 phone, lower-case email, a known language."""

    line: int
    phone: str | None
    email: str | None
    name: str | None
    language: str
    audience: str


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
    rows: int = 0
    imported: int = 0
    already_known: int = 0
    duplicates: list[RowProblem] = field(default_factory=list)
    rejected: list[RowProblem] = field(default_factory=list)
    notes: list[RowProblem] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the CLI: counts only, no personal data."""
        return (
            f"{self.source}: {self.rows} rows, {self.imported} imported, "
            f"{self.already_known} already known, {len(self.duplicates)} duplicates, "
            f"{len(self.rejected)} rejected"
        )


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
    """Lower-cased address; ValueError when it cannot be an address."""
    email = raw.strip().lower()
    if len(email) > 320 or not _EMAIL.match(email):
        raise ValueError("not an email address: expected name@example.org")
    return email


def _header(row: Sequence[str], source: str) -> list[str]:
    names = [_ALIASES.get(n.strip().lower(), n.strip().lower()) for n in row]
    if not {"phone", "email"} & set(names):
        raise ConfigError(
            f"{source}:1: the header has no 'phone' or 'email' column (found: "
            f"{', '.join(n for n in names if n) or 'nothing'}); the first row must name "
            "the columns, e.g. name,phone,email,language"
        )
    return names


def _check_row(
    line: int,
    values: dict[str, str],
    *,
    default_region: str,
    languages: Sequence[str],
    notes: list[RowProblem],
) -> ContactRow | RowProblem:
    """Validate one row; a problem names the field and the fix, never the value."""
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
    language = (values.get("language") or "").strip().lower().replace("_", "-")
    if language not in languages and language.split("-")[0] in languages:
        language = language.split("-")[0]  # lo-LA -> lo
    if language not in languages:
        if language:
            notes.append(
                RowProblem(
                    line,
                    "language",
                    f"{language!r} is not one of {', '.join(languages)}; using {languages[0]}",
                )
            )
        language = languages[0]
    return ContactRow(line, phone, email, values.get("name") or None, language, audience)


def parse_contacts(
    lines: Iterable[str],
    *,
    default_region: str,
    languages: Sequence[str],
    source: str = "<contacts>",
    report: ImportReport | None = None,
) -> Iterator[ContactRow]:
    """Yield the good, first-seen rows of a CSV; record rejected rows and duplicates in ``report``.

    Streams: memory holds the seen phones/emails for dedupe, never the whole file.
    """
    if not languages:
        raise ValueError("parse_contacts needs at least one language (the default first)")
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
        checked = _check_row(
            line, values, default_region=default_region, languages=languages, notes=report.notes
        )
        if isinstance(checked, RowProblem):
            report.rejected.append(checked)
            continue
        first = next((seen[a] for a in (checked.phone, checked.email) if a in seen), None)
        if first is not None:
            report.duplicates.append(RowProblem(line, "phone/email", f"same as line {first}"))
            continue
        for address in (checked.phone, checked.email):
            if address:
                seen[address] = line
        yield checked


def _insert(session: Session, rows: list[ContactRow]) -> int:
    """Insert a batch, skipping phones/emails already stored; return how many were new."""
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    # RETURNING counts the new rows on both databases (executemany rowcount is not reliable).
    statement = module.insert(Contact.__table__).on_conflict_do_nothing().returning(Contact.id)
    values = [
        {
            "audience": r.audience,
            "name": r.name,
            "phone": r.phone,
            "email": r.email,
            "language": r.language,
            "opted_out_at": None,
        }
        for r in rows
    ]
    return len(session.execute(statement, values).all())


def import_contacts(
    session: Session,
    path: str | Path,
    *,
    default_region: str,
    languages: Sequence[str],
) -> ImportReport:
    """Import a contacts CSV into the store; contacts already stored are kept as they are.

    ``default_region`` (ISO 3166 code, e.g. ``TH``) reads national numbers; ``languages`` are
    the playbook's, default first: a contact's language outside them falls back to the default.
    """
    source = str(path)
    if phonenumbers.country_code_for_region(default_region.upper()) == 0:
        raise ConfigError(
            f"default region {default_region!r} is not a region code: use an ISO 3166 code "
            "such as US, GB, TH or LA"
        )
    report = ImportReport(source)
    try:
        handle = Path(path).open(encoding="utf-8-sig", newline="")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read the contacts file ({exc.strerror})") from exc
    with handle:
        batch: list[ContactRow] = []
        rows = parse_contacts(
            handle,
            default_region=default_region.upper(),
            languages=languages,
            source=source,
            report=report,
        )
        for row in rows:
            batch.append(row)
            if len(batch) >= INSERT_BATCH:
                report.imported += _insert(session, batch)
                batch = []
        if batch:
            report.imported += _insert(session, batch)
    accepted = report.rows - len(report.rejected) - len(report.duplicates)
    report.already_known = accepted - report.imported
    return report
