"""``crisiscast users``: who may sign in to the console or call the API, and as what.

Run on the machine that holds the store: whoever can run it can read the store anyway, so
it needs no sign-in (the audit log names it ``cli``). The first commander of a fresh store is
made here. Passwords are asked twice at the terminal (or read from stdin with
``--password-stdin``), never taken from the command line, where ``ps`` and the shell history
would show them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from crisiscast.cli.common import err, fail, out, store_session
from crisiscast.errors import ConfigError, CrisiscastError

users_app = typer.Typer(
    no_args_is_help=True,
    help="Console and API users: add, list, tokens, passwords, unlock, disable, enable.",
)

UsernameArg = Annotated[str, typer.Argument(help="The user's username, e.g. ana")]
PasswordStdinOpt = Annotated[
    bool,
    typer.Option(
        "--password-stdin", help="Read the password from the first line of stdin (for scripts)"
    ),
]


@contextmanager
def _store() -> Iterator[Any]:
    """One transaction on the store; a CrisiscastError becomes one line and exit 1."""
    try:
        with store_session() as session:
            yield session
    except CrisiscastError as exc:
        raise fail(exc) from None


def _now() -> datetime:
    return datetime.now(UTC)


def _read_password(from_stdin: bool) -> str:
    """The new password: from stdin's first line, or asked twice without echo."""
    from crisiscast.incidents.people.passwords import check_strength

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise fail(ConfigError("--password-stdin: stdin is empty: pipe the password in"))
        try:
            check_strength(password)
        except ConfigError as exc:
            raise fail(exc) from None
        return password

    if not sys.stdin.isatty():
        raise fail(ConfigError(
            "no terminal to ask the password at: pipe it in with --password-stdin"
        ))  # fmt: skip
    for _ in range(3):
        password = str(typer.prompt("Password", hide_input=True, default="", show_default=False))
        try:
            check_strength(password)
        except ConfigError as exc:
            err.print(f"[red]error[/red] {exc}", highlight=False)
            continue
        if typer.prompt("Repeat it", hide_input=True, default="", show_default=False) == password:
            return password
        err.print("[red]error[/red] the two differ: type it again", highlight=False)
    raise fail(ConfigError("no password set after 3 tries: nothing changed"))


def _audit(session: Any, action: str, user: Any, detail: dict[str, Any] | None = None) -> None:
    from crisiscast.incidents.people.audit import Actor, record

    body = {"username": user.username, **(detail or {})}
    record(session, Actor.cli(), action, now=_now(), subject=f"user {user.id}", detail=body)


@users_app.command("add")
def users_add(
    username: UsernameArg,
    role: Annotated[str, typer.Option(help="commander, comms, agent or viewer")],
    name: Annotated[str | None, typer.Option(help="Name shown in the console")] = None,
    agent_phone: Annotated[
        str | None,
        typer.Option(help="Link to the agent with this phone (+country code), for agents"),
    ] = None,
    no_password: Annotated[
        bool, typer.Option("--no-password", help="API tokens only: this user cannot sign in")
    ] = False,
    password_stdin: PasswordStdinOpt = False,
) -> None:
    """Add a user (the first commander of a new store is made this way)."""
    from crisiscast.incidents.people.users import create_user

    # Checked before the password is asked, so a typo does not cost typing it twice.
    with _store() as session:
        agent_id = _agent_id(session, agent_phone) if agent_phone else None
        _check_new(session, username, role)
    password = None if no_password else _read_password(password_stdin)
    with _store() as session:
        user = create_user(
            session, username, role, now=_now(), display_name=name, password=password,
            agent_id=agent_id,
        )  # fmt: skip
        _audit(session, "user.add", user, {"role": user.role.value, "agent_id": agent_id})
        line = f"user {user.username} added: {user.role.value}"
        line += f" ({user.display_name})" if user.display_name != user.username else ""
        line += f", agent {agent_id}" if agent_id else ""
    out.print(line, highlight=False)
    if no_password:
        out.print(f"Give it an API token: crisiscast users token {user.username} --label NAME")
    else:
        out.print("Sign in at /login on `crisiscast serve` (CRISISCAST_PUBLIC_URL/login).")


def _check_new(session: Any, username: str, role: str) -> None:
    """Refuse a bad or taken username, or an unknown role, with the fix."""
    from crisiscast.incidents.people.users import by_username, check_role, check_username

    try:
        name = check_username(username)
        check_role(role)
    except ConfigError as exc:
        raise fail(exc) from None
    if by_username(session, name) is not None:
        raise fail(ConfigError(f"username {name!r} is taken; choose another"))


def _agent_id(session: Any, phone: str) -> int:
    """The id of the agent with this phone number, or exit 1 saying how to add them."""
    from crisiscast.channels.masking import mask_phone
    from crisiscast.incidents.agents.roster import find_agent
    from crisiscast.incidents.audience.csv_import import normalize_phone

    try:
        number = normalize_phone(phone, "ZZ")
    except ValueError as exc:
        raise fail(ConfigError(f"--agent-phone: {exc}")) from None
    agent = find_agent(session, number)
    if agent is None:
        raise fail(ConfigError(
            f"--agent-phone: no agent has the number {mask_phone(number)}: add them first "
            "with `crisiscast agents add NAME --phone ...`, or check `crisiscast agents list`"
        ))  # fmt: skip
    return int(agent.id)


