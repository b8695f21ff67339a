"""The phone link over HTTP (``/c/{token}``): the signed link is the only credential, it opens
one case for the agent it was sent to, and it stops as soon as ``case_link.expired`` says so.
Actions go through the same domain handlers as SMS commands, audited from ``console``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from desk_support import CUSTOMER, make_agent, make_case, make_incident
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from pydantic import SecretStr
from sqlalchemy import select

from crisiscast.channels.outbox import outbox_path, read_outbox
from crisiscast.config import Settings
from crisiscast.incidents.agents import case_link
from crisiscast.incidents.agents.roster import assign_case, holder_of
from crisiscast.incidents.people.audit import events
from crisiscast.incidents.store.database import Store
from crisiscast.incidents.store.models import Agent, Case, CaseEntry, InboundMessage
from crisiscast.web.app import create_app

WORDS = "Water up to the roof, 3 children with me"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@dataclass(frozen=True)
class Seeded:
    ref: str
    case_id: int
    noi: int  # holds the case
    ben: int  # holds nothing


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return Settings(tmp_path, db_url)


@pytest.fixture
def seeded(store: Store) -> Seeded:
    """An exercise incident (replies go to the outbox) with an urgent case held by Noi."""
    now = datetime.now(UTC)
    with store.session() as session:
        incident = make_incident(session, now=now)
        case = make_case(session, incident, now=now, language="en")
        message = session.scalars(select(InboundMessage)).one()
        message.body = WORDS
        noi = make_agent(session, 1, name="Noi")
        ben = make_agent(session, 2, name="Ben")
        assign_case(session, case, noi, now=now)
        return Seeded(incident.ref, case.id, noi.id, ben.id)


@pytest.fixture
def client(settings: Settings, store: Store, seeded: Seeded) -> Iterator[TestClient]:
    app = create_app(settings, "serve-token")
    with TestClient(app, follow_redirects=False) as test_client:
        yield test_client
    app.state.store.dispose()


def link(settings: Settings, case_id: int, agent_id: int) -> str:
    return "/c/" + case_link.sign(case_link.link_secret(settings), case_id, agent_id)


def post(client: TestClient, path: str, body: str = "") -> tuple[int, str, str | None]:
    response = client.post(path, content=body, headers=FORM)
    return response.status_code, response.text, response.headers.get("location")


def test_the_link_opens_the_case_with_the_unmasked_contact(
    client: TestClient, settings: Settings, seeded: Seeded
) -> None:
    url = link(settings, seeded.case_id, seeded.noi)
    response = client.get(url)
    assert response.status_code == 200
    html = response.text
    assert WORDS in html
    assert CUSTOMER in html and f'href="tel:{CUSTOMER}"' in html  # unmasked for its agent
    assert "signal trapped (urgency critical)" in html  # the why
    assert 'name="viewport"' in html and 'aria-live="polite"' in html
    assert 'for="reply-text"' in html and 'id="reply-text"' in html  # labelled
    assert '<option value="dispatched"' in html  # the playbook's statuses
    assert f"{url}/ack" in html and f"{url}/done" in html
    headers = response.headers
    assert headers["cache-control"] == "no-store"
    assert headers["referrer-policy"] == "no-referrer"
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    script = client.get("/c/_/case.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]


@pytest.mark.parametrize("tamper", ["sig", "case", "agent", "garbage", "unknown-case"])
def test_a_tampered_or_unknown_link_is_refused(
    client: TestClient, settings: Settings, seeded: Seeded, tamper: str
) -> None:
    token = link(settings, seeded.case_id, seeded.noi).removeprefix("/c/")
    case, agent, sig = token.split(".")
    bad = {
        "sig": f"{case}.{agent}.{'A' if sig[0] != 'A' else 'B'}{sig[1:]}",
        "case": f"{int(case) + 1}.{agent}.{sig}",
        "agent": f"{case}.{seeded.ben}.{sig}",
        "garbage": "not-a-token",
        "unknown-case": link(settings, 999_999, seeded.noi).removeprefix("/c/"),
    }[tamper]
    response = client.get(f"/c/{bad}")
    assert response.status_code == 403
    assert "not valid" in response.text
    assert post(client, f"/c/{bad}/ack")[0] == 403
    assert client.get(f"/c/{bad}/since").status_code == 403


def test_another_agents_link_does_not_open_the_case(
    client: TestClient, settings: Settings, store: Store, seeded: Seeded
) -> None:
    """Ben's genuine link to a case Noi holds: 403, and his buttons change nothing."""
    url = link(settings, seeded.case_id, seeded.ben)
    response = client.get(url)
    assert response.status_code == 403 and "not yours" in response.text
    assert CUSTOMER not in response.text and WORDS not in response.text
    assert post(client, f"{url}/done", "note=mine")[0] == 403
    assert post(client, f"{url}/reply", "text=hello")[0] == 403
    with store.session() as session:
        case = session.get_one(Case, seeded.case_id)
        assert case.resolved_at is None
        assert session.scalars(select(CaseEntry).where(CaseEntry.kind == "reply")).all() == []


