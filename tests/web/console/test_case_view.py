"""The signed-in case view over real HTTP: who sees the contact whole, who may act, what each
action changes and audits, and hostile requests answered with a 4xx page (never a 5xx)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from console_support import Console, SignedIn, running_console, signed_client
from desk_support import CUSTOMER, make_case, make_incident
from sqlalchemy import select

from crisiscast.channels.outbox import outbox_path, read_outbox
from crisiscast.config import Settings
from crisiscast.incidents.agents.roster import assign_case, holder_of
from crisiscast.incidents.store.models import Agent, AuditEvent, Case
from crisiscast.web.auth import Principal
from crisiscast.web.console.case_view import open_questions, sees_contact

MASKED = "+6681****678"


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """INC-1 (an exercise: replies go to its outbox) with cases 1 and 2 held by Noi (1 is
    only read; 2 is worked) and case 3 held by nobody. Each test works its own case."""
    now = datetime.now(UTC)
    home = tmp_path_factory.mktemp("view")
    with running_console(Settings(home, f"sqlite:///{home / 'crisiscast.db'}")) as running:
        with running.app.state.store.session() as session:
            incident = make_incident(session, now=now - timedelta(hours=1))
            noi = session.scalars(select(Agent)).one()
            for n in range(3):
                case = make_case(session, incident, now=now - timedelta(minutes=30 - n))
                case.why = {"why": ["signal trapped (urgency critical)"], "decided_by": "rules",
                            "unanswered": ["how_many", "no_such_question"]}  # fmt: skip
                if n < 2:
                    assign_case(session, case, noi, now=now)
        yield running


@pytest.fixture(scope="module")
def users(console: Console) -> Iterator[dict[str, SignedIn]]:
    """A signed-in client for every user of the console."""
    with ExitStack() as stack:
        yield {name: stack.enter_context(signed_client(console.base, name))
               for name in ("ana", "bo", "noi", "vic")}  # fmt: skip


def post(user: SignedIn, path: str, **fields: str) -> httpx.Response:
    """A console form post with the session's CSRF token."""
    return user.client.post(path, data={"csrf_token": user.csrf, **fields})


def audit(console: Console, action: str) -> list[AuditEvent]:
    with console.app.state.store.session() as session:
        rows = list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))
        session.expunge_all()
        return rows


def test_the_view_shows_the_words_the_why_the_open_questions_and_the_conversation(
    users: dict[str, SignedIn],
) -> None:
    page = users["vic"].client.get("/console/cases/1")
    assert page.status_code == 200
    text = page.text
    assert '<blockquote lang="th">help</blockquote>' in text  # the customer's own words
    assert "signal trapped (urgency critical)" in text  # the why
    assert "How many people are with you, and is anyone injured?" in text  # still open
    assert 'id="conversation"' in text and 'aria-live="polite"' in text
    assert 'data-live="/console/cases/1/live"' in text
    assert "Noi Phan" in text  # who holds it


@pytest.mark.parametrize(
    ("who", "whole"), [("noi", True), ("ana", True), ("vic", False), ("bo", False)]
)
def test_the_contact_is_whole_only_for_the_holder_and_commanders(
    users: dict[str, SignedIn], who: str, whole: bool
) -> None:
    text = users[who].client.get("/console/cases/1").text
    assert (f'href="tel:{CUSTOMER}"' in text) is whole
    assert (MASKED in text) is not whole
    assert (CUSTOMER in text) is whole


def test_a_viewer_reads_but_gets_no_forms_and_may_not_post(
    users: dict[str, SignedIn], console: Console
) -> None:
    vic = users["vic"]
    page = vic.client.get("/console/cases/3")
    assert "may read cases but not work them" in page.text
    assert 'method="post" action="/console/cases' not in page.text
    refused = post(vic, "/console/cases/3/note", text="a viewer's note")
    assert refused.status_code == 403
    assert "commander" in refused.text and "agent" in refused.text  # who may
    assert audit(console, "case.note") == []


def test_a_post_without_the_csrf_token_is_refused(users: dict[str, SignedIn]) -> None:
    ana = users["ana"]
    missing = ana.client.post("/console/cases/3/note", data={"text": "forged"})
    wrong = ana.client.post("/console/cases/3/note", data={"text": "x", "csrf_token": "nope"})
    assert missing.status_code == wrong.status_code == 403
    assert "forged" not in ana.client.get("/console/cases/3").text


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/console/cases/999", 404),
        ("/console/cases/99999999999999999999", 404),
        ("/console/cases/2147483648", 404),
        ("/console/cases/0", 404),
        ("/console/cases/abc", 404),
        ("/console/cases/%C2%B2", 404),  # a superscript two is a digit to str.isdigit
        ("/console/cases/1%00", 400),
        ("/console/cases/999/live", 404),
        ("/console/cases/1%00/live", 400),
    ],
)
def test_unknown_and_hostile_case_ids_get_a_4xx(
    users: dict[str, SignedIn], path: str, status: int
) -> None:
    answer = users["ana"].client.get(path)
    assert answer.status_code == status