@users_app.command("list")
def users_list() -> None:
    """List users: role, state, last sign-in and the labels of their live API tokens."""
    from crisiscast.incidents.people.users import list_users, live_tokens

    now = _now()
    table = Table("id", "username", "name", "role", "agent", "state", "last sign-in", "tokens")
    with _store() as session:
        users = list_users(session)
        for user in users:
            state = "active" if user.active else "disabled"
            if user.locked_until is not None and user.locked_until > now:
                state = f"locked until {user.locked_until:%H:%M} UTC"
            table.add_row(
                str(user.id), user.username, user.display_name, user.role.value,
                str(user.agent_id or ""), state,
                f"{user.last_login_at:%Y-%m-%d %H:%M}" if user.last_login_at else "never",
                ", ".join(t.label for t in live_tokens(session, user)),
            )  # fmt: skip
    if not users:
        out.print("No users yet. Add the first commander:")
        out.print("  crisiscast users add NAME --role commander")
        return
    out.print(table)


@users_app.command("token")
def users_token(
    username: UsernameArg,
    label: Annotated[str, typer.Option(help="What the token is for, e.g. ci or dashboard")],
) -> None:
    """Issue an API token: printed once on stdout, stored only as a hash."""
    from crisiscast.incidents.people.users import issue_token, require_user

    if not label.strip():
        raise fail(ConfigError("--label: say what the token is for, e.g. --label ci"))
    with _store() as session:
        user = _active(require_user(session, username))
        token = issue_token(session, user, label.strip(), now=_now())
        _audit(session, "user.token", user, {"label": label.strip()[:100]})
    # The token alone on stdout (TOKEN=$(crisiscast users token ...)); the words on stderr.
    sys.stdout.write(token + "\n")
    err.print(
        f"API token {label.strip()!r} for {user.username}. It will not be shown again: store "
        "it now. Send it as 'Authorization: Bearer <token>'.",
        highlight=False,
    )


@users_app.command("revoke-token")
def users_revoke_token(
    username: UsernameArg,
    label: Annotated[str | None, typer.Option(help="Revoke the tokens with this label")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Revoke every token of the user")] = False,
) -> None:
    """Revoke a user's API tokens (by label, or all): they stop working at once."""
    from crisiscast.incidents.people.users import live_tokens, require_user, revoke_tokens

    if (label is None) == (not all_):
        raise fail(ConfigError("say which tokens: --label LABEL, or --all"))
    with _store() as session:
        user = require_user(session, username)
        revoked = revoke_tokens(session, user, now=_now(), label=label)
        if not revoked:
            labels = ", ".join(repr(t.label) for t in live_tokens(session, user)) or "none"
            raise fail(ConfigError(
                f"{user.username} has no live token labelled {label!r} (live: {labels})"
                if label is not None else f"{user.username} has no live token"
            ))  # fmt: skip
        _audit(session, "user.revoke_token", user, {"label": label, "tokens": revoked})
    out.print(f"revoked {len(revoked)} token(s) of {user.username}", highlight=False)


@users_app.command("passwd")
def users_passwd(username: UsernameArg, password_stdin: PasswordStdinOpt = False) -> None:
    """Set a user's password; lifts a lock and signs them out everywhere."""
    from crisiscast.incidents.people.users import end_sessions, require_user, set_password

    with _store() as session:
        require_user(session, username)  # before the password is typed
    password = _read_password(password_stdin)

    def replace(session: Any, user: Any) -> None:
        set_password(session, user, password)
        end_sessions(session, user, now=_now())

    _change(username, "user.passwd", replace)
    out.print(f"password of {username.strip().lower()} changed; their sessions ended")


@users_app.command("unlock")
def users_unlock(username: UsernameArg) -> None:
    """Lift a sign-in lock (after repeated failed sign-ins) before it ends by itself."""
    from crisiscast.incidents.people.users import unlock

    was = _change(username, "user.unlock", lambda session, user: unlock(session, user))
    who = username.strip().lower()
    out.print(f"{who} unlocked" if was else f"{who} was not locked; failures reset")


@users_app.command("disable")
def users_disable(username: UsernameArg) -> None:
    """Stop a user: no sign-in, sessions ended, tokens revoked (the audit log keeps the name)."""
    from crisiscast.incidents.people.users import disable_user

    def stop(session: Any, user: Any) -> None:
        _keep_a_commander(session, user)
        disable_user(session, user, now=_now())

    _change(username, "user.disable", stop)
    out.print(f"{username.strip().lower()} disabled: sessions ended, tokens revoked")


@users_app.command("enable")
def users_enable(username: UsernameArg) -> None:
    """Let a disabled user sign in again (with a new token or password if the old ones leaked)."""

    def start(session: Any, user: Any) -> None:
        user.active = True
        session.flush()

    _change(username, "user.enable", start)
    out.print(f"{username.strip().lower()} enabled; their old tokens stay revoked")


def _change(username: str, action: str, apply: Callable[[Any, Any], Any]) -> Any:
    """Find the user, apply the change and audit it, in one transaction."""
    from crisiscast.incidents.people.users import require_user

    with _store() as session:
        user = require_user(session, username)
        result = apply(session, user)
        _audit(session, action, user)
    return result


def _active(user: Any) -> Any:
    if not user.active:
        raise fail(ConfigError(f"{user.username} is disabled: add a new user instead"))
    return user


def _keep_a_commander(session: Any, user: Any) -> None:
    """Refuse to disable the last active commander: nobody could run an incident."""
    from crisiscast.incidents.people.users import list_users

    if user.role.value != "commander" or not user.active:
        return
    others = [u for u in list_users(session) if u.active and u.role.value == "commander"]
    if len(others) <= 1:
        raise fail(ConfigError(
            f"{user.username} is the last active commander: add another commander first "
            "(crisiscast users add NAME --role commander)"
        ))  # fmt: skip
