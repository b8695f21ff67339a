"""The report tells what happened: breaches and escalations as recorded (a simulated clock
included), escalations after the closure said so, local times, EXERCISE, the audit log."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from desk_support import FLOOD, T0, flood, make_agent, make_case, make_incident

from crisiscast.config import load_settings
from crisiscast.errors import PlaybookError
from crisiscast.incidents.agents.paging import Senders
from crisiscast.incidents.agents.sweep import Sweep, sweep_one
from crisiscast.incidents.cases.sla import Clock
from crisiscast.incidents.cases.status import case_statuses, set_case_status
from crisiscast.incidents.lifecycle import change_status
from crisiscast.incidents.people.audit import Actor, record
from crisiscast.incidents.reporting.figures import collect, figures
from crisiscast.incidents.reporting.render import write_report
from crisiscast.incidents.store.database import Store
from crisiscast.incidents.store.models import Incident, IncidentStatus
from crisiscast.playbook import load_playbook

M = timedelta(minutes=1)


@pytest.fixture
def senders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Senders]:
    """The outbox the sweep pages into (no credentials: nothing leaves the machine)."""
    monkeypatch.setenv("CRISISCAST_HOME", str(tmp_path / "home"))
    channels = Senders(load_settings(), tmp_path / "outbox")
    yield channels
    channels.close()


def run_sweep(store: Store, senders: Senders, at: timedelta) -> dict[str, int]:
    """One sweep of INC-1 at T0 + ``at``: the same steps the sweep flow runs."""
    with store.session() as session:
        incident = session.get_one(Incident, 1)
        sweep = Sweep(session, incident, flood(), senders, T0 + at, 5 * M)
        return sweep_one(sweep)


def test_breaches_escalated_on_a_simulated_clock_are_in_the_report(
    store: Store, senders: Senders, tmp_path: Path
) -> None:
    """A sweep that ran "45 minutes later" (as the demo's step 7) escalated an urgent case; a
    report written on a wall clock earlier than that still counts the breach and the actions."""
    with store.session() as session:
        make_case(session, make_incident(session), now=T0)
        make_agent(session, 1)
        make_agent(session, 2)
    run_sweep(store, senders, M)  # assigned and paged
    done = run_sweep(store, senders, 45 * M)  # not ACKed: released, a backup is paged
    assert done.get("page_backup", 0) + done.get("assigned", 0) >= 1
    with store.session() as session:
        data = collect(session, session.get_one(Incident, 1), T0 + 2 * M)
    figs = figures(data)
    assert figs.breaches["urgent"][Clock.FIRST_RESPONSE] == 1
    assert sum(figs.escalations.values()) >= 1 and figs.escalations_after_close == 0
    text = write_report(data, tmp_path / "out").markdown.read_text(encoding="utf-8")
    assert "SLA breaches: 1 first response" in text
    assert "after closure" not in text


def test_escalations_after_closure_are_marked_and_explained(
    store: Store, senders: Senders, tmp_path: Path
) -> None:
    """Closed with an urgent case open, the sweep still escalates it; the report and timeline
    say these actions came after the closure, and why."""
    with store.session() as session:
        incident = make_incident(session)
        make_case(session, incident, now=T0)
        for status in (IncidentStatus.STANDING_DOWN, IncidentStatus.CLOSED):
            change_status(session, incident, status, now=T0 + 5 * M, reason="test")
    done = run_sweep(store, senders, 3 * 60 * M)  # past resolution: the commander is told
    assert done.get("notify_commander") == 1
    with store.session() as session:
        data = collect(session, session.get_one(Incident, 1), T0 + 10 * M)
    assert figures(data).escalations_after_close == 1
    text = write_report(data, tmp_path / "out").markdown.read_text(encoding="utf-8")
    assert "1 after the incident closed: its open cases were kept under the SLA sweep" in text
    assert "sla_action (after closure)" in text
    assert "status_closed (after closure)" not in text


def test_exercise_local_time_and_audit_log(store: Store, tmp_path: Path) -> None:
    """An exercise says EXERCISE in its title; times are in the playbook's zone; the audit log
    is a section and a CSV, with no raw email address."""
    playbook = tmp_path / "flood-bangkok.yaml"
    playbook.write_text(Path(FLOOD).read_text(encoding="utf-8") + "\ntimezone: Asia/Bangkok\n")
    with store.session() as session:
        incident = make_incident(session, exercise=True)
        incident.playbook_path = str(playbook)
        case = make_case(session, incident, now=T0)
        set_case_status(session, case, "dispatched", allowed=case_statuses(flood().statuses),
                        actor=Actor("user:1 ana", "api 10.0.0.7", 1), now=T0 + M)  # fmt: skip
        record(session, Actor.cli(), "invite", now=T0 + 2 * M, incident_id=incident.id,
               detail={"to": "noi@example.org"})  # fmt: skip
        data = collect(session, incident, T0 + 3 * M)
    files = write_report(data, tmp_path / "out")
    text = files.markdown.read_text(encoding="utf-8")
    assert text.startswith("# EXERCISE: INC-1: Flood")
    assert "Launched: 2026-11-25 16:00 +07 Asia/Bangkok" in text  # T0 is 09:00 UTC
    assert "case.status" in text and "from=new, to=dispatched" in text
    page = files.html.read_text(encoding="utf-8")
    assert "<h1>EXERCISE: INC-1: Flood</h1>" in page
    assert files.audit is not None
    rows = list(csv.DictReader(files.audit.open(encoding="utf-8")))
    assert [r["action"] for r in rows] == ["case.status", "invite"]
    everything = text + page + files.audit.read_text(encoding="utf-8")
    assert "noi@example.org" not in everything


def test_an_unknown_time_zone_is_a_clear_playbook_error(tmp_path: Path) -> None:
    """A misspelt zone names the field and how to write one."""
    playbook = tmp_path / "flood-mars.yaml"
    playbook.write_text(Path(FLOOD).read_text(encoding="utf-8") + "\ntimezone: Mars/Olympus\n")
    with pytest.raises(PlaybookError) as caught:
        load_playbook(playbook)
    assert "timezone" in str(caught.value) and "Asia/Bangkok" in str(caught.value)
