"""With `crisiscast serve` running, every command that runs a flow hands it to serve: the CLI
never starts Prefect itself, prints what it prints cold (plus "(warm (crisiscast serve))"),
and refuses a serve that runs on another store than its own setting, saying which.

Serve is the real app under uvicorn on loopback, in this process (flows on a Prefect test
API); the CLI runs as a subprocess with a Prefect home of its own, which stays untouched as
long as Prefect never starts in the CLI.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from broadcast_support import FLOOD, ledger_of
from prefect.testing.utilities import prefect_test_harness
from typer.testing import CliRunner
from warm_support import WARM, Warm, app_cli, cli, cli_ok, probed_cli, serving, warm_home

from crisiscast.cli.app import app
from crisiscast.errors import CrisiscastError
from crisiscast.incidents.store import database as st
from crisiscast.web.warm import call_server, find_server

CONTACTS = 40
AREA = "area=Mekong riverside"


@pytest.fixture(scope="module")
def prefect_api() -> Iterator[None]:
    """Serve's flows run on a throwaway Prefect API, as `crisiscast serve` keeps one warm."""
    with prefect_test_harness(server_startup_timeout=60):
        yield


@pytest.fixture
def warm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_api: None) -> Iterator[Warm]:
    """Serve on a SQLite store of CONTACTS contacts, found by the CLI through serve.json."""
    warm = warm_home(tmp_path, monkeypatch, CONTACTS)
    with serving(warm):
        yield warm


def test_flow_commands_run_in_serve_and_answer_as_cold(warm: Warm) -> None:
    launched = cli_ok(["launch", FLOOD, "-p", AREA, "--hold", "--everyone"], warm)
    assert f"INC-1 launched {WARM}" in launched

    sent = cli_ok(["broadcast", "INC-1"], warm)
    assert f"email {CONTACTS} sent; sms {CONTACTS} sent; social 3 sent {WARM}\n" in sent, sent
    ledger = ledger_of(warm.db_url, "INC-1")
    assert ledger["sms"] == ledger["email"] == {"sent": CONTACTS}, ledger

    updated = cli_ok(["update", "INC-1", "--text", "Water is rising at the bridge"], warm)
    assert f"This run: email {CONTACTS} sent; sms {CONTACTS} sent {WARM}\n" in updated, updated
    assert ledger_of(warm.db_url, "INC-1")["sms"] == {"sent": 2 * CONTACTS}

    swept = cli_ok(["sweep"], warm)
    assert "INC-1: " in swept and WARM in swept, swept

    stood_down = cli_ok(["stand-down", "INC-1"], warm)
    assert f"INC-1 stood down and closed. {WARM}" in stood_down, stood_down
    assert "All-clear: " in stood_down

    # Answers that need no flow come from the CLI itself, warm or cold.
    again = cli_ok(["stand-down", "INC-1"], warm)
    assert again.strip() == "INC-1 was already closed: nothing sent."
    missing = cli(["broadcast", "INC-999"], warm)
    assert missing.returncode == 1 and "INC-999" in missing.stderr, missing.stderr
    assert not warm.cli_prefect.exists()  # Prefect never started in the CLI

    # The same command cold (serve gone): the same answer, without the warm note.
    warm_again = cli_ok(["broadcast", "INC-1"], warm)
    (warm.home / "serve.json").unlink()
    cold = cli_ok(["broadcast", "INC-1"], warm)
    assert warm.cli_prefect.exists()  # this time Prefect ran here: the check above is real
    assert warm_again.replace(f" {WARM}", "") == cold, (warm_again, cold)


