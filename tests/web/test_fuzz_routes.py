"""Schema-driven fuzzing of every HTTP route of ``crisiscast serve``: no input may cause a 5xx.

- ``test_no_route_answers_5xx``: schemathesis generates valid and invalid requests (path,
  headers, query, JSON, form and multipart bodies) from the app's own OpenAPI schema, plus the
  webhook and reply-form routes that the schema hides (``HIDDEN``, described here instead).
  ``test_every_route_is_fuzzed`` fails when a route is added without a description.
- Hypothesis, for what a schema cannot sign: Twilio SMS and status forms with a correct
  ``X-Twilio-Signature`` (random fields, unicode, NUL), signed SendGrid event bodies, the reply
  form of a real incident, and launches with the right token.

Bounded for CI: ``max_examples`` per test, derandomized (the same examples every run, so a
failure reproduces and CI does not flake), no example database, no deadline (a 2-core runner
is slow, not wrong). The whole file takes well under 60 s. A finding goes in
``test_hostile_requests.py`` as an explicit test when it is fixed.
"""

from __future__ import annotations

import json
import re
from base64 import b64encode
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import schemathesis
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from schemathesis import GenerationMode
from twilio.request_validator import RequestValidator

from crisiscast.config import InboundEmailSettings, Settings, TwilioSettings
from crisiscast.incidents.store.database import Store, create_incident
from crisiscast.web.app import create_app
from crisiscast.web.reply_form import FormLimiter

TOKEN = "twilio-auth-token-for-tests"
PUBLIC = "https://crisis.example.org"
LAUNCH_TOKEN = "launch-token"
MAIL_AUTH = "Basic " + b64encode(b"parse:inbound-secret").decode()
FLOOD = Path(__file__).resolve().parents[2] / "playbooks" / "regional-flood.yaml"
EXAMPLES = 60  # per route and generation mode; per hypothesis test below

FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)

_text = {"type": "string"}
_form = "application/x-www-form-urlencoded"


def _body(media: str, properties: list[str]) -> dict[str, Any]:
    schema = {"type": "object", "properties": {p: _text for p in properties}}
    return {"required": True, "content": {media: {"schema": schema}}}


def _header(name: str) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": False, "schema": _text}


_ok = {"responses": {"200": {"description": "ok"}}}


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": _text}


