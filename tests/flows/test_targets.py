"""Each launch reaches exactly the people it names, in their own language (real flow runs,
SQLite and PostgreSQL, outbox files)."""

from __future__ import annotations

from pathlib import Path

import pytest
from broadcast_support import FLOOD, outbox_addresses
from sqlalchemy import select

from crisiscast.errors import ConfigError
from crisiscast.flows.broadcast import broadcast
from crisiscast.flows.launch import launch_incident, open_incident
from crisiscast.incidents.audience.csv_import import import_contacts
from crisiscast.incidents.store import database as st
from crisiscast.incidents.store.models import Announcement, Contact

OUTAGE = str(Path(FLOOD).with_name("saas-outage.yaml"))
ZONE_A = "name,phone,email,language\nA1,081 234 5678,a1@example.org,th\nA2,+856 20 5551 2345,,lo\n"
ZONE_B = "name,phone,email,language\nB1,+1 202 555 0143,b1@example.org,en\nB2,081 234 5679,,th\n"


def _import(db_url: str, path: Path, text: str, name: str) -> None:
    path.write_text(text, encoding="utf-8")
    store = st.Store(db_url)
    store.upgrade()
    try:
        with store.session() as session:
            import_contacts(session, path, default_region="TH", list_name=name)
    finally:
        store.dispose()


def test_two_incidents_with_two_lists_each_reach_only_their_own(
    db_url: str, home: Path, tmp_path: Path
) -> None:
    """Done when: two incidents, two lists; each reaches only its own list (both stores)."""
    _import(db_url, tmp_path / "a.csv", ZONE_A, "zone-a")
    _import(db_url, tmp_path / "b.csv", ZONE_B, "zone-b")
    params = {"area": "Riverside"}
    first = launch_incident(FLOOD, params, True, db_url, target={"lists": ["zone-a"]})
    second = launch_incident(FLOOD, params, True, db_url, target={"lists": ["zone-b"]})
    outbox = home / "outbox"
    assert set(outbox_addresses(outbox / first / "sms.jsonl")) == {"+66812345678", "+8562055512345"}
    assert set(outbox_addresses(outbox / first / "email.jsonl")) == {"a1@example.org"}
    assert set(outbox_addresses(outbox / second / "sms.jsonl")) == {"+12025550143", "+66812345679"}
    assert set(outbox_addresses(outbox / second / "email.jsonl")) == {"b1@example.org"}


def test_language_is_kept_across_playbooks(db_url: str, home: Path, tmp_path: Path) -> None:
    """Done when: a Thai contact imported under an English-only playbook gets the Thai text of
    a later Thai/English playbook."""
    contacts = tmp_path / "customers.csv"
    contacts.write_text("name,phone,language\nLek,089 123 4567,th\n", encoding="utf-8")
    outage = launch_incident(OUTAGE, {"service": "Payments API"}, True, db_url,
                             audience=str(contacts), default_region="TH")  # fmt: skip
    store = st.Store(db_url)
    try:
        with store.session() as session:
            assert session.scalar(select(Contact.language)) == "th"  # never rewritten to en
    finally:
        store.dispose()
    [english] = (home / "outbox" / outage / "sms.jsonl").read_text().splitlines()
    assert '"language": "en"' in english  # the outage playbook has English only: the fallback
    flood = launch_incident(FLOOD, {"area": "Riverside"}, True, db_url,
                            target={"lists": ["customers"]})  # fmt: skip
    [thai] = (home / "outbox" / flood / "sms.jsonl").read_text().splitlines()
    assert '"language": "th"' in thai and "เตือนภัยน้ำท่วม" in thai


def test_update_twice_with_new_text_sends_twice(db_url: str, home: Path, tmp_path: Path) -> None:
    """Done when: `update` twice with new text sends twice, each its own ledger identity."""
    _import(db_url, tmp_path / "a.csv", ZONE_A, "zone-a")
    ref = launch_incident(FLOOD, {"area": "Riverside"}, True, db_url, target={"lists": ["zone-a"]})
    texts = {"en": "Water is rising", "th": "น้ำกำลังขึ้น"}
    broadcast(ref, when="update", texts=texts, database_url=db_url)
    broadcast(ref, when="update", texts={"en": "Water is falling"}, database_url=db_url)
    sms = outbox_addresses(home / "outbox" / ref / "sms.jsonl")
    assert sms == {"+66812345678": 3, "+8562055512345": 3}  # the launch and two updates
    lines = (home / "outbox" / ref / "sms.jsonl").read_text()
    assert "น้ำกำลังขึ้น" in lines  # the Thai contact got the Thai text of the first update
    store = st.Store(db_url)
    try:
        with store.session() as session:
            ids = set(session.scalars(select(Announcement.announcement_id)))
    finally:
        store.dispose()
    assert {"update", "update-2"} <= ids


def test_update_of_a_playbook_announcement_with_new_values_sends_each_time(
    db_url: str, home: Path, tmp_path: Path
) -> None:
    """The same playbook update twice, with new parameter values: sent twice, new text."""
    _import(db_url, tmp_path / "a.csv", ZONE_A, "zone-a")
    ref = launch_incident(FLOOD, {"area": "Riverside"}, True, db_url, target={"lists": ["zone-a"]})
    broadcast(ref, when="update", announcement="rising", params={"peak_hours": "6"},
              database_url=db_url)  # fmt: skip
    second = broadcast(ref, when="update", announcement="rising", params={"peak_hours": "3"},
                       database_url=db_url)  # fmt: skip
    assert not second.get("errors")  # the banner of "rising-2" is the playbook's "rising"
    assert outbox_addresses(home / "outbox" / ref / "sms.jsonl")["+66812345678"] == 3


def test_exercise_sms_start_with_the_marker_in_every_language(sqlite_url: str) -> None:
    """Exercise SMS say so first, in the contact's language (emails already did)."""
    st.upgrade(sqlite_url)
    incident_id = open_incident.fn(FLOOD, {"area": "Riverside"}, True, sqlite_url,
                                   {"everyone": True})  # fmt: skip
    store = st.Store(sqlite_url)
    try:
        with store.session() as session:
            sms = select(Announcement.language, Announcement.body).where(
                Announcement.incident_id == incident_id, Announcement.channel == "sms"
            )
            bodies = {language: body for language, body in session.execute(sms)}
    finally:
        store.dispose()
    assert bodies["en"].startswith("EXERCISE: ")
    assert bodies["th"].startswith("การฝึกซ้อม: ")
    assert bodies["lo"].startswith("ການຝຶກຊ້ອມ: ")


def test_a_launch_without_a_target_is_refused_and_opens_nothing(sqlite_url: str) -> None:
    """No list, filter, CSV or --everyone (and no playbook default): refused, nothing opened."""
    st.upgrade(sqlite_url)
    with pytest.raises(ConfigError, match="--everyone"):
        open_incident.fn(FLOOD, {"area": "Riverside"}, True, sqlite_url, None)
    store = st.Store(sqlite_url)
    try:
        with store.session() as session:
            assert st.list_incidents(session) == []
    finally:
        store.dispose()
