"""The contact directory from the command line: import a CSV onto a list, show the lists,
save filters. ``crisiscast contacts import residents.csv --list flood-zone-a --region TH``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from crisiscast.cli.common import (
    RegionOpt,
    current_settings,
    err,
    fail,
    open_store,
    out,
    store_session,
)
from crisiscast.cli.targeting import RejectsOpt
from crisiscast.errors import CrisiscastError

contacts_app = typer.Typer(
    no_args_is_help=True, help="The contact directory: import contacts onto named lists."
)
filters_app = typer.Typer(
    invoke_without_command=True, help="Saved filters: name a filter once, target it as @name."
)


def print_import(report: object) -> None:
    """The summary, then every rejected or duplicate row by line, and where the rejects are."""
    from crisiscast.incidents.audience.csv_import import ImportReport

    assert isinstance(report, ImportReport)
    out.print(report.summary(), highlight=False)
    problems = report.problems()
    for problem in problems[:20]:
        err.print(
            f"  [yellow]skipped[/yellow] {report.source}:{problem.line}: {problem.field}: "
            f"{problem.problem}",
            highlight=False, soft_wrap=True,
        )  # fmt: skip
    if len(problems) > 20:
        err.print(f"  ... and {len(problems) - 20} more", highlight=False)
    for note in report.notes[:5]:
        out.print(f"  [dim]note[/dim] {report.source}:{note.line}: {note.field}: {note.problem}",
                  highlight=False, soft_wrap=True)  # fmt: skip
    if len(report.notes) > 5:
        out.print(f"  ... and {len(report.notes) - 5} more notes", highlight=False)
    if report.rejects_path:
        out.print(f"Rejected rows and reasons: {report.rejects_path}", highlight=False)


@contacts_app.command(name="import")
def import_(
    file: Annotated[Path, typer.Argument(help="Contacts CSV (UTF-8): phone and/or email, ...")],
    list_name: Annotated[
        str | None,
        typer.Option("--list", "-l", help="Put them on this list (default: the file's name)"),
    ] = None,
    region: RegionOpt = "US",
    rejects: RejectsOpt = None,
) -> None:
    """Import contacts onto a list: all of the file or, if interrupted, none of it."""
    from crisiscast.incidents.audience.csv_import import (
        audience_list,
        check_contacts_file,
        import_contacts,
        rejects_path,
    )

    try:
        check_contacts_file(file, region)
        name = list_name or audience_list(file)
        store = open_store(current_settings())
        try:
            with store.session() as session:  # one transaction: Ctrl-C leaves nothing half done
                report = import_contacts(
                    session, file, default_region=region, list_name=name,
                    rejects=rejects or rejects_path(file), now=datetime.now(UTC),
                )  # fmt: skip
        finally:
            store.dispose()
    except CrisiscastError as exc:
        raise fail(exc) from None
    except KeyboardInterrupt:  # the transaction was rolled back on the way out
        err.print(
            f"Interrupted: nothing was imported (the import is one transaction, so the directory "
            f"is as it was). Run `crisiscast contacts import {file}` again to import the file.",
            highlight=False, soft_wrap=True, markup=False,
        )  # fmt: skip
        raise typer.Exit(code=130) from None
    print_import(report)


def lists() -> None:
    """Show the contact lists and how many people are on each."""
    from crisiscast.incidents.audience.directory import list_counts

    try:
        with store_session() as session:
            rows = list_counts(session)
    except CrisiscastError as exc:
        raise fail(exc) from None
    if not rows:
        out.print("No lists yet: crisiscast contacts import FILE --list NAME")
        return
    table = Table("list", "contacts", "description")
    for name, count, description in rows:
        table.add_row(name, f"{count:,}", description or "")
    out.print(table)


@filters_app.callback()
def filters(ctx: typer.Context) -> None:
    """Show the saved filters."""
    if ctx.invoked_subcommand is not None:
        return
    from crisiscast.incidents.audience.directory import saved_filters

    try:
        with store_session() as session:
            rows = saved_filters(session)
    except CrisiscastError as exc:
        raise fail(exc) from None
    if not rows:
        out.print("No saved filters: crisiscast filters save NAME 'language=th,tag=elderly'")
        return
    table = Table("filter", "expression")
    for name, expression in rows:
        table.add_row(f"@{name}", expression)
    out.print(table)


@filters_app.command(name="save")
def save(
    name: Annotated[str, typer.Argument(help="Name to target it by, as @NAME")],
    expression: Annotated[str, typer.Argument(help="e.g. 'language=th,tag=elderly'")],
) -> None:
    """Save (or replace) a named filter."""
    from crisiscast.incidents.audience.directory import save_filter

    try:
        store = open_store(current_settings())
        with store.session() as session:
            save_filter(session, name, expression, now=datetime.now(UTC))
        store.dispose()
    except CrisiscastError as exc:
        raise fail(exc) from None
    out.print(f"saved filter @{name}: {expression}", highlight=False)
