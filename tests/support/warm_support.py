"""The CLI next to a running ``crisiscast serve``, for the warm-command tests: ``warm_home``
prepares a store and the CLI's environment, ``serving`` runs the real app on loopback and
writes the serve.json the CLI finds it by, ``cli`` runs the real command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from broadcast_support import seed_contacts
from live_app import serve_app

from crisiscast.cli.common import safe_store_url
from crisiscast.config import load_settings
from crisiscast.incidents.store import database as st
from crisiscast.web.app import create_app
from crisiscast.web.warm import ServerInfo, write_server_info

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "crisiscast.cli"]
TOKEN = "warm-cli-token"
WARM = "(warm (crisiscast serve))"
PROVIDERS = ("TWILIO_", "SENDGRID_", "X_BEARER_TOKEN", "CRISISCAST_")


@dataclass(frozen=True)
class Warm:
    """A store with contacts, and how to run the CLI on it."""

    home: Path
    db_url: str
    env: dict[str, str]  # the CLI's environment
    cli_prefect: Path  # the CLI's own PREFECT_HOME: created only if Prefect starts there


def warm_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, contacts: int) -> Warm:
    """CRISISCAST_HOME with ``contacts`` contacts on SQLite, outbox only, set for this process
    (serve's) and for the CLI's subprocess, which gets a Prefect home of its own."""
    home = tmp_path / "home"
    home.mkdir()
    for name in [n for n in os.environ if n.startswith(PROVIDERS)]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CRISISCAST_HOME", str(home))
    db = home / "crisiscast.db"
    st.upgrade(f"sqlite:///{db}")
    seed_contacts(db, contacts)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", *PROVIDERS))}
    cli_prefect = tmp_path / "cli-prefect"
    env.update(
        CRISISCAST_HOME=str(home),
        PREFECT_HOME=str(cli_prefect),
        COLUMNS="200",
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120",
    )  # cold runs on loaded CI
    return Warm(home, load_settings().database_url, env, cli_prefect)


@contextmanager
def serving(warm: Warm) -> Iterator[str]:
    """serve's app on loopback, in this process, with its serve.json in the home; its URL."""
    settings = load_settings()
    web = create_app(settings, TOKEN)
    try:
        with serve_app(web, settings) as base:
            info = ServerInfo(base, TOKEN, os.getpid(), safe_store_url(settings))
            write_server_info(warm.home, info)
            yield base
    finally:
        (warm.home / "serve.json").unlink(missing_ok=True)
        web.state.store.dispose()


def cli(args: list[str], warm: Warm) -> subprocess.CompletedProcess[str]:
    """The real ``crisiscast`` command, run to its end."""
    return subprocess.run(
        [*CLI, *args], env=warm.env, cwd=ROOT, capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip


def cli_ok(args: list[str], warm: Warm) -> str:
    """``cli``, which must succeed without a traceback; its stdout."""
    done = cli(args, warm)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return done.stdout


def start_cli(args: list[str], warm: Warm) -> subprocess.Popen[str]:
    """The command in a process group of its own, as a shell runs a foreground job."""
    return subprocess.Popen(
        [*CLI, *args], env=warm.env, cwd=ROOT, text=True, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


# The full Typer app, without the entry's thin warm path: what the thin path must match.
APP = [sys.executable, "-c", "import sys; sys.argv[0] = 'crisiscast'; "
       "from crisiscast.cli.app import app; app()"]  # fmt: skip
# The real entry, reporting at exit which heavy packages the command imported.
HEAVY = ("sqlalchemy", "prefect", "typer")
PROBE = (
    "import atexit, sys\n"
    f"heavy = {HEAVY!r}\n"
    "atexit.register(lambda: print('LOADED=' + ','.join(m for m in heavy if m in sys.modules),"
    " file=sys.stderr))\n"
    "sys.argv[0] = 'crisiscast'\n"
    "from crisiscast.cli.entry import main\n"
    "main()\n"
)


def app_cli(
    args: list[str], warm: Warm, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The command run by the full Typer app (never the thin warm path)."""
    return subprocess.run(
        [*APP, *args], env={**warm.env, **(env or {})}, cwd=ROOT, capture_output=True,
        text=True, timeout=300, check=False,
    )  # fmt: skip


def probed_cli(
    args: list[str], warm: Warm, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """The real ``crisiscast`` entry run to its end, and which of HEAVY it imported."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], env={**warm.env, **(env or {})}, cwd=ROOT,
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    marker = done.stderr.rsplit("LOADED=", 1)
    assert len(marker) == 2, done.stderr
    loaded = {name for name in marker[1].strip().split(",") if name}
    stripped = subprocess.CompletedProcess(done.args, done.returncode, done.stdout, marker[0])
    return stripped, loaded
