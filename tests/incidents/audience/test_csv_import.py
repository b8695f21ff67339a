"""Audience import: E.164 numbers, checked emails, rejected rows with line numbers, dedupe."""

from __future__ import annotations

from pathlib import Path

import pytest

from crisiscast.errors import ConfigError
from crisiscast.incidents.audience.csv_import import (
    ImportReport,
    import_contacts,
    normalize_email,
    normalize_phone,
    parse_contacts,
)
from crisiscast.incidents.store import database as st
from crisiscast.incidents.store.models import Contact

LANGUAGES = ("en", "th", "lo")


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("081 234 5678", "TH", "+66812345678"),  # Thai mobile written nationally
        ("+66 81 234 5678", "US", "+66812345678"),  # international form ignores the region
        ("02-123-4567", "TH", "+6621234567"),  # Bangkok landline
        ("+856 20 5551 2345", "TH", "+8562055512345"),  # Lao mobile
        ("(202) 555-0143", "US", "+12025550143"),
    ],
)
def test_numbers_become_e164(raw: str, region: str, e164: str) -> None:
    """National and international spellings normalise to one E.164 number."""
    assert normalize_phone(raw, region) == e164


@pytest.mark.parametrize("raw", ["12", "not a number", "+66 12", "081 234 567 890 12"])
def test_impossible_numbers_are_refused(raw: str) -> None:
    """Numbers that cannot exist are refused with a fix, never silently kept."""
    with pytest.raises(ValueError, match="number"):
        normalize_phone(raw, "TH")


@pytest.mark.parametrize(
    ("raw", "ok"),
    [
        ("Ann@Example.ORG", "ann@example.org"),
        ("a.b+c@sub.example.co.th", "a.b+c@sub.example.co.th"),
        ("O'Brien@Example.org", "o'brien@example.org"),
    ],
)
def test_emails_are_checked_and_lower_cased(raw: str, ok: str) -> None:
    """Addresses are lower-cased so the same person is one contact."""
    assert normalize_email(raw) == ok


@pytest.mark.parametrize(
    "raw",
    ["ann", "ann@", "@example.org", "ann@example", "a b@example.org", "a@b.org\r\nBcc: x@y.org",
     "<a@b.org>", "a,b@example.org"],
)  # fmt: skip
def test_malformed_emails_are_refused(raw: str) -> None:
    """Something that cannot be an address is refused."""
    with pytest.raises(ValueError, match="email"):
        normalize_email(raw)


CSV = """Name,Mobile,E-mail,Lang,Audience
Somchai,081 234 5678,somchai@example.org,th,residents
Broken phone,12,,en,
No address,,,en,
Bad email,,not-an-email,en,
Same phone,+66812345678,,th,
Same email,,SOMCHAI@example.org,en,
Khamla,+856 20 5551 2345,,lo-LA,
Unknown language,,ann@example.org,fr,

Bad audience,,bob@example.org,en,two words
"""


def _parse(text: str) -> tuple[list[tuple[int, str | None, str | None, str]], ImportReport]:
    report = ImportReport("contacts.csv")
    rows = parse_contacts(
        text.splitlines(keepends=True),
        default_region="TH",
        source="contacts.csv",
        languages=LANGUAGES,
        report=report,
    )
    return [(r.line, r.phone, r.email, r.language) for r in rows], report


def test_good_rows_are_kept_and_bad_rows_reported_by_line() -> None:
    """Every row is accounted for: kept, rejected (line, field) or a duplicate of an earlier one."""
    rows, report = _parse(CSV)
    assert rows == [
        (2, "+66812345678", "somchai@example.org", "th"),
        (8, "+8562055512345", None, "lo"),  # lo-LA: its primary language
        (9, None, "ann@example.org", "fr"),  # kept as the file says (noted: gets the fallback)
    ]
    assert [(p.line, p.field) for p in report.rejected] == [
        (3, "phone"), (4, "phone/email"), (5, "email"), (11, "audience"),
    ]  # fmt: skip
    assert [(p.line, p.problem) for p in report.duplicates] == [
        (6, "same as line 2"), (7, "same as line 2"),
    ]  # fmt: skip
    assert [p.line for p in report.notes] == [9]
    assert report.rows == 9  # the blank line is not a row


def test_problems_never_repeat_the_personal_data() -> None:
    """Rejection messages name the line and field, not the number or address."""
    _, report = _parse(CSV)
    assert not any("not-an-email" in str(p) or "12," in str(p) for p in report.rejected)


def test_a_file_without_phone_or_email_column_is_refused() -> None:
    """A header that names neither column stops the import with the fix."""
    with pytest.raises(ConfigError, match=r"contacts.csv:1: .*phone.*email"):
        _parse("name,telephone\nAnn,+66812345678\n")


def test_import_stores_contacts_once(store: st.Store, tmp_path: Path) -> None:
    """Importing the same file twice stores each person once and says they were already known."""
    path = tmp_path / "contacts.csv"
    path.write_text(CSV, encoding="utf-8")
    with store.session() as session:
        first = import_contacts(session, path, default_region="th", languages=LANGUAGES)
    with store.session() as session:
        second = import_contacts(session, path, default_region="TH", languages=LANGUAGES)
        stored = session.query(Contact).order_by(Contact.id).all()
    assert (first.imported, first.already_known) == (3, 0)
    assert (second.imported, second.already_known) == (0, 3)
    assert [(c.phone, c.language, c.audience) for c in stored] == [
        ("+66812345678", "th", "residents"), ("+8562055512345", "lo", "all"),
        (None, "fr", "all"),
    ]  # fmt: skip
    assert "3 imported" in first.summary() and "4 rejected" in first.summary()


def test_unknown_region_is_a_config_error(store: st.Store, tmp_path: Path) -> None:
    """A default region that is not an ISO code is refused before reading the file."""
    path = tmp_path / "c.csv"
    path.write_text("phone\n0812345678\n", encoding="utf-8")
    with store.session() as session, pytest.raises(ConfigError, match="ISO 3166"):
        import_contacts(session, path, default_region="Thailand", languages=LANGUAGES)