def test_a_reply_goes_out_on_the_cases_channel_and_is_audited(
    client: TestClient, settings: Settings, store: Store, seeded: Seeded
) -> None:
    url = link(settings, seeded.case_id, seeded.noi)
    status, _, location = post(client, f"{url}/reply", "text=A+boat+is+on+its+way")
    assert (status, location) == (303, f"{url}?done=reply")
    sent = list(read_outbox(outbox_path(settings.outbox_dir / seeded.ref, "sms")))
    assert [(m["address"], m["text"]) for m in sent] == [(CUSTOMER, "A boat is on its way")]
    page = client.get(location)
    assert page.status_code == 200 and "Reply sent to the customer." in page.text
    assert "A boat is on its way" in page.text
    with store.session() as session:
        case = session.get_one(Case, seeded.case_id)
        assert case.first_responded_at is not None
        audit = events(session, action="case.reply")
        assert [(a.actor, a.source) for a in audit] == [(f"agent:{seeded.noi} Noi", "console")]
        assert CUSTOMER not in str(audit[0].detail)


def test_ack_and_status_apply_like_the_sms_commands(
    client: TestClient, settings: Settings, store: Store, seeded: Seeded
) -> None:
    url = link(settings, seeded.case_id, seeded.noi)
    assert post(client, f"{url}/ack")[:1] == (303,)
    assert post(client, f"{url}/status", "status=dispatched")[0] == 303
    refused = post(client, f"{url}/status", "status=teleported")
    assert refused[0] == 409 and "not a status of this incident" in refused[1]
    with store.session() as session:
        case = session.get_one(Case, seeded.case_id)
        assert case.status == "dispatched" and case.first_responded_at is not None
        held = holder_of(session, case.id)
        assert held is not None and held.acked_at is not None
        audit = [(a.action, a.source, (a.detail or {}).get("outcome")) for a in events(session)]
        assert audit == [
            ("agent.ack", "console", "applied"),
            ("case.status", "console", None),
            ("agent.status", "console", "applied"),
            ("agent.status", "console", "refused"),
        ]


def test_done_resolves_and_the_link_then_says_the_case_is_closed(
    client: TestClient, settings: Settings, store: Store, seeded: Seeded
) -> None:
    url = link(settings, seeded.case_id, seeded.noi)
    status, _, location = post(client, f"{url}/done", "note=Family+rescued+by+boat")
    assert (status, location) == (303, url)
    closed = client.get(url)
    assert closed.status_code == 410
    assert "the case is closed" in closed.text and WORDS not in closed.text
    assert post(client, f"{url}/reply", "text=late")[0] == 410
    assert client.get(f"{url}/since").json() == {
        "why": f"Case {seeded.case_id} is resolved: the case is closed, so this link no "
        "longer opens it. Thank you."
    }
    with store.session() as session:
        case = session.get_one(Case, seeded.case_id)
        assert case.status == "resolved" and case.resolved_at is not None
        assert [a.source for a in events(session, action="agent.done")] == ["console"]


@pytest.mark.parametrize("verb", ["pass", "esc"])
def test_pass_and_esc_hand_the_case_back(
    client: TestClient, settings: Settings, store: Store, seeded: Seeded, verb: str
) -> None:
    url = link(settings, seeded.case_id, seeded.noi)
    assert post(client, f"{url}/{verb}", "note=")[0] == 303
    assert client.get(url).status_code == 403  # no longer Noi's
    with store.session() as session:
        assert holder_of(session, seeded.case_id) is None


def test_the_link_expires_with_the_pass_and_the_roster(
    client: TestClient, settings: Settings, store: Store, seeded: Seeded
) -> None:
    url = link(settings, seeded.case_id, seeded.noi)
    with store.session() as session:
        session.get_one(Agent, seeded.noi).pass_expires_at = datetime.now(UTC) - timedelta(1)
    response = client.get(url)
    assert response.status_code == 410 and "pass has ended" in response.text
    with store.session() as session:
        noi = session.get_one(Agent, seeded.noi)
        noi.pass_expires_at, noi.active = None, False
    response = client.get(url)
    assert response.status_code == 410 and "no longer on the roster" in response.text


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        ("text=a%00b", FORM, 400),
        ("text=" + "x" * 20_000, FORM, 413),
        ("text=hi&text=again", FORM, 400),
        ('{"text": "hi"}', {"Content-Type": "application/json"}, 415),
        ("text=" + "x" * 1700, FORM, 413),
        ("text=+++", FORM, 409),
    ],
)
def test_odd_forms_are_refused_and_nothing_is_sent(
    client: TestClient,
    settings: Settings,
    seeded: Seeded,
    body: str,
    headers: dict[str, str],
    status: int,
) -> None:
    url = link(settings, seeded.case_id, seeded.noi)
    response = client.post(f"{url}/reply", content=body, headers=headers)
    assert response.status_code == status
    assert response.headers["cache-control"] == "no-store"
    assert not outbox_path(settings.outbox_dir / seeded.ref, "sms").exists()


