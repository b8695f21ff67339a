"""What every crisiscast command shares: consoles, settings, the store, Prefect set-up, errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

# Re-exported: the commands print through the consoles the thin warm path uses too.
from crisiscast.cli.answers import WARM as WARM
from crisiscast.cli.answers import err as err
from crisiscast.cli.answers import out as out
from crisiscast.config import Settings, load_settings
from crisiscast.errors import CrisiscastError, PlaybookError

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


def playbook_path(path: Path) -> Path:
    """``path``, or the packaged example a bare name means when no such file is here.

    ``regional-flood`` (or ``regional-flood.yaml``) works from any folder after any install;
    a path with a folder in it is always taken as it is.
    """
    if path.exists() or path.parent != Path():
        return path
    from crisiscast.playbook.examples import find_example

    return find_example(path.name) or path


def fail(exc: CrisiscastError) -> typer.Exit:
    if isinstance(exc, PlaybookError):
        for problem in exc.problems:
            err.print(f"[red]error[/red] {problem}", highlight=False, markup=True, soft_wrap=True)
    else:
        err.print(f"[red]error[/red] {exc}", highlight=False, soft_wrap=True)
    return typer.Exit(code=1)


def current_settings() -> Settings:
    return load_settings()


def safe_store_url(settings: Settings) -> str:
    """The store's URL with any password masked: what serve.json and messages may show."""
    from crisiscast.incidents.store.database import normalize_url

    return normalize_url(settings.database_url).render_as_string(hide_password=True)


def open_store(settings: Settings) -> Any:
    """The incident store at the current schema; upgrading is idempotent and keeps data."""
    from crisiscast.incidents.store import database as st

    store = st.Store.from_settings(settings)
    store.upgrade()
    return store


@contextmanager
def store_session() -> Iterator[Any]:
    """One session (one transaction) on the current store, disposed of afterwards even when the
    command fails: what a command that reads or makes one change needs."""
    store = open_store(current_settings())
    try:
        with store.session() as session:
            yield session
    finally:
        store.dispose()


def warm_server(settings: Settings) -> Any:
    """The running ``crisiscast serve`` (a ``ServerInfo``) to hand a flow to, or None to run it
    here. A serve on another store is refused with a CrisiscastError that names both: its work
    would land in a database this command's setting does not name."""
    from crisiscast.web.warm import find_server

    return find_server(
        settings.home,
        note=lambda m: err.print(f"[yellow]note[/yellow] {m}", highlight=False),
        store=safe_store_url(settings),
    )


def call_warm(server: Any, path: str, payload: dict[str, Any], then: str) -> dict[str, Any]:
    """Hand a flow to serve and wait for its answer (``warm_path.hand_over``: a first Ctrl-C
    asks serve to stop at its next batch boundary, a second quits at once)."""
    from crisiscast.cli.warm_path import hand_over

    answer: dict[str, Any] = hand_over(server, path, payload, then)
    return answer


def prefect_in_process() -> None:
    """Prefect with quiet defaults, for commands that run a flow in this process."""
    import atexit

    from crisiscast.runtime import prepare_prefect, quiet_run_loggers, silence_shutdown_noise

    prepare_prefect()
    import prefect  # noqa: F401  (settings are read now, with the defaults above)

    from crisiscast.cli.interrupt import detach_prefect_server

    detach_prefect_server()  # a Ctrl-C must not take the API away from a running flow
    quiet_run_loggers()
    atexit.register(silence_shutdown_noise)


AudienceOpt = Annotated[
    Path | None,
    typer.Option(
        help="Contacts CSV (name, phone, email, language, ...) imported first onto the list "
        "of its name, which then holds exactly the file's contacts; reaches that list"
    ),
]
RegionOpt = Annotated[
    str, typer.Option(help="Country for phone numbers written without +country code, e.g. TH")
]
