"""Broadcast commands: send what is staged, follow-ups, the all-clear, and recall."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from crisiscast.cli import answers
from crisiscast.cli.common import (
    AudienceOpt,
    RegionOpt,
    call_warm,
    current_settings,
    err,
    fail,
    open_store,
    prefect_in_process,
    store_session,
    warm_server,
)
from crisiscast.cli.targeting import EveryoneOpt, FilterOpt, ListOpt, target_json
from crisiscast.cli.texts import parse_texts
from crisiscast.errors import ConfigError, CrisiscastError


def _run_broadcast(incident: str, resume: str, **options: Any) -> dict[str, Any]:
    """Run the broadcast flow through ``crisiscast serve`` when it runs (``warm`` in the
    result), else here; a first Ctrl-C stops it at a batch boundary (``interrupted`` in the
    result), a second quits at once (see ``interrupt``)."""
    settings = current_settings()
    then = f"`{resume}` sends the rest, each recipient once."
    server = warm_server(settings)
    if server:
        payload = {"incident": incident, **options}
        return {**call_warm(server, "/api/warm/broadcast", payload, then), "warm": True}
    _check_playbook(incident)  # cold, before Prefect's start: a moved playbook is told at once
    prefect_in_process()
    from crisiscast.cli.interrupt import stop_on_interrupt
    from crisiscast.flows.broadcast import broadcast as broadcast_flow
    from crisiscast.flows.launch import public_url

    with stop_on_interrupt(then) as interrupt, show_progress():
        result: dict[str, Any] = broadcast_flow(
            incident, database_url=settings.database_url, public_url=public_url(), **options
        )
    result["interrupted"] = interrupt.requested
    return result


def _check_playbook(incident: str) -> None:
    """The incident's playbook still loads (PlaybookError says what moved or broke)."""
    from crisiscast.incidents.store import database as st
    from crisiscast.playbook import load_playbook

    with store_session() as session:
        path = st.get_incident(session, incident).playbook_path
    load_playbook(path)


@contextmanager
def show_progress() -> Iterator[None]:
    """Deliveries sent so far per channel, live on stderr while the flow runs here; only on a
    terminal, so piped output and logs stay clean. The shards count (``sending.PROGRESS``)."""
    from crisiscast.incidents.broadcast.sending import PROGRESS

    PROGRESS.clear()
    if not err.is_terminal:
        yield
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    done = threading.Event()
    columns = (SpinnerColumn(), TextColumn("{task.description}"),
               TextColumn("{task.completed:>12,.0f} sent"), TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=err, transient=True) as bars:
        tasks: dict[str, Any] = {}

        def follow() -> None:
            while not done.wait(0.25):
                for channel, sent in sorted(PROGRESS.snapshot().items()):
                    if channel not in tasks:
                        tasks[channel] = bars.add_task(channel, total=None)
                    bars.update(tasks[channel], completed=sent)

        watcher = threading.Thread(target=follow, name="broadcast-progress", daemon=True)
        watcher.start()
        try:
            yield
        finally:
            done.set()
            watcher.join()


def stop_if_interrupted(result: dict[str, Any], resume: str) -> None:
    """After a Ctrl-C: say what this run sent and the command that sends the rest, exit 130."""
    if code := answers.stopped(result, resume):
        raise typer.Exit(code=code)


def stop_on_local_errors(result: dict[str, Any], resume: str) -> None:
    """Exit 1 when this machine could not write what it sends (a full disk), saying how to
    finish the job (``answers.local_failures``)."""
    if code := answers.local_failures(result, resume):
        raise typer.Exit(code=code)


def _finish(result: dict[str, Any], resume: str) -> None:
    """The broadcast's answer printed and its exit code given, as the thin warm path does."""
    if code := answers.broadcast_exit(result, resume):
        raise typer.Exit(code=code)


def record_cli(incident: str, action: str, detail: dict[str, Any] | None = None) -> None:
    """The audit log's entry for a command typed at this machine's shell (``Actor.cli()``):
    written once the command's change is made, never with a message's text or an address."""
    from datetime import UTC, datetime

    from crisiscast.incidents.people.audit import Actor, record
    from crisiscast.incidents.store import database as st

    with store_session() as session:
        row = st.get_incident(session, incident)
        record(session, Actor.cli(), action, now=datetime.now(UTC), incident_id=row.id,
               subject=row.ref, detail=detail)  # fmt: skip