@pytest.mark.parametrize(
    ("path", "fields", "status", "says"),
    [
        ("/console/cases/999/note", {"text": "x"}, 404, "There is no case"),
        ("/console/cases/99999999999/reply", {"text": "x"}, 404, "There is no case"),
        ("/console/cases/3/launch", {"text": "x"}, 404, "Cases take reply, note"),
        ("/console/cases/3/note", {"text": "bad\x00byte"}, 400, "NUL character"),
        ("/console/cases/3/note", {"text": "  "}, 400, "Note: write or choose it first"),
        ("/console/cases/3/note", {"text": "x" * 1601}, 400, "keep it under 1600"),
        ("/console/cases/3/reply", {}, 400, "Reply: write or choose it first"),
        ("/console/cases/3/status", {"status": "teleported"}, 400, "not one of this playbook"),
        ("/console/cases/3/ack", {}, 409, "Only the agent holding case 3 can ACK it"),
    ],
)
def test_bad_posts_get_a_page_that_says_what_to_do(
    users: dict[str, SignedIn], path: str, fields: dict[str, str], status: int, says: str
) -> None:
    answer = post(users["ana"], path, **fields)
    assert answer.status_code == status
    assert says in answer.text
    assert 'role="alert"' in answer.text


def test_a_commander_notes_sets_a_status_and_replies(
    users: dict[str, SignedIn], console: Console
) -> None:
    ana = users["ana"]
    noted = post(ana, "/console/cases/3/note", text="Boat team 2 is closest")
    assert noted.status_code == 303
    assert noted.headers["location"] == "/console/cases/3?done=note"
    page = ana.client.get("/console/cases/3?done=note")
    assert '<p role="status">Note added to the case.</p>' in page.text
    assert "Boat team 2 is closest" in page.text

    assert post(ana, "/console/cases/3/status", status="acknowledged").status_code == 303
    replied = post(ana, "/console/cases/3/reply", text="Help is coming")
    assert replied.headers["location"] == "/console/cases/3?done=reply"
    outbox = outbox_path(console.settings.outbox_dir / "INC-1", "sms")
    assert [m["text"] for m in read_outbox(outbox) if m["address"] == CUSTOMER] == [
        "Help is coming"
    ]
    with console.app.state.store.session() as session:
        assert session.get_one(Case, 3).status == "acknowledged"
    for action in ("case.note", "case.status", "case.reply"):
        (entry,) = [e for e in audit(console, action) if e.subject == "case 3"]
        assert entry.actor.endswith(" ana") and entry.source.startswith("console ")


def test_the_holding_agent_replies_acknowledges_and_resolves(
    users: dict[str, SignedIn], console: Console
) -> None:
    noi = users["noi"]
    page = noi.client.get("/console/cases/2")
    assert "Acknowledge (ACK): I am on it" in page.text
    assert post(noi, "/console/cases/2/reply", text="We see you").status_code == 303
    assert post(noi, "/console/cases/2/ack").headers["location"] == "/console/cases/2?done=ack"
    with console.app.state.store.session() as session:
        assert session.get_one(Case, 2).status == "acknowledged"
    done = post(noi, "/console/cases/2/done", note="Picked up by boat")
    assert done.headers["location"] == "/console/cases/2?done=done"
    with console.app.state.store.session() as session:
        case = session.get_one(Case, 2)
        assert case.status == "resolved" and holder_of(session, 2) is None
    applied = [e for e in audit(console, "agent.ack") + audit(console, "agent.done")
               if e.subject == "case 2"]  # fmt: skip
    assert len(applied) == 2
    assert all(e.detail and e.detail["outcome"] == "applied" for e in applied)
    assert all(e.actor == "agent:1 Noi Phan" and e.source == "console" for e in applied)
    # Resolved and released: the buttons are gone, and a stale one is refused and audited.
    again = post(noi, "/console/cases/2/pass")
    assert again.status_code == 409 and "nobody holds it" in again.text
    (refused,) = [e for e in audit(console, "agent.pass") if e.subject == "case 2"]
    assert refused.detail and refused.detail["outcome"] == "refused"


def test_the_live_part_answers_the_conversation_and_the_status(
    users: dict[str, SignedIn],
) -> None:
    live = users["vic"].client.get("/console/cases/1/live")
    assert live.status_code == 200
    parts = live.json()["parts"]
    assert set(parts) == {"conversation", "case-status", "case-sla", "case-agent"}
    assert '<p class="body">help</p>' in parts["conversation"]
    assert parts["case-agent"] == "Noi Phan"
    assert parts["case-status"].startswith("new; open 30 min; first response overdue by")


def test_signed_out_callers_are_sent_to_sign_in(console: Console) -> None:
    answer = httpx.post(f"{console.base}/console/cases/3/note", data={"text": "x"})
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


def principal(role: str, agent_id: int | None = None) -> Principal:
    return Principal(1, "someone", role, "session", "127.0.0.1", agent_id=agent_id)


def test_who_sees_the_contact_whole() -> None:
    assert sees_contact(principal("commander"), holder_id=None)
    assert sees_contact(principal("agent", agent_id=4), holder_id=4)
    assert not sees_contact(principal("agent", agent_id=4), holder_id=5)
    assert not sees_contact(principal("agent"), holder_id=None)
    assert not sees_contact(principal("viewer"), holder_id=None)


def test_open_questions_follow_the_latest_triage() -> None:
    texts = {"a": "Where are you?", "b": "How many?", "c": "Hurt?"}
    assert open_questions({"unanswered": ["c", "a", "zz"]}, texts) == ["Where are you?", "Hurt?"]
    raised = {"unanswered": ["a", "b"], "raised": {"unanswered": ["b"]}}
    assert open_questions(raised, texts) == ["How many?"]
    assert open_questions(None, texts) == []
