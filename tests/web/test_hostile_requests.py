"""Hostile and odd requests get a short 4xx, never a 500, and nobody reads a body unasked.

Issue 12, F4 (inputs that crashed a route) and F5 (``/api/launch`` parsed a whole body before it
checked the token: four unauthenticated 100 MB posts doubled the server's memory).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import threading
import time
from base64 import b64encode
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from crisiscast.config import InboundEmailSettings, Settings, TwilioSettings
from crisiscast.incidents.agents.roster import add_agent
from crisiscast.incidents.store.database import Store, create_incident
from crisiscast.incidents.store.models import InboundMessage
from crisiscast.web.app import create_app
from tests.web.test_fuzz_routes import route_paths

TOKEN = "twilio-auth-token-for-tests"
PUBLIC = "https://crisis.example.org"
LAUNCH_TOKEN = "launch-token"
FLOOD = Path(__file__).resolve().parents[2] / "playbooks" / "regional-flood.yaml"
AGENT = "+66811111111"
HUNDRED_MB = 100 * 1024 * 1024


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    twilio = TwilioSettings("AC" + "0" * 32, SecretStr(TOKEN), from_number="+15005550006")
    inbound = InboundEmailSettings("parse", SecretStr("inbound-secret"))
    site = tmp_path / "site" / "INC-1"
    site.mkdir(parents=True)
    (site / "index.html").write_text("<html lang='en'>incident page</html>")
    key = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return Settings(
        tmp_path, db_url, twilio=twilio, public_url=PUBLIC, inbound_email=inbound,
        sendgrid_event_key=b64encode(key).decode(),
    )  # fmt: skip


@pytest.fixture
def moved_playbook(tmp_path: Path) -> Path:
    """A copy of the flood playbook that the test deletes after the incident is created."""
    path = tmp_path / "playbooks" / "flood.yaml"
    path.parent.mkdir()
    shutil.copy(FLOOD, path)
    return path


@pytest.fixture
def incident(store: Store, moved_playbook: Path) -> str:
    with store.session() as session:
        row = create_incident(
            session, playbook_id="regional-flood", playbook_path=str(moved_playbook),
            title="Flood", params={"area": "Riverside"}, languages=["en", "th"],
            exercise=False, now=datetime.now(UTC),
        )  # fmt: skip
        add_agent(session, name="Ann", phone=AGENT)
        return row.ref


@pytest.fixture
def app(settings: Settings, store: Store, incident: str) -> Iterator[FastAPI]:
    web = create_app(settings, LAUNCH_TOKEN)
    yield web
    web.state.store.dispose()  # PostgreSQL has a connection limit that CI shares


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def signed_sms(client: TestClient, params: dict[str, str]) -> Any:
    signature = RequestValidator(TOKEN).compute_signature(f"{PUBLIC}/webhooks/twilio/sms", params)
    return client.post(
        "/webhooks/twilio/sms", content=urlencode(params),
        headers={"X-Twilio-Signature": signature,
                 "Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip


# F4: inputs that used to crash a route.


def test_non_ascii_bearer_token_is_401(client: TestClient) -> None:
    """hmac.compare_digest raised TypeError on a non-ASCII str; the token is compared as bytes."""
    response = client.post(
        "/api/launch", json={"playbook": "x.yaml"}, headers={"Authorization": b"Bearer \xe9\xe9"}
    )
    assert response.status_code == 401
    assert "token" in response.json()["detail"]


@pytest.mark.parametrize(
    "path",
    [
        "/incidents/INC-1/%00",  # ValueError: embedded null byte
        "/incidents/INC-1/" + "a" * 10_000,  # OSError: File name too long
        "/incidents/INC-1/x/" + "b" * 300 + "/index.html",
        "/incidents/INC-" + "1" * 10_000 + "/index.html",
        "/incidents/INC-1%00",
        "/incidents/INC-1%0A/index.html",
        "/incidents/" + "c" * 10_000,
    ],
)
def test_odd_page_paths_are_404(client: TestClient, path: str) -> None:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 404, response.text[:200]
    assert len(response.content) < 500


@pytest.mark.parametrize(
    "digits",
    [
        "9" * 10,  # past PostgreSQL's integer: DataError
        "9" * 19,  # past SQLite's 64-bit integer: OverflowError
        "9" * 30,
        "9" * 5_000,  # past int()'s 4,300-digit limit: ValueError
        "\u0e51",  # a Thai 1 is a Unicode \d and int() takes it: not incident 1's address
        "1%0A",  # "INC-1\n": a regex "$" matches before a final newline
    ],
)
def test_reply_to_an_impossible_incident_number_is_404(client: TestClient, digits: str) -> None:
    response = client.post(
        f"/incidents/INC-{digits}/reply", data={"message": "help", "contact": "a@example.org"}
    )
    assert response.status_code == 404, response.text[:200]
    assert len(response.content) < 1_000  # the answer does not echo 5,000 digits back


def test_reply_form_degrades_when_the_playbook_moved(
    client: TestClient, store: Store, incident: str, moved_playbook: Path
) -> None:
    """The message is stored and thanked for (built-in triage), not a 500."""
    moved_playbook.unlink()
    response = client.post(
        f"/incidents/{incident}/reply",
        data={"message": "water in the house", "contact": "+66812345678"},
    )
    assert response.status_code == 200, response.text[:300]
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(InboundMessage)) == 1


def test_sms_degrades_when_the_playbook_moved(
    client: TestClient, incident: str, moved_playbook: Path
) -> None:
    moved_playbook.unlink()
    params = {"MessageSid": "SM" + "2" * 32, "From": "+66812345678", "Body": "help"}
    assert signed_sms(client, params).status_code == 200


def test_agent_next_after_the_playbook_moved_is_not_a_500(
    client: TestClient, incident: str, moved_playbook: Path
) -> None:
    """An agent's NEXT loads the playbook's severity levels; a moved file is a clear 409."""
    customer = {"MessageSid": "SM" + "3" * 32, "From": "+66812345678", "Body": "trapped on roof"}
    assert signed_sms(client, customer).status_code == 200
    moved_playbook.unlink()
    response = signed_sms(client, {"MessageSid": "SM" + "4" * 32, "From": AGENT, "Body": "NEXT"})
    assert 400 <= response.status_code < 500 or response.status_code == 200, response.text[:300]
    assert "Traceback" not in response.text


# F5: credentials first, then a bounded read.


class Upload:
    """An ASGI ``receive`` that streams a large body in chunks and counts what was read."""

    def __init__(self, size: int, chunk: int = 64 * 1024) -> None:
        self.left, self.chunk, self.read = size, chunk, 0

    async def __call__(self) -> dict[str, Any]:
        if self.left <= 0:
            await asyncio.sleep(3600)  # the client waits for the answer
        part = min(self.chunk, self.left)
        self.left -= part
        self.read += part
        return {"type": "http.request", "body": b"{" * part, "more_body": self.left > 0}


def call_asgi(
    app: FastAPI, path: str, headers: dict[str, str], upload: Upload, *, declare: bool = True
) -> tuple[int, bytes]:
    """POST through the ASGI interface with a body that is only read if the app asks for it."""
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    if declare:
        raw.append((b"content-length", str(upload.left).encode()))
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": raw, "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }  # fmt: skip
    status: list[int] = []
    body: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])
        elif message["type"] == "http.response.body":
            body.append(message.get("body", b""))

    asyncio.run(asyncio.wait_for(app(scope, upload, send), timeout=30))
    return status[0], b"".join(body)


JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/api/launch", JSON, 401),
        ("/api/launch", {**JSON, "Authorization": "Bearer wrong"}, 401),
        ("/api/launch", {**JSON, "Authorization": "Bearer \xe9\xe9"}, 401),
        ("/webhooks/twilio/sms", FORM, 403),
        ("/webhooks/twilio/status", FORM, 403),
        ("/webhooks/sendgrid/inbound", {"Content-Type": "multipart/form-data; boundary=x"}, 401),
        ("/webhooks/sendgrid/events", JSON, 403),
    ],
)
def test_unauthenticated_big_body_is_refused_unread(
    app: FastAPI, path: str, headers: dict[str, str], status: int
) -> None:
    """No credentials (or no signature header at all): refused before one byte is read."""
    for declare in (True, False):  # with Content-Length, and chunked
        upload = Upload(HUNDRED_MB)
        code, _ = call_asgi(app, path, headers, upload, declare=declare)
        assert (code, upload.read) == (status, 0)


POST_ROUTES = [
    "/api/launch",
    "/incidents/INC-1/reply",
    "/webhooks/twilio/sms",
    "/webhooks/twilio/status",
    "/webhooks/sendgrid/inbound",
    "/webhooks/sendgrid/events",
    "/login",
    "/logout",
    # The REST API (crisiscast.web.api); ids as templates: the body is refused before them.
    *(f"/api/v1/{name}" for name in ("incidents", "incidents/preview", "agents", "users")),
    *(
        f"/api/v1/incidents/INC-1/{name}"
        for name in ("updates/preview", "updates", "recall", "stand-down")
    ),
    *(f"/api/v1/approvals/{{approval_id}}/{name}" for name in ("approve", "reject")),
    *(f"/api/v1/cases/{{case_id}}/{name}" for name in ("assign", "status", "notes", "replies")),
    "/api/v1/agents/{agent_id}/release",
    "/api/v1/users/{user_id}/tokens",
    # The phone link (crisiscast.web.case_page): the body is refused before the token.
    *(f"/c/{{token}}/{name}" for name in ("reply", "ack", "done", "esc", "pass", "status")),
    # The console's forms (crisiscast.web.console): the caller first, then the form is read
    # within its limit, before the ids or the incident are looked at.
    "/console/cases/{case_id}/{action}",
    "/console/launch",
    "/console/incidents/INC-1/update",
    "/console/incidents/INC-1/stand-down",
    *(f"/console/approvals/{{approval_id}}/{name}" for name in ("approve", "reject")),
    # The CLI's warm commands (crisiscast.web.warm): the token first, then the size.
    *(f"/api/warm/{name}" for name in ("broadcast", "sweep", "stand-down", "stop")),
]


def test_every_route_with_a_body_is_in_the_size_tests(app: FastAPI) -> None:
    """A new route that takes a body fails here until it is added to POST_ROUTES."""
    posted = {path for method, path in route_paths(app.routes) if method not in ("GET", "HEAD")}
    assert posted == {p.replace("INC-1", "{ref}") for p in POST_ROUTES}


@pytest.mark.parametrize("path", POST_ROUTES)
def test_declared_big_body_is_413_unread(app: FastAPI, path: str) -> None:
    """Even with credentials, a body declared over the route's limit is refused unread."""
    headers = {
        **FORM,
        "Authorization": f"Bearer {LAUNCH_TOKEN}",
        "X-Twilio-Signature": "x",
        "X-Twilio-Email-Event-Webhook-Signature": "x",
        "X-Twilio-Email-Event-Webhook-Timestamp": "1",
    }
    if path == "/webhooks/sendgrid/inbound":
        headers["Authorization"] = "Basic cGFyc2U6aW5ib3VuZC1zZWNyZXQ="  # parse:inbound-secret
        headers["Content-Type"] = "multipart/form-data; boundary=x"
    upload = Upload(HUNDRED_MB)
    code, _ = call_asgi(app, path, headers, upload)
    # The warm stop takes no body at all: it answers without reading a byte of one.
    assert (code, upload.read) == (200 if path == "/api/warm/stop" else 413, 0)