def refuse_without_approval(session: Any, incident: str, action: str, route: str) -> None:
    """An incident whose playbook says ``approval: required`` takes no update or recall on
    one person's word at a shell: the request goes through the API, where a second commander
    or comms user approves it after the same preview (an exercise is waived)."""
    from crisiscast.incidents.people.approvals import needed
    from crisiscast.incidents.store import database as st
    from crisiscast.playbook import load_playbook

    row = st.get_incident(session, incident)
    if needed(load_playbook(row.playbook_path).approval, exercise=row.exercise):
        raise CrisiscastError(
            f"{row.ref}'s playbook needs a second person's approval for {action}: request "
            f"it with POST /api/v1/incidents/{row.ref}/{route} (it answers 202 with the "
            "approval), then a commander or comms user approves it"
        )


def recorded_result(incident: str) -> dict[str, Any]:
    """The summary of the incident's latest broadcast, from its timeline ({} before any):
    how ``launch`` learns what the broadcast inside it did, cold or through ``serve``."""
    from sqlalchemy import select

    from crisiscast.incidents.store import database as st
    from crisiscast.incidents.store.models import TimelineEvent

    store = open_store(current_settings())
    try:
        with store.session() as session:
            row = st.get_incident(session, incident)
            data = session.scalars(
                select(TimelineEvent.data)
                .where(TimelineEvent.incident_id == row.id, TimelineEvent.kind == "broadcast")
                .order_by(TimelineEvent.at.desc(), TimelineEvent.id.desc())
                .limit(1)
            ).first()
    finally:
        store.dispose()
    return dict(data or {})


def _precheck(
    incident: str,
    target: dict[str, Any] | None,
    audience: Any,
    region: str,
    *,
    announcement: str | None = None,
    texts: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> None:
    """What can fail is checked before any flow runs: the incident, the CSV, the target, the
    update's announcement, parameters and texts. ConfigError/PlaybookError say the fix."""
    from crisiscast.cli.targeting import check_target, rolled_back
    from crisiscast.incidents.store import database as st
    from crisiscast.playbook import load_playbook, resolve_params

    store = open_store(current_settings())
    try:
        with rolled_back(store) as session:
            row = st.get_incident(session, incident)
            if target is not None or audience is not None:
                book = load_playbook(row.playbook_path)
                check_target(session, target, audience=audience, region=region, playbook=book)
            if announcement is not None and not texts:
                # Loaded only when needed (0.25 s): the broadcast flow loads it anyway.
                book = load_playbook(row.playbook_path)
                known = [a.id for a in book.announcements]
                if announcement not in known:
                    raise ConfigError(
                        f"{row.ref}'s playbook {book.id} has no announcement {announcement!r}: "
                        f"use one of {', '.join(known)}, or send new text with --text"
                    )
                raw = {k: str(v).lower() if isinstance(v, bool) else str(v)
                       for k, v in row.params.items() if v is not None}  # fmt: skip
                resolve_params(book, {**raw, **(params or {})})
    finally:
        store.dispose()


def broadcast(
    incident: Annotated[str, typer.Argument(help="Incident ref, e.g. INC-3")],
    audience: AudienceOpt = None,
    region: RegionOpt = "US",
    lists: ListOpt = None,
    filter_: FilterOpt = None,
    everyone: EveryoneOpt = False,
) -> None:
    """Send what is staged and not yet sent (also resumes a broadcast that was cut short).

    Held announcements (``launch --hold``) go to the target they were staged for, or to the
    one named here (--list, --filter, --audience, --everyone).
    """
    try:
        target = target_json(lists, filter_, everyone)
        _precheck(incident, target, audience, region)
        result = _run_broadcast(
            incident, f"crisiscast broadcast {incident}", when="launch",
            audience=str(audience.resolve()) if audience else None, default_region=region,
            target=target,
        )  # fmt: skip
        if not result.get("warm"):  # serve writes the audit entry of the work it ran
            record_cli(incident, "broadcast", {"counts": result.get("counts", {})})
    except CrisiscastError as exc:
        raise fail(exc) from None
    _finish(result, f"crisiscast broadcast {incident}")


def update(
    incident: Annotated[str, typer.Argument(help="Incident ref, e.g. INC-3")],
    text: Annotated[
        list[str] | None,
        typer.Option(help="New text: 'words' for the fallback language, th='...' for others"),
    ] = None,
    text_file: Annotated[
        Path | None, typer.Option(help="New text per language, a YAML file of language: text")
    ] = None,
    announcement: Annotated[
        str | None, typer.Option(help="A playbook announcement to send (with --param values)")
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="New parameter value, key=value")
    ] = None,
    lists: ListOpt = None,
    filter_: FilterOpt = None,
    everyone: EveryoneOpt = False,
) -> None:
    """Send an update: new text, or a playbook announcement with new values. Each run is a new
    update, sent again (at most once per person each); it reaches the launch's target unless
    another is named. An update stopped by Ctrl-C is finished, each person once, by running
    the same update again or `crisiscast broadcast INC-n`."""
    from crisiscast.cli.common import parse_params

    try:
        texts = parse_texts(text, text_file)
        if not texts and not announcement:
            raise ConfigError(
                "an update needs new text (--text 'Water is rising', --text-file FILE) or a "
                "playbook announcement (--announcement ID, with --param key=value)"
            )
        if texts and announcement:
            raise ConfigError("give new text or --announcement, not both")
        params = parse_params(param)
        target = target_json(lists, filter_, everyone)
        with store_session() as session:
            refuse_without_approval(session, incident, "an update", "updates")
        if texts:
            from crisiscast.incidents.broadcast.decisions import update_texts
            from crisiscast.incidents.store import database as st

            store = open_store(current_settings())
            try:
                with store.session() as session:
                    row = st.get_incident(session, incident)
                    ref, fallback = row.ref, (row.languages[0] if row.languages else "en")
            finally:
                store.dispose()
            texts = update_texts(texts, fallback, ref)
        _precheck(incident, target, None, "US", announcement=announcement, texts=texts,
                  params=params)  # fmt: skip
        # Stopped, the same update is resumed by `broadcast` (or by running it again as it was).
        resume = f"crisiscast broadcast {incident}"
        result = _run_broadcast(incident, resume, when="update",
                                announcement=announcement,
                                texts=texts or None, params=params or None,
                                target=target)  # fmt: skip
        if not result.get("warm"):
            record_cli(incident, "update", {"announcement": announcement,
                                            "languages": sorted(texts)})  # fmt: skip
    except CrisiscastError as exc:
        raise fail(exc) from None
    _finish(result, f"crisiscast broadcast {incident}")


