"""``crisiscast serve``'s app under a real uvicorn on 127.0.0.1, for tests that speak HTTP
(or drive a browser) to it: ``serve_app(app)`` yields the base URL and stops the server after."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from crisiscast.config import Settings
from crisiscast.web.serving import uvicorn_options


@contextmanager
def serve_app(app: FastAPI, settings: Settings) -> Iterator[str]:
    """Run ``app`` on a free port with the options ``crisiscast serve`` uses; its base URL."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", access_log=False, lifespan="off",
        **uvicorn_options(settings),
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
