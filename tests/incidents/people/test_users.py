"""Users, API tokens and console sessions: created, checked, locked, revoked and expired."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, text

from crisiscast.errors import AccessError, ConfigError, NotFoundError
from crisiscast.incidents.people import users
from crisiscast.incidents.store.database import Store
from crisiscast.incidents.store.models import User, UserRole

T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"


def add(store: Store, username: str = "ana", role: str = "commander", **extra: object) -> int:
    with store.session() as session:
        return users.create_user(session, username, role, now=T0, password=PASSWORD,
                                 **extra).id  # type: ignore[arg-type]  # fmt: skip


def sign_in(store: Store, password: str, *, now: datetime = T0, username: str = "ana") -> User:
    """One sign-in attempt in its own transaction (as the web does): failures are kept."""
    with store.session() as session:
        try:
            return users.authenticate(session, username, password, now=now)
        except AccessError as exc:
            failure = exc
    raise failure


def test_a_user_is_created_and_signs_in(store: Store) -> None:
    """The username is stored in lower case; the right password signs in and is remembered."""
    add(store, " Ana ", "comms", display_name="Ana Lima")
    user = sign_in(store, PASSWORD, username="ANA")
    assert (user.username, user.display_name, user.role) == ("ana", "Ana Lima", UserRole.COMMS)
    with store.session() as session:
        assert users.require_user(session, "ana").last_login_at == T0


@pytest.mark.parametrize(
    ("username", "role", "says"),
    [("ana lima", "commander", "username 'ana lima': use 1-100 lower-case letters"),
     ("", "commander", "username '': use"),
     ("ana", "boss", "role 'boss' is not one of: commander, comms, agent, viewer")],
)  # fmt: skip
def test_a_bad_username_or_role_says_what_to_use(
    store: Store, username: str, role: str, says: str
) -> None:
    with pytest.raises(ConfigError, match=says), store.session() as session:
        users.create_user(session, username, role, now=T0)


def test_a_taken_username_is_refused_and_the_transaction_goes_on(store: Store) -> None:
    """A taken name is refused (case-insensitively) without spoiling the caller's transaction."""
    add(store)
    with store.session() as session:
        with pytest.raises(ConfigError, match="'ana' is taken"):
            users.create_user(session, "ANA", "viewer", now=T0)
        users.create_user(session, "bob", "viewer", now=T0)
    with store.session() as session:
        assert [u.username for u in users.list_users(session)] == ["ana", "bob"]


def test_wrong_password_and_unknown_user_get_the_same_answer(store: Store) -> None:
    """Neither answer tells whether the username exists; a disabled user cannot sign in."""
    add(store)
    answers = []
    for username, password in (("ana", "wrong password!"), ("nobody", PASSWORD)):
        with pytest.raises(AccessError) as caught:
            sign_in(store, password, username=username)
        answers.append((str(caught.value), caught.value.signed_in))
    assert answers == [("wrong username or password", False)] * 2
    with store.session() as session:
        users.disable_user(session, users.require_user(session, "ana"), now=T0)
    with pytest.raises(AccessError, match="wrong username or password"):
        sign_in(store, PASSWORD)


def test_five_failures_in_a_row_lock_the_account_for_a_while(store: Store) -> None:
    """Four failures, a success (the count restarts), five failures: locked, and the lock says
    until when; even the right password waits until it ends."""
    add(store)
    for n in range(4):
        with pytest.raises(AccessError, match="wrong username"):
            sign_in(store, f"wrong password {n}")
    sign_in(store, PASSWORD)
    for n in range(4):
        with pytest.raises(AccessError) as caught:
            sign_in(store, f"wrong password {n}")
        assert not isinstance(caught.value, users.AccountLocked)
    with pytest.raises(users.AccountLocked) as locked:
        sign_in(store, "wrong password 5")
    assert locked.value.now_locked and locked.value.until == T0 + users.LOCKOUT_FOR
    assert "locked after 5 failed sign-ins until 09:15 UTC" in str(locked.value)
    with pytest.raises(users.AccountLocked) as still:
        sign_in(store, PASSWORD, now=T0 + users.LOCKOUT_FOR - timedelta(seconds=1))
    assert not still.value.now_locked
    assert sign_in(store, PASSWORD, now=T0 + users.LOCKOUT_FOR).username == "ana"


def test_unlock_lifts_the_lock_at_once(store: Store) -> None:
    add(store)
    for n in range(5):
        with pytest.raises(AccessError):
            sign_in(store, f"wrong password {n}")
    with store.session() as session:
        assert users.unlock(session, users.require_user(session, "ana"))
    assert sign_in(store, PASSWORD).username == "ana"
    with store.session() as session:
        assert not users.unlock(session, users.require_user(session, "ana"))


def test_a_new_password_works_and_lifts_the_lock(store: Store) -> None:
    add(store)
    for n in range(5):
        with pytest.raises(AccessError):
            sign_in(store, f"wrong password {n}")
    with store.session() as session:
        users.set_password(session, users.require_user(session, "ana"), "a brand new passphrase")
    with pytest.raises(AccessError):
        sign_in(store, PASSWORD)
    assert sign_in(store, "a brand new passphrase").username == "ana"


