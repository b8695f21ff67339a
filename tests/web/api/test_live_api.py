"""``/api/v1`` under a real uvicorn over HTTP: tokens and console sessions (with their CSRF
token), the body read only after the caller is known, and answers that fit the OpenAPI
document."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from api_support import SERVE_TOKEN, add_users, check_response
from desk_support import make_case, make_incident
from fastapi import FastAPI
from live_app import serve_app

from crisiscast.config import Settings
from crisiscast.incidents.people.users import by_username, start_session
from crisiscast.incidents.store.database import Store

NOTES = "/api/v1/cases/{case_id}/notes"


def test_tokens_sessions_and_csrf_over_http(app: FastAPI, store: Store, settings: Settings) -> None:
    """A token works; a console cookie needs its CSRF token to change anything; an unsigned
    request is refused before its (oversized) body is read."""
    tokens = add_users(store)
    now = datetime.now(UTC)
    with store.session() as session:
        make_case(session, make_incident(session, now=now), now=now)
        agent = by_username(session, "agent")
        assert agent is not None
        browser = start_session(session, agent, now=now, client="127.0.0.1")
    doc = app.openapi()
    with serve_app(app, settings) as base, httpx.Client(base_url=base) as http:

        def post(headers: dict[str, str], **kw: object) -> httpx.Response:
            response = http.post(NOTES.format(case_id=1), headers=headers, **kw)  # type: ignore[arg-type]
            check_response(doc, "POST", NOTES, response)
            return response

        token = {"Authorization": f"Bearer {tokens['agent']}"}
        assert post(token, json={"text": "on my way"}).status_code == 201
        cookie = {"Cookie": f"crisiscast_session={browser.cookie}"}
        stale = post(cookie, json={"text": "from the console"})
        assert stale.status_code == 403 and "reload" in stale.json()["detail"]
        with_csrf = {**cookie, "X-CSRF-Token": browser.csrf_token}
        assert post(with_csrf, json={"text": "from the console"}).status_code == 201
        form = {**cookie, "Content-Type": "application/x-www-form-urlencoded"}
        assert post(form, content=b"text=x").status_code == 403  # a cross-site form post
        huge = b'{"text": "' + b"x" * 200_000 + b'"}'
        assert post({}, content=huge).status_code == 401
        assert post(token, content=huge).status_code == 413
        cli = {"Authorization": f"Bearer {SERVE_TOKEN}"}
        listed = http.get("/api/v1/cases/1", headers=cli)
        check_response(doc, "GET", "/api/v1/cases/{case_id}", listed)
        notes = [line["body"] for line in listed.json()["conversation"] if line["kind"] == "note"]
        assert notes == ["on my way", "from the console"]
