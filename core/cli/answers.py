"""How the flow commands print their answers: a broadcast's counts, a stop by Ctrl-C, a local
write failure, the sweep and the stand-down.

The Typer app and the thin warm path (``warm_path``) both print through here, so a command
says the same words, with the same exit code, whichever way it ran. Only Rich is imported (it
renders the counts table and wraps lines as the app always has): no Typer, no store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

out = Console()
err = Console(stderr=True)

WARM = "warm (crisiscast serve)"  # how a command says it ran through serve, launch included
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell expects of a command stopped by Ctrl-C


def print_error(message: str) -> int:
    """The app's one-line error on stderr; the exit code 1 that goes with it."""
    err.print(f"[red]error[/red] {message}", highlight=False, soft_wrap=True)
    return 1


def this_run(result: Mapping[str, Any]) -> str:
    """'sms 1,200 sent, email 1,200 sent': what this run did, not the incident's totals."""
    parts = []
    for channel, by in sorted(result.get("this_run", {}).items()):
        done = [f"{n:,} {state}" for state, n in by.items() if n]
        parts.append(f"{channel} {', '.join(done) or 'nothing new'}")
    return "; ".join(parts) or "nothing"


def print_counts(result: Mapping[str, Any]) -> None:
    """The incident's deliveries per channel and status, then what this run sent."""
    table = Table("channel", "status", "count")
    for channel, by_status in sorted(result.get("counts", {}).items()):
        for state, count in sorted(by_status.items()):
            table.add_row(channel, state, str(count))
    out.print(table)
    if "this_run" in result:
        mode = f" ({WARM})" if result.get("warm") else ""
        out.print(f"This run: {this_run(result)}{mode}", highlight=False)
    local = set(result.get("local_errors", []))
    for error in result.get("errors", []):
        if error not in local:  # this machine's own write failures: see local_failures
            err.print(f"[yellow]channel problem[/yellow] {error}", highlight=False)


def stopped(result: Mapping[str, Any], resume: str) -> int:
    """After a Ctrl-C: say what this run sent and the command that sends the rest; 130 (0 when
    the run was not stopped). The stopped announcements stay ``broadcasting`` until then."""
    if not (result.get("interrupted") or result.get("stopped")):
        return 0
    then = f"Run `{resume}` to send the rest, each recipient once."
    err.print(
        f"Stopped by Ctrl-C. This run: {this_run(result)}. Everything sent is recorded; the "
        f"rest is not sent. {then}",
        highlight=False, soft_wrap=True, markup=False,
    )  # fmt: skip
    return EXIT_INTERRUPTED


def local_failures(result: Mapping[str, Any], resume: str) -> int:
    """1 when this machine could not write what it sends (a full disk), saying which channel
    and file, that nothing is lost, and the command that finishes the job; else 0."""
    local = result.get("local_errors") or []
    if not local:
        return 0
    for error in local:
        err.print(f"[red]error[/red] {error}", highlight=False, soft_wrap=True)
    err.print(
        "Those deliveries were not sent and are still queued: free space (or fix the folder's "
        f"permissions) then run `{resume}` to send them, each recipient once.",
        highlight=False, soft_wrap=True, markup=False,
    )  # fmt: skip
    return 1


def broadcast_exit(result: Mapping[str, Any], resume: str) -> int:
    """A broadcast's answer printed: counts, then a stop or a local failure; its exit code."""
    print_counts(result)
    return stopped(result, resume) or local_failures(result, resume)


def print_idle_sweep() -> None:
    """Nothing for the sweep to look at: said without a flow run (Prefect's start costs seconds)."""
    out.print("Nothing to do: no active incident, no open case, no day pass ended.")


def print_sweep(done: Mapping[str, Mapping[str, int]], warm: bool) -> None:
    """Per incident, what the sweep did."""
    mode = f" ({WARM})" if warm else ""
    if not done:
        out.print(f"Nothing to do: no active incident needs anything.{mode}", highlight=False)
    for ref, actions in done.items():
        listed = ", ".join(f"{k} {v}" for k, v in sorted(actions.items()) if v) or "nothing due"
        out.print(f"{ref}: {listed}", highlight=False)
    if done and mode:
        out.print(mode.strip(), highlight=False)


def print_already_closed(ref: str) -> None:
    """A stand-down of a closed incident, answered before any flow."""
    out.print(f"{ref} was already closed: nothing sent.", highlight=False)


def stopped_waiting(ref: str) -> int:
    """Ctrl-C while serve stands an incident down: serve finishes (an all-clear half sent
    must not close the incident), and the CLI says so; 130."""
    err.print(
        f"Stopped waiting. `crisiscast serve` goes on standing {ref} down; "
        f"`crisiscast status {ref}` shows when it is closed.",
        highlight=False, soft_wrap=True, markup=False,
    )  # fmt: skip
    return EXIT_INTERRUPTED


def print_stand_down(
    result: Mapping[str, Any],
    lines: Sequence[str],
    incident: str,
    hand_over_to: int | None,
    warm: bool,
) -> None:
    """What a stand-down did (``lines``: ``stand_down.describe``) and which urgent cases are
    still open."""
    mode = f" ({WARM})" if warm else ""
    ref = result.get("ref", incident)
    if result.get("already_closed"):
        out.print(f"{ref} was already closed: nothing sent.{mode}", highlight=False)
        if result.get("handed_to") is not None:
            numbers = ", ".join(str(p["id"]) for p in result.get("pressing", [])) or "none"
            out.print(
                f"Open urgent/high cases handed to agent {result['handed_to']}: {numbers}.",
                highlight=False,
            )
        return
    out.print(f"{ref} stood down and closed.{mode}", highlight=False)
    for line in lines:
        out.print(f"  {line}", highlight=False, markup=False)
    pressing = result.get("pressing") or []
    if not pressing:
        return
    out.print(
        f"[yellow]Warning:[/yellow] {len(pressing)} urgent/high cases were still open:",
        highlight=False,
    )
    for case in pressing:
        holder = case.get("holder") or "nobody holds it"
        out.print(f"  case {case['id']} {case['severity']} {case['status']} ({holder})",
                  highlight=False, markup=False)  # fmt: skip
    if hand_over_to is None:
        out.print(
            "  Kept escalating: `crisiscast sweep` (or the scheduled sweep) still pages and "
            f"escalates them. `crisiscast stand-down {ref} --hand-over-to AGENT` gives them to "
            "one agent now.",
            highlight=False,
            markup=False,
        )
