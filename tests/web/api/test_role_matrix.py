"""Every ``/api/v1`` route with every role and with no token: the answer is what the role
matrix (``incidents/people/roles.py``) says. Routes are read from the OpenAPI document, so a
new route is walked without editing this test; its ``x-permission`` must be in the matrix."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from api_support import ROLES, Api
from desk_support import make_agent, make_case, make_incident

from crisiscast.incidents.people import approvals
from crisiscast.incidents.people.audit import Actor
from crisiscast.incidents.people.roles import PERMISSIONS, allowed
from crisiscast.incidents.store.database import Store

# Real things for the path parameters; stand-down names no incident, so no flow runs.
PATHS = {"ref": "INC-1", "case_id": 1, "agent_id": 1, "user_id": 1, "approval_id": 1}
STAND_DOWN = {"ref": "INC-999"}
# Bodies that a permitted caller gets past validation with, or a cheap 422.
BODIES: dict[str, Any] = {
    "/api/v1/cases/{case_id}/assign": {"agent_id": 1},
    "/api/v1/cases/{case_id}/status": {"status": "acknowledged"},
    "/api/v1/cases/{case_id}/notes": {"text": "checked"},
    "/api/v1/cases/{case_id}/replies": {"text": "We are on it"},
}


def operations(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(method, path, action) of every API operation."""
    return [
        (method.upper(), path, operation["x-permission"])
        for path, methods in doc["paths"].items()
        if path.startswith("/api/v1/")
        for method, operation in methods.items()
    ]


def _seed(store: Store) -> None:
    now = datetime.now(UTC)
    with store.session() as session:
        incident = make_incident(session, now=now)
        make_case(session, incident, now=now)
        make_agent(session, 1)
        approvals.request(
            session, Actor.cli(), "recall", {"ref": "INC-1"}, None, now=now, incident_id=incident.id
        )


def test_every_route_names_a_known_action(api: Api) -> None:
    found = operations(api.doc)
    assert len(found) >= 23
    assert {action for *_, action in found} <= set(PERMISSIONS)


@pytest.mark.parametrize("who", [*ROLES, None])
def test_role_matrix(api: Api, store: Store, who: str | None) -> None:
    """401 without a token, 403 where the matrix says no; otherwise past the check (GETs 200)."""
    _seed(store)
    for method, path, action in operations(api.doc):
        params = {**PATHS, **(STAND_DOWN if path.endswith("/stand-down") else {})}
        body = BODIES.get(path, {}) if method == "POST" else None
        response = api.call(method, path.removeprefix("/api/v1"), who, json=body, **params)
        got = response.status_code
        where = (who, method, path, got, response.text[:200])
        if who is None:
            assert got == 401, where
        elif not allowed(who, action):
            assert got == 403 and action in response.json()["detail"], where
        elif method == "GET":
            assert got == 200, where
        else:
            assert got not in (401, 403) and got < 500, where
