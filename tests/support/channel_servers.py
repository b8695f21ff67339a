"""Real local HTTP servers for the channel tests: a scripted fault server that can also record
and forward to a Prism mock, and a Prism launcher. Only 127.0.0.1 is ever contacted."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import parse_qs, urlsplit

import pytest

REPO = Path(__file__).resolve().parents[2]
# The contract files the repository carries (the CAP schema and examples, SendGrid's spec);
# tests/channels/data/README.md says where each came from and under which licence.
OWN_CONTRACTS = REPO / "tests" / "channels" / "data"
# The ones it does not (Twilio's and X's specs: too big, or not ours to hand on) are read from
# the shared folder beside the repository, when there is one.
SHARED_CONTRACTS = REPO.parent / "shared" / "contracts"
PRISM = REPO / "node_modules" / ".bin" / "prism"


def skip_unless_ci(reason: str) -> NoReturn:
    """Skip the test here; when ``CI`` is set, fail it instead: CI must run every test."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)")
    pytest.skip(reason)


def contract(relative: str) -> Path:
    """A contract file (e.g. ``x/x_api_v2_openapi.json``): the repository's copy, else the
    shared one; skipped (failed in CI) when neither is there."""
    for folder in (OWN_CONTRACTS, SHARED_CONTRACTS):
        if (folder / relative).is_file():
            return folder / relative
    skip_unless_ci(
        f"contract {relative} is not in the repository (see {OWN_CONTRACTS / 'README.md'}) and "
        f"{SHARED_CONTRACTS} is not there: put the shared folder beside the repository"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Reply:
    """One scripted response; ``delay`` longer than the client's timeout makes a timeout."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Recorded:
    """One request as the server received it: what the channel really sent."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode())

    def json(self) -> Any:
        return json.loads(self.body)


class ScriptedServer:
    """Answers with queued ``Reply``s; when the queue is empty, forwards to ``upstream`` (Prism)
    or answers ``default``. Every request is recorded."""

    def __init__(self, upstream: str | None = None, default: Reply | None = None) -> None:
        self.upstream = upstream
        self.default = default or Reply(200, {})
        self.replies: deque[Reply] = deque()
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def push(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def reset(self) -> None:
        self.replies.clear()
        self.requests.clear()

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _next(self, recorded: Recorded) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.requests.append(recorded)
            reply = self.replies.popleft() if self.replies else None
        if reply is None and self.upstream:
            return self._forward(recorded)
        reply = reply or self.default
        time.sleep(reply.delay)
        body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        return reply.status, {"Content-Type": "application/json", **reply.headers}, body

    def _forward(self, recorded: Recorded) -> tuple[int, dict[str, str], bytes]:
        target = urlsplit(self.upstream)
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
        skip = {"host", "content-length", "connection"}
        headers = {k: v for k, v in recorded.headers.items() if k.lower() not in skip}
        conn.request(recorded.method, recorded.path, body=recorded.body, headers=headers)
        response = conn.getresponse()
        body = response.read()
        drop = {"content-length", "connection", "transfer-encoding", "keep-alive"}
        out = {k: v for k, v in response.getheaders() if k.lower() not in drop}
        conn.close()
        return response.status, out, body

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                recorded = Recorded(
                    self.command, self.path, dict(self.headers.items()), self.rfile.read(length)
                )
                status, headers, body = server._next(recorded)
                try:
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test): nothing to answer

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output quiet; requests are recorded instead

        return Handler


class Prism:
    """``prism mock <spec>`` on a free 127.0.0.1 port, stopped by ``stop``."""

    def __init__(self, spec: Path, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [str(PRISM), "mock", str(spec), "-p", str(self.port), "-h", "127.0.0.1", *extra]
        self.log = Path(os.environ.get("TMPDIR", "/tmp")) / f"prism-{spec.stem}-{self.port}.log"
        self._log_handle = self.log.open("wb")
        self.started = False
        self.process = subprocess.Popen(
            args, stdout=self._log_handle, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prism exited ({self.process.returncode}); see {self.log}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    self.started = True
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"prism did not answer within {timeout} s; see {self.log}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log_handle.close()
        if self.started:
            self.log.unlink(missing_ok=True)  # kept only when start-up failed, to read why


def prism_missing_reason() -> str | None:
    """Why Prism cannot run here, or None when it can."""
    if not PRISM.exists():
        return f"Prism not installed ({PRISM} missing): run `npm ci` at the repo root"
    if shutil.which("node") is None:
        return "node is not on PATH: Prism needs Node.js"
    return None
