"""Response commands: the roster, the SLA sweep, stand-down and the report."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from crisiscast.cli import answers
from crisiscast.cli.common import (
    current_settings,
    fail,
    open_store,
    out,
    prefect_in_process,
    warm_server,
)
from crisiscast.errors import CrisiscastError

agents_app = typer.Typer(
    no_args_is_help=True, help="The roster: who works cases, and for how long."
)


@agents_app.command("add")
def agents_add(
    name: Annotated[str, typer.Argument(help="The agent's name")],
    phone: Annotated[str | None, typer.Option(help="E.164 mobile: pages and commands")] = None,
    email: Annotated[str | None, typer.Option(help="Email: commands by mail")] = None,
    skill: Annotated[list[str] | None, typer.Option(help="A skill (repeat)")] = None,
    language: Annotated[list[str] | None, typer.Option(help="A language (repeat)")] = None,
    capacity: Annotated[int, typer.Option(help="Open cases at most at once")] = 5,
    day_pass: Annotated[
        float | None, typer.Option(help="Temporary agent: hours until the pass ends")
    ] = None,
) -> None:
    """Add an agent (with --day-pass, a temporary one released when the pass ends)."""
    from datetime import UTC, datetime, timedelta

    from crisiscast.incidents.agents.roster import add_agent

    expires = datetime.now(UTC) + timedelta(hours=day_pass) if day_pass else None
    try:
        store = open_store(current_settings())
        with store.session() as session:
            agent = add_agent(
                session, name=name, phone=phone, email=email, skills=skill or (),
                languages=language or (), capacity=capacity, temporary=expires is not None,
                pass_expires_at=expires,
            )  # fmt: skip
            agent_id = agent.id
        store.dispose()
    except CrisiscastError as exc:
        raise fail(exc) from None
    until = f", pass until {expires:%Y-%m-%d %H:%M} UTC" if expires else ""
    out.print(f"agent {agent_id} added: {name}{until}", highlight=False)


@agents_app.command("list")
def agents_list(
    all_: Annotated[bool, typer.Option("--all", help="Include released agents")] = False,
) -> None:
    """List agents with their skills, languages and passes; phone numbers masked."""
    from crisiscast.channels.masking import mask_phone
    from crisiscast.incidents.agents.roster import list_agents

    try:
        store = open_store(current_settings())
        with store.session() as session:
            rows = [
                (
                    str(a.id), a.name, mask_phone(a.phone) if a.phone else "",
                    ", ".join(a.skills or []), ", ".join(a.languages or []), str(a.capacity),
                    f"{a.pass_expires_at:%Y-%m-%d %H:%M}" if a.pass_expires_at else "",
                    "on" if a.active else "off",
                )
                for a in list_agents(session, active_only=not all_)
            ]  # fmt: skip
        store.dispose()
    except CrisiscastError as exc:
        raise fail(exc) from None
    table = Table("id", "name", "phone", "skills", "languages", "capacity", "pass until", "duty")
    for row in rows:
        table.add_row(*row)
    out.print(
        table if rows else "No agents: add one with `crisiscast agents add NAME --phone ...`."
    )


@agents_app.command("release")
def agents_release(
    agent_id: Annotated[int, typer.Argument(help="Agent id from `agents list`")],
) -> None:
    """Take an agent off duty; their open cases go back to the queue."""
    from datetime import UTC, datetime

    from crisiscast.incidents.agents.assignment import ReleaseReason
    from crisiscast.incidents.agents.roster import get_agent, release_agent

    try:
        store = open_store(current_settings())
        with store.session() as session:
            agent = get_agent(session, agent_id)
            cases = release_agent(
                session, agent, now=datetime.now(UTC), reason=ReleaseReason.AGENT_OFF
            )
        store.dispose()
    except CrisiscastError as exc:
        raise fail(exc) from None
    out.print(f"agent {agent_id} released; {len(cases)} open cases back in the queue")


def sweep(
    commander: Annotated[
        str | None, typer.Option(help="Phone or email that gets breach notices")
    ] = None,
) -> None:
    """Run the SLA sweep once: escalate, page, remind, scale temporary agents."""
    settings = current_settings()
    try:
        from crisiscast.incidents.agents.sweep import nothing_to_sweep

        store = open_store(settings)
        try:
            with store.session() as session:
                idle = nothing_to_sweep(session, datetime.now(UTC))
        finally:
            store.dispose()
        if idle:  # answered without starting Prefect (its start costs seconds)
            answers.print_idle_sweep()
            return
        server = warm_server(settings)
        if server:
            from crisiscast.web.warm import call_server

            found = call_server(server, "/api/warm/sweep", {"commander": commander}, timeout=None)
            if found.get("idle"):  # the last case closed in between
                answers.print_idle_sweep()
                return
            done = found.get("done", {})
        else:
            prefect_in_process()
            from crisiscast.flows.sla_sweep import sla_sweep

            done = sla_sweep(settings.database_url, commander=commander)
    except CrisiscastError as exc:
        raise fail(exc) from None
    answers.print_sweep(done, warm=server is not None)


def stand_down(
    incident: Annotated[str, typer.Argument(help="Incident ref, e.g. INC-3")],
    hand_over_to: Annotated[
        int | None,
        typer.Option(help="Agent id who takes the open urgent and high cases (paged for each)"),
    ] = None,
    keep_escalating: Annotated[
        bool,
        typer.Option(
            "--keep-escalating",
            help="Keep open urgent and high cases under the SLA sweep after closure (default)",
        ),
    ] = False,
) -> None:
    """All-clear everywhere, banner off, temporary agents released, CSAT asked, incident closed.

    Open urgent and high cases are listed; they go to --hand-over-to AGENT, or (by default,
    --keep-escalating) stay under the SLA sweep, which keeps escalating them after closure.
    """
    if hand_over_to is not None and keep_escalating:
        raise fail(
            CrisiscastError(
                "choose one: --hand-over-to AGENT gives the open urgent cases to an agent, "
                "--keep-escalating keeps them under the SLA sweep"
            )
        )
    settings = current_settings()
    try:
        from crisiscast.incidents.agents.stand_down import check_hand_over_agent, describe
        from crisiscast.incidents.store.database import get_incident
        from crisiscast.incidents.store.models import IncidentStatus

        store = open_store(settings)
        try:
            with store.session() as session:
                # Before the flow (and Prefect's start): an unknown incident, a wrong agent id
                # or an incident already closed is answered at once.
                row = get_incident(session, incident)
                ref, closed = row.ref, row.status == IncidentStatus.CLOSED
                if hand_over_to is not None:
                    check_hand_over_agent(session, hand_over_to)
        finally:
            store.dispose()
        if closed and hand_over_to is None:
            answers.print_already_closed(ref)
            return
        server = warm_server(settings)
        if server:  # serve checks again, runs the flow and writes the audit entry
            result = _stand_down_warm(server, ref, hand_over_to)
            if result.get("flow") is False:
                answers.print_already_closed(str(result.get("ref", ref)))
                return
        else:
            prefect_in_process()
            from crisiscast.flows.launch import public_url
            from crisiscast.flows.stand_down import stand_down as stand_down_flow

            result = stand_down_flow(
                incident, settings.database_url, public_url(), hand_over_to=hand_over_to
            )
            if not result.get("already_closed"):
                from crisiscast.cli.broadcast import record_cli

                record_cli(incident, "stand_down", {"hand_over_to": hand_over_to})
    except CrisiscastError as exc:
        raise fail(exc) from None
    answers.print_stand_down(result, describe(result), incident, hand_over_to,
                             warm=server is not None)  # fmt: skip


def _stand_down_warm(server: Any, ref: str, hand_over_to: int | None) -> dict[str, Any]:
    """The stand-down through serve. A Ctrl-C here does not stop serve's all-clear half-way
    (the incident would close with it half sent): serve finishes, and the CLI says so."""
    from crisiscast.web.warm import call_server

    payload = {"incident": ref, "hand_over_to": hand_over_to}
    try:
        return dict(call_server(server, "/api/warm/stand-down", payload, timeout=None))
    except KeyboardInterrupt:
        raise typer.Exit(code=answers.stopped_waiting(ref)) from None


def report(
    incident: Annotated[str, typer.Argument(help="Incident ref, e.g. INC-3")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the files")] = Path(
        "reports"
    ),
) -> None:
    """Write the incident report as Markdown and HTML, with charts."""
    from datetime import UTC, datetime

    from crisiscast.incidents.reporting.figures import collect
    from crisiscast.incidents.reporting.render import write_report
    from crisiscast.incidents.store import database as st

    try:
        store = open_store(current_settings())
        with store.session() as session:
            data = collect(session, st.get_incident(session, incident), datetime.now(UTC))
        store.dispose()
    except CrisiscastError as exc:
        raise fail(exc) from None
    files = write_report(data, output)
    out.print(f"wrote {files.markdown} and {files.html} ({len(files.charts)} charts)")
    if files.audit is not None:
        out.print(f"audit log: {files.audit}")
