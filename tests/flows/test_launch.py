"""The launch flow: a real Prefect run that opens the incident and stages every announcement."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client

from crisiscast.errors import PlaybookError
from crisiscast.flows.launch import launch_incident
from crisiscast.incidents.reporting.summary import IncidentSummary, incident_summary
from crisiscast.incidents.store import database as st

ROOT = Path(__file__).resolve().parents[2]
OUTAGE = str(ROOT / "playbooks" / "saas-outage.yaml")
FLOOD = str(ROOT / "playbooks" / "regional-flood.yaml")

EVERYONE = {"everyone": True}  # these tests are about the launch, not whom it reaches


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Outbox files and the published site go to the test's own folder."""
    monkeypatch.setenv("CRISISCAST_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    """The same launch runs on SQLite and on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(name))


def _summary(db_url: str, ref: str) -> IncidentSummary:
    store = st.Store(db_url)
    try:
        with store.session() as session:
            return incident_summary(session, st.get_incident(session, ref))
    finally:
        store.dispose()


def _flow_run_state(run_id: str) -> str:
    with get_client(sync_client=True) as client:
        return str(client.read_flow_run(uuid.UUID(run_id)).state_name)


def test_launch_opens_incident_and_stages_every_message(db_url: str) -> None:
    """A held launch records the incident, its parameters, pending announcements, timeline."""
    ref = launch_incident(OUTAGE, {"service": "Payments API"}, False, db_url, send=False,
                          target=EVERYONE)  # fmt: skip
    summary = _summary(db_url, ref)
    assert summary.title == "Payments API outage"
    assert summary.params["service"] == "Payments API"
    assert summary.params["eta_minutes"] == 60  # typed, default applied
    assert not summary.exercise
    assert set(summary.announcements) == {"sms", "email", "social", "banner", "chat"}
    for by_status in summary.announcements.values():
        assert set(by_status) == {"pending"}  # staged for broadcast, not faked as sent
    kinds = [e.kind for e in summary.events]
    assert kinds[:3] == ["launched", "roster_loaded", "announcements_staged"]
    assert summary.deliveries == {}


def test_launch_broadcasts_to_the_audience(sqlite_url: str, home: Path, tmp_path: Path) -> None:
    """Launch with an audience sends every channel: one outbox record per contact and channel."""
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(
        "name,phone,email,language\n"
        "Ann,+1 415 555 2671,ann@example.com,en\n"
        "Somchai,081 234 5678,somchai@example.org,th\n"
        "Bad,not a number,,en\n"
    )
    ref = launch_incident(
        FLOOD, {"area": "Riverside"}, True, sqlite_url, audience=str(contacts), default_region="TH"
    )
    summary = _summary(sqlite_url, ref)
    assert summary.deliveries["sms"] == {"sent": 2}
    assert summary.deliveries["email"] == {"sent": 2}
    assert summary.deliveries["banner"] == {"sent": 3}  # one per language
    sms = (home / "outbox" / ref / "sms.jsonl").read_text().splitlines()
    assert len(sms) == 2
    assert (home / "site" / ref / "banner.json").exists()


def test_launch_loads_the_playbook_roster(sqlite_url: str) -> None:
    """The playbook's agents are on the roster after launch, once each even after two launches."""
    from crisiscast.incidents.agents.roster import list_agents

    launch_incident(OUTAGE, {"service": "API"}, True, sqlite_url, send=False, target=EVERYONE)
    launch_incident(OUTAGE, {"service": "API"}, True, sqlite_url, send=False, target=EVERYONE)
    store = st.Store(sqlite_url)
    try:
        with store.session() as session:
            names = sorted(a.name for a in list_agents(session))
    finally:
        store.dispose()
    assert names == ["Ann", "Ben"]


def test_launch_is_a_prefect_flow_run(sqlite_url: str) -> None:
    """The incident's timeline names its Prefect flow run, which completed."""
    ref = launch_incident(OUTAGE, {"service": "Search"}, True, sqlite_url, target=EVERYONE)
    launched = next(e for e in _summary(sqlite_url, ref).events if e.kind == "launched")
    assert launched.data is not None
    assert _flow_run_state(str(launched.data["flow_run_id"])) == "Completed"
    assert "exercise" in launched.message


def test_launch_in_every_language(sqlite_url: str) -> None:
    """A three-language playbook stages one message per channel and language."""
    ref = launch_incident(FLOOD, {"area": "Vientiane"}, True, sqlite_url, target=EVERYONE)
    summary = _summary(sqlite_url, ref)
    assert summary.languages == ("en", "th", "lo")
    assert summary.exercise
    sms = summary.announcements["sms"]
    assert sum(sms.values()) == 3


def test_bad_parameter_opens_nothing(sqlite_url: str) -> None:
    """A wrong parameter fails the run with the playbook's message and leaves no incident."""
    with pytest.raises(PlaybookError, match="eta_minutes"):
        launch_incident(
            OUTAGE, {"service": "API", "eta_minutes": "soon"}, False, sqlite_url, target=EVERYONE
        )
    store = st.Store(sqlite_url)
    store.upgrade()
    try:
        with store.session() as session:
            assert st.list_incidents(session) == []
    finally:
        store.dispose()
