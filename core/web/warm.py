"""Warm mode: find a running `crisiscast serve` and hand it work, skipping Prefect's start.

``serve`` writes ``<home>/serve.json`` (mode 0600) with its URL and a random token. The CLI reads
it, checks the server answers, and posts the launch there. Only the stdlib is used here so that a
warm launch does not pay for importing Prefect or httpx.
"""

from __future__ import annotations

import json
import os
import secrets
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from crisiscast.errors import CrisiscastError

SERVE_FILE = "serve.json"


@dataclass(frozen=True)
class ServerInfo:
    url: str
    token: str
    pid: int


def new_token() -> str:
    return secrets.token_urlsafe(32)


def write_server_info(home: Path, info: ServerInfo) -> Path:
    """Record where the warm server listens; readable by the owner only (it holds the token)."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / SERVE_FILE
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(asdict(info), fh)
    tmp.replace(path)
    return path


def clear_server_info(home: Path, pid: int) -> None:
    """Remove serve.json if it is still ours (a newer server may have replaced it)."""
    path = home / SERVE_FILE
    try:
        if json.loads(path.read_text()).get("pid") == pid:
            path.unlink()
    except (OSError, ValueError):
        return


def find_server(home: Path, timeout: float = 0.5) -> ServerInfo | None:
    """The running warm server, or None when there is none (or it does not answer)."""
    try:
        raw = json.loads((home / SERVE_FILE).read_text())
        info = ServerInfo(url=str(raw["url"]), token=str(raw["token"]), pid=int(raw["pid"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        with urllib.request.urlopen(f"{info.url}/healthz", timeout=timeout) as resp:  # noqa: S310
            return info if resp.status == 200 else None
    except (OSError, urllib.error.URLError):
        return None


def call_server(
    info: ServerInfo, path: str, payload: dict[str, Any], timeout: float = 120.0
) -> Any:
    """POST JSON to the warm server; its error messages come back as CrisiscastError."""
    request = urllib.request.Request(  # noqa: S310 - the URL is our own loopback server
        f"{info.url}{path}",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {info.token}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read()).get("detail", exc.reason)
        except ValueError:
            detail = exc.reason
        raise CrisiscastError(str(detail)) from exc
    except OSError as exc:
        raise CrisiscastError(
            f"the warm server at {info.url} stopped answering ({exc}); "
            "restart it with `crisiscast serve` or stop it to run commands cold"
        ) from exc
