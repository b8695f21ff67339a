"""The commander dashboard over real HTTP: who may open it, what its live parts say (counts
with thousands separators, cases by SLA state, audit only for commanders), and hostile refs
answered 4xx; plus the pure figures behind it (states, inbound intervals, case rows)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from console_support import Console, running_console
from desk_support import make_case, make_incident
from sqlalchemy import text

from crisiscast.config import Settings
from crisiscast.incidents.people.audit import Actor, record
from crisiscast.incidents.people.users import by_username, start_session
from crisiscast.incidents.store.database import Store
from crisiscast.incidents.store.models import Announcement
from crisiscast.web.console.dashboard import (
    CaseRow,
    add_up,
    case_table,
    inbound_buckets,
    read_snapshot,
    state_totals,
)

NOW = datetime.now(UTC)
DASH = "/console/incidents/INC-1"


def add_deliveries(
    store: Store, incident_id: int, statuses: dict[str, int], key: str = "{i}:{a}:sms:"
) -> None:
    """Ledger rows as a broadcast writes them (keys ``<incident>:<announcement>:sms:...``
    unless ``key`` says otherwise), on one Thai SMS announcement."""
    with store.session() as session:
        sms = Announcement(incident_id=incident_id, announcement_id=key, when="launch",
                           channel="sms", language="th", body="x", status="sent",
                           created_at=NOW)  # fmt: skip
        session.add(sms)
        session.flush()
        announcement = sms.id
    rows = [
        {"k": key.format(i=incident_id, a=announcement) + f"{status}-{i}", "i": incident_id,
         "a": announcement, "s": status, "t": NOW}
        for status, n in statuses.items() for i in range(n)
    ]  # fmt: skip
    with store.engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO deliveries (idempotency_key, incident_id, announcement_id, channel, "
            "status, attempts, created_at, updated_at) VALUES (:k, :i, :a, 'sms', :s, 0, :t, :t)"
        ), rows)  # fmt: skip


@pytest.fixture
def console(tmp_path: Path, sqlite_url: str) -> Iterator[Console]:
    """The console with INC-1: two open cases (urgent, already breached; high), 12,345
    deliveries delivered and 3 failed, one audit entry."""
    now = datetime.now(UTC)  # the page reads the clock: these are minutes before it
    with running_console(Settings(tmp_path, sqlite_url)) as running:
        store = running.app.state.store
        with store.session() as session:
            incident = make_incident(session, now=now - timedelta(minutes=30))
            make_case(session, incident, now=now - timedelta(minutes=20))
            make_case(session, incident, severity="high", now=now, sender="+66811111111")
            record(session, Actor.cli(), "launch", now=now, incident_id=incident.id,
                   subject="INC-1")  # fmt: skip
            incident_id = incident.id
        add_deliveries(store, incident_id, {"delivered": 12_345, "failed": 3})
        yield running


def client_of(console: Console, username: str | None) -> httpx.Client:
    """A client signed in as ``username`` (a console session cookie), or signed out."""
    headers = {}
    if username is not None:
        with console.app.state.store.session() as session:
            user = by_username(session, username)
            assert user is not None
            made = start_session(session, user, now=datetime.now(UTC), client="127.0.0.1")
        headers["Cookie"] = f"crisiscast_session={made.cookie}"
    return httpx.Client(base_url=console.base, headers=headers, follow_redirects=False)


def counter(html: str, state: str) -> str:
    found = re.search(rf'id="count-{state}">([^<]*)<', html)
    assert found is not None, f"no #count-{state}"
    return found.group(1)


def test_a_commander_sees_the_counts_the_cases_and_the_ways_on(console: Console) -> None:
    with client_of(console, "ana") as http:
        answer = http.get(DASH)
    assert answer.status_code == 200
    html = answer.text
    assert '<ul id="delivery-totals" class="counters">' in html
    assert counter(html, "delivered") == "12,345"
    assert counter(html, "failed") == "3"
    assert counter(html, "pending") == "0"
    assert 'href="/console/incidents/INC-1/update">Update this incident<' in html
    assert 'href="/console/incidents/INC-1/stand-down">Stand down<' in html
    assert 'href="/console/cases?incident=INC-1">Cases<' in html
    assert "Open cases: 2 (1 urgent, 1 high); SLA breached: 1." in html
    assert "Audit log" in html and "cli" in html
    assert html.count('aria-live="polite"') == 1  # the summary only, not the tables
    assert answer.headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_live_answers_the_same_parts_as_json(console: Console) -> None:
    with client_of(console, "ana") as http:
        parts = http.get(f"{DASH}/live").json()["parts"]
    assert counter(parts["delivery-totals"], "delivered") == "12,345"
    assert "Deliveries per language" in parts["part-deliveries"]
    assert "<td>th</td><td>12,348</td>" in parts["part-deliveries"]
    assert "part-audit" in parts


def test_a_viewer_reads_it_without_stand_down_update_or_audit(console: Console) -> None:
    with client_of(console, "vic") as http:
        html = http.get(DASH).text
        parts = http.get(f"{DASH}/live").json()["parts"]
    assert "/stand-down" not in html
    assert "/update" not in html
    assert 'href="/console/cases?incident=INC-1"' in html
    assert "Audit log" not in html
    assert "part-audit" not in parts


def test_signed_out_goes_to_sign_in_and_live_says_401(console: Console) -> None:
    with client_of(console, None) as http:
        answer = http.get(DASH)
        live = http.get(f"{DASH}/live")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/console/incidents/INC-1"
    assert live.status_code == 401  # console.js then opens the sign-in page


@pytest.mark.parametrize(
    "ref",
    ["INC-2", "INC-99999999999999999999", "INC-1%00", "%00", "INC-1'%3Cscript%3E",
     "%F0%9F%92%A5", "inc--1", "x" * 4000],
)  # fmt: skip
def test_unknown_and_odd_refs_are_404_never_5xx(console: Console, ref: str) -> None:
    with client_of(console, "ana") as http:
        answer = http.get(f"/console/incidents/{ref}")
        live = http.get(f"/console/incidents/{ref}/live")
    assert answer.status_code == 404, answer.text
    assert "No such incident" in answer.text and "<script>" not in answer.text
    assert live.status_code == 404


def test_counts_agree_on_sqlite_and_postgresql(db_url: str) -> None:
    store = Store(db_url)
    try:
        store.upgrade()
        with store.session() as session:
            incident_id = make_incident(session, now=NOW).id
        add_deliveries(store, incident_id, {"sent": 5, "queued": 2, "suppressed": 1})
        with store.session() as session:
            snap = read_snapshot(session, "INC-1", NOW, with_audit=False)
    finally:
        store.dispose()
    assert state_totals(snap.deliveries) == {
        "sent": 5, "delivered": 0, "failed": 0, "suppressed": 1, "pending": 2
    }  # fmt: skip
    assert snap.by_language == {"th": {"queued": 2, "sent": 5, "suppressed": 1}}
    assert snap.audit is None


def test_rows_whose_keys_name_no_announcement_are_still_counted(sqlite_url: str) -> None:
    """Older rows (a page, a hand-made key) fall outside the key ranges: counted from rows."""
    store = Store(sqlite_url)
    try:
        store.upgrade()
        with store.session() as session:
            incident_id = make_incident(session, now=NOW).id
        add_deliveries(store, incident_id, {"sent": 4, "failed": 1})
        add_deliveries(store, incident_id, {"sent": 2}, key="page:{i}:")
        with store.session() as session:
            snap = read_snapshot(session, "INC-1", NOW, with_audit=False)
    finally:
        store.dispose()
    assert state_totals(snap.deliveries)["sent"] == 6
    assert snap.deliveries == {"sms": {"failed": 1, "sent": 6}}


def test_inbound_is_counted_per_interval_from_the_start() -> None:
    start = datetime(2026, 11, 25, 9, 2, tzinfo=UTC)
    times = [start, start + timedelta(minutes=1), start + timedelta(minutes=9)]
    width, buckets = inbound_buckets(times, start, start + timedelta(minutes=16))
    assert width == timedelta(minutes=5)
    assert [(f"{at:%H:%M}", n) for at, n in buckets] == [
        ("09:00", 2), ("09:05", 0), ("09:10", 1), ("09:15", 0)
    ]  # fmt: skip
    # A long incident shows wider intervals, and only the latest ones.
    width, buckets = inbound_buckets([], start, start + timedelta(hours=30), most=24)
    assert width == timedelta(hours=1) and len(buckets) == 24


def test_cases_are_counted_by_severity_and_sla_state() -> None:
    cases = [CaseRow("urgent", True, "breached"), CaseRow("urgent", True, "due soon"),
             CaseRow("urgent", False, "on time"), CaseRow("odd", True, "no target")]  # fmt: skip
    rows = dict(case_table(cases, ("urgent", "high")))
    assert rows["urgent"] == {"breached": 1, "due soon": 1, "on time": 0, "no target": 0,
                              "open": 2, "resolved": 1}  # fmt: skip
    assert rows["high"]["open"] == 0 and rows["odd"]["no target"] == 1


def test_per_announcement_counts_add_up_per_channel_or_language() -> None:
    counts = {1: {"sent": 2}, 2: {"sent": 1, "failed": 1}, 3: {"queued": 4}}
    assert add_up(counts, {1: "sms", 2: "sms", 3: "email"}) == {
        "email": {"queued": 4}, "sms": {"sent": 3, "failed": 1}
    }  # fmt: skip
    assert state_totals({"sms": {"queued": 4, "sent": 1}})["pending"] == 4
