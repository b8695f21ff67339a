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
from rich.table import Table

from crisiscast.cli import broadcast as cli_broadcast
from crisiscast.cli import contacts as cli_contacts
from crisiscast.cli import response as cli_response
from crisiscast.cli import users as cli_users
from crisiscast.cli.common import (
    WARM,
    AudienceOpt,
    ParamOpt,
    RegionOpt,
    current_settings,
    err,
    fail,
    open_store,
    out,
    parse_params,
    playbook_path,
    prefect_in_process,
    safe_store_url,
    store_session,
    warm_server,
)
from crisiscast.cli.targeting import (
    AreaCodeOpt,
    AreaFileOpt,
    AreaNameOpt,
    CircleOpt,
    EveryoneOpt,
    FilterOpt,
    ListOpt,
    PolygonOpt,
    area_from_options,
    target_json,
)
from crisiscast.config import Settings
from crisiscast.errors import ApprovalPending, CrisiscastError, PlaybookError

app = typer.Typer(
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Crisis communication: playbooks in, word out on every channel, replies triaged.",
)


PLAYBOOK_HELP = "Playbook file, or an example's name (e.g. regional-flood)"


@app.command()
def validate(paths: Annotated[list[Path], typer.Argument(help="Playbook files")]) -> None:
    """Check playbooks: every problem with file:line:column, key and fix."""
    from crisiscast.playbook import load_playbook

    failed = 0
    for path in paths:
        try:
            playbook = load_playbook(playbook_path(path))
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
    playbook: Annotated[Path, typer.Argument(help=PLAYBOOK_HELP)],
    param: ParamOpt = None,
    when: Annotated[str | None, typer.Option(help="launch, update or all_clear")] = None,
    sms_price: Annotated[
        str, typer.Option(help="Price of one SMS segment, for the cost estimate")
    ] = "0.0083",
    recipients: Annotated[int, typer.Option(help="How many people the estimate is for")] = 1000,
    lists: ListOpt = None,
    filter_: FilterOpt = None,
    everyone: EveryoneOpt = False,
    area_file: AreaFileOpt = None,
    polygon: PolygonOpt = None,
    circle: CircleOpt = None,
    area_code: AreaCodeOpt = None,
    area_name: AreaNameOpt = None,
) -> None:
    """Show every rendered message per channel and language, before anything is sent.

    SMS show their encoding (GSM-7 or UCS-2: Thai and Lao are UCS-2, 70 characters a segment),
    segment count and what sending them to ``--recipients`` people costs at ``--sms-price``.
    With a target (``--list``, ``--filter``, ``--everyone``), also how many contacts each
    channel and language reaches, how many are suppressed, and how many get the fallback.
    """
    from decimal import Decimal, InvalidOperation

    from crisiscast.channels.sms_segments import count_segments, estimate_cost
    from crisiscast.playbook import load_playbook, render_all, render_title, resolve_params

    try:
        price = Decimal(sms_price)
    except InvalidOperation:
        raise fail(
            CrisiscastError(f"--sms-price {sms_price!r} is not a number, e.g. 0.0083")
        ) from None
    try:
        book = load_playbook(playbook_path(playbook))
        params = resolve_params(book, parse_params(param))
        title = render_title(book, params)
        incident = {"ref": "INC-PREVIEW", "title": title, "exercise": False}
        messages = render_all(book, params, incident, when=when)
    except CrisiscastError as exc:
        raise fail(exc) from None
    for m in messages:
        head = f"[bold]{m.announcement_id}[/bold] ({m.when}) · {m.channel} · {m.language}"
        out.rule(head)
        if m.subject:
            out.print(f"[dim]subject:[/dim] {m.subject}", highlight=False)
        out.print(m.text, highlight=False, markup=False)
        if m.channel == "sms":
            count = count_segments(m.text)
            cost = estimate_cost(m.text, price, recipients)
            out.print(
                f"[dim]{count.encoding.upper()}, {count.segments} segment(s); "
                f"{recipients:,} recipients ≈ {cost:,.2f} at {price} a segment[/dim]",
                highlight=False,
            )
    out.print(f"\n{len(messages)} messages", highlight=False)
    try:
        area = area_from_options(area_file, polygon, circle, area_code, area_name)
        target = target_json(lists, filter_, everyone, area)
        if target is not None:
            _print_target_reach(book, target, sorted({m.channel for m in messages}))
    except CrisiscastError as exc:
        raise fail(exc) from None


