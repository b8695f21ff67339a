"""The REST API under ``/api/v1``: incidents, approvals, cases, agents, users and the audit log.

Every route checks its action of the role matrix (``incidents/people/roles.py``; the action is
in the OpenAPI document as ``x-permission``), reads its body only after that, answers with a
pydantic model (so the OpenAPI document is the contract), and audits what it changes. The
routes are thin: decisions live in ``crisiscast.incidents``. One pagination scheme for every
list: see ``common``.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request

from crisiscast.config import Settings
from crisiscast.incidents.store.database import Store
from crisiscast.web.api import approvals, cases, incidents, people
from crisiscast.web.api.common import Context
from crisiscast.web.auth import Principal

PREFIX = "/api/v1"


def api_router(
    settings: Settings, store: Store, require: Callable[[str], Callable[[Request], Principal]]
) -> APIRouter:
    """The ``/api/v1`` router for this app's settings, store and role check."""
    router = APIRouter(prefix=PREFIX, tags=["api"])
    context = Context(settings, store, require)
    for module in (incidents, approvals, cases, people):
        module.add_routes(router, context)
    return router