def test_an_update_that_needs_approval_is_refused_warm_as_cold(warm: Warm) -> None:
    """The two-person rule holds for a warm update: the CLI refuses before handing it over."""
    cli_ok(["launch", FLOOD, "-p", AREA, "--hold", "--everyone"], warm)
    with sqlite3.connect(warm.home / "crisiscast.db") as db:
        path = db.execute("SELECT playbook_path FROM incidents").fetchone()[0]
    book = Path(path).read_text(encoding="utf-8")
    strict = warm.home / "strict-flood.yaml"
    strict.write_text(book + "\napproval: required\n", encoding="utf-8")
    with sqlite3.connect(warm.home / "crisiscast.db") as db:
        db.execute("UPDATE incidents SET playbook_path = ?", (str(strict),))
    refused = cli(["update", "INC-1", "--text", "Water is rising"], warm)
    assert refused.returncode == 1
    assert "needs a second person's approval for an update" in refused.stderr.replace("\n", " ")
    # Nor does serve's route skip it, whoever calls it with the token.
    with pytest.raises(CrisiscastError, match="second person's approval"):
        call_server(find_server(warm.home), "/api/warm/broadcast",
                    {"incident": "INC-1", "when": "update", "texts": {"en": "x"}})  # fmt: skip
    assert ledger_of(warm.db_url, "INC-1") == {}  # nothing sent (it was held)


