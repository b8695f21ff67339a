"""The one ASGI app behind ``crisiscast serve``: warm launches now; webhooks and pages later.

Launch requests are authenticated with the token from serve.json, because anyone who can reach
the port could otherwise send messages to every customer.
"""

from __future__ import annotations

import hmac
import re
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, RedirectResponse
from pydantic import BaseModel, Field

from crisiscast.config import Settings
from crisiscast.errors import CrisiscastError, PlaybookError
from crisiscast.incidents.store.database import Store
from crisiscast.web.webhooks import webhook_router


class LaunchRequest(BaseModel):
    playbook: str = Field(description="Path to the playbook YAML, as the server sees it")
    params: dict[str, str] = Field(default_factory=dict)
    exercise: bool = False
    audience: str | None = Field(
        default=None, description="Contacts CSV path, as the server sees it"
    )
    default_region: str = "US"
    send: bool = True


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
        from crisiscast.playbook import load_playbook, resolve_params

        try:
            # Refuse bad input before a flow run exists for it.
            resolve_params(load_playbook(request.playbook), request.params)
        except CrisiscastError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from exc
        from crisiscast.flows.launch import launch_incident

        try:
            ref = await run_in_threadpool(
                launch_incident,
                request.playbook,
                request.params,
                request.exercise,
                settings.database_url,
                request.audience,
                request.default_region,
                request.send,
            )
        except PlaybookError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from exc
        except CrisiscastError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc
        return {"ref": ref}

    site_root = settings.home / "site"

    @app.get("/incidents/{ref}")
    def incident_root(ref: str) -> RedirectResponse:
        return RedirectResponse(f"/incidents/{ref}/")

    @app.get("/incidents/{ref}/{name:path}")
    def incident_site(ref: str, name: str) -> FileResponse:
        """The public incident page, banner state and script, CAP alerts and Atom feed."""
        path = site_file(site_root, ref, name or "index.html")
        headers = {"Cache-Control": "no-cache"}
        if path.name in CROSS_ORIGIN:
            # The banner script runs on the customer's own site and fetches its state from here.
            headers["Access-Control-Allow-Origin"] = "*"
        return FileResponse(path, headers=headers, media_type=_media_type(path))

    app.include_router(webhook_router(settings, Store.from_settings(settings)))
    return app


CROSS_ORIGIN = frozenset({"banner.json", "crisiscast-banner.js", "feed.atom"})
_REF = re.compile(r"^INC-\d+$")
_TYPES = {
    ".json": "application/json",
    ".js": "text/javascript; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".atom": "application/atom+xml",
    ".xml": "application/xml",
}


def _media_type(path: Path) -> str:
    return _TYPES.get(path.suffix, "application/octet-stream")


def site_file(root: Path, ref: str, name: str) -> Path:
    """The published file for ``ref``/``name``, refusing traversal and half-written temp files."""
    parts = [p for p in name.split("/") if p]
    if not _REF.match(ref) or any(p.startswith(".") for p in parts) or not parts:
        raise HTTPException(status_code=404)
    base = (root / ref).resolve()
    path = base.joinpath(*parts).resolve()
    if not path.is_relative_to(base) or not path.is_file():
        raise HTTPException(status_code=404)
    return path