def test_authenticated_chunked_launch_body_stops_at_the_limit(app: FastAPI) -> None:
    """Without Content-Length, reading stops one chunk past the launch limit: 413."""
    upload = Upload(HUNDRED_MB)
    headers = {**JSON, "Authorization": f"Bearer {LAUNCH_TOKEN}"}
    code, body = call_asgi(app, "/api/launch", headers, upload, declare=False)
    assert code == 413, body[:200]
    assert upload.read <= 1024 * 1024


def test_launch_body_is_still_validated(client: TestClient) -> None:
    """After the token and the size: malformed JSON or a wrong shape is a 422 that says why."""
    auth = {"Authorization": f"Bearer {LAUNCH_TOKEN}"}
    bad_json = client.post("/api/launch", content=b"{", headers={**auth, **JSON})
    assert bad_json.status_code == 422
    wrong = client.post("/api/launch", json={"playbook": 3, "params": []}, headers=auth)
    assert wrong.status_code == 422
    assert "playbook" in json.dumps(wrong.json()["detail"])


@pytest.mark.parametrize("field", ["playbook", "audience"])
def test_launch_path_with_nul_is_422(client: TestClient, field: str) -> None:
    """Found by the fuzzer: open() raises ValueError (not OSError) on NUL, which was a 500."""
    body = {"playbook": "x.yaml", field: "play\x00book.yaml"}
    response = client.post(
        "/api/launch", json=body, headers={"Authorization": f"Bearer {LAUNCH_TOKEN}"}
    )
    assert response.status_code == 422
    assert (
        response.json()["detail"]
        == f"{field}: Value error, a file path cannot contain a NUL character"
    )


