"""The ``crisiscast`` command: what an incident commander types.

Every CrisiscastError becomes one clear message and a non-zero exit; Prefect is imported only by
the commands that run a flow, so ``validate`` and ``preview`` answer at once.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from crisiscast.config import Settings, load_settings
from crisiscast.errors import CrisiscastError, PlaybookError

app = typer.Typer(
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Crisis communication: playbooks in, word out on every channel, replies triaged.",
)
out = Console()
err = Console(stderr=True)

ParamOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--param", "-p", help='A playbook parameter as key=value, e.g. service="Payments API"'
    ),
]


def parse_params(items: list[str] | None) -> dict[str, str]:
    """Turn repeated ``--param key=value`` into a dict, refusing anything ambiguous."""
    params: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise CrisiscastError(
                f"--param {item!r} is not key=value; write e.g. --param service=API"
            )
        if key in params:
            raise CrisiscastError(f"--param {key} is given twice; pass each parameter once")
        params[key] = value
    return params


def _fail(exc: CrisiscastError) -> typer.Exit:
    if isinstance(exc, PlaybookError):
        for problem in exc.problems:
            err.print(f"[red]error[/red] {problem}", highlight=False, markup=True, soft_wrap=True)
    else:
        err.print(f"[red]error[/red] {exc}", highlight=False, soft_wrap=True)
    return typer.Exit(code=1)


def _settings() -> Settings:
    return load_settings()


def _open_store(settings: Settings) -> Any:
    """The incident store at the current schema; upgrading is idempotent and keeps data."""
    from crisiscast.incidents import store as st

    store = st.Store.from_settings(settings)
    store.upgrade()
    return store


@app.command()
def validate(paths: Annotated[list[Path], typer.Argument(help="Playbook files")]) -> None:
    """Check playbooks: every problem with file:line:column, key and fix."""
    from crisiscast.playbook import load_playbook

    failed = 0
    for path in paths:
        try:
            playbook = load_playbook(path)
        except PlaybookError as exc:
            failed += 1
            for problem in exc.problems:
                err.print(f"[red]error[/red] {problem}", highlight=False, soft_wrap=True)
            continue
        langs = ", ".join(playbook.languages)
        out.print(f"[green]ok[/green] {path} ({playbook.id}; {langs})", highlight=False)
    if failed:
        err.print(f"{failed} of {len(paths)} playbooks have problems", highlight=False)
        raise typer.Exit(code=1)


@app.command()
def schema(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to a file")] = None,
) -> None:
    """Export the playbook JSON Schema, for editors that complete and check YAML."""
    from crisiscast.playbook import playbook_json_schema

    text = json.dumps(playbook_json_schema(), indent=2, ensure_ascii=False)
    if output:
        output.write_text(text + "\n", encoding="utf-8")
        out.print(f"wrote {output}")
    else:
        sys.stdout.write(text + "\n")


@app.command()
def preview(
    playbook: Annotated[Path, typer.Argument(help="Playbook file")],
    param: ParamOpt = None,
    when: Annotated[str | None, typer.Option(help="launch, update or all_clear")] = None,
) -> None:
    """Show every rendered message per channel and language, before anything is sent."""
    from crisiscast.playbook import load_playbook, render_all, render_title, resolve_params

    try:
        book = load_playbook(playbook)
        params = resolve_params(book, parse_params(param))
        title = render_title(book, params)
        incident = {"ref": "INC-PREVIEW", "title": title, "exercise": False}
        messages = render_all(book, params, incident, when=when)
    except CrisiscastError as exc:
        raise _fail(exc) from None
    for m in messages:
        head = f"[bold]{m.announcement_id}[/bold] ({m.when}) · {m.channel} · {m.language}"
        out.rule(head)
        if m.subject:
            out.print(f"[dim]subject:[/dim] {m.subject}", highlight=False)
        out.print(m.text, highlight=False, markup=False)
    out.print(f"\n{len(messages)} messages", highlight=False)


def _launch(
    playbook: Path,
    params: dict[str, str],
    exercise: bool,
    settings: Settings,
    options: dict[str, Any] | None = None,
) -> tuple[str, str]:
    """Run the launch flow warm (via ``serve``) when possible, else in this process.

    ``options`` are the flow's broadcast options: ``audience``, ``default_region``, ``send``.
    """
    from crisiscast.playbook import load_playbook, resolve_params
    from crisiscast.warm import call_server, find_server

    options = dict(options or {})
    if options.get("audience"):
        audience = Path(options["audience"])
        if not audience.is_file():
            raise CrisiscastError(f"--audience {audience}: no such file; give a contacts CSV")
        options["audience"] = str(audience.resolve())
    # Check here first: the commander gets clear errors without paying for Prefect's start.
    resolve_params(load_playbook(playbook), params)
    _open_store(settings).dispose()
    path = str(playbook.resolve())
    server = find_server(settings.home)
    if server:
        request = {"playbook": path, "params": params, "exercise": exercise, **options}
        answer = call_server(server, "/api/launch", request)
        return str(answer["ref"]), "warm (crisiscast serve)"
    _prefect_in_process()
    from crisiscast.flows.launch import launch_incident

    ref = launch_incident(path, params, exercise, settings.database_url, **options)
    return ref, "cold (Prefect's ephemeral API)"


def _prefect_in_process() -> None:
    """Prefect with quiet defaults, for commands that run a flow in this process."""
    import atexit

    from crisiscast.runtime import prepare_prefect, quiet_run_loggers, silence_shutdown_noise

    prepare_prefect()
    import prefect  # noqa: F401  (settings are read now, with the defaults above)

    quiet_run_loggers()
    atexit.register(silence_shutdown_noise)


AudienceOpt = Annotated[
    Path | None, typer.Option(help="Contacts CSV to import first (name, phone, email, language)")
]
RegionOpt = Annotated[
    str, typer.Option(help="Country for phone numbers written without +country code, e.g. TH")
]


@app.command()
def launch(
    playbook: Annotated[Path, typer.Argument(help="Playbook file")],
    param: ParamOpt = None,
    exercise: Annotated[
        bool, typer.Option(help="CAP Exercise: everything runs, nothing leaves")
    ] = False,
    audience: AudienceOpt = None,
    region: RegionOpt = "US",
    hold: Annotated[
        bool, typer.Option(help="Stage the announcements only; send later with `broadcast`")
    ] = False,
) -> None:
    """Open an incident from a playbook and broadcast its announcements on every channel."""
    try:
        settings = _settings()
        live = [] if exercise else settings.live_channels()
        options = {"audience": str(audience) if audience else None, "default_region": region,
                   "send": not hold}  # fmt: skip
        ref, mode = _launch(playbook, parse_params(param), exercise, settings, options)
    except CrisiscastError as exc:
        raise _fail(exc) from None
    out.print(f"[bold green]{ref}[/bold green] launched ({mode})", highlight=False)
    if exercise:
        out.print("Exercise: every channel records to the outbox; nothing leaves this machine.")
    elif not live:
        out.print(
            "No provider credentials are set: every channel records to the outbox "
            f"({settings.outbox_dir}) instead of sending."
        )
    else:
        out.print(f"Live channels: {', '.join(live)}; the rest record to the outbox.")
    if hold:
        out.print(f"Held: nothing sent yet. Send with: crisiscast broadcast {ref}", highlight=False)
    out.print(f"See it with: crisiscast status {ref}", highlight=False)


def _run_broadcast(incident: str, **options: Any) -> dict[str, Any]:
    settings = _settings()
    _open_store(settings).dispose()
    _prefect_in_process()
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


@app.command()
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
        raise _fail(exc) from None
    _print_counts(result)


@app.command()
def update(
    incident: Annotated[str, typer.Argument(help="Incident ref, e.g. INC-3")],
    announcement: Annotated[str, typer.Option(help="The playbook's id of the update to send")],
) -> None:
    """Send a follow-up announcement of the playbook to everyone."""
    try:
        result = _run_broadcast(incident, when="update", announcement=announcement)
    except CrisiscastError as exc:
        raise _fail(exc) from None
    _print_counts(result)


@app.command(name="all-clear")
def all_clear(incident: Annotated[str, typer.Argument(help="Incident ref, e.g. INC-3")]) -> None:
    """Send the all-clear on every channel and take the site banner down."""
    try:
        result = _run_broadcast(incident, when="all_clear")
    except CrisiscastError as exc:
        raise _fail(exc) from None
    _print_counts(result)


@app.command()
def recall(incident: Annotated[str, typer.Argument(help="Incident ref, e.g. INC-3")]) -> None:
    """Stop a running broadcast now: what is still queued is not sent, for good."""
    from datetime import UTC, datetime

    from crisiscast.incidents.delivery import recall as recall_deliveries

    try:
        store = _open_store(_settings())
        with store.session() as session:
            suppressed = recall_deliveries(session, incident, now=datetime.now(UTC))
        store.dispose()
    except CrisiscastError as exc:
        raise _fail(exc) from None
    out.print(f"{incident}: recalled; {suppressed} queued deliveries will not be sent.")


@app.command(name="list")
def list_(limit: Annotated[int, typer.Option(help="How many, newest first")] = 20) -> None:
    """List incidents, newest first."""
    from crisiscast.incidents import store as st

    try:
        store = _open_store(_settings())
        with store.session() as session:
            rows = [
                (
                    i.ref,
                    i.status,
                    "yes" if i.exercise else "",
                    i.title,
                    f"{i.created_at:%Y-%m-%d %H:%M}",
                )
                for i in st.list_incidents(session, limit=limit)
            ]
        store.dispose()
    except CrisiscastError as exc:
        raise _fail(exc) from None
    table = Table("incident", "status", "exercise", "title", "opened (UTC)")
    for row in rows:
        table.add_row(*row)
    out.print(table if rows else "No incidents yet: start one with `crisiscast launch PLAYBOOK`.")


@app.command()
def status(incident: Annotated[str, typer.Argument(help="Incident ref, e.g. INC-3")]) -> None:
    """Summarise one incident: what was staged, sent, received and done."""
    from crisiscast.incidents import store as st

    try:
        store = _open_store(_settings())
        with store.session() as session:
            summary = st.incident_summary(session, st.get_incident(session, incident))
        store.dispose()
    except CrisiscastError as exc:
        raise _fail(exc) from None
    _print_summary(summary)


def _print_summary(summary: Any) -> None:
    flag = " [yellow](exercise)[/yellow]" if summary.exercise else ""
    out.print(
        f"[bold]{summary.ref}[/bold] {summary.title} — {summary.status}{flag}", highlight=False
    )
    out.print(f"opened {summary.created_at:%Y-%m-%d %H:%M:%S} UTC", highlight=False)
    if summary.params:
        out.print(
            "parameters: " + ", ".join(f"{k}={v}" for k, v in summary.params.items()),
            highlight=False,
        )
    for title, counts in (
        ("announcements", summary.announcements),
        ("deliveries", summary.deliveries),
        ("cases", summary.cases),
    ):
        if counts:
            table = Table(title=title, title_justify="left")
            table.add_column("channel" if title != "cases" else "severity")
            table.add_column("status")
            table.add_column("count", justify="right")
            for group, by_status in sorted(counts.items()):
                for state, count in sorted(by_status.items()):
                    table.add_row(str(group), str(state), str(count))
            out.print(table)
    if summary.events:
        out.print("[bold]timeline[/bold]")
        for event in summary.events:
            out.print(f"  {event.at:%H:%M:%S} {event.kind}: {event.message}", highlight=False)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8765,
) -> None:
    """Keep Prefect's API and the web app warm: launches, webhooks and the incident pages."""
    import gc
    import os

    from crisiscast.runtime import prepare_prefect

    prepare_prefect()
    import uvicorn

    from crisiscast.warm import ServerInfo, clear_server_info, new_token, write_server_info
    from crisiscast.web import create_app

    try:
        settings = _settings()
    except CrisiscastError as exc:
        raise _fail(exc) from None
    try:
        _open_store(settings).dispose()  # webhooks answer 503 on a store that is not at head
    except CrisiscastError as exc:
        raise _fail(exc) from None
    out.print("Starting Prefect's API (once; later launches reuse it)…")
    _warm_prefect()
    token = new_token()
    web = create_app(settings, token)
    # Everything loaded so far lives as long as the server: keep it out of the collector's
    # way, and collect less often. Measured in bench/webhooks.py: webhook p99 79-114 ms -> 23-47 ms.
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"  # noqa: S104
    info_path = write_server_info(settings.home, ServerInfo(url=url, token=token, pid=os.getpid()))
    out.print(
        f"crisiscast serving on {url} (token in {info_path}); Ctrl-C stops it.", highlight=False
    )
    try:
        uvicorn.run(web, host=host, port=port, log_level="warning")
    finally:
        clear_server_info(settings.home, os.getpid())


