"""``crisiscast users`` as a commander uses it: the first commander, tokens shown once,
passwords never on the command line, one-line errors, and every change in the audit log."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crisiscast.cli.app import app
from crisiscast.config import load_settings
from crisiscast.errors import AccessError
from crisiscast.incidents.people import users
from crisiscast.incidents.people.audit import events
from crisiscast.incidents.store.database import Store

PASSWORD = "correct horse battery"
CLI = [sys.executable, "-m", "crisiscast.cli"]


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("CRISISCAST_HOME", str(tmp_path))
    monkeypatch.delenv("CRISISCAST_DATABASE_URL", raising=False)
    return CliRunner()


def run(runner: CliRunner, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, ["users", *args], input=stdin)
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout, result.stderr


def store() -> Store:
    instance = Store.from_settings(load_settings())
    instance.upgrade()
    return instance


def signs_in(username: str, password: str) -> bool:
    """One attempt, as the sign-in page makes it (a failure is counted and kept)."""
    db = store()
    try:
        with db.session() as session:
            try:
                users.authenticate(session, username, password, now=datetime.now(UTC))
            except AccessError:
                return False
        return True
    finally:
        db.dispose()


def add_commander(runner: CliRunner, username: str = "ana") -> None:
    code, out, _ = run(runner, "add", username, "--role", "commander", "--name", "Ana Lima",
                       "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
    assert code == 0, out


def test_the_first_commander_is_added_from_the_command_line(runner: CliRunner) -> None:
    """On a fresh store, ``users add --role commander`` makes a commander who can sign in;
    the audit log says the CLI did it, and keeps no password."""
    code, out, _ = run(runner, "add", "ana", "--role", "commander", "--name", "Ana Lima",
                       "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
    assert code == 0
    assert "user ana added: commander (Ana Lima)" in out
    assert signs_in("ana", PASSWORD)
    db = store()
    with db.session() as session:
        [entry] = events(session)
        assert (entry.actor, entry.source, entry.action) == ("cli", "cli", "user.add")
        assert PASSWORD not in repr(entry.detail)
    db.dispose()


@pytest.mark.parametrize(
    ("args", "stdin", "says"),
    [(["ana", "--role", "boss"], PASSWORD, "role 'boss' is not one of: commander, comms"),
     (["Ana Lima", "--role", "viewer"], PASSWORD, "username 'Ana Lima': use 1-100 lower-case"),
     (["ana", "--role", "viewer"], "short\n", "at least 12 characters"),
     (["ana", "--role", "viewer"], "\n", "stdin is empty"),
     (["noi", "--role", "agent", "--agent-phone", "+66812340001"], PASSWORD,
      "no agent has the number +6681****001: add them first with `crisiscast agents add"),
     (["noi", "--role", "agent", "--agent-phone", "12"], PASSWORD, "--agent-phone: not a phone")],
)  # fmt: skip
def test_a_bad_add_is_one_line_naming_the_fix(
    runner: CliRunner, args: list[str], stdin: str, says: str
) -> None:
    """Exit 1, one error line that says what to fix, and no user is added."""
    code, _, err = run(runner, "add", *args, "--password-stdin", stdin=stdin)
    assert code == 1
    assert says in " ".join(err.split())
    assert len(err.strip().splitlines()) <= 2  # one message (a long one may wrap)
    assert "No users yet" in run(runner, "list")[1]


def test_the_password_is_never_taken_from_argv_or_a_pipe_without_saying_so(
    runner: CliRunner,
) -> None:
    """There is no --password option; without a terminal, the fix is --password-stdin."""
    assert run(runner, "add", "ana", "--role", "viewer", "--password", PASSWORD)[0] == 2
    code, _, err = run(runner, "add", "ana", "--role", "viewer", stdin=PASSWORD + "\n")
    assert code == 1 and "--password-stdin" in err


def test_a_taken_username_is_refused_before_the_password(runner: CliRunner) -> None:
    add_commander(runner)
    code, _, err = run(runner, "add", "ANA", "--role", "viewer", "--password-stdin", stdin="")
    assert code == 1 and "username 'ana' is taken; choose another" in err


def test_a_token_is_printed_once_works_and_is_revoked(runner: CliRunner) -> None:
    """``users token`` prints the token alone on stdout (for scripts) and says it will not be
    shown again; it works as a bearer token until ``revoke-token`` stops it."""
    add_commander(runner)
    code, out, err = run(runner, "token", "ana", "--label", "ci")
    assert code == 0
    token = out.strip()
    assert token.startswith("cc_") and len(out.splitlines()) == 1
    assert "will not be shown again" in err
    db = store()
    with db.session() as session:
        assert users.user_for_token(session, token, now=datetime.now(UTC)) is not None
        assert token not in repr([(e.actor, e.subject, e.detail) for e in events(session)])
    assert "ci" in run(runner, "list")[1]
    missing = run(runner, "revoke-token", "ana", "--label", "nope")
    assert missing[0] == 1 and "no live token labelled 'nope' (live: 'ci')" in missing[2]
    assert run(runner, "revoke-token", "ana")[0] == 1  # neither --label nor --all
    assert run(runner, "revoke-token", "ana", "--label", "ci")[0] == 0
    with db.session() as session:
        assert users.user_for_token(session, token, now=datetime.now(UTC)) is None
    db.dispose()


def test_passwd_unlock_and_disable(runner: CliRunner) -> None:
    """A new password replaces the old; unlock lifts a lock; the last commander cannot be
    disabled, another can, and each change is audited as the CLI's."""
    add_commander(runner)
    new = "another long passphrase"
    assert run(runner, "passwd", "ana", "--password-stdin", stdin=new + "\n")[0] == 0
    assert not signs_in("ana", PASSWORD) and signs_in("ana", new)
    for n in range(5):
        signs_in("ana", f"wrong password {n}")
    assert "locked" in run(runner, "list")[1]
    assert not signs_in("ana", new)
    code, out, _ = run(runner, "unlock", "ana")
    assert code == 0 and "ana unlocked" in out
    assert signs_in("ana", new)
    last = run(runner, "disable", "ana")
    assert last[0] == 1 and "ana is the last active commander" in last[2]
    add_commander(runner, "bob")
    assert run(runner, "disable", "ana")[0] == 0
    assert not signs_in("ana", new)
    assert "disabled" in run(runner, "list")[1]
    assert run(runner, "enable", "ana")[0] == 0
    assert signs_in("ana", new)
    missing = run(runner, "unlock", "nobody")
    assert missing[0] == 1 and "no user 'nobody'" in missing[2]
    db = store()
    with db.session() as session:
        actions = [(e.actor, e.action) for e in events(session)]
    db.dispose()
    assert [a for actor, a in actions if actor == "cli"] == [
        "user.add", "user.passwd", "user.unlock", "user.add", "user.disable", "user.enable",
    ]  # fmt: skip


