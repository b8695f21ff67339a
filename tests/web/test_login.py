"""Signing in to the console over real HTTP: the form, sessions, CSRF, lock-out, sign-out and
what the audit log keeps of it (never a password)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from live_app import serve_app
from sqlalchemy import select

from crisiscast.config import Settings
from crisiscast.incidents.people import users
from crisiscast.incidents.store.database import Store
from crisiscast.incidents.store.models import AuditEvent
from crisiscast.web import login
from crisiscast.web.app import create_app

PASSWORD = "correct horse battery"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def add_user(store: Store, username: str = "ana", role: str = "commander") -> int:
    with store.session() as session:
        return users.create_user(session, username, role, now=datetime.now(UTC),
                                 password=PASSWORD).id  # fmt: skip


@contextmanager
def serve(tmp_path: Path, store: Store, public_url: str | None = None) -> Iterator[httpx.Client]:
    """The live app on ``store``; a client without a cookie jar."""
    url = store.url.render_as_string(hide_password=False)
    settings = Settings(tmp_path, url, public_url=public_url)
    app = create_app(settings, "serve-token")
    try:
        with serve_app(app, settings) as base, httpx.Client(base_url=base) as client:
            # No cookie jar: each test sends exactly the cookies it means to (``jar``).
            client.event_hooks["response"] = [lambda _: client.cookies.clear()]
            yield client
    finally:
        app.state.store.dispose()


@pytest.fixture
def web(tmp_path: Path, store: Store) -> Iterator[httpx.Client]:
    """A client of the live app (no public URL: plain http); cookies are sent by hand."""
    add_user(store)
    with serve(tmp_path, store) as client:
        yield client


def form_token(client: httpx.Client) -> str:
    """Open the sign-in page; the CSRF token of its form (the cookie carries the same)."""
    page = client.get("/login")
    assert page.status_code == 200
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match
    assert page.cookies[login.LOGIN_COOKIE] == match.group(1)
    return match.group(1)


def sign_in(
    client: httpx.Client, username: str = "ana", password: str = PASSWORD, **extra: str
) -> httpx.Response:
    token = form_token(client)
    fields = {"username": username, "password": password, "csrf_token": token, **extra}
    return client.post("/login", data=fields, headers=jar(crisiscast_login=token))


def jar(**cookies: str) -> dict[str, str]:
    """A Cookie header carrying exactly ``cookies``."""
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} if cookies else {}


def set_cookie(response: httpx.Response, name: str) -> str:
    found = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    assert len(found) == 1, response.headers.get_list("set-cookie")
    return found[0]


def audit(store: Store) -> list[AuditEvent]:
    with store.session() as session:
        rows = list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
        session.expunge_all()
    return rows


def test_the_form_is_labelled_for_people_and_password_managers(web: httpx.Client) -> None:
    """The page has labelled fields with autocomplete hints, no script, and refuses framing."""
    page = web.get("/login")
    assert page.status_code == 200
    assert '<html lang="en">' in page.text
    assert '<label for="username">' in page.text and '<label for="password">' in page.text
    assert 'autocomplete="username"' in page.text
    assert 'autocomplete="current-password"' in page.text
    assert "<script" not in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    cookie = set_cookie(page, login.LOGIN_COOKIE)
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/login" in cookie


def test_sign_in_sets_a_strict_session_cookie_and_opens_the_console(
    web: httpx.Client, store: Store
) -> None:
    """Right password: 303 to /console, an HttpOnly SameSite=Strict session cookie on /, and
    the console says who is signed in with which role; the audit log has the sign-in."""
    response = sign_in(web)
    assert response.status_code == 303
    assert response.headers["location"] == "/console"
    cookie = set_cookie(response, "crisiscast_session")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/;" in cookie + ";"
    assert "Secure" not in cookie  # plain http here: a Secure cookie would never come back
    session = response.cookies["crisiscast_session"]
    console = web.get("/console", headers=jar(crisiscast_session=session))
    assert console.status_code == 200
    assert "Signed in as <strong>ana</strong>, role <strong>commander</strong>" in console.text
    [entry] = [e for e in audit(store) if e.action == "login"]
    assert entry.actor.endswith(" ana") and entry.source == "console 127.0.0.1"


def test_the_cookie_is_secure_when_the_public_url_is_https(tmp_path: Path, store: Store) -> None:
    """Behind https (CRISISCAST_PUBLIC_URL), both cookies carry Secure."""
    add_user(store)
    with serve(tmp_path, store, public_url="https://crisis.example.org") as client:
        response = sign_in(client)
        assert response.status_code == 303
        assert "Secure" in set_cookie(response, "crisiscast_session")
        assert "Secure" in set_cookie(client.get("/login"), login.LOGIN_COOKIE)


def test_a_wrong_password_is_401_and_the_log_keeps_no_password(
    web: httpx.Client, store: Store
) -> None:
    """Wrong password and unknown user get the same 401 words, no session; the audit log names
    the known user only, and no password appears anywhere in it."""
    wrong = sign_in(web, password="not the password at all")
    unknown = sign_in(web, username="nobody", password="also not it, surely")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "Wrong username or password." in response.text
        assert 'role="alert"' in response.text and 'aria-invalid="true"' in response.text
        assert "crisiscast_session" not in response.headers.get("set-cookie", "")
    failed = [e for e in audit(store) if e.action == "login.failed"]
    assert [e.detail["username"] if e.detail else "" for e in failed] == ["ana", None]
    assert all(e.source == "console 127.0.0.1" for e in failed)
    everything = repr([(e.actor, e.subject, e.detail) for e in audit(store)])
    assert "not the password" not in everything and "nobody" not in everything


@pytest.mark.parametrize("username", ["ana\x00", "a" * 5000, "ana lima", "\u0e01\u0e02"])
def test_odd_usernames_are_a_plain_401(web: httpx.Client, username: str) -> None:
    """NUL (which PostgreSQL refuses), spaces, Thai or 5,000 letters: wrong, not a 5xx."""
    response = sign_in(web, username=username)
    assert response.status_code == 401
    assert "Wrong username or password." in response.text


def test_five_failures_lock_the_account_until_a_commander_unlocks_it(
    web: httpx.Client, store: Store
) -> None:
    """The fifth failure locks (403, saying until when); then even the right password is
    refused; ``unlock`` lets the user in again. Lock-out is in the audit log."""
    codes = [sign_in(web, password=f"wrong password {n}").status_code for n in range(4)]
    assert codes == [401] * 4
    fifth = sign_in(web, password="wrong password 5")
    assert fifth.status_code == 403
    assert "locked after 5 failed sign-ins until" in fifth.text
    right = sign_in(web)
    assert right.status_code == 403 and "locked" in right.text
    assert [e.action for e in audit(store)].count("login.locked") == 1
    with store.session() as session:
        users.unlock(session, users.require_user(session, "ana"))
    assert sign_in(web).status_code == 303


@pytest.mark.parametrize("case", ["no token", "no cookie", "mismatch", "forged pair"])
def test_a_sign_in_without_the_forms_csrf_pair_is_403(
    web: httpx.Client, store: Store, case: str
) -> None:
    """A post that lacks the form's token, the cookie, or carries a pair this server did not
    sign (another site planting both) is refused before the password is checked."""
    token = form_token(web)
    fields = {"username": "ana", "password": PASSWORD, "csrf_token": token}
    cookies = {"crisiscast_login": token}
    if case == "no token":
        del fields["csrf_token"]
    elif case == "no cookie":
        cookies = {}
    elif case == "mismatch":
        cookies = {"crisiscast_login": form_token(web)[:-1] + "0"}
    else:
        fields["csrf_token"] = cookies["crisiscast_login"] = "attacker-nonce." + "0" * 32
    response = web.post("/login", data=fields, headers=jar(**cookies))
    assert response.status_code == 403
    assert "open the sign-in page again" in response.text
    assert [e for e in audit(store) if e.action.startswith("login")] == []


def test_sign_out_needs_the_csrf_token_and_ends_the_session(
    web: httpx.Client, store: Store
) -> None:
    """Sign-out without the session's CSRF token is refused and the session lives on; with
    it, the cookie is cleared, the old cookie no longer opens the console, and it is audited."""
    session = sign_in(web).cookies["crisiscast_session"]
    mine = jar(crisiscast_session=session)
    refused = web.post("/logout", data={}, headers=mine)
    assert refused.status_code == 403
    console = web.get("/console", headers=mine)
    assert console.status_code == 200
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', console.text)
    assert csrf
    out = web.post("/logout", data={"csrf_token": csrf.group(1)}, headers=mine)
    assert out.status_code == 303 and out.headers["location"] == "/login?out=1"
    assert 'crisiscast_session=""' in set_cookie(out, "crisiscast_session")
    again = web.get("/console", headers=mine)
    assert again.status_code == 303
    assert again.headers["location"] == "/login?next=/console"
    assert "You are signed out." in web.get("/login?out=1").text
    assert [e.action for e in audit(store)][-1] == "logout"


def test_the_console_sends_strangers_to_the_sign_in_page(web: httpx.Client) -> None:
    """No session, or a made-up one: 303 to /login."""
    for cookies in ({}, {"crisiscast_session": "made-up"}):
        response = web.get("/console", headers=jar(**cookies))
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=/console"


def test_after_sign_in_only_local_paths_are_followed(web: httpx.Client) -> None:
    """``next`` may name a page here, never another site (no open redirect)."""
    assert sign_in(web, next="/console?x=1").headers["location"] == "/console?x=1"
    for elsewhere in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        assert sign_in(web, next=elsewhere).headers["location"] == "/console"


def test_odd_bodies_are_4xx_not_5xx(web: httpx.Client) -> None:
    """An over-long body is 413 before it is parsed; another content type 415; a repeated
    field 400; an empty field 422 naming it."""
    token = form_token(web)
    headers = {**FORM, **jar(crisiscast_login=token)}
    big = web.post("/login", content=b"username=" + b"a" * 100_000, headers=headers)
    assert big.status_code == 413
    typed = web.post("/login", json={"username": "ana"}, headers=jar(crisiscast_login=token))
    assert typed.status_code == 415
    twice = web.post("/login", content=b"username=a&username=b", headers=headers)
    assert twice.status_code == 400
    empty = web.post("/login", content=f"username=ana&password=&csrf_token={token}".encode(),
                     headers=headers)  # fmt: skip
    assert empty.status_code == 422 and "Password: fill in" in empty.text


def test_one_address_failing_too_often_waits(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the per-address limit of failed sign-ins, the address gets 429 with Retry-After,
    whatever username it tries (the lock-out alone would let it try every username)."""
    monkeypatch.setattr(login, "CLIENT_FAILURES", (3, login.CLIENT_FAILURES[1]))
    add_user(store)
    with serve(tmp_path, store) as client:
        codes = [sign_in(client, username=f"user{n}", password="guess guess guess").status_code
                 for n in range(3)]  # fmt: skip
        assert codes == [401] * 3
        blocked = sign_in(client)
        assert blocked.status_code == 429
        assert int(blocked.headers["retry-after"]) > 0


def test_a_burst_from_one_address_is_bounded_and_successes_do_not_count(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Six wrong guesses posted at once with a limit of three: three are checked, three get
    429 before any password is hashed. Signing in successfully never uses up the limit."""
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setattr(login, "CLIENT_FAILURES", (3, login.CLIENT_FAILURES[1]))
    add_user(store)
    add_user(store, "bob", "viewer")
    with serve(tmp_path, store) as client:
        assert [sign_in(client, "bob").status_code for _ in range(5)] == [303] * 5
        posts = []
        for n in range(6):
            token = form_token(client)
            fields = {"username": f"user{n}", "password": "guess guess guess",
                      "csrf_token": token}  # fmt: skip
            posts.append((fields, jar(crisiscast_login=token)))
        with ThreadPoolExecutor(6) as pool:
            codes = list(pool.map(lambda p: client.post("/login", data=p[0], headers=p[1])
                                  .status_code, posts))  # fmt: skip
        assert sorted(codes) == [401] * 3 + [429] * 3
    with store.session() as session:
        failed = session.scalars(select(AuditEvent).where(AuditEvent.action == "login.failed"))
        assert len(list(failed)) == 3