def test_real_server_answers_401_before_the_body_is_sent(app: FastAPI) -> None:
    """Over a socket: headers announcing 100 MB and a wrong token get 401 with no body sent."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            conn.sendall(
                b"POST /api/launch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Authorization: Bearer wrong\r\nContent-Length: %d\r\n\r\n" % HUNDRED_MB
            )
            answer = conn.recv(4096)  # times out (fails) if the server waits for the body
        assert answer.startswith(b"HTTP/1.1 401"), answer[:100]
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# NUL reaches the store: PostgreSQL text refuses it (psycopg DataError), SQLite keeps it.


def test_reply_form_with_nul_is_not_a_500(client: TestClient, incident: str) -> None:
    response = client.post(
        f"/incidents/{incident}/reply",
        data={"message": "help\x00me", "contact": "+66812345678", "name": "A\x00"},
    )
    assert response.status_code < 500, response.text[:300]


def test_signed_sms_with_nul_is_not_a_500(client: TestClient) -> None:
    params = {"MessageSid": "SM" + "5" * 32, "From": "+66812345678", "Body": "water\x00rising"}
    assert signed_sms(client, params).status_code < 500
    params = {"MessageSid": "SM\x00" + "6" * 31, "From": "+6681\x002345678", "Body": "x"}
    assert signed_sms(client, params).status_code < 500


@pytest.mark.parametrize("action", ["reply", "done"])
def test_a_forged_phone_link_is_refused_before_its_form_is_read(app: FastAPI, action: str) -> None:
    """Authenticate before parsing: a phone link whose signature fails gets 403 without a byte
    of its (in-limit) form read."""
    upload = Upload(8 * 1024)
    code, body = call_asgi(app, f"/c/1.2.forgedsignat/{action}", FORM, upload)
    assert (code, upload.read) == (403, 0), body[:200]