def _warm_prefect() -> None:
    """Run the smallest flow once so the API, database and flow machinery are all loaded."""
    from crisiscast.flows.warmup import warm_up

    warm_up()
    import crisiscast.flows.launch  # noqa: F401  (import cost paid now, not at the first launch)


@app.command()
def demo(
    playbook: Annotated[Path, typer.Option(help="Playbook to play")] = Path(
        "playbooks/regional-flood.yaml"
    ),
) -> None:
    """Play a whole incident on the embedded default (outbox only) and print what happened."""
    from crisiscast.demo import run_demo

    try:
        run_demo(playbook, _settings(), out)
    except CrisiscastError as exc:
        raise _fail(exc) from None


@app.command()
def triage(
    playbook: Annotated[
        Path | None, typer.Option(help="Use this playbook's severity model, signals and languages")
    ] = None,
) -> None:
    """Triage replies: one per line on stdin, one JSON object per line on stdout."""
    from crisiscast.incidents.triage.jsonl import run_triage

    try:
        code = run_triage(sys.stdin, sys.stdout, playbook)
    except CrisiscastError as exc:
        raise _fail(exc) from None
    raise typer.Exit(code=code)


@app.command()
def report(
    incident: Annotated[str, typer.Argument(help="Incident ref, e.g. INC-3")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the files")] = Path(
        "reports"
    ),
) -> None:
    """Write the incident report as Markdown and HTML, with charts."""
    from datetime import UTC, datetime

    from crisiscast.incidents import store as st
    from crisiscast.incidents.report import collect
    from crisiscast.incidents.report_render import write_report

    try:
        store = _open_store(_settings())
        with store.session() as session:
            data = collect(session, st.get_incident(session, incident), datetime.now(UTC))
        store.dispose()
    except CrisiscastError as exc:
        raise _fail(exc) from None
    files = write_report(data, output)
    out.print(f"wrote {files.markdown} and {files.html} ({len(files.charts)} charts)")