def _query(name: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": _text}


# The routes with include_in_schema=False, described as their callers send them.
HIDDEN: dict[str, dict[str, Any]] = {
    "/webhooks/twilio/sms": {"post": {
        **_ok, "parameters": [_header("X-Twilio-Signature")],
        "requestBody": _body(_form, ["MessageSid", "From", "To", "Body", "NumMedia"]),
    }},
    "/webhooks/twilio/status": {"post": {
        **_ok, "parameters": [_header("X-Twilio-Signature")],
        "requestBody": _body(_form, ["MessageSid", "MessageStatus", "ErrorCode"]),
    }},
    "/webhooks/sendgrid/inbound": {"post": {
        **_ok, "parameters": [_header("Authorization")],
        "requestBody": _body("multipart/form-data", ["from", "to", "subject", "text", "headers"]),
    }},
    "/webhooks/sendgrid/events": {"post": {
        **_ok,
        "parameters": [_header("X-Twilio-Email-Event-Webhook-Signature"),
                       _header("X-Twilio-Email-Event-Webhook-Timestamp")],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "array", "items": {"type": "object"}}}}},
    }},
    "/incidents/{ref}/reply": {"post": {
        **_ok, "parameters": [{"name": "ref", "in": "path", "required": True, "schema": _text}],
        "requestBody": _body(_form, ["message", "contact", "name"]),
    }},
    # The sign-in pages (crisiscast.web.login).
    "/login": {
        "get": {**_ok, "parameters": [{"name": "next", "in": "query", "schema": _text}]},
        "post": {**_ok, "requestBody": _body(_form, ["username", "password", "csrf_token",
                                                      "next"])},
    },
    "/logout": {"post": {**_ok, "requestBody": _body(_form, ["csrf_token"])}},
    # The operator console (crisiscast.web.console): pages, their live parts and forms.
    "/console": {"get": _ok},
    "/console/_/{name}": {"get": {**_ok, "parameters": [_path("name")]}},
    "/console/cases": {"get": {**_ok, "parameters": [
        _query(q) for q in ("severity", "sla", "language", "agent", "incident", "status", "after")
    ]}},
    "/console/cases/live": {"get": {**_ok, "parameters": [_query("severity"), _query("after")]}},
    "/console/cases/{case_id}": {"get": {**_ok, "parameters": [_path("case_id"),
                                                               _query("done")]}},
    "/console/cases/{case_id}/live": {"get": {**_ok, "parameters": [_path("case_id")]}},
    "/console/cases/{case_id}/{action}": {"post": {
        **_ok, "parameters": [_path("case_id"), _path("action")],
        "requestBody": _body(_form, ["csrf_token", "text", "note", "status"]),
    }},
    "/console/incidents/{ref}": {"get": {**_ok, "parameters": [_path("ref")]}},
    "/console/incidents/{ref}/live": {"get": {**_ok, "parameters": [_path("ref")]}},
    "/console/incidents/{ref}/stand-down": {
        "get": {**_ok, "parameters": [_path("ref")]},
        "post": {**_ok, "parameters": [_path("ref")],
                 "requestBody": _body(_form, ["csrf_token", "step", "cases", "agent"])},
    },
    "/console/incidents/{ref}/update": {
        "get": {**_ok, "parameters": [_path("ref")]},
        "post": {**_ok, "parameters": [_path("ref")], "requestBody": _body(_form, [
            "csrf_token", "step", "announcement", "text.en", "text.th", "mode", "filter"])},
    },
    "/console/launch": {
        "get": {**_ok, "parameters": [_query("playbook")]},
        "post": {**_ok, "requestBody": _body(_form, [
            "csrf_token", "step", "playbook", "mode", "audience", "default_region", "filter",
            "everyone", "area_codes", "circle", "polygon"])},
    },
    "/console/approvals": {"get": _ok},
    "/console/approvals/{approval_id}": {"get": {**_ok, "parameters": [_path("approval_id")]}},
    **{f"/console/approvals/{{approval_id}}/{verb}": {"post": {
        **_ok, "parameters": [_path("approval_id")],
        "requestBody": _body(_form, ["csrf_token", "reason"]),
    }} for verb in ("approve", "reject")},
    # The phone link (crisiscast.web.case_page): the signed token in the path is the credential.
    "/c/_/case.js": {"get": _ok},
    "/c/{token}": {"get": {**_ok, "parameters": [_path("token"), _query("done")]}},
    "/c/{token}/since": {"get": {**_ok, "parameters": [_path("token"), _query("after")]}},
    "/c/{token}/reply": {"post": {**_ok, "parameters": [_path("token")],
                                  "requestBody": _body(_form, ["text"])}},
    **{f"/c/{{token}}/{verb}": {"post": {**_ok, "parameters": [_path("token")],
                                         "requestBody": _body(_form, ["note", "status"])}}
       for verb in ("ack", "done", "esc", "pass", "status")},
}  # fmt: skip


@pytest.fixture(scope="module")
def signing_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def build_app(
    tmp_path: Path, url: str, signing_key: ec.EllipticCurvePrivateKey
) -> Iterator[FastAPI]:
    """The real app on a migrated store with one incident (INC-1) and its pages."""
    store = Store(url)
    store.upgrade()
    with store.session() as session:
        create_incident(
            session, playbook_id="regional-flood", playbook_path=str(FLOOD), title="Flood",
            params={"area": "Riverside"}, languages=["en", "th"], exercise=False,
            now=datetime.now(UTC),
        )  # fmt: skip
    site = tmp_path / "site" / "INC-1"
    site.mkdir(parents=True)
    (site / "index.html").write_text("<html lang='en'>incident page</html>")
    (site / "banner.json").write_text("{}")
    key = signing_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    config = Settings(
        tmp_path, url,
        twilio=TwilioSettings("AC" + "0" * 32, SecretStr(TOKEN), from_number="+15005550006"),
        public_url=PUBLIC, inbound_email=InboundEmailSettings("parse", SecretStr("inbound-secret")),
        sendgrid_event_key=b64encode(key).decode(),
    )  # fmt: skip
    web = create_app(config, LAUNCH_TOKEN)
    yield web
    web.state.store.dispose()
    store.dispose()


