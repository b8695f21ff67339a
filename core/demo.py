"""``crisiscast demo``: one incident played end to end on the embedded default.

It uses the real parts (playbook validation, a Prefect run, the SQLite store, outbox channels)
and runs as an exercise, so nothing leaves the machine even where credentials are set.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from crisiscast.config import Settings
from crisiscast.errors import CrisiscastError, PlaybookError


def _as_param(value: Any) -> str:
    """A typed sample value written the way a commander would type it after --param."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return "" if value is None else str(value)


def run_demo(playbook: Path, settings: Settings, out: Console) -> str:
    """Validate the playbooks, preview, launch an exercise and show its status; returns the ref."""
    from crisiscast import cli
    from crisiscast.playbook import load_playbook, render_all, render_title, sample_params

    if not playbook.exists():
        raise CrisiscastError(
            f"{playbook} not found: run the demo from the repository root, or pass "
            "--playbook path/to/playbook.yaml"
        )
    out.rule("1. validate the playbooks")
    for path in sorted(playbook.parent.glob("*.yaml")):
        try:
            book = load_playbook(path)
        except PlaybookError as exc:
            out.print(f"[red]✗[/red] {path}: {len(exc.problems)} problems", highlight=False)
            continue
        out.print(f"[green]✓[/green] {path} ({', '.join(book.languages)})", highlight=False)

    book = load_playbook(playbook)
    params = {k: _as_param(v) for k, v in sample_params(book).items() if v is not None}
    title = render_title(book, sample_params(book))
    out.rule("2. preview what will be said")
    incident = {"ref": "INC-PREVIEW", "title": title, "exercise": True}
    messages = render_all(book, sample_params(book), incident, when="launch")
    per_channel = Counter(m.channel for m in messages)
    out.print(
        f"{title}: {len(messages)} launch messages ("
        + ", ".join(f"{c} ×{n}" for c, n in sorted(per_channel.items()))
        + ")",
        highlight=False,
    )
    first_sms = next((m for m in messages if m.channel == "sms"), None)
    if first_sms:
        out.print(f"[dim]sms ({first_sms.language}):[/dim] ", end="", highlight=False)
        out.print(first_sms.text, highlight=False, markup=False)

    out.rule("3. launch (exercise: everything runs, nothing leaves this machine)")
    shown = " ".join(f'-p {k}="{v}"' for k, v in params.items())
    out.print(f"$ crisiscast launch {playbook} {shown} --exercise", highlight=False, markup=False)
    ref, mode = cli._launch(playbook, params, True, settings)
    out.print(f"[bold green]{ref}[/bold green] launched ({mode})", highlight=False)

    out.rule(f"4. crisiscast status {ref}")
    store = cli._open_store(settings)
    try:
        from crisiscast.incidents import store as st

        with store.session() as session:
            summary = st.incident_summary(session, st.get_incident(session, ref))
    finally:
        store.dispose()
    cli._print_summary(summary)
    out.print(
        f"\nDone. The incident is in {store.safe_url}; `crisiscast status {ref}` shows it again, "
        "and `prefect flow-run ls` lists the run.",
        highlight=False,
    )
    return ref