agents_app = typer.Typer(
    no_args_is_help=True, help="The roster: who works cases, and for how long."
)
app.add_typer(agents_app, name="agents")


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

    from crisiscast.incidents.agents import add_agent

    expires = datetime.now(UTC) + timedelta(hours=day_pass) if day_pass else None
    try:
        store = _open_store(_settings())
        with store.session() as session:
            agent = add_agent(
                session, name=name, phone=phone, email=email, skills=skill or (),
                languages=language or (), capacity=capacity, temporary=expires is not None,
                pass_expires_at=expires,
            )  # fmt: skip
            agent_id = agent.id
        store.dispose()
    except CrisiscastError as exc:
        raise _fail(exc) from None
    until = f", pass until {expires:%Y-%m-%d %H:%M} UTC" if expires else ""
    out.print(f"agent {agent_id} added: {name}{until}", highlight=False)


@agents_app.command("list")
def agents_list(
    all_: Annotated[bool, typer.Option("--all", help="Include released agents")] = False,
) -> None:
    """List agents with their skills, languages and passes; phone numbers masked."""
    from crisiscast.channels.masking import mask_phone
    from crisiscast.incidents.agents import list_agents

    try:
        store = _open_store(_settings())
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
        raise _fail(exc) from None
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

    from crisiscast.incidents.agents import get_agent, release_agent
    from crisiscast.incidents.assignment import ReleaseReason

    try:
        store = _open_store(_settings())
        with store.session() as session:
            agent = get_agent(session, agent_id)
            cases = release_agent(
                session, agent, now=datetime.now(UTC), reason=ReleaseReason.AGENT_OFF
            )
        store.dispose()
    except CrisiscastError as exc:
        raise _fail(exc) from None
    out.print(f"agent {agent_id} released; {len(cases)} open cases back in the queue")


