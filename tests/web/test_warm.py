"""Warm mode discovery: serve.json is private, stale entries are ignored, errors are readable."""

from __future__ import annotations

import json
import os
import stat
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from crisiscast.config import load_settings
from crisiscast.errors import CrisiscastError
from crisiscast.incidents.broadcast.sending import STOP
from crisiscast.incidents.store import database as st
from crisiscast.web.api.actions import WarmRuns
from crisiscast.web.app import create_app
from crisiscast.web.warm import (
    ServerInfo,
    call_server,
    clear_server_info,
    find_server,
    write_server_info,
)


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        body = json.loads(self.rfile.read(length))
        if self.headers["Authorization"] != "Bearer t0k":
            self.send_response(401)
            self.end_headers()
            self.wfile.write(json.dumps({"detail": "missing or wrong token"}).encode())
            return
        self.send_response(200)
        self.end_headers()
        self.wfile.write(json.dumps({"echo": body}).encode())

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_serve_file_is_owner_only_and_found(tmp_path: Path, server: str) -> None:
    """serve.json holds a token, so only its owner may read it; a live server is found."""
    path = write_server_info(tmp_path, ServerInfo(url=server, token="t0k", pid=os.getpid()))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert find_server(tmp_path) == ServerInfo(url=server, token="t0k", pid=os.getpid())


def test_stale_serve_file_is_ignored(tmp_path: Path) -> None:
    """A serve.json left by a dead server does not hijack the CLI: it runs cold instead."""
    write_server_info(tmp_path, ServerInfo(url="http://127.0.0.1:9", token="x", pid=1))
    assert find_server(tmp_path, timeout=0.2) is None
    (tmp_path / "serve.json").write_text("{not json")
    assert find_server(tmp_path) is None


def test_clear_only_removes_own_entry(tmp_path: Path) -> None:
    """A server stopping does not delete the entry of a newer server."""
    write_server_info(tmp_path, ServerInfo(url="http://127.0.0.1:9", token="x", pid=42))
    clear_server_info(tmp_path, pid=41)
    assert (tmp_path / "serve.json").exists()
    clear_server_info(tmp_path, pid=42)
    assert not (tmp_path / "serve.json").exists()


def test_call_server_sends_token_and_reports_errors(server: str) -> None:
    """Requests carry the bearer token; a refusal comes back as the server's own message."""
    good = ServerInfo(url=server, token="t0k", pid=1)
    assert call_server(good, "/api/x", {"a": 1}) == {"echo": {"a": 1}}
    with pytest.raises(CrisiscastError, match="wrong token"):
        call_server(ServerInfo(url=server, token="bad", pid=1), "/api/x", {})


def test_a_serve_on_another_store_is_refused(tmp_path: Path, server: str) -> None:
    """With serve on SQLite, a command set to PostgreSQL must not write to serve's SQLite file:
    it refuses and names both stores (passwords masked by the caller)."""
    info = ServerInfo(url=server, token="t0k", pid=os.getpid(), store="sqlite:///a.db")
    write_server_info(tmp_path, info)
    assert find_server(tmp_path, store="sqlite:///a.db") == info
    with pytest.raises(CrisiscastError, match=r"uses the store sqlite:///a\.db.*postgresql"):
        find_server(tmp_path, store="postgresql+psycopg://u:***@127.0.0.1/test")


WARM_ROUTES = ["/api/warm/broadcast", "/api/warm/sweep", "/api/warm/stand-down"]


@pytest.fixture
def app_client(tmp_path: Path) -> Iterator[TestClient]:
    """serve's app on an empty store (no flow runs in these tests: each is refused first)."""
    settings = load_settings({"CRISISCAST_HOME": str(tmp_path)})
    st.upgrade(settings.database_url)
    web = create_app(settings, token="t0k")
    with TestClient(web) as client:
        yield client
    web.state.store.dispose()


@pytest.mark.parametrize("route", [*WARM_ROUTES, "/api/warm/stop"])
def test_warm_commands_need_the_token_before_the_body_is_read(
    app_client: TestClient, route: str
) -> None:
    """Without serve.json's token, a warm command is 401 however large its body: the token is
    checked before a byte of the body is read."""
    for auth in ({}, {"Authorization": "Bearer wrong"}):
        response = app_client.post(route, content=b"x" * 200_000, headers=auth)
        assert response.status_code == 401, response.text


@pytest.mark.parametrize("route", WARM_ROUTES)
def test_warm_command_bodies_are_bounded_and_checked(app_client: TestClient, route: str) -> None:
    """With the token: an over-long body is 413, a malformed one 422 naming the field."""
    auth = {"Authorization": "Bearer t0k"}
    assert app_client.post(route, content=b"{" * 100_000, headers=auth).status_code == 413
    bad = app_client.post(route, json={"incident": 3, "hand_over_to": "x", "commander": 4},
                          headers=auth)  # fmt: skip
    assert bad.status_code == 422 and bad.json()["detail"].split(":")[0] in {
        "incident", "hand_over_to", "commander"}  # fmt: skip


def test_a_warm_command_on_an_unknown_incident_is_404(app_client: TestClient) -> None:
    auth = {"Authorization": "Bearer t0k"}
    response = app_client.post("/api/warm/broadcast", json={"incident": "INC-999"}, headers=auth)
    assert response.status_code == 404 and "INC-999" in response.json()["detail"]
    odd = {"incident": "INC-1", "target": {"lists": 5}}
    weird = app_client.post("/api/warm/broadcast", json=odd, headers=auth)
    assert weird.status_code == 422 and weird.json()["detail"].startswith("target")


def test_a_stop_sets_stop_only_while_a_warm_command_runs() -> None:
    """A Ctrl-C at the CLI stops serve's running broadcasts; one arriving after they ended must
    not stop the next launch, and STOP is cleared when the last run ends."""
    runs = WarmRuns()
    assert runs.stop() is False and not STOP.is_set()
    with runs.running():
        assert runs.stop() is True and STOP.is_set()
    assert not STOP.is_set()