def test_an_old_weaker_hash_is_renewed_at_sign_in(store: Store) -> None:
    """A hash from weaker parameters is replaced by today's after a successful sign-in."""
    add(store)
    with store.session() as session:
        users.require_user(session, "ana").password_hash = PasswordHasher(time_cost=1).hash(
            PASSWORD
        )
    sign_in(store, PASSWORD)
    with store.session() as session:
        stored = users.require_user(session, "ana").password_hash or ""
    assert "t=1," not in stored and stored.startswith("$argon2id$")


def test_tokens_are_stored_hashed_and_revocable(store: Store) -> None:
    """A token is shown once and stored as SHA-256 only; revoking by label stops that one;
    disabling the user stops the rest."""
    add(store)
    with store.session() as session:
        user = users.require_user(session, "ana")
        ci = users.issue_token(session, user, "ci", now=T0)
        dash = users.issue_token(session, user, "dashboard", now=T0)
    assert ci.startswith(users.TOKEN_PREFIX) and ci != dash
    with store.session() as session:
        stored = " ".join(str(v) for row in session.execute(text("SELECT * FROM api_tokens"))
                          for v in row)  # fmt: skip
        assert ci not in stored and users.digest(ci) in stored
        assert users.user_for_token(session, ci, now=T0) is not None
        assert users.user_for_token(session, "cc_made-up", now=T0) is None
        revoked = users.revoke_tokens(session, users.require_user(session, "ana"), now=T0,
                                      label="ci")  # fmt: skip
        assert len(revoked) == 1
    with store.session() as session:
        assert users.user_for_token(session, ci, now=T0) is None
        assert users.user_for_token(session, dash, now=T0) is not None
        assert [t.label for t in users.live_tokens(session, users.require_user(session, "ana"))
                ] == ["dashboard"]  # fmt: skip
        users.disable_user(session, users.require_user(session, "ana"), now=T0)
    with store.session() as session:
        assert users.user_for_token(session, dash, now=T0) is None


def test_sessions_expire_and_can_be_ended(store: Store) -> None:
    """A session works until it expires (12 h), ends at sign-out, and every session of a user
    ends at once after a password change; the table holds no cookie."""
    add(store)
    with store.session() as session:
        user = users.require_user(session, "ana")
        first = users.start_session(session, user, now=T0, client="10.0.0.7")
        second = users.start_session(session, user, now=T0, client="10.0.0.8")
        third = users.start_session(session, user, now=T0, client=None)
    assert first.expires_at == T0 + users.SESSION_FOR
    with store.session() as session:
        stored = " ".join(str(v) for row in session.execute(text("SELECT * FROM web_sessions"))
                          for v in row)  # fmt: skip
        assert first.cookie not in stored
        almost = T0 + users.SESSION_FOR - timedelta(seconds=1)
        found = users.session_user(session, first.cookie, now=almost)
        assert found is not None and found[1].csrf_token == first.csrf_token
        assert users.session_user(session, first.cookie, now=T0 + users.SESSION_FOR) is None
        users.end_session(session, first.cookie, now=T0)
    with store.session() as session:
        assert users.session_user(session, first.cookie, now=T0) is None
        assert users.session_user(session, second.cookie, now=T0) is not None
        assert users.end_sessions(session, users.require_user(session, "ana"), now=T0) == 2
    with store.session() as session:
        assert users.session_user(session, second.cookie, now=T0) is None
        assert users.session_user(session, third.cookie, now=T0) is None


def test_an_unknown_username_names_where_to_look(store: Store) -> None:
    with pytest.raises(NotFoundError, match="`crisiscast users list` shows them"), \
            store.session() as session:  # fmt: skip
        users.require_user(session, "nobody")


def test_a_user_can_be_linked_to_an_agent(store: Store) -> None:
    from crisiscast.incidents.agents.roster import add_agent

    with store.session() as session:
        agent = add_agent(session, name="Noi", phone="+66812340001")
        agent_id = agent.id
    add(store, "noi", "agent", agent_id=agent_id)
    with store.session() as session:
        assert session.scalar(select(User.agent_id).where(User.username == "noi")) == agent_id


def test_the_readme_roles_table_is_the_permission_matrix() -> None:
    """README's "Users and sign-in" table says what roles.py enforces, row for row."""
    from pathlib import Path

    from crisiscast.incidents.people.roles import PERMISSIONS, ROLES

    readme = Path(__file__).resolve().parents[3] / "README.md"
    section = readme.read_text(encoding="utf-8").partition("### Users and sign-in")[2]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    table = {}
    for row in rows[: len(PERMISSIONS)]:
        action, *cells = (cell.strip() for cell in row.strip("|").split("|"))
        table[action.strip("`")] = frozenset(r for r, c in zip(ROLES, cells, strict=True) if c)
    assert table == dict(PERMISSIONS)


def test_failures_posted_at_once_all_count(store: Store) -> None:
    """Five wrong passwords checked at the same moment still lock the account (the count is
    kept in SQL, so no failure overwrites another)."""
    from concurrent.futures import ThreadPoolExecutor

    add(store)

    def attempt(n: int) -> str:
        try:
            sign_in(store, f"wrong password {n}")
        except users.AccountLocked:
            return "locked"
        except AccessError:
            return "wrong"
        return "in"

    with ThreadPoolExecutor(5) as pool:
        outcomes = sorted(pool.map(attempt, range(5)))
    assert outcomes == ["locked"] + ["wrong"] * 4
    with pytest.raises(users.AccountLocked):
        sign_in(store, PASSWORD)