def _print_target_reach(book: Any, target: dict[str, Any], channels: list[str]) -> None:
    from crisiscast.cli.targeting import print_reach, reach_of_spec, rolled_back
    from crisiscast.incidents.audience.directory import TargetSpec

    settings = current_settings()
    store = open_store(settings)
    try:
        with rolled_back(store) as session:
            rows = reach_of_spec(session, target, book, channels)
    finally:
        store.dispose()
    print_reach(rows, f"reach of {TargetSpec.from_json(target).describe()}", settings)


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
    from crisiscast.cli.targeting import check_target, rolled_back
    from crisiscast.playbook import load_playbook, resolve_params
    from crisiscast.web.warm import call_server

    playbook = playbook_path(playbook)
    options = dict(options or {})
    audience = None
    if options.get("audience"):
        audience = Path(options["audience"])
        if not audience.is_file():
            raise CrisiscastError(f"--audience {audience}: no such file; give a contacts CSV")
        options["audience"] = str(audience.resolve())
    # Check here first: the commander gets clear errors without paying for Prefect's start,
    # and a bad file, list or filter opens no incident.
    book = load_playbook(playbook)
    resolve_params(book, params)
    store = open_store(settings)
    try:
        with rolled_back(store) as session:
            options["target"] = check_target(
                session, options.get("target"), audience=audience,
                region=options.get("default_region", "US"), playbook=book,
            ) or None  # fmt: skip
    finally:
        store.dispose()
    path = str(playbook.resolve())
    _ask_approval_if_needed(settings, path, params, exercise, options)
    server = warm_server(settings)
    if server:
        request = {"playbook": path, "params": params, "exercise": exercise, **options}
        answer = call_server(server, "/api/launch", request)
        ref, mode = str(answer["ref"]), WARM
    else:
        prefect_in_process()
        from crisiscast.flows.launch import launch_incident

        ref = _launch_stoppable(launch_incident, path, params, exercise, settings, options)
        mode = "cold (Prefect's ephemeral API)"
    detail = {"exercise": exercise, "send": options.get("send", True)}
    cli_broadcast.record_cli(ref, "launch", detail)  # the demo launches through here too
    return ref, mode


def _launch_stoppable(
    launch_incident: Any, path: str, params: dict[str, str], exercise: bool,
    settings: Settings, options: dict[str, Any],
) -> str:  # fmt: skip
    """The cold launch; a first Ctrl-C stops its broadcast at a batch boundary, says how to
    send the rest and exits 130 (see ``crisiscast.cli.interrupt``)."""
    from crisiscast.cli.interrupt import EXIT_INTERRUPTED, stop_on_interrupt

    then = "`crisiscast broadcast INC-n` (see `crisiscast list`) sends the rest, each once."
    with stop_on_interrupt(then) as interrupt:
        ref = str(launch_incident(path, params, exercise, settings.database_url, **options))
    if interrupt.requested:
        err.print(
            f"{ref} is open; Ctrl-C stopped its broadcast after recording what was sent. Run "
            f"`crisiscast broadcast {ref}` to send the rest, each recipient once.",
            highlight=False, soft_wrap=True, markup=False,
        )  # fmt: skip
        raise typer.Exit(code=EXIT_INTERRUPTED)
    return ref


def _ask_approval_if_needed(
    settings: Settings, path: str, params: dict[str, str], exercise: bool, options: dict[str, Any]
) -> None:
    """Raise ApprovalPending (after storing the request) when the playbook needs a second
    person: the CLI holds the two-person rule as the API does, warm or cold."""
    from pydantic import ValidationError

    from crisiscast.incidents.people.audit import Actor
    from crisiscast.web.api.actions import launch_approval
    from crisiscast.web.api.models import LaunchBody

    try:
        body = LaunchBody(
            playbook=path, params=params, exercise=exercise, target=options.get("target"),
            audience=options.get("audience"), default_region=options.get("default_region", "US"),
            send=options.get("send", True),
        )  # fmt: skip
    except ValidationError as exc:
        raise CrisiscastError(f"launch options: {exc.errors()[0]['msg']}") from None
    store = open_store(settings)
    try:
        approval = launch_approval(store, body, Actor.cli())
    finally:
        store.dispose()
    if approval is not None:
        raise ApprovalPending(
            f"not launched: this playbook needs a second person's approval. Approval "
            f"{approval} is requested; a commander or comms user approves it after seeing the "
            f"same preview (POST /api/v1/approvals/{approval}/approve with their token).",
            approval,
        )


