"""The case queue over real HTTP: most severe first then oldest, the API's filters and the SLA
state, keyset pages, a live part with a short summary, and hostile filters answered with a
4xx page that names the filter (never a 5xx)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from console_support import Console, SignedIn, running_console, signed_client
from desk_support import make_case, make_incident
from sqlalchemy import select

from crisiscast.config import Settings
from crisiscast.incidents.agents.roster import assign_case
from crisiscast.incidents.store.models import Agent
from crisiscast.web.console import case_queue
from crisiscast.web.console.case_queue import Filters, parse_filters, severity_ranks
from crisiscast.web.request_checks import BadRequest


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """One console for the module (these tests only read). INC-1 with four cases: 1 high
    (50 min old: due soon), 2 urgent (1 h, held by Noi), 3 urgent (3 h, English), 4 urgent
    but resolved; and INC-2 with none."""
    now = datetime.now(UTC)
    home = tmp_path_factory.mktemp("queue")
    with running_console(Settings(home, f"sqlite:///{home / 'crisiscast.db'}")) as running:
        with running.app.state.store.session() as session:
            incident = make_incident(session, now=now - timedelta(hours=4))
            make_incident(session, now=now)
            make_case(session, incident, severity="high", now=now - timedelta(minutes=50))
            held = make_case(session, incident, now=now - timedelta(hours=1))
            make_case(session, incident, now=now - timedelta(hours=3), language="en")
            closed = make_case(session, incident, now=now - timedelta(hours=5))
            closed.status, closed.resolved_at = "resolved", now
            noi = session.scalars(select(Agent)).one()
            assign_case(session, held, noi, now=now)
        yield running


@pytest.fixture(scope="module")
def vic(console: Console) -> Iterator[SignedIn]:
    with signed_client(console.base, "vic") as signed:
        yield signed


def shown(response: httpx.Response) -> list[int]:
    """The case numbers the queue's table lists, in order."""
    assert response.status_code == 200, response.text
    return [int(n) for n in re.findall(r'href="/console/cases/(\d+)"', response.text)]


def test_open_cases_come_most_severe_first_then_oldest(vic: SignedIn) -> None:
    page = vic.client.get("/console/cases")
    assert shown(page) == [3, 2, 1]  # urgent 3 h, urgent 1 h, high 50 min; 4 is resolved
    # Both urgent cases are past their 15-minute first response, the high one has 10 minutes
    # left of its hour: the summary says so.
    assert "3 cases: 2 urgent, 2 breached, 1 due soon." in page.text
    assert 'id="queue-summary" aria-live="polite"' in page.text


@pytest.mark.parametrize(
    ("query", "cases"),
    [
        ("severity=high", [1]),
        ("language=en", [3]),
        ("agent=1", [2]),
        ("incident=INC-1", [3, 2, 1]),
        ("incident=INC-2", []),
        ("sla=breached", [3, 2]),
        ("sla=nearing", [1]),
        ("sla=met", []),
        ("status=all", [4, 3, 2, 1]),
        ("status=resolved", [4]),
        ("status=new&severity=urgent", [3, 2]),
        ("severity=&sla=&language=&agent=&incident=&status=", [3, 2, 1]),  # the empty form
    ],
)
def test_filters_narrow_the_queue(vic: SignedIn, query: str, cases: list[int]) -> None:
    assert shown(vic.client.get(f"/console/cases?{query}")) == cases


def test_an_empty_result_says_so(vic: SignedIn) -> None:
    page = vic.client.get("/console/cases?incident=INC-2")
    assert "No case matches these filters." in page.text
    assert "0 cases: 0 urgent, 0 breached, 0 due soon." in page.text


