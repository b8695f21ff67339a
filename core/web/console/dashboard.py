"""(being built: see the console package's docstring)"""

from __future__ import annotations

from fastapi import APIRouter

from crisiscast.web.console.layout import ConsoleContext


def add_routes(router: APIRouter, ctx: ConsoleContext) -> None:
    """This screen's routes."""