def test_an_agent_user_is_linked_by_phone(runner: CliRunner) -> None:
    added = runner.invoke(app, ["agents", "add", "Noi", "--phone", "+66812340001"])
    assert added.exit_code == 0, added.output
    code, out, _ = run(runner, "add", "noi", "--role", "agent", "--agent-phone",
                       "+66 81 234 0001", "--no-password")  # fmt: skip
    assert code == 0 and "user noi added: agent, agent 1" in out
    assert "+66812340001" not in run(runner, "list")[1]


def test_the_password_is_asked_twice_at_a_terminal(tmp_path: Path) -> None:
    """At a real terminal: a short password is refused with the rule, two that differ are
    asked again, two that match add the user; nothing typed is echoed."""
    env = {**os.environ, "CRISISCAST_HOME": str(tmp_path)}
    env.pop("CRISISCAST_DATABASE_URL", None)
    leader, follower = pty.openpty()
    proc = subprocess.Popen([*CLI, "users", "add", "ana", "--role", "commander"], env=env,
                            stdin=follower, stdout=follower, stderr=follower)  # fmt: skip
    os.close(follower)
    screen = b""

    def answer(prompt: bytes, reply: str) -> None:
        nonlocal screen
        deadline = time.monotonic() + 60
        while screen.count(prompt) < seen[prompt] + 1:
            assert time.monotonic() < deadline, screen.decode(errors="replace")
            if select.select([leader], [], [], 0.5)[0]:
                screen += os.read(leader, 4096)
        seen[prompt] += 1
        os.write(leader, reply.encode() + b"\n")

    # click writes the label, then getpass turns echo off and writes the space: wait for it.
    seen = {b"Password: ": 0, b"Repeat it: ": 0}
    answer(b"Password: ", "short")
    answer(b"Password: ", PASSWORD)
    answer(b"Repeat it: ", PASSWORD + "x")
    answer(b"Password: ", PASSWORD)
    answer(b"Repeat it: ", PASSWORD)
    assert proc.wait(timeout=60) == 0
    while select.select([leader], [], [], 0.2)[0]:
        try:
            screen += os.read(leader, 4096)
        except OSError:
            break
    os.close(leader)
    text = screen.decode(errors="replace")
    assert "at least 12 characters" in text and "the two differ" in text
    assert "user ana added: commander" in text
    assert PASSWORD not in text and "short" not in text
    db = Store(f"sqlite:///{tmp_path / 'crisiscast.db'}")
    with db.session() as session:
        assert users.authenticate(session, "ana", PASSWORD, now=datetime.now(UTC))
    db.dispose()