@app.command()
def launch(
    playbook: Annotated[Path, typer.Argument(help=PLAYBOOK_HELP)],
    param: ParamOpt = None,
    exercise: Annotated[
        bool, typer.Option(help="CAP Exercise: everything runs, nothing leaves")
    ] = False,
    audience: AudienceOpt = None,
    region: RegionOpt = "US",
    hold: Annotated[
        bool, typer.Option(help="Stage the announcements only; send later with `broadcast`")
    ] = False,
    lists: ListOpt = None,
    filter_: FilterOpt = None,
    everyone: EveryoneOpt = False,
    area_file: AreaFileOpt = None,
    polygon: PolygonOpt = None,
    circle: CircleOpt = None,
    area_code: AreaCodeOpt = None,
    area_name: AreaNameOpt = None,
    dry_run: Annotated[
        bool,
        typer.Option(help="Check everything and show the reach; open no incident, send nothing"),
    ] = False,
) -> None:
    """Open an incident from a playbook and broadcast its announcements to the target it names.

    Name the target with --list, --filter, --audience (a CSV imported first onto the list of
    its name) or, to reach every contact, --everyone. Without one, the playbook's audiences'
    lists are used; if it has none, the launch is refused.
    """
    try:
        settings = current_settings()
        live = [] if exercise else settings.live_channels()
        target = target_json(
            lists,
            filter_,
            everyone,
            area_from_options(area_file, polygon, circle, area_code, area_name),
        )
        if dry_run:
            _dry_run(playbook, parse_params(param), settings, target, audience, region)
            return
        options = {"audience": str(audience) if audience else None, "default_region": region,
                   "send": not hold, "target": target}  # fmt: skip
        ref, mode = _launch(playbook, parse_params(param), exercise, settings, options)
        result = {} if hold else cli_broadcast.recorded_result(ref)
    except ApprovalPending as pending:
        out.print(f"[yellow]{pending}[/yellow]", highlight=False, soft_wrap=True)
        return
    except CrisiscastError as exc:
        raise fail(exc) from None
    if result.get("local_errors"):  # opened, but this machine could not write (disk full)
        err.print(f"{ref} opened, but its broadcast stopped on this machine:", highlight=False)
        cli_broadcast.stop_on_local_errors(result, f"crisiscast broadcast {ref}")
    out.print(f"[bold green]{ref}[/bold green] launched ({mode})", highlight=False)
    _print_incident_reach(settings, ref)
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


def _dry_run(
    playbook: Path,
    params: dict[str, str],
    settings: Settings,
    target: dict[str, Any] | None,
    audience: Path | None,
    region: str,
) -> None:
    """Everything a launch checks and whom it would reach; the import is undone after."""
    from datetime import UTC, datetime

    from crisiscast.cli.contacts import print_import
    from crisiscast.cli.targeting import check_target, print_reach, reach_of_spec, rolled_back
    from crisiscast.incidents.audience.csv_import import (
        audience_list,
        import_contacts,
        rejects_path,
    )
    from crisiscast.incidents.audience.directory import TargetSpec
    from crisiscast.playbook import load_playbook, render_all, render_title, resolve_params

    book = load_playbook(playbook_path(playbook))
    values = resolve_params(book, params)
    context = {"ref": "INC-DRY-RUN", "title": render_title(book, values), "exercise": False}
    channels = sorted({m.channel for m in render_all(book, values, context, when="launch")})
    store = open_store(settings)
    try:
        with rolled_back(store) as session:
            checked = check_target(session, target, audience=audience, region=region, playbook=book)
            spec = TargetSpec.from_json(checked)
            if audience is not None:
                name = audience_list(audience)
                report = import_contacts(
                    session, audience, default_region=region, languages=book.languages,
                    list_name=name, rejects=rejects_path(audience), now=datetime.now(UTC),
                    replace=True,
                )  # fmt: skip
                print_import(report)
                spec = spec.merged(TargetSpec(lists=(name,)))
            rows = reach_of_spec(session, spec.to_json(), book, channels)
    finally:
        store.dispose()
    print_reach(rows, f"reach of {spec.describe()}", settings)
    out.print("Dry run: no incident opened, nothing imported, nothing sent.")


def _print_incident_reach(settings: Settings, ref: str) -> None:
    from crisiscast.cli.targeting import print_reach, reach_of_incident
    from crisiscast.incidents.store import database as st
    from crisiscast.playbook import load_playbook

    store = open_store(settings)
    try:
        with store.session() as session:
            incident = st.get_incident(session, ref)
            rows = reach_of_incident(session, ref, load_playbook(incident.playbook_path))
    finally:
        store.dispose()
    print_reach(rows, f"{ref} reaches")


@app.command(name="list")
def list_(limit: Annotated[int, typer.Option(help="How many, newest first")] = 20) -> None:
    """List incidents, newest first."""
    from crisiscast.incidents.store import database as st

    try:
        with store_session() as session:
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
    except CrisiscastError as exc:
        raise fail(exc) from None
    table = Table("incident", "status", "exercise", "title", "opened (UTC)")
    for row in rows:
        table.add_row(*row)
    out.print(table if rows else "No incidents yet: start one with `crisiscast launch PLAYBOOK`.")