@pytest.mark.postgres
@pytest.mark.parametrize(
    "args",
    [
        ["launch", FLOOD, "-p", AREA, "--exercise", "--everyone"],
        ["broadcast", "INC-1"],
        ["update", "INC-1", "--text", "Water is rising"],
        ["all-clear", "INC-1"],
        ["sweep"],
        ["stand-down", "INC-1"],
    ],
    ids=lambda args: args[0],
)
def test_a_serve_on_another_store_is_refused(
    warm: Warm, postgres_url: str, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    """Serve runs on SQLite, the command is set to PostgreSQL: handing it the work would write
    to serve's SQLite file. Every warm command refuses, names both stores, and changes nothing."""
    store = st.Store(postgres_url)
    store.upgrade()
    with store.session() as session:
        st.create_incident(session, playbook_id="regional-flood", playbook_path=FLOOD,
                           title="Flood", params={"area": "Mekong riverside"},
                           languages=["en", "th", "lo"], exercise=True,
                           now=datetime.now(UTC))  # fmt: skip
    monkeypatch.setenv("CRISISCAST_DATABASE_URL", postgres_url)

    refused = CliRunner().invoke(app, args)

    text = " ".join(refused.output.split())
    assert refused.exit_code == 1, refused.output
    assert "uses the store sqlite:///" in text and "this command's setting is postgresql" in text
    assert "will not hand the work to a server on another store" in text
    with store.session() as session:
        incident = st.get_incident(session, "INC-1")
        assert incident.status == "active"
        assert not st.list_incidents(session, limit=5)[1:]  # no second incident either
    store.dispose()
    with sqlite3.connect(warm.home / "crisiscast.db") as db:
        assert db.execute("SELECT count(*) FROM incidents").fetchone() == (0,)


def _audit(warm: Warm, incident_id: int) -> list[tuple[str, str]]:
    """Who did what to the incident, in order, from the audit log."""
    with sqlite3.connect(warm.home / "crisiscast.db") as db:
        rows = db.execute(
            "SELECT actor, action FROM audit_events WHERE incident_id = ? ORDER BY id",
            (incident_id,),
        )
        return [(str(actor), str(action)) for actor, action in rows]


def test_the_thin_warm_path_answers_as_the_app_without_loading_it(warm: Warm) -> None:
    """Each flow command, warm: the entry's thin path (no SQLAlchemy, Prefect or Typer in the
    CLI) prints what the full app prints for the same work, and the audit log gets the same
    entries, once."""
    for _ in range(2):  # INC-1 for the thin path, INC-2 for the app: the same state each
        cli_ok(["launch", FLOOD, "-p", AREA, "--hold", "--everyone"], warm)
    steps = [
        ["broadcast", "{}"],
        ["update", "{}", "--text", "Water is rising at the bridge"],
        ["update", "{}", "--text=ระดับน้ำสูงขึ้น", "--text", "th=ระดับน้ำ"],  # no English
        ["all-clear", "{}"],
        ["stand-down", "{}"],
    ]
    for step in steps:
        thin, loaded = probed_cli([arg.format("INC-1") for arg in step], warm)
        full = app_cli([arg.format("INC-2") for arg in step], warm)
        assert loaded == set(), (step, loaded)
        assert thin.returncode == full.returncode, (step, thin.stderr, full.stderr)
        assert thin.stdout.replace("INC-1", "INC-2") == full.stdout, (step, thin, full)
        assert thin.stderr.replace("INC-1", "INC-2") == full.stderr, (step, thin, full)
    assert f"INC-1 stood down and closed. {WARM}" in thin.stdout
    assert _audit(warm, 1) == _audit(warm, 2)
    actions = [action for actor, action in _audit(warm, 1) if actor == "cli"]
    assert actions == ["launch", "broadcast", "update", "update", "all_clear", "stand_down"], (
        actions
    )
    swept, loaded = probed_cli(["sweep"], warm)
    assert loaded == set()
    assert swept.stdout == app_cli(["sweep"], warm).stdout
    assert not warm.cli_prefect.exists()  # Prefect never started in the CLI


def test_answers_that_need_no_flow_come_from_serve_without_one(warm: Warm) -> None:
    """Unknown incident, a missing fallback text, already closed, nothing to sweep: serve
    answers at once (no flow run), and the thin path prints the app's words."""
    cli_ok(["launch", FLOOD, "-p", AREA, "--hold", "--everyone"], warm)
    for args in (["broadcast", "INC-999"], ["update", "INC-1", "--text", "th=ระดับน้ำ"],
                 ["stand-down", "INC-1", "--hand-over-to", "7"]):  # fmt: skip
        refused, loaded = probed_cli(args, warm)
        assert loaded == set() and refused.returncode == 1, refused
        assert refused.stderr == app_cli(args, warm).stderr, args
        assert refused.stderr.startswith("error "), refused.stderr
    assert ledger_of(warm.db_url, "INC-1") == {}  # nothing sent

    cli_ok(["stand-down", "INC-1"], warm)
    again, loaded = probed_cli(["stand-down", "INC-1"], warm)
    assert loaded == set() and again.stdout == "INC-1 was already closed: nothing sent.\n"
    idle, loaded = probed_cli(["sweep"], warm)
    assert loaded == set()
    assert idle.stdout == "Nothing to do: no active incident, no open case, no day pass ended.\n"
    server = find_server(warm.home)
    closed = call_server(server, "/api/warm/stand-down", {"incident": "INC-1"})
    assert closed == {"ref": "INC-1", "already_closed": True, "flow": False}
    assert call_server(server, "/api/warm/sweep", {}) == {"idle": True, "done": {}}
    assert not warm.cli_prefect.exists()


def test_what_the_thin_path_does_not_know_goes_through_the_app(warm: Warm) -> None:
    """Another option, --help, or a serve on another store: the full app runs, with its own
    words (still warm when it may be)."""
    cli_ok(["launch", FLOOD, "-p", AREA, "--hold", "--everyone"], warm)
    other = warm.home / "other.db"
    with sqlite3.connect(warm.home / "crisiscast.db") as db, sqlite3.connect(other) as copy:
        db.backup(copy)  # the same incident in another store
    refused, loaded = probed_cli(["broadcast", "INC-1"], warm,
                                 {"CRISISCAST_DATABASE_URL": f"sqlite:///{other}"})  # fmt: skip
    assert refused.returncode == 1 and "typer" in loaded
    assert "will not hand the work to a server on another store" in " ".join(refused.stderr.split())
    assert ledger_of(warm.db_url, "INC-1") == {}

    helped, loaded = probed_cli(["sweep", "--help"], warm)
    assert helped.returncode == 0 and "--commander" in helped.stdout and "typer" in loaded
    sent, loaded = probed_cli(["broadcast", "INC-1", "--everyone"], warm)
    assert sent.returncode == 0 and "typer" in loaded and WARM in sent.stdout, sent
    assert ledger_of(warm.db_url, "INC-1")["sms"] == {"sent": CONTACTS}
