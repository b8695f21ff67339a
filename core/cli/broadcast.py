"""Broadcast commands: send what is staged, follow-ups, the all-clear, and recall."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from crisiscast.cli.common import (
    AudienceOpt,
    RegionOpt,
    current_settings,
    err,
    fail,
    open_store,
    out,
    prefect_in_process,
)
from crisiscast.errors import CrisiscastError


def _run_broadcast(incident: str, **options: Any) -> dict[str, Any]:
    settings = current_settings()
    open_store(settings).dispose()
    prefect_in_process()
    from crisiscast.flows.broadcast import broadcast as broadcast_flow
    from crisiscast.flows.launch import public_url

    result: dict[str, Any] = broadcast_flow(
        incident, database_url=settings.database_url, public_url=public_url(), **options
    )
    return result


def _print_counts(result: dict[str, Any]) -> None:
    table = Table("channel", "status", "count")
    for channel, by_status in sorted(result.get("counts", {}).items()):
        for state, count in sorted(by_status.items()):
            table.add_row(channel, state, str(count))
    out.print(table)
    for error in result.get("errors", []):
        err.print(f"[yellow]channel problem[/yellow] {error}", highlight=False)


def broadcast(
    incident: Annotated[str, typer.Argument(help="Incident ref, e.g. INC-3")],
    audience: AudienceOpt = None,
    region: RegionOpt = "US",
) -> None:
    """Send what is staged and not yet sent (also resumes a broadcast that was cut short)."""
    try:
        result = _run_broadcast(
            incident, when="launch", audience=str(audience) if audience else None,
            default_region=region,
        )  # fmt: skip
    except CrisiscastError as exc:
        raise fail(exc) from None
    _print_counts(result)


def update(
    incident: Annotated[str, typer.Argument(help="Incident ref, e.g. INC-3")],
    announcement: Annotated[str, typer.Option(help="The playbook's id of the update to send")],
) -> None:
    """Send a follow-up announcement of the playbook to everyone."""
    try:
        result = _run_broadcast(incident, when="update", announcement=announcement)
    except CrisiscastError as exc:
        raise fail(exc) from None
    _print_counts(result)


def all_clear(incident: Annotated[str, typer.Argument(help="Incident ref, e.g. INC-3")]) -> None:
    """Send the all-clear on every channel and take the site banner down."""
    try:
        result = _run_broadcast(incident, when="all_clear")
    except CrisiscastError as exc:
        raise fail(exc) from None
    _print_counts(result)


def recall(incident: Annotated[str, typer.Argument(help="Incident ref, e.g. INC-3")]) -> None:
    """Stop a running broadcast now: what is still queued is not sent, for good."""
    from datetime import UTC, datetime

    from crisiscast.incidents.broadcast.delivery import recall as recall_deliveries

    try:
        store = open_store(current_settings())
        with store.session() as session:
            suppressed = recall_deliveries(session, incident, now=datetime.now(UTC))
        store.dispose()
    except CrisiscastError as exc:
        raise fail(exc) from None
    out.print(f"{incident}: recalled; {suppressed} queued deliveries will not be sent.")
