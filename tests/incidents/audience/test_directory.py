"""The contact directory: lists, filters, targets, a safe import, and the reach preview."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, func, select, text

from crisiscast.errors import ConfigError
from crisiscast.incidents.audience import csv_import
from crisiscast.incidents.audience.csv_import import check_contacts_file, import_contacts
from crisiscast.incidents.audience.directory import (
    TargetSpec,
    create_target,
    list_counts,
    resolve_target,
    save_filter,
)
from crisiscast.incidents.audience.optout import record_opt_out
from crisiscast.incidents.broadcast.reach_report import fallback_summary, reach_report
from crisiscast.incidents.store import database as st
from crisiscast.incidents.store import migrate
from crisiscast.incidents.store.models import Contact, ContactList, Target

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
PEOPLE = (
    "name,phone,email,language,tags,ward,area_codes,lat,lon\n"
    "Somchai,081 234 5678,somchai@example.org,th,elderly;mobility,3,TH-10,17.97,102.6\n"
    "Noi,081 234 5679,,th_TH,,3,TH-10,,\n"
    "Khamla,+856 20 5551 2345,,lo,elderly,4,LA-01,17.98,102.62\n"
    "Ann,,ann@example.org,en,,4,,,\n"
    "Pierre,+1 202 555 0143,pierre@example.org,fr,,5,,,\n"
    "Broken,12,,en,,5,,,\n"
    "Far,081 234 5670,,th,,5,,95,1\n"
)


def _import(store: st.Store, tmp_path: Path, name: str = "zone-a", body: str = PEOPLE) -> Path:
    path = tmp_path / f"{name}.csv"
    path.write_text(body, encoding="utf-8")
    with store.session() as session:
        import_contacts(session, path, default_region="TH", list_name=name,
                        rejects=tmp_path / "rejects.csv", now=NOW)  # fmt: skip
    return path


def _names(store: st.Store, spec: TargetSpec) -> set[str]:
    with store.session() as session:
        ids = resolve_target(session, spec)
        return set(session.scalars(select(Contact.name).where(Contact.id.in_(ids))))


def test_import_keeps_language_tags_place_and_extra_columns(
    store: st.Store, tmp_path: Path
) -> None:
    """Language as the file says (never fitted to a playbook), tags, area codes, coordinates
    and any other column as a field; bad rows in the rejects CSV with line and reason."""
    _import(store, tmp_path)
    with store.session() as session:
        people = {c.name: c for c in session.scalars(select(Contact))}
    assert {n: c.language for n, c in people.items()} == {
        "Somchai": "th", "Noi": "th", "Khamla": "lo", "Ann": "en", "Pierre": "fr",
    }  # fmt: skip
    somchai = people["Somchai"]
    assert somchai.tags == ["elderly", "mobility"] and somchai.area_codes == ["TH-10"]
    assert (somchai.latitude, somchai.longitude, somchai.fields) == (17.97, 102.6, {"ward": "3"})
    assert somchai.region == "TH"
    rejects = (tmp_path / "rejects.csv").read_text(encoding="utf-8").splitlines()
    assert rejects[0].startswith("line,field,problem,name,phone")
    assert [r.split(",")[:2] for r in rejects[1:]] == [["7", "phone"], ["8", "latitude"]]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (TargetSpec(lists=("zone-a",)), {"Somchai", "Noi", "Khamla", "Ann", "Pierre"}),
        (TargetSpec(filter="language=th"), {"Somchai", "Noi"}),
        (TargetSpec(filter="language=th|lo,tag=elderly"), {"Somchai", "Khamla"}),
        (TargetSpec(filter="tag!=elderly,list=zone-a"), {"Noi", "Ann", "Pierre"}),
        (TargetSpec(filter="ward=4"), {"Khamla", "Ann"}),
        (TargetSpec(filter="area=TH-10"), {"Somchai", "Noi"}),
        (TargetSpec(filter="region=th,language=fr"), {"Pierre"}),
        (TargetSpec(lists=("zone-a",), filter="@thai"), {"Somchai", "Noi"}),
        (TargetSpec(everyone=True), {"Somchai", "Noi", "Khamla", "Ann", "Pierre"}),
    ],
)
def test_lists_and_filters_select_exactly(
    store: st.Store, tmp_path: Path, spec: TargetSpec, expected: set[str]
) -> None:
    """Lists, filters over language/tags/fields/areas/region, saved filters: both stores."""
    _import(store, tmp_path)
    with store.session() as session:
        save_filter(session, "thai", "language=th", now=NOW)
    assert _names(store, spec) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (TargetSpec(), "--everyone"),
        (TargetSpec(lists=("nope",)), "no list named 'nope'"),
        (TargetSpec(filter="language"), "not key=value"),
        (TargetSpec(filter="@missing"), "no saved filter named 'missing'"),
    ],
)
def test_a_bad_or_missing_target_says_how_to_name_one(
    store: st.Store, spec: TargetSpec, message: str
) -> None:
    with store.session() as session, pytest.raises(ConfigError, match=message):
        resolve_target(session, spec)


def test_a_target_is_resolved_once(store: st.Store, tmp_path: Path) -> None:
    """Members are written when the target is made: a later import does not change it."""
    _import(store, tmp_path)
    with store.session() as session:
        target = create_target(session, TargetSpec(lists=("zone-a",)), incident_id=None, now=NOW)
        target_id = target.id
    _import(store, tmp_path, body="name,phone\nLate,081 234 5611\n")
    with store.session() as session:
        target = session.get(Target, target_id)
        assert target is not None and target.size == 5
        assert dict((n, c) for n, c, _ in list_counts(session))["zone-a"] == 6


def test_audience_import_replaces_the_list(store: st.Store, tmp_path: Path) -> None:
    """`--audience FILE`: the list named after the file holds exactly that file's contacts."""
    path = tmp_path / "contacts.csv"
    path.write_text("name,phone\nA,081 234 5601\nB,081 234 5602\n", encoding="utf-8")
    with store.session() as session:
        import_contacts(session, path, default_region="TH", list_name="contacts", now=NOW)
    path.write_text("name,phone\nC,081 234 5603\n", encoding="utf-8")
    with store.session() as session:
        import_contacts(session, path, default_region="TH", list_name="contacts", now=NOW,
                        replace=True)  # fmt: skip
    assert _names(store, TargetSpec(lists=("contacts",))) == {"C"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"name,telephone\nAnn,+66812345678\n", r"x.csv:1: missing columns: .*phone.*email"),
        (b"name,phone\nAnn,+66812345678\nB\xe9b,+66812345679\n", r"x.csv:3: not UTF-8"),
        (b"", "empty"),
    ],
)
def test_a_bad_file_fails_before_anything(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=message):
        check_contacts_file(path, "TH")


