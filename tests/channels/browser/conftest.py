"""Real-browser fixtures: Debian's Chromium driven by playwright, and a local site to load.

Outside CI a missing browser or playwright skips with the reason; in CI (env CI set) it fails.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from browser_support import browser, page  # noqa: F401  (fixtures for these tests)

CSP = "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'"


class _NoStoreHandler(SimpleHTTPRequestHandler):
    """Serves files like a web server would, never cached, quietly."""

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        # A strict policy: the banner and the incident page must work without inline
        # scripts, inline styles or eval (a CSP violation fails the test, see ``page``).
        self.send_header("Content-Security-Policy", CSP)
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Silence the default stderr log."""


@pytest.fixture
def site_root(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A local web server on 127.0.0.1 serving ``tmp_path``; yields (root, base URL)."""
    handler = functools.partial(_NoStoreHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join()
