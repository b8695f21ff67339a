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

from crisiscast.errors import CrisiscastError
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