def test_unknown_region_and_missing_file_fail_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ISO 3166"):
        check_contacts_file(tmp_path / "x.csv", "XX")
    with pytest.raises(ConfigError, match="cannot read"):
        check_contacts_file(tmp_path / "missing.csv", "TH")


def test_an_interrupted_import_leaves_nothing(
    store: st.Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C in the middle of an import: the directory is as it was before, never half."""
    monkeypatch.setattr(csv_import, "INSERT_BATCH", 2)
    calls = {"n": 0}
    real = csv_import.add_members

    def interrupted(*args: object, **kwargs: object) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(csv_import, "add_members", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _import(store, tmp_path)
    with store.session() as session:
        assert session.scalar(select(func.count(Contact.id))) == 0
        assert session.scalar(select(func.count(ContactList.id))) == 1  # only "default"


def test_preview_counts_reach_suppression_and_fallback(store: st.Store, tmp_path: Path) -> None:
    """Done when: the preview says how many get the fallback language, per channel."""
    _import(store, tmp_path)
    with store.session() as session:
        record_opt_out(session, "+66812345679", "sms", "STOP", now=NOW)  # Noi
        ids = resolve_target(session, TargetSpec(lists=("zone-a",)))
        rows = reach_report(session, ids, channels=["sms", "email", "banner"],
                            languages=["en", "th", "lo"])  # fmt: skip
    by = {(r.channel, r.language): r for r in rows}
    assert (by["sms", "th"].reached, by["sms", "th"].opted_out) == (1, 1)
    assert (by["sms", "en"].reached, by["sms", "en"].no_address, by["sms", "en"].fallback) == (
        1, 1, 1,
    )  # fmt: skip
    assert by["sms", "en"].fallback_from == {"fr": 1}
    assert (by["email", "th"].reached, by["email", "th"].no_address) == (1, 1)
    assert (
        fallback_summary(rows) == "1 contact gets the fallback language en (their languages: fr 1)"
    )


def test_migration_puts_existing_contacts_on_the_default_list(db_url: str) -> None:
    """Contacts and incidents from before 0007: contacts on ``default``, incidents aimed at
    everyone (what they reached), so they still report what they did."""
    engine = create_engine(st.Store(db_url).url)
    try:
        with engine.begin() as connection:
            command.upgrade(migrate._config(connection), "0006")
            connection.execute(text(
                "INSERT INTO contacts (id, audience, phone, language) VALUES (1, 'all', "
                "'+66812345678', 'th')"))  # fmt: skip
            connection.execute(text(
                "INSERT INTO incidents (id, playbook_id, playbook_path, title, params, languages, "
                "status, exercise, created_at) VALUES (3, 'p', 'p.yaml', 'Old', '{}', '[]', "
                "'active', false, '2026-11-25 09:00:00')"))  # fmt: skip
            connection.execute(text(
                "INSERT INTO announcements (incident_id, announcement_id, \"when\", channel, "
                "language, body, status, created_at) VALUES (3, 'warning', 'launch', 'sms', "
                "'en', 'x', 'sent', '2026-11-25 09:00:00')"))  # fmt: skip
    finally:
        engine.dispose()
    st.upgrade(db_url)
    store = st.Store(db_url)
    try:
        with store.session() as session:
            assert dict((n, c) for n, c, _ in list_counts(session))["default"] == 1
            target = session.scalar(select(Target).where(Target.incident_id == 3))
            assert target is not None and target.everyone and target.spec == {"everyone": True}
            aimed = session.scalar(text("SELECT target_id FROM announcements"))
            assert aimed == target.id
    finally:
        store.dispose()
