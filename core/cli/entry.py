"""The ``crisiscast`` script's entry: ``crisiscast triage`` goes straight to triage, and the
flow commands straight to a running ``crisiscast serve`` (``warm_path``).

Triage is a filter that scripts pipe thousands of replies through, so its start-up counts:
building the whole Typer app imports the store (SQLAlchemy), the targeting and broadcast
commands and Rich, about half a second before the first reply. ``crisiscast triage`` and
``crisiscast triage --playbook PATH`` therefore run without the app; anything else (other
commands, ``--help``, a misspelt option) goes through the app as before, so its messages and
exit codes stay Typer's.
"""

from __future__ import annotations

import sys
from pathlib import Path

from crisiscast.errors import CrisiscastError

_NO_PLAYBOOK = Path()


def main() -> None:
    """Run ``crisiscast`` with the process's arguments."""
    from crisiscast.cli.warm_path import run_warm

    warm = run_warm(sys.argv[1:])  # a flow command handed straight to a running serve
    if warm is not None:
        sys.exit(warm)
    playbook = triage_playbook(sys.argv[1:])
    if playbook is None:
        from crisiscast.cli.app import app

        app()
        return
    sys.exit(run_triage_command(None if playbook == _NO_PLAYBOOK else playbook))


def triage_playbook(args: list[str]) -> Path | None:
    """The playbook a plain triage command names (``Path()`` for none); None for anything else."""
    match args:
        case ["triage"]:
            return _NO_PLAYBOOK
        case ["triage", "--playbook", value] if value and not value.startswith("-"):
            return Path(value)
        case ["triage", option] if option.startswith("--playbook=") and len(option) > 11:
            return Path(option.removeprefix("--playbook="))
    return None


def run_triage_command(playbook: Path | None) -> int:
    """``crisiscast triage``: 0 once every line is triaged, 1 with the error on stderr."""
    from crisiscast.incidents.intake.triage.jsonl import run_triage

    try:
        run_triage(sys.stdin, sys.stdout, _located(playbook) if playbook else None)
    except CrisiscastError as exc:
        from crisiscast.cli.common import fail  # the app's error format, loaded only on error

        return fail(exc).exit_code
    return 0


def _located(path: Path) -> Path:
    """``path``, or the packaged example a bare name means: ``common.playbook_path``'s rule,
    without importing ``common`` (settings, Rich, Typer) on the way to the first reply."""
    if path.exists() or path.parent != Path():
        return path
    from crisiscast.playbook.examples import find_example

    return find_example(path.name) or path
