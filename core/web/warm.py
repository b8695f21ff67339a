"""Warm mode: find a running `crisiscast serve` and hand it work, skipping Prefect's start.

``serve`` writes ``<home>/serve.json`` (mode 0600) with its URL and a random token. The CLI reads
it, checks the server answers, and posts the launch there. Only the stdlib is used here so that a
warm launch does not pay for importing Prefect or httpx.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import urllib.error
import urllib.request
from collections.abc import Callable
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
    store: str = ""  # the store's URL with any password masked ("" from an older serve)


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


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists (True where that cannot be told: not POSIX)."""
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: someone else's process, but it exists
        return True
    return True


def find_server(
    home: Path,
    timeout: float = 0.5,
    note: Callable[[str], None] | None = None,
    store: str | None = None,
) -> ServerInfo | None:
    """The running warm server, or None when there is none (or it does not answer).

    A serve.json whose process is gone was left by a serve that crashed (SIGKILL, power cut):
    it is removed and ``note`` told. One whose process lives but does not answer (starting,
    or stuck) is kept, and ``note`` told that the command runs cold.

    ``store`` is the caller's own store (masked URL): a serve on another store is refused
    with a CrisiscastError, since handing it the work would write to the wrong database.
    """
    path = home / SERVE_FILE
    info = _read_info(path)
    if info is None:
        return None
    if _answers(info, timeout):
        _same_store(info, store)
        return info
    if not _running(info.pid):
        clear_server_info(home, info.pid)
        message = (f"ignored a stale {path} (process {info.pid} is not running: a "
                   "`crisiscast serve` that stopped without cleaning up); removed it")  # fmt: skip
    else:
        message = (f"{path} names process {info.pid} at {info.url}, which does not answer: "
                   "running cold (restart `crisiscast serve` if it is stuck)")  # fmt: skip
    if note is not None:
        note(message)
    return None


def probe_server(home: Path, store: str, timeout: float = 0.5) -> ServerInfo | None:
    """The running serve when it answers and runs on exactly ``store``; None for anything
    else (no serve.json, a stale or silent one, another store, an older serve that does not
    say its store), without a side effect: the caller then goes the long way, which says
    what was wrong (``find_server``)."""
    info = _read_info(home / SERVE_FILE)
    if info is None or not info.store or info.store != store:
        return None
    return info if _answers(info, timeout) else None


def _read_info(path: Path) -> ServerInfo | None:
    try:
        raw = json.loads(path.read_text())
        return ServerInfo(
            url=str(raw["url"]),
            token=str(raw["token"]),
            pid=int(raw["pid"]),
            store=str(raw.get("store", "")),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _answers(info: ServerInfo, timeout: float) -> bool:
    try:
        with urllib.request.urlopen(f"{info.url}/healthz", timeout=timeout) as resp:  # noqa: S310
            return bool(resp.status == 200)
    except (OSError, urllib.error.URLError):
        return False


_SQLITE = re.compile(r"sqlite:///[A-Za-z0-9_./-]+")
_POSTGRES = re.compile(
    r"postgres(?:ql)?(?:\+psycopg)?://"
    r"(?:(?P<user>[A-Za-z0-9_.-]+)(?P<password>:[A-Za-z0-9_.~!*-]*)?@)?"
    r"(?P<host>[A-Za-z0-9_.-]+)(?P<port>:[1-9][0-9]{0,4})?/(?P<db>[A-Za-z0-9_.-]+)"
)


def masked_store_url(url: str) -> str | None:
    """``url`` as serve.json records a store (SQLAlchemy's rendering, password masked), for the
    plain SQLite and PostgreSQL URLs; None for any other, which the caller must not guess at.
    The thin warm path compares this with serve's store without importing SQLAlchemy."""
    if _SQLITE.fullmatch(url):
        return url
    found = _POSTGRES.fullmatch(url)
    if found is None:
        return None
    user = found["user"] or ""
    secret = ":***" if found["password"] is not None else ""
    login = f"{user}{secret}@" if user else ""
    return f"postgresql+psycopg://{login}{found['host']}{found['port'] or ''}/{found['db']}"


def _same_store(info: ServerInfo, store: str | None) -> None:
    if store and info.store and info.store != store:
        raise CrisiscastError(
            f"`crisiscast serve` (process {info.pid}) uses the store {info.store}, but this "
            f"command's setting is {store}; it will not hand the work to a server on another "
            "store. Use the same CRISISCAST_DATABASE_URL as serve, or stop serve to run cold."
        )


def call_server(
    info: ServerInfo, path: str, payload: dict[str, Any], timeout: float | None = 120.0
) -> Any:
    """POST JSON to the warm server; its error messages come back as CrisiscastError.
    ``timeout`` None: wait as long as the work takes (a broadcast paced at a provider's rate)."""
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
