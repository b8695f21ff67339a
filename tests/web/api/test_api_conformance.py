"""Generated requests to every ``/api/v1`` operation (schemathesis, from the app's own OpenAPI
document), past the role check with the CLI's token: every answer's status is documented and
its body fits the documented schema, the refusals (401, 404, 409, 413, 422) included.

Bounded like ``tests/web/test_fuzz_routes.py`` (which also checks for 5xx): derandomized, no
example database, no deadline. Stand-down is left out: on the real INC-1 it runs its flow.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import schemathesis
from api_support import SERVE_TOKEN, check_response
from desk_support import make_agent, make_case, make_incident
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crisiscast.incidents.store.database import Store

CHECKED = settings(max_examples=25, derandomize=True, database=None, deadline=None,
                   suppress_health_check=list(HealthCheck))  # fmt: skip
REAL = {"ref": "INC-1", "case_id": 1, "agent_id": 1, "user_id": 1, "approval_id": 1}


def _operations(app: FastAPI) -> list[tuple[str, str]]:
    return [
        (method.upper(), path)
        for path, methods in app.openapi()["paths"].items()
        if path.startswith("/api/v1/") and not path.endswith("/stand-down")
        for method in methods
    ]


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """On SQLite only, as the route fuzzing runs: the requests mostly stop at a check."""
    return sqlite_url


@pytest.fixture
def seeded(app: FastAPI, store: Store) -> FastAPI:
    now = datetime.now(UTC)
    with store.session() as session:
        make_case(session, make_incident(session, now=now), now=now)
        make_agent(session, 1)
    return app


def _fuzz(app: FastAPI, doc: dict[str, Any], operation: Any, method: str, path: str) -> None:
    auth = {"Authorization": f"Bearer {SERVE_TOKEN}"}

    @CHECKED
    @given(case=operation.as_strategy(), real=st.booleans(), signed=st.booleans())
    def run(case: Any, real: bool, signed: bool) -> None:
        if real and case.path_parameters:
            case.path_parameters.update({k: REAL[k] for k in case.path_parameters})
        response = case.call(app=app, headers=auth if signed else None)
        check_response(doc, method, path, response)

    run()


def test_every_answer_fits_the_document(seeded: FastAPI) -> None:
    """Every generated request's answer is documented and fits its schema."""
    doc = seeded.openapi()
    schema = schemathesis.openapi.from_dict(doc)
    for method, path in _operations(seeded):
        _fuzz(seeded, doc, schema[path][method], method, path)
