"""The operator console, served by ``crisiscast serve`` on the same store as the API.

One module per screen, each adding its routes to one router:
- ``home``: ``/console``, the incidents and the way into each;
- ``dashboard``: ``/console/incidents/{ref}``, the commander's live view of one incident;
- ``launching``: ``/console/launch``, ``/console/incidents/{ref}/update`` and
  ``/console/approvals``: choose, fill, preview, then send or ask for approval
  (``parameter_form``, ``audience_form`` and ``preview_panel`` are its parts;
  ``approvals_page`` is the approvals list and the approve/reject page);
- ``case_queue``: ``/console/cases``: the cases, most severe first, filtered, live;
- ``case_view``: ``/console/cases/{id}``: one case, its conversation and the work on it;
- ``stand_down``: ``/console/incidents/{ref}/stand-down``.

``layout`` holds what they share (who may see a page, the shell, forms and CSRF).
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, Response

from crisiscast.config import Settings
from crisiscast.incidents.store.database import Store
from crisiscast.web.console import (
    approvals_page,
    case_queue,
    case_view,
    dashboard,
    home,
    launching,
    stand_down,
)
from crisiscast.web.console.layout import ASSET_PATH, STATIC, ConsoleContext, PageRefused

_ASSETS = {"console.css": "text/css; charset=utf-8", "console.js": "text/javascript; charset=utf-8"}


def install_console(app: FastAPI, settings: Settings, store: Store, serve_token: str) -> None:
    """Add the console's routes to ``app``, and the handler that turns PageRefused into its
    answer (a redirect to sign in, or a 4xx page)."""
    ctx = ConsoleContext(settings, store, serve_token)
    router = APIRouter(include_in_schema=False)

    @router.get(ASSET_PATH + "/{name}")
    def asset(name: str) -> Response:
        if name not in _ASSETS:
            return Response(status_code=404)
        return FileResponse(STATIC / name, media_type=_ASSETS[name],
                            headers={"Cache-Control": "no-cache"})  # fmt: skip

    # case_queue before case_view: /console/cases/live is not a case id
    for screen in (home, dashboard, launching, approvals_page, case_queue, case_view, stand_down):
        screen.add_routes(router, ctx)
    app.include_router(router)

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageRefused)
        return exc.response

    app.add_exception_handler(PageRefused, refused)
