"""What the ``/api/v1`` tests share: a user of every role with a token, and a client that
checks every response against the app's own OpenAPI document."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator

from crisiscast.incidents.people.users import create_user, issue_token
from crisiscast.incidents.store.database import Store

SERVE_TOKEN = "serve-json-token-for-api-tests"
ROLES = ("commander", "comms", "agent", "viewer")
ROOT = Path(__file__).resolve().parents[3]
FLOOD = ROOT / "playbooks" / "regional-flood.yaml"
OUTAGE = ROOT / "playbooks" / "saas-outage.yaml"


def check_response(
    doc: dict[str, Any], method: str, template: str, response: httpx.Response
) -> None:
    """Fail unless the status is documented for the operation and the body fits its schema."""
    operation = doc["paths"][template][method.lower()]
    status = str(response.status_code)
    assert status in operation["responses"], (
        f"{method} {template} answered {status}, undocumented: {response.text[:300]}"
    )
    content = operation["responses"][status].get("content", {})
    schema = content.get("application/json", {}).get("schema")
    assert schema is not None, f"{method} {template} {status} documents no JSON body"
    validator = Draft202012Validator({**schema, "components": doc["components"]})
    problems = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(response.json())
    ]
    assert not problems, (method, template, status, problems[:5])


@dataclass
class Api:
    """A TestClient whose every answer is checked against the OpenAPI document."""

    client: TestClient
    doc: dict[str, Any]
    tokens: dict[str, str]

    def call(
        self,
        method: str,
        template: str,
        who: str | None = "commander",
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        **path: Any,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        response = self.client.request(
            method, "/api/v1" + template.format(**path), json=json, params=params, headers=headers
        )
        check_response(self.doc, method, "/api/v1" + template, response)
        return response

    def get(self, template: str, who: str | None = "commander", **kw: Any) -> httpx.Response:
        return self.call("GET", template, who, **kw)

    def post(self, template: str, who: str | None = "commander", **kw: Any) -> httpx.Response:
        return self.call("POST", template, who, **kw)


def add_users(store: Store) -> dict[str, str]:
    """One user per role (and a second commander), with a token each; ``cli``: serve.json's."""
    tokens = {"cli": SERVE_TOKEN}
    now = datetime.now(UTC)
    with store.session() as session:
        for name in (*ROLES, "commander2"):
            role = name.rstrip("2")
            user = create_user(session, name, role, now=now, password=None)
            tokens[name] = issue_token(session, user, "tests", now=now)
    return tokens