def all_clear(
    incident: Annotated[str, typer.Argument(help="Incident ref, e.g. INC-3")],
    lists: ListOpt = None,
    filter_: FilterOpt = None,
    everyone: EveryoneOpt = False,
) -> None:
    """Send the all-clear on every channel and take the site banner down (to the launch's
    target unless another is named)."""
    try:
        target = target_json(lists, filter_, everyone)
        _precheck(incident, target, None, "US")
        result = _run_broadcast(incident, f"crisiscast all-clear {incident}", when="all_clear",
                                target=target)  # fmt: skip
        if not result.get("warm"):
            record_cli(incident, "all_clear", {"counts": result.get("counts", {})})
    except CrisiscastError as exc:
        raise fail(exc) from None
    _finish(result, f"crisiscast all-clear {incident}")


def recall(incident: Annotated[str, typer.Argument(help="Incident ref, e.g. INC-3")]) -> None:
    """Stop a running broadcast now: what is still queued is not sent, for good."""
    from datetime import UTC, datetime

    from crisiscast.incidents.broadcast.delivery import recall as recall_deliveries
    from crisiscast.incidents.people.audit import Actor, record
    from crisiscast.incidents.store.database import get_incident

    try:
        with store_session() as session:
            refuse_without_approval(session, incident, "a recall", "recall")
            suppressed = recall_deliveries(session, incident, now=datetime.now(UTC))
            record(session, Actor.cli(), "recall", now=datetime.now(UTC),
                   incident_id=get_incident(session, incident).id, subject=incident,
                   detail={"suppressed": suppressed})  # fmt: skip
    except CrisiscastError as exc:
        raise fail(exc) from None
    answers.out.print(f"{incident}: recalled; {suppressed} queued deliveries will not be sent.")
