"""The stand-down page over real HTTP, up to the confirmation (the flow itself runs in the
browser test): it warns about open urgent and high cases, refuses roles, signed-out callers,
forms without CSRF or with odd fields, and has nothing to offer on a closed incident."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from console_support import Console, running_console
from desk_support import make_agent, make_case, make_incident
from sqlalchemy import select

from crisiscast.config import Settings
from crisiscast.incidents.agents.roster import assign_case
from crisiscast.incidents.people.users import by_username, start_session
from crisiscast.incidents.store.models import Agent, Incident, IncidentStatus
from crisiscast.web.console.stand_down import (
    Choice,
    FormProblem,
    Pressing,
    Situation,
    Taker,
    age,
    choose,
)

NOW = datetime.now(UTC)
PAGE = "/console/incidents/INC-1/stand-down"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def console(tmp_path: Path, sqlite_url: str) -> Iterator[Console]:
    """INC-1 with an urgent case held by Noi (agent 1), a low case, and a temporary agent."""
    now = datetime.now(UTC)
    with running_console(Settings(tmp_path, sqlite_url)) as running:
        with running.app.state.store.session() as session:
            incident = make_incident(session, now=now - timedelta(hours=2))
            urgent = make_case(session, incident, now=now - timedelta(minutes=75, seconds=10))
            make_case(session, incident, severity="low", now=now, sender="+66811111111")
            noi = session.scalars(select(Agent).where(Agent.name == "Noi Phan")).one()
            assign_case(session, urgent, noi, now=now)
            make_agent(session, 2, name="Tem Porary", temporary=True,
                       pass_expires_at=now + timedelta(hours=8))  # fmt: skip
        yield running


def signed_in(console: Console, username: str) -> tuple[httpx.Client, str]:
    """A client with ``username``'s console session, and the session's CSRF token."""
    with console.app.state.store.session() as session:
        user = by_username(session, username)
        assert user is not None
        made = start_session(session, user, now=datetime.now(UTC), client="127.0.0.1")
    cookie = {"Cookie": f"crisiscast_session={made.cookie}"}
    return httpx.Client(base_url=console.base, headers=cookie), made.csrf_token


def test_the_page_warns_about_the_open_urgent_case(console: Console) -> None:
    http, _ = signed_in(console, "ana")
    with http:
        html = http.get(PAGE).text
    assert '<div role="alert" id="pressing-warning">' in html
    assert "1 open urgent or high case" in html
    assert '<a href="/console/cases/1">Case 1</a>' in html
    assert "agent 1 Noi Phan" in html and "<td>1 h 15 min</td>" in html  # waiting since
    assert "/console/cases/2" not in html  # the low case is not pressing
    assert '<option value="1">Noi Phan (1 open case)</option>' in html
    assert "Tem Porary" not in html  # temporary agents are released at stand-down


def test_review_shows_what_will_happen_before_anything_does(console: Console) -> None:
    http, csrf = signed_in(console, "ana")
    with http:
        answer = http.post(PAGE, headers=FORM, data={
            "csrf_token": csrf, "step": "review", "cases": "hand_over", "agent": "1"})  # fmt: skip
    assert answer.status_code == 200
    assert "go to Noi Phan, who is paged for each" in answer.text
    assert ">Stand down now</button>" in answer.text
    assert '<input type="hidden" name="agent" value="1">' in answer.text
    with console.app.state.store.session() as session:
        assert session.get_one(Incident, 1).status == IncidentStatus.ACTIVE


@pytest.mark.parametrize(
    ("form", "field"),
    [({"step": "review"}, "field cases"),
     ({"step": "review", "cases": "hand_over", "agent": "2"}, "field agent"),
     ({"step": "review", "cases": "hand_over", "agent": "99999999999999999999"}, "field agent"),
     ({"cases": "keep"}, "field step"),
     ({"step": "confirm", "cases": "drop"}, "field cases")],
)  # fmt: skip
def test_odd_forms_are_400_naming_the_field(
    console: Console, form: dict[str, str], field: str
) -> None:
    http, csrf = signed_in(console, "ana")
    with http:
        answer = http.post(PAGE, headers=FORM, data={"csrf_token": csrf, **form})
    assert answer.status_code == 400
    assert field in answer.text


def test_forms_without_csrf_or_with_nul_are_refused(console: Console) -> None:
    http, csrf = signed_in(console, "ana")
    with http:
        no_csrf = http.post(PAGE, headers=FORM, data={"step": "review", "cases": "keep"})
        nul_form = {"csrf_token": csrf, "step": "review", "cases": "keep\x00"}
        nul = http.post(PAGE, headers=FORM, data=nul_form)
    assert no_csrf.status_code == 403
    assert nul.status_code == 400


@pytest.mark.parametrize("username", ["bo", "noi", "vic"])
def test_other_roles_get_403(console: Console, username: str) -> None:
    http, csrf = signed_in(console, username)
    with http:
        assert http.get(PAGE).status_code == 403
        post = http.post(PAGE, headers=FORM, data={"csrf_token": csrf, "step": "review"})
        assert post.status_code == 403


def test_signed_out_is_sent_to_sign_in(console: Console) -> None:
    with httpx.Client(base_url=console.base) as http:
        answer = http.get(PAGE)
        post = http.post(PAGE, headers=FORM, data={"step": "confirm", "cases": "keep"})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/console/incidents/INC-1/stand-down"
    assert post.status_code == 303


@pytest.mark.parametrize("ref", ["INC-7", "INC-1%00", "INC-" + "9" * 30, "%E0%B8%81" * 50])
def test_unknown_refs_are_404(console: Console, ref: str) -> None:
    http, csrf = signed_in(console, "ana")
    with http:
        page = http.get(f"/console/incidents/{ref}/stand-down")
        post = http.post(f"/console/incidents/{ref}/stand-down", headers=FORM,
                         data={"csrf_token": csrf, "step": "review", "cases": "keep"})  # fmt: skip
    assert page.status_code == 404 and "No such incident" in page.text
    assert post.status_code == 404


def test_a_closed_incident_says_so_and_offers_no_button(console: Console) -> None:
    with console.app.state.store.session() as session:
        incident = session.get_one(Incident, 1)
        incident.status = IncidentStatus.CLOSED
        incident.closed_at = datetime.now(UTC)
    http, csrf = signed_in(console, "ana")
    with http:
        html = http.get(PAGE).text
        post = http.post(PAGE, headers=FORM,
                         data={"csrf_token": csrf, "step": "confirm", "cases": "keep"})  # fmt: skip
    assert "INC-1 is closed" in html and "nothing to stand down" in html
    assert "<button" not in html.split("<main", 1)[1]
    assert post.status_code == 409


def test_the_choice_is_read_from_the_form() -> None:
    pressing = (Pressing(1, "urgent", "new", None, NOW),)
    takers = (Taker(3, "Noi", 0),)
    situation = Situation("INC-1", "Flood", "active", None, pressing, takers)
    assert choose({"cases": "keep"}, situation) == Choice(None)
    assert choose({"cases": "hand_over", "agent": "3"}, situation) == Choice(takers[0])
    with pytest.raises(FormProblem, match="field agent"):
        choose({"cases": "hand_over", "agent": "4"}, situation)
    nothing_pressing = Situation("INC-1", "Flood", "active", None, (), takers)
    assert choose({}, nothing_pressing) == Choice(None)
    assert age(NOW - timedelta(minutes=125), NOW) == "2 h 05 min"
    assert age(NOW + timedelta(minutes=1), NOW) == "0 min"
