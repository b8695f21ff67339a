"""``/console``: the incidents, newest first, each with its state and the way into it."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from crisiscast.incidents.store.models import Incident
from crisiscast.web.console.layout import ConsoleContext, page, signed_in, table

SHOWN = 200  # incidents on the page; older ones stay in the API and the CLI


def add_routes(router: APIRouter, ctx: ConsoleContext) -> None:
    @router.get("/console")
    async def incidents(request: Request) -> HTMLResponse:
        principal = await signed_in(ctx, request, "incident.read")
        rows = await run_in_threadpool(_rows, ctx)
        body = "<h1>Incidents</h1>" + (
            table(
                "Incidents, newest first",
                ("Incident", "Title", "Status", "Opened (UTC)", "Exercise"),
                rows,
            )
            if rows
            else "<p>No incident yet.</p>"
        )
        return page(principal, "Incidents", body, current="/console")


def _rows(ctx: ConsoleContext) -> list[list[str]]:
    with ctx.store.session() as session:
        found = session.scalars(select(Incident).order_by(Incident.id.desc()).limit(SHOWN)).all()
        return [
            [
                f'<a href="/console/incidents/{i.ref}">{i.ref}</a>',
                escape(i.title),
                escape(i.status.value.replace("_", " ")),
                i.created_at.strftime("%Y-%m-%d %H:%M"),
                "yes" if i.exercise else "no",
            ]
            for i in found
        ]