@app.command()
def sweep(
    commander: Annotated[
        str | None, typer.Option(help="Phone or email that gets breach notices")
    ] = None,
) -> None:
    """Run the SLA sweep once: escalate, page, remind, scale temporary agents."""
    settings = _settings()
    try:
        _open_store(settings).dispose()
        _prefect_in_process()
        from crisiscast.flows.sla_sweep import sla_sweep

        done = sla_sweep(settings.database_url, commander=commander)
    except CrisiscastError as exc:
        raise _fail(exc) from None
    if not done:
        out.print("Nothing to do: no active incident needs anything.")
    for ref, actions in done.items():
        listed = ", ".join(f"{k} {v}" for k, v in sorted(actions.items()) if v) or "nothing due"
        out.print(f"{ref}: {listed}", highlight=False)


@app.command(name="stand-down")
def stand_down(incident: Annotated[str, typer.Argument(help="Incident ref, e.g. INC-3")]) -> None:
    """All-clear everywhere, banner off, temporary agents released, CSAT asked, incident closed."""
    settings = _settings()
    try:
        _open_store(settings).dispose()
        _prefect_in_process()
        from crisiscast.flows.launch import public_url
        from crisiscast.flows.stand_down import stand_down as stand_down_flow

        result = stand_down_flow(incident, settings.database_url, public_url())
    except CrisiscastError as exc:
        raise _fail(exc) from None
    if result.get("already_closed"):
        out.print(f"{result['ref']} was already closed: nothing sent.", highlight=False)
        return
    out.print(f"{result.get('ref', incident)} stood down and closed.", highlight=False)
    for key, value in sorted(result.items()):
        if key not in ("ref", "already_closed"):
            out.print(f"  {key}: {value}", highlight=False, markup=False)


if __name__ == "__main__":
    app()
