"""The one ASGI app behind ``crisiscast serve``: warm launches now; webhooks and pages later.

Launch requests are authenticated with the token from serve.json, because anyone who can reach
the port could otherwise send messages to every customer.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from crisiscast.config import Settings
from crisiscast.errors import CrisiscastError, PlaybookError


class LaunchRequest(BaseModel):
    playbook: str = Field(description="Path to the playbook YAML, as the server sees it")
    params: dict[str, str] = Field(default_factory=dict)
    exercise: bool = False


def create_app(settings: Settings, token: str) -> FastAPI:
    """Build the app; ``token`` guards every state-changing route."""
    app = FastAPI(title="crisiscast", docs_url=None, redoc_url=None)

    def require_token(authorization: Annotated[str | None, Header()] = None) -> None:
        expected = f"Bearer {token}"
        if authorization is None or not hmac.compare_digest(authorization, expected):
            raise HTTPException(status_code=401, detail="missing or wrong token (see serve.json)")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/api/launch", dependencies=[Depends(require_token)])
    async def launch(request: LaunchRequest) -> dict[str, Any]:
        from crisiscast.flows.launch import launch_incident

        try:
            ref = await run_in_threadpool(
                launch_incident,
                request.playbook,
                request.params,
                request.exercise,
                settings.database_url,
            )
        except PlaybookError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from exc
        except CrisiscastError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc
        return {"ref": ref}

    return app