@app.command()
def status(incident: Annotated[str, typer.Argument(help="Incident ref, e.g. INC-3")]) -> None:
    """Summarise one incident: what was staged, sent, received and done."""
    from crisiscast.incidents.reporting.summary import incident_summary
    from crisiscast.incidents.store import database as st

    try:
        with store_session() as session:
            summary = incident_summary(session, st.get_incident(session, incident))
    except CrisiscastError as exc:
        raise fail(exc) from None
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
    import signal

    from crisiscast.runtime import prepare_prefect

    # SIGTERM (systemd, docker stop, kill) ends serve like Ctrl-C does: as an exception, so the
    # finally below removes serve.json and atexit stops Prefect's temporary API server. Left at
    # its default, uvicorn re-raises SIGTERM after its shutdown and the process dies on the spot.
    signal.signal(signal.SIGTERM, _exit_on_signal)

    prepare_prefect()
    import uvicorn

    from crisiscast.web.app import create_app
    from crisiscast.web.serving import uvicorn_options
    from crisiscast.web.warm import ServerInfo, clear_server_info, new_token, write_server_info

    try:
        settings = current_settings()
    except CrisiscastError as exc:
        raise fail(exc) from None
    try:
        open_store(settings).dispose()  # webhooks answer 503 on a store that is not at head
    except CrisiscastError as exc:
        raise fail(exc) from None
    out.print("Starting Prefect's API (once; later launches reuse it)…")
    _warm_prefect()
    token = new_token()
    web = create_app(settings, token)
    # Everything loaded so far lives as long as the server: keep it out of the collector's
    # way, and collect less often. Measured in bench/webhooks.py: webhook p99 79-114 ms -> 23-47 ms.
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"  # noqa: S104
    info_path = write_server_info(
        settings.home,
        ServerInfo(url=url, token=token, pid=os.getpid(), store=safe_store_url(settings)),
    )
    out.print(
        f"crisiscast serving on {url} (token in {info_path}); Ctrl-C stops it.", highlight=False
    )
    try:
        uvicorn.run(web, host=host, port=port, log_level="warning", **uvicorn_options(settings))
    finally:
        clear_server_info(settings.home, os.getpid())


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _warm_prefect() -> None:
    """Run the smallest flow once so the API, database and flow machinery are all loaded."""
    from crisiscast.flows.warmup import warm_up

    warm_up()
    import crisiscast.flows.launch  # noqa: F401  (import cost paid now, not at the first launch)


@app.command()
def demo(
    playbook: Annotated[
        Path | None,
        typer.Option(help="Playbook to play (default: the regional-flood example)"),
    ] = None,
) -> None:
    """Play a whole incident on the embedded default (outbox only) and print what happened.

    Run it again with the same CRISISCAST_HOME: each run is a new incident, played by the same
    demo agents (the roster is global), who are put back on call or on standby first.
    """
    from crisiscast.cli.demo import run_demo

    try:
        run_demo(playbook, current_settings(), out)
    except CrisiscastError as exc:
        raise fail(exc) from None


@app.command()
def triage(
    playbook: Annotated[
        Path | None,
        typer.Option(
            help="Use this playbook's severity model, signals and languages (a file, or an "
            "example's name such as regional-flood)"
        ),
    ] = None,
) -> None:
    """Triage replies: one per line on stdin, one JSON object per line on stdout.

    Exits 0 once every line is triaged (none at all included), 1 on an error such as an
    invalid playbook.
    """
    from crisiscast.incidents.intake.triage.jsonl import run_triage

    try:
        run_triage(sys.stdin, sys.stdout, playbook_path(playbook) if playbook else None)
    except CrisiscastError as exc:
        raise fail(exc) from None


@app.command()
def init(
    folder: Annotated[
        Path, typer.Argument(metavar="DIR", help="Folder to write them into (created if missing)")
    ] = Path("playbooks"),
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite example files already in DIR")
    ] = False,
) -> None:
    """Copy the example playbooks into DIR (default: ./playbooks) to edit into your own."""
    from crisiscast.playbook.examples import copy_examples

    try:
        written = copy_examples(folder, force=force)
    except CrisiscastError as exc:
        raise fail(exc) from None
    for path in written:
        out.print(f"wrote {path}", highlight=False)
    out.print(f"Check them with: crisiscast validate {folder / '*.yaml'}", highlight=False)


# Commands that live in their own modules, registered here so `crisiscast --help` lists them all.
app.command()(cli_broadcast.broadcast)
app.command()(cli_broadcast.update)
app.command(name="all-clear")(cli_broadcast.all_clear)
app.add_typer(cli_contacts.contacts_app, name="contacts")
app.command()(cli_contacts.lists)
app.add_typer(cli_contacts.filters_app, name="filters")
app.command()(cli_broadcast.recall)
app.add_typer(cli_response.agents_app, name="agents")
app.command()(cli_response.sweep)
app.command(name="stand-down")(cli_response.stand_down)
app.command()(cli_response.report)
app.add_typer(cli_users.users_app, name="users")