def test_since_gives_the_lines_after_those_shown(
    client: TestClient, settings: Settings, store: Store, seeded: Seeded
) -> None:
    url = link(settings, seeded.case_id, seeded.noi)
    first = client.get(f"{url}/since?after=0").json()
    assert first["count"] == 1 and first["lines"][0]["body"] == WORDS
    with store.session() as session:
        session.add(InboundMessage(incident_id=None, channel="sms", sender=CUSTOMER,
                                   body="We are on the roof now", received_at=datetime.now(UTC),
                                   case_id=seeded.case_id))  # fmt: skip
    later = client.get(f"{url}/since?after=1").json()
    assert later["count"] == 2
    assert [x["body"] for x in later["lines"]] == ["We are on the roof now"]
    assert later["lines"][0]["kind"] == "incoming"
    assert client.get(f"{url}/since?after=99").json()["lines"] == []
    assert client.get(f"{url}/since?after=x").status_code == 422
    assert client.post(f"{url}/teleport", content="", headers=FORM).status_code in (404, 405)


def test_an_unusable_link_key_is_a_503_page_not_a_crash(
    tmp_path: Path, store: Store, db_url: str, seeded: Seeded
) -> None:
    """A link secret set too short (a config error) refuses every link, saying so."""
    good = Settings(tmp_path, db_url)
    url = link(good, seeded.case_id, seeded.noi)
    broken = Settings(tmp_path, db_url, link_secret=SecretStr("short"))
    app = create_app(broken, "serve-token")
    with TestClient(app, follow_redirects=False) as client:
        response = client.get(url)
        assert response.status_code == 503 and "link key is unusable" in response.text
        assert post(client, f"{url}/ack")[0] == 503
    app.state.store.dispose()


POSTS = ["reply", "ack", "done", "esc", "pass", "status"]


class Upload:
    """An ASGI ``receive`` that streams ``size`` bytes in 64 KiB chunks, counting what is read."""

    def __init__(self, size: int) -> None:
        self.left, self.read = size, 0

    async def __call__(self) -> dict[str, Any]:
        if self.left <= 0:
            await asyncio.sleep(3600)  # the client waits for the answer
        part = min(64 * 1024, self.left)
        self.left, self.read = self.left - part, self.read + part
        return {"type": "http.request", "body": b"x" * part, "more_body": self.left > 0}


def call_asgi(app: FastAPI, path: str, upload: Upload, *, declare: bool) -> int:
    """POST ``upload`` to ``path`` through ASGI: the status (the body is read only on demand)."""
    headers = [(b"content-type", b"application/x-www-form-urlencoded")]
    if declare:
        headers.append((b"content-length", str(upload.left).encode()))
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": headers, "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }  # fmt: skip
    status: list[int] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    asyncio.run(asyncio.wait_for(app(scope, upload, send), timeout=30))
    return status[0]


@pytest.mark.parametrize("action", POSTS)
def test_a_huge_body_is_refused_before_it_is_read(
    settings: Settings, store: Store, seeded: Seeded, action: str
) -> None:
    """100 MB declared: 413 with nothing read; undeclared (chunked): 413 soon after 16 KiB."""
    app = create_app(settings, "serve-token")
    path = f"{link(settings, seeded.case_id, seeded.noi)}/{action}"
    declared = Upload(100 * 1024 * 1024)
    assert (call_asgi(app, path, declared, declare=True), declared.read) == (413, 0)
    chunked = Upload(100 * 1024 * 1024)
    assert call_asgi(app, path, chunked, declare=False) == 413
    assert chunked.read <= 128 * 1024
    app.state.store.dispose()
    with store.session() as session:
        assert session.get_one(Case, seeded.case_id).status == "new"


_any_text = st.text(st.characters(codec="utf-8"), max_size=300)  # unicode, NUL, controls


@hsettings(max_examples=60, deadline=None,
           suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    action=st.sampled_from(["reply", "ack", "status"]),  # DONE, ESC, PASS end the link
    form=st.dictionaries(
        st.sampled_from(["text", "note", "status"]) | _any_text, _any_text, max_size=4
    ),
    after=st.integers(min_value=-(2**70), max_value=2**70),
)
def test_any_form_on_a_valid_link_never_answers_5xx(
    client: TestClient,
    settings: Settings,
    seeded: Seeded,
    action: str,
    form: dict[str, str],
    after: int,
) -> None:
    """Any field, any text (NUL, controls, any script) on a link that opens: never a 5xx."""
    url = link(settings, seeded.case_id, seeded.noi)
    response = client.post(f"{url}/{action}", content=urlencode(form), headers=FORM)
    assert response.status_code < 500, (action, form, response.text[:300])
    assert client.get(f"{url}/since?after={after}").status_code < 500
    assert client.get(url).status_code < 500
