"""The one ASGI app behind ``crisiscast serve``: warm launches now; webhooks and pages later.

Launch requests, and the CLI's other flow commands handed to serve (``/api/warm/...``:
broadcast, update, all-clear, sweep, stand-down, and the stop a Ctrl-C asks for), are
authenticated with the token from serve.json, because anyone who can reach the port could
otherwise send messages to every customer. The token is checked before a byte of the body is
read, and the body is then read within ``LAUNCH_LIMIT`` (413 beyond it).

No input answers 5xx: odd paths (NUL, over-long names, impossible incident numbers) are 404, a
playbook that moved after its launch is 409 (``playbook_gone``), and
``tests/web/test_fuzz_routes.py`` fuzzes every route from the OpenAPI schema to keep it so.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, PlainTextResponse, RedirectResponse
from pydantic import BaseModel, Field, ValidationError, field_validator

from crisiscast.config import Settings
from crisiscast.errors import CrisiscastError, NotFoundError, PlaybookError
from crisiscast.incidents.people import approvals
from crisiscast.incidents.store.database import Store
from crisiscast.web.api import api_router
from crisiscast.web.api.actions import (
    WarmRuns,
    cli_broadcast,
    waits_for_approval,
    warm_stand_down,
    warm_sweep,
)
from crisiscast.web.api.models import check_target
from crisiscast.web.auth import requirer
from crisiscast.web.case_page import case_page_router
from crisiscast.web.console import install_console
from crisiscast.web.login import login_router
from crisiscast.web.request_checks import BadRequest, read_limited
from crisiscast.web.webhooks import webhook_router

log = logging.getLogger(__name__)

LAUNCH_LIMIT = 64 * 1024  # a launch names files and a few parameters: a few hundred bytes


class LaunchRequest(BaseModel):
    playbook: str = Field(description="Path to the playbook YAML, as the server sees it")
    params: dict[str, str] = Field(default_factory=dict)
    exercise: bool = False
    audience: str | None = Field(
        default=None, description="Contacts CSV path, as the server sees it"
    )
    default_region: str = "US"
    send: bool = True
    target: dict[str, Any] | None = Field(
        default=None, description="Who it reaches: {lists, filter, area, everyone}"
    )

    @field_validator("playbook", "audience")
    @classmethod
    def _a_path(cls, value: str | None) -> str | None:
        return _path_without_nul(value)


def _path_without_nul(value: str | None) -> str | None:
    # The OS refuses NUL in a path with ValueError (not OSError): refuse it here, as a 422.
    if value is not None and "\x00" in value:
        raise ValueError("a file path cannot contain a NUL character")
    return value


class WarmBroadcast(BaseModel):
    """``crisiscast broadcast``, ``update`` or ``all-clear``, handed to serve by the CLI."""

    incident: str = Field(max_length=40, description="Incident ref, e.g. INC-3")
    when: Literal["launch", "update", "all_clear"] = "launch"
    announcement: str | None = Field(default=None, max_length=200)
    audience: str | None = Field(default=None, description="Contacts CSV, as the server sees it")
    default_region: str = Field(default="US", max_length=8)
    target: dict[str, Any] | None = None
    texts: dict[str, str] | None = None
    params: dict[str, str] | None = None

    @field_validator("audience")
    @classmethod
    def _a_path(cls, value: str | None) -> str | None:
        return _path_without_nul(value)

    @field_validator("target")
    @classmethod
    def _target(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return check_target(value)  # a target the CLI would not send is a 422, never a 500


class WarmSweep(BaseModel):
    """``crisiscast sweep`` handed to serve."""

    commander: str | None = Field(default=None, max_length=320)


class WarmStandDown(BaseModel):
    """``crisiscast stand-down`` handed to serve."""

    incident: str = Field(max_length=40, description="Incident ref, e.g. INC-3")
    hand_over_to: int | None = Field(default=None, ge=1, le=2**31 - 1)


Body = TypeVar("Body", bound=BaseModel)


def _json_body(model: type[BaseModel]) -> dict[str, Any]:
    schema = {"application/json": {"schema": model.model_json_schema()}}
    return {"requestBody": {"required": True, "content": schema}}


def create_app(settings: Settings, token: str) -> FastAPI:
    """Build the app; ``token`` guards every state-changing route."""
    app = FastAPI(title="crisiscast", docs_url=None, redoc_url=None)

    expected = f"Bearer {token}".encode()

    def require_token(authorization: Annotated[str | None, Header()] = None) -> None:
        # Bytes: compare_digest raises TypeError on a non-ASCII str (a header is latin-1 text).
        if authorization is None or not hmac.compare_digest(authorization.encode(), expected):
            raise HTTPException(status_code=401, detail="missing or wrong token (see serve.json)")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    # The body is read here, after the token (a dependency) and within LAUNCH_LIMIT: declared
    # as a model parameter, FastAPI would parse a body of any size before checking anything.
    launch_body = {"application/json": {"schema": LaunchRequest.model_json_schema()}}

    @app.post(
        "/api/launch",
        dependencies=[Depends(require_token)],
        openapi_extra={"requestBody": {"required": True, "content": launch_body}},
    )
    async def launch(http: Request) -> dict[str, Any]:
        from crisiscast.playbook import load_playbook, resolve_params

        request = await _read_body(http, LaunchRequest)

        try:
            # Refuse bad input before a flow run exists for it.
            book = load_playbook(request.playbook)
            resolve_params(book, request.params)
        except CrisiscastError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from exc
        if approvals.needed(book.approval, exercise=request.exercise):
            # The CLI asks for the approval before it comes here; this route never skips it.
            raise HTTPException(
                status_code=409,
                detail="this playbook needs a second person's approval: request it with "
                "POST /api/v1/incidents (or `crisiscast launch`), then approve it",
            )
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
                request.target,
            )
        except PlaybookError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from exc
        except CrisiscastError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc
        return {"ref": ref}

    # The CLI's other flow commands (item "warm CLI"), token checked first: serve checks what
    # needs the store (incident, approval rule, texts, agent), answers what needs no flow
    # without one, runs the flow and writes the audit entry (crisiscast.cli.warm_path).
    warm_runs = WarmRuns()
    guarded = [Depends(require_token)]

    async def run_warm(work: Callable[..., Any], *args: Any) -> Any:
        with warm_runs.running():
            try:
                return await run_in_threadpool(work, *args)
            except NotFoundError as exc:
                raise HTTPException(status_code=404, detail=str(exc)) from exc
            except PlaybookError as exc:
                raise HTTPException(status_code=422, detail=str(exc)) from exc
            except CrisiscastError as exc:
                raise HTTPException(status_code=400, detail=str(exc)) from exc

    def _waits(ref: str, action: str) -> bool:
        return waits_for_approval(app.state.store, ref, action)

    @app.post("/api/warm/broadcast", dependencies=guarded,
              openapi_extra=_json_body(WarmBroadcast))  # fmt: skip
    async def warm_broadcast_route(http: Request) -> dict[str, Any]:
        request = await _read_body(http, WarmBroadcast)
        if await run_warm(_waits, request.incident, request.when):
            raise HTTPException(  # the words of the CLI's cold refusal
                status_code=409,
                detail=f"{request.incident}'s playbook needs a second person's approval for an "
                f"update: request it with POST /api/v1/incidents/{request.incident}/updates "
                "(it answers 202 with the approval), then a commander or comms user approves it",
            )
        options = request.model_dump(exclude={"incident"})
        result: dict[str, Any] = await run_warm(cli_broadcast, settings, app.state.store,
                                                request.incident, options)  # fmt: skip
        return result

    @app.post("/api/warm/sweep", dependencies=guarded, openapi_extra=_json_body(WarmSweep))
    async def warm_sweep_route(http: Request) -> dict[str, Any]:
        request = await _read_body(http, WarmSweep)
        result: dict[str, Any] = await run_warm(warm_sweep, settings, app.state.store,
                                                request.commander)  # fmt: skip
        return result

    @app.post("/api/warm/stand-down", dependencies=guarded,
              openapi_extra=_json_body(WarmStandDown))  # fmt: skip
    async def warm_stand_down_route(http: Request) -> dict[str, Any]:
        request = await _read_body(http, WarmStandDown)
        await run_warm(_waits, request.incident, "stand_down")  # 404 before a flow runs
        result: dict[str, Any] = await run_warm(warm_stand_down, settings, app.state.store,
                                                request.incident, request.hand_over_to)  # fmt: skip
        return result

    @app.post("/api/warm/stop", dependencies=guarded)
    def warm_stop() -> dict[str, bool]:
        """The CLI's Ctrl-C: serve's running broadcasts stop at their next batch boundary."""
        return {"stopping": warm_runs.stop()}

    site_root = settings.home / "site"

    @app.get("/incidents/{ref}")
    def incident_root(ref: str) -> RedirectResponse:
        if not _REF.match(ref):
            raise HTTPException(status_code=404)
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

    @app.exception_handler(PlaybookError)
    async def playbook_gone(request: Request, exc: PlaybookError) -> PlainTextResponse:
        # An incident's playbook moved or broke after launch: say so, never a 500.
        log.error("%s %s: playbook unusable: %s", request.method, request.url.path,
                  str(exc).splitlines()[0])  # fmt: skip
        return PlainTextResponse(
            "the incident's playbook cannot be loaded (moved or changed since the launch); "
            "the server log says which file",
            status_code=409,
        )

    # On app.state so whoever ends the app (a test, a shutdown) can dispose of its pool.
    app.state.store = Store.from_settings(settings)
    app.include_router(webhook_router(settings, app.state.store))
    app.include_router(login_router(settings, app.state.store, token))
    app.include_router(case_page_router(settings, app.state.store))
    app.include_router(api_router(settings, app.state.store, requirer(app.state.store, token)))
    install_console(app, settings, app.state.store, token)
    return app


async def _read_body(http: Request, model: type[Body]) -> Body:
    """A launch or warm-command body, read within LAUNCH_LIMIT (after the token was checked)
    and validated; 413 or 422 otherwise."""
    try:
        body = await read_limited(http, LAUNCH_LIMIT)
    except BadRequest as exc:
        raise HTTPException(status_code=exc.status, detail=str(exc)) from None
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        # One short line per problem ("params: Input should be a valid dictionary"), which the
        # CLI's warm mode prints as it is; the input is not echoed back.
        problems = [
            f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}"
            for error in exc.errors(include_url=False, include_context=False, include_input=False)
        ]
        raise HTTPException(status_code=422, detail="; ".join(problems)) from None


CROSS_ORIGIN = frozenset({"banner.json", "crisiscast-banner.js", "feed.atom"})
_REF = re.compile(r"^INC-[0-9]{1,10}\Z")  # \Z: "$" would let "INC-1\n" through
_MAX_NAME = 255  # bytes in one path segment (NAME_MAX): longer is no file of ours
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
    if not _REF.match(ref) or not parts or any(_odd_segment(p) for p in parts):
        raise HTTPException(status_code=404)
    try:
        base = (root / ref).resolve()
        path = base.joinpath(*parts).resolve()
        found = path.is_relative_to(base) and path.is_file()
    except (OSError, ValueError):  # the file system refused the name: not one of ours
        found = False
    if not found:
        raise HTTPException(status_code=404)
    return path


def _odd_segment(part: str) -> bool:
    """Hidden or temp files, NUL, or a name no file system here would hold."""
    return part.startswith(".") or "\x00" in part or len(part.encode()) > _MAX_NAME
