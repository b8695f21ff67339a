"""The stand-down page in Chromium, through to the real stand-down flow (a Prefect test API):
it warns about the open urgent case, the commander hands it to an agent on duty, confirms,
and reads what was done; the incident is closed and the page then has nothing to offer.
Every step passes axe-core's WCAG 2.1 AA check."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from console_support import Console, axe_problems, running_console, sign_in
from desk_support import FLOOD, make_agent, make_case
from prefect.testing.utilities import prefect_test_harness
from sqlalchemy import select

from crisiscast.config import Settings
from crisiscast.flows.launch import open_incident
from crisiscast.incidents.agents.roster import holder_of
from crisiscast.incidents.store.models import Agent, AuditEvent, Contact, Incident, IncidentStatus

PAGE = "/console/incidents/INC-1/stand-down"
FLOW_TIMEOUT_MS = 90_000  # the stand-down flow: all-clear broadcast, paging, CSAT, close


@pytest.fixture(scope="module")
def prefect_api() -> Iterator[None]:
    """A throwaway Prefect API for the flow the page runs (``serve`` keeps its own warm)."""
    with prefect_test_harness(server_startup_timeout=60):
        yield


@pytest.fixture
def console(
    prefect_api: None, tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Console]:
    """An exercise incident launched to a few people (nothing sent yet), an open urgent case
    nobody holds, Noi and Lek among the agents on duty."""
    monkeypatch.setenv("CRISISCAST_HOME", str(tmp_path))  # the flows' own settings
    with running_console(Settings(tmp_path, sqlite_url)) as running:
        with running.app.state.store.session() as session:
            session.add_all(Contact(audience="all", phone=f"+6690000000{i}", language="th")
                            for i in range(3))  # fmt: skip
        open_incident.fn(FLOOD, {"area": "Riverside"}, True, sqlite_url, {"everyone": True})
        with running.app.state.store.session() as session:
            incident = session.get_one(Incident, 1)
            make_case(session, incident, now=datetime.now(UTC) - timedelta(minutes=40))
            make_agent(session, 3, name="Lek Saetang")
        yield running


def agent_id(console: Console, name: str) -> int:
    """An agent's id (the playbook's roster, loaded at the launch, adds agents too)."""
    with console.app.state.store.session() as session:
        return session.scalars(select(Agent.id).where(Agent.name == name)).one()


def test_the_commander_hands_the_urgent_case_over_and_stands_down(
    page: Any, console: Console
) -> None:
    sign_in(page, console.base, "ana", PAGE)
    warning = page.get_by_role("alert")
    assert "1 open urgent or high case" in warning.inner_text()
    row = page.get_by_role("table", name="Open urgent and high cases").locator("tbody tr")
    assert row.get_by_role("link", name="Case 1").get_attribute("href") == "/console/cases/1"
    assert row.locator("td").all_inner_texts()[1:] == ["urgent", "nobody", "new", "40 min"]
    assert axe_problems(page) == []

    page.get_by_label("Hand them over to this agent on duty").check()
    page.get_by_label("Agent who takes them").select_option(label="Lek Saetang (0 open cases)")
    with page.expect_navigation():
        page.get_by_role("button", name="Review the stand-down").click()
    assert "go to Lek Saetang, who is paged for each" in page.get_by_role("status").inner_text()
    assert axe_problems(page) == []
    with console.app.state.store.session() as session:  # nothing done before the confirmation
        assert session.get_one(Incident, 1).status == IncidentStatus.ACTIVE

    with page.expect_navigation(timeout=FLOW_TIMEOUT_MS):
        page.get_by_role("button", name="Stand down now").click()
    assert page.locator("h1").inner_text() == "INC-1 stood down"
    done = page.get_by_role("status").inner_text()
    lek = agent_id(console, "Lek Saetang")
    assert f"Open urgent/high cases 1 (urgent): handed to agent {lek}, who was paged." in done
    assert "Lek Saetang took the open urgent and high cases." in done
    assert axe_problems(page) == []
    with console.app.state.store.session() as session:
        assert session.get_one(Incident, 1).status == IncidentStatus.CLOSED
        held = holder_of(session, 1)
        assert held is not None and held.agent_id == lek
        audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "stand_down")).one()
        assert audit.actor == "user:1 ana" and audit.detail == {
            "already_closed": False, "hand_over_to": lek
        }  # fmt: skip

    page.goto(f"{console.base}{PAGE}")
    assert "INC-1 is closed" in page.get_by_role("status").inner_text()
    assert page.locator("main button").count() == 0