@pytest.fixture
def app(tmp_path: Path, db_url: str, signing_key: ec.EllipticCurvePrivateKey) -> Iterator[FastAPI]:
    """On SQLite and on PostgreSQL: for the tests whose requests reach the store."""
    yield from build_app(tmp_path, db_url, signing_key)


@pytest.fixture
def sqlite_app(
    tmp_path: Path, sqlite_url: str, signing_key: ec.EllipticCurvePrivateKey
) -> Iterator[FastAPI]:
    """On SQLite only: the schema-wide fuzzing, whose requests mostly stop at the front door."""
    yield from build_app(tmp_path, sqlite_url, signing_key)


@pytest.fixture
def client(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    # The reply form's rate limit would turn most examples into 429s (it has its own tests).
    monkeypatch.setattr(FormLimiter, "wait", lambda *args: None)
    # Server exceptions are raised, so a finding fails with its traceback.
    with TestClient(app) as test_client:
        yield test_client


def fuzz_schema(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI schema with the hidden routes added."""
    schema = json.loads(json.dumps(app.openapi()))
    schema["paths"].update(json.loads(json.dumps(HIDDEN)))
    return schema


# Path parameters that name the real incident and its files (or nearly).
REAL_PATHS = [
    {"ref": "INC-1", "name": "index.html"},
    {"ref": "INC-1", "name": "banner.json"},
    {"ref": "INC-1", "name": "x/../index.html"},
    {"ref": "INC-1", "name": "cap/none.xml"},
    {"ref": "INC-01", "name": "index.html"},
    {"ref": "INC-2", "name": "index.html"},
    {"ref": "INC-\u0e51", "name": "index.html"},  # Thai 1: a Unicode \\d, not an incident
]


def route_paths(routes: list[Any]) -> set[tuple[str, str]]:
    """(METHOD, path) of every route, through included routers; paths as OpenAPI writes them."""
    found: set[tuple[str, str]] = set()
    for route in routes:
        included = getattr(route, "original_router", None)  # fastapi's lazily included router
        if included is not None:
            found |= route_paths(included.routes)
            continue
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        found |= {(method, path) for method in getattr(route, "methods", ())}
    return found


OPERATIONS = [
    ("GET", "/healthz"),
    ("POST", "/api/launch"),
    ("GET", "/incidents/{ref}"),
    ("GET", "/incidents/{ref}/{name}"),
    *((method.upper(), path) for path, methods in HIDDEN.items() for method in methods),
]
# The REST API (crisiscast.web.api), every operation.
API_OPERATIONS = [
    *(
        ("GET", f"/api/v1/{name}")
        for name in ("incidents", "approvals", "cases", "agents", "users", "audit")
    ),
    ("GET", "/api/v1/incidents/{ref}"),
    ("GET", "/api/v1/incidents/{ref}/deliveries"),
    ("GET", "/api/v1/approvals/{approval_id}"),
    ("GET", "/api/v1/cases/{case_id}"),
    *(
        ("POST", f"/api/v1/{name}")
        for name in ("incidents", "incidents/preview", "agents", "users")
    ),
    *(
        ("POST", f"/api/v1/incidents/{{ref}}/{name}")
        for name in ("updates/preview", "updates", "recall", "stand-down")
    ),
    *(("POST", f"/api/v1/approvals/{{approval_id}}/{name}") for name in ("approve", "reject")),
    *(
        ("POST", f"/api/v1/cases/{{case_id}}/{name}")
        for name in ("assign", "status", "notes", "replies")
    ),
    ("POST", "/api/v1/agents/{agent_id}/release"),
    ("POST", "/api/v1/users/{user_id}/tokens"),
]
OPERATIONS += API_OPERATIONS
# The CLI's warm commands: past the token, all but the stop would run a whole flow.
WARM_NAMES = ("broadcast", "sweep", "stand-down", "stop")
OPERATIONS += [("POST", f"/api/warm/{name}") for name in WARM_NAMES]
# Routes with typed bodies that a negative (schema-violating) example can get wrong; the rest
# take strings only, and their odd strings come from the positive examples.
TYPED = {"/api/launch", "/webhooks/sendgrid/inbound", "/webhooks/sendgrid/events"}
# Headers that get a request past the credential check, sent with about half the examples.
CREDENTIALS = {
    "/api/launch": {"Authorization": f"Bearer {LAUNCH_TOKEN}"},
    "/webhooks/sendgrid/inbound": {"Authorization": MAIL_AUTH},
}
# Every API path is typed (bodies, query parameters) and taken past the role check with the
# CLI's token, except stand-down: on the real INC-1 it would run the whole stand-down flow.
# (Those with a text `ref` as their only input have no schema-violating example.)
TYPED |= {path for _, path in API_OPERATIONS} - {
    f"/api/v1/incidents/{{ref}}{tail}" for tail in ("", "/deliveries", "/recall", "/stand-down")
}
CREDENTIALS.update(
    {
        path: {"Authorization": f"Bearer {LAUNCH_TOKEN}"}
        for _, path in API_OPERATIONS
        if not path.endswith("/stand-down")
    }
)
CREDENTIALS["/api/warm/stop"] = {"Authorization": f"Bearer {LAUNCH_TOKEN}"}
# The console's pages open for the CLI's token too (a commander): every page and live part,
# and the forms that cannot start a flow (a launch, an update or a stand-down would).
CREDENTIALS.update(
    {
        path: {"Authorization": f"Bearer {LAUNCH_TOKEN}"}
        for path, methods in HIDDEN.items()
        if path.startswith("/console")
        and ("get" in methods or path.startswith(("/console/cases/", "/console/approvals/")))
    }
)


def test_every_route_is_fuzzed(sqlite_app: FastAPI) -> None:
    """A new route fails here until it is in the fuzz schema (add it to HIDDEN if hidden)."""
    served = route_paths(sqlite_app.routes) - {("GET", "/openapi.json"), ("HEAD", "/openapi.json")}
    assert served == set(OPERATIONS)
    described = {(m.upper(), p) for p, ops in fuzz_schema(sqlite_app)["paths"].items() for m in ops}
    assert described == set(OPERATIONS)


@pytest.mark.parametrize(
    ("method", "path", "mode"),
    [
        (method, path, mode)
        for method, path in OPERATIONS
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        if mode is GenerationMode.POSITIVE or path in TYPED
    ],
)
def test_no_route_answers_5xx(
    sqlite_app: FastAPI, method: str, path: str, mode: GenerationMode
) -> None:
    app = sqlite_app
    schema = schemathesis.openapi.from_dict(fuzz_schema(app))
    operation = schema[path][method]
    extra = CREDENTIALS.get(path, {})

    @FUZZ
    @given(
        case=operation.as_strategy(generation_mode=mode),
        authenticated=st.booleans(),
        real=st.none() | st.sampled_from(REAL_PATHS),
    )
    def run(case: Any, authenticated: bool, real: dict[str, str] | None) -> None:
        if real and case.path_parameters:
            # Random strings alone would only ever find 404s: sometimes name real things.
            case.path_parameters.update({k: real[k] for k in case.path_parameters if k in real})
        # schemathesis sends it in-process; an exception in the app fails with its traceback.
        response = case.call(app=app, headers=extra if authenticated else None)
        assert response.status_code < 500, (
            case.method,
            case.formatted_path,
            response.content[:300],
        )

    run()


# Hypothesis, past the signatures.

_any_text = st.text(st.characters(codec="utf-8"), max_size=300)  # unicode, NUL, controls
_twilio_field = st.sampled_from(
    ["MessageSid", "SmsSid", "From", "To", "Body", "NumMedia", "MessageStatus", "ErrorCode"]
)


def _signed(url: str, form: dict[str, str]) -> dict[str, str]:
    return {
        "X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(url, form),
        "Content-Type": _form,
    }


@FUZZ
@given(data=st.data())
def test_signed_twilio_forms_never_5xx(client: TestClient, data: st.DataObject) -> None:
    """Signed correctly, any fields and values: inbound SMS and status callbacks answer < 500."""
    path = data.draw(st.sampled_from(["/webhooks/twilio/sms", "/webhooks/twilio/status"]))
    form = data.draw(st.dictionaries(_twilio_field | _any_text, _any_text, max_size=8))
    if data.draw(st.booleans()):  # past "MessageSid ... are required" about half the time
        form = {"MessageSid": "SM" + "7" * 32, "From": "+66812345678",
                "MessageStatus": data.draw(st.sampled_from(["delivered", "failed", "x"])),
                **form}  # fmt: skip
    response = client.post(path, content=urlencode(form), headers=_signed(PUBLIC + path, form))
    assert response.status_code < 500, (form, response.text[:300])


@FUZZ
@given(
    sid=st.from_regex(r"\ASM[0-9a-f]{32}\Z"),
    sender=st.sampled_from(["+66812345678", "+15005550006", "abc", "", "\x00"]) | _any_text,
    body=_any_text,
)
def test_signed_sms_with_any_body_is_stored_or_refused(
    client: TestClient, sid: str, sender: str, body: str
) -> None:
    form = {"MessageSid": sid, "From": sender, "To": "+15005550006", "Body": body}
    url = PUBLIC + "/webhooks/twilio/sms"
    response = client.post(
        "/webhooks/twilio/sms", content=urlencode(form), headers=_signed(url, form)
    )
    assert response.status_code < 500, (form, response.text[:300])


@FUZZ
@given(
    events=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _any_text,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_any_text, inner, max_size=4),
        max_leaves=20,
    )
    | st.lists(
        st.fixed_dictionaries(
            {"sg_message_id": _any_text, "event": st.sampled_from(["delivered", "bounce", "x"])},
            optional={
                "smtp-id": _any_text,
                "reason": _any_text,
                "type": _any_text,
                "timestamp": st.integers() | _any_text,
            },
        ),
        max_size=5,
    )
)
def test_signed_sendgrid_events_never_5xx(
    client: TestClient, signing_key: ec.EllipticCurvePrivateKey, events: Any
) -> None:
    """Signed with the configured key: any JSON at all answers < 500."""
    body = json.dumps(events).encode()
    timestamp = str(int(datetime.now(UTC).timestamp()))
    signature = signing_key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    response = client.post(
        "/webhooks/sendgrid/events", content=body,
        headers={"Content-Type": "application/json",
                 "X-Twilio-Email-Event-Webhook-Signature": b64encode(signature).decode(),
                 "X-Twilio-Email-Event-Webhook-Timestamp": timestamp},
    )  # fmt: skip
    assert response.status_code < 500, (events, response.text[:300])


_contact = st.sampled_from(["+66812345678", "a@example.org", "+1 555", "@", "x@y"]) | _any_text


@FUZZ
@given(
    # Mostly the real incident; a Thai digit is a Unicode \d that int() would take as 3.
    ref=st.sampled_from(["INC-1"] * 6 + ["INC-2", "INC-0", "INC-01", "INC-\u0e53"]),
    form=st.fixed_dictionaries(
        {
            "message": st.text(st.characters(codec="utf-8"), min_size=1, max_size=300),
            "contact": st.sampled_from(["+66812345678", "a@example.org"]) | _contact,
        },
        optional={"name": _any_text},
    )
    | st.dictionaries(
        st.sampled_from(["message", "contact", "name"]) | _any_text, _any_text, max_size=5
    ),
)
def test_reply_form_never_5xx(client: TestClient, ref: str, form: dict[str, str]) -> None:
    """The public form of a real incident, with any fields, unicode and NUL."""
    response = client.post(
        f"/incidents/{ref}/reply", content=urlencode(form), headers={"Content-Type": _form}
    )
    assert response.status_code < 500, (ref, form, response.text[:300])


@FUZZ
@given(
    body=st.fixed_dictionaries(
        {"playbook": _any_text | st.sampled_from([".", "/", "/dev/null", str(FLOOD.parent)])},
        optional={
            "params": st.dictionaries(_any_text, _any_text, max_size=3) | _any_text,
            "audience": st.none() | _any_text,
            "default_region": _any_text,
            "exercise": st.booleans() | _any_text,
            "send": st.booleans(),
        },
    )
    | st.binary(max_size=200)
)
def test_authenticated_launch_never_5xx(client: TestClient, body: Any) -> None:
    """With the right token, any body short of a real playbook is refused with a 4xx."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = client.post(
        "/api/launch", content=content,
        headers={"Authorization": f"Bearer {LAUNCH_TOKEN}", "Content-Type": "application/json"},
    )  # fmt: skip
    assert response.status_code < 500, (body, response.text[:300])