def test_pages_follow_the_queue_order_without_repeats(
    vic: SignedIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(case_queue, "SHOWN", 2)  # the server runs in this process
    first = vic.client.get("/console/cases?status=all")
    assert shown(first) == [4, 3]
    found = re.search(r'href="(/console/cases\?[^"]*after=3[^"]*)">Next page', first.text)
    assert found is not None
    second = vic.client.get(found.group(1).replace("&amp;", "&"))
    assert shown(second) == [2, 1]
    assert "Next page" not in second.text and "First page" in second.text


def test_the_live_part_holds_the_summary_and_the_table(vic: SignedIn) -> None:
    page = vic.client.get("/console/cases?severity=urgent")
    assert 'data-live="/console/cases/live?severity=urgent"' in page.text
    live = vic.client.get("/console/cases/live?severity=urgent")
    assert live.status_code == 200
    parts = live.json()["parts"]
    assert parts["queue-summary"] == "2 cases: 2 urgent, 2 breached, 0 due soon."
    assert re.findall(r'href="/console/cases/(\d+)"', parts["queue-table"]) == ["3", "2"]


@pytest.mark.parametrize(
    ("query", "status", "named"),
    [
        ("incident=INC-99", 404, "Filter incident: incident INC-99 does not exist"),
        ("incident=nonsense", 404, "Filter incident: &#x27;nonsense&#x27; is not an incident"),
        ("incident=INC-99999999999999", 404, "Filter incident"),
        ("severity=DROP%20TABLE", 400, "Filter severity"),
        ("status=" + "a" * 60, 400, "Filter status"),
        ("language=english!", 400, "Filter language"),
        ("agent=99999999999", 400, "Filter agent"),
        ("agent=-1", 400, "Filter agent"),
        ("sla=late", 400, "Filter sla"),
        ("after=12x", 400, "Filter after"),
        ("after=999", 400, "Filter after: case 999 does not exist"),
        ("severity=urg%00ent", 400, "NUL character"),
    ],
)
def test_bad_filters_get_a_page_naming_the_filter(
    vic: SignedIn, query: str, status: int, named: str
) -> None:
    page = vic.client.get(f"/console/cases?{query}")
    assert page.status_code == status
    assert named in page.text
    assert 'role="alert"' in page.text and '<form method="get"' in page.text  # try again
    live = vic.client.get(f"/console/cases/live?{query}")
    assert live.status_code == status
    assert named.replace("&#x27;", "'") in live.json()["detail"]


def test_signed_out_callers_are_sent_to_sign_in(console: Console) -> None:
    for path in ("/console/cases?sla=breached", "/console/cases/live"):
        answer = httpx.get(console.base + path)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/login?next=/console/cases")
    # console.js polls with Accept: application/json: a 401 it acts on, not the sign-in page.
    polled = httpx.get(console.base + "/console/cases/live", headers={"Accept": "application/json"})
    assert polled.status_code == 401 and polled.json() == {"detail": "sign in first"}


def test_filters_are_read_strictly() -> None:
    assert parse_filters({"severity": " urgent ", "after": "7"}) == Filters(
        severity="urgent", after=7
    )
    with pytest.raises(BadRequest, match="Filter agent"):
        parse_filters({"agent": "0"})
    assert Filters(severity="high", agent="2", after=5).link() == (
        "/console/cases?severity=high&agent=2&after=5"
    )
    assert Filters(severity="high", after=5).link(after=0) == "/console/cases?severity=high"


def test_severity_ranks_put_each_playbooks_most_severe_first() -> None:
    ranks = severity_ranks([("urgent", "high", "low"), ("critical", "urgent", "minor")])
    assert ranks == {"urgent": 0, "high": 1, "low": 2, "critical": 0, "minor": 2}


def test_the_order_and_pages_hold_on_each_database(
    tmp_path_factory: pytest.TempPathFactory, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rank expression and the keyset condition are SQL: SQLite and PostgreSQL alike."""
    now = datetime.now(UTC)
    with running_console(Settings(tmp_path_factory.mktemp("db"), db_url)) as running:
        with running.app.state.store.session() as session:
            incident = make_incident(session, now=now - timedelta(hours=4))
            for severity, age in (("low", 3), ("urgent", 1), ("high", 2), ("urgent", 2)):
                make_case(session, incident, severity=severity, now=now - timedelta(hours=age))
        monkeypatch.setattr(case_queue, "SHOWN", 3)
        with signed_client(running.base, "vic") as vic:
            first = vic.client.get("/console/cases")
            assert shown(first) == [4, 2, 3]
            assert shown(vic.client.get("/console/cases?after=3")) == [1]
