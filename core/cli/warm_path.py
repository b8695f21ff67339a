"""The thin warm path: the commands that run a flow, handed straight to a running ``serve``.

With ``crisiscast serve`` running, ``broadcast``, ``update``, ``all-clear``, ``sweep`` and
``stand-down`` are serve's work: the CLI only has to ask and print the answer. Building the
Typer app for that imports SQLAlchemy, the store, Typer and the commands (about a second on
a loaded machine, plus the store's upgrade check), which made a warm command slower than the
flow it hands over. So the plain forms of those commands go from here to serve over HTTP,
loading only the settings, this module and Rich to print (``answers``: the app's own words);
serve checks the incident, the approval rule and the texts, answers what needs no flow
(unknown incident, already closed, nothing to sweep) without one, and writes the audit entry.

Anything this path does not fully understand runs through the app as before, so its checks
and messages stay the app's: another option or order (``--help``, ``--audience``, ``--list``,
``--announcement``...), no serve (or one that does not answer, or a stale serve.json: the app
says so), a store URL this module does not render, or a serve on another store (the app
refuses it, naming both).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crisiscast.errors import CrisiscastError

if TYPE_CHECKING:  # loaded only once a flow command is recognised: `list` pays nothing here
    from crisiscast.web.warm import ServerInfo

# What an incident or commander argument may be here (serve's bounds: beyond them the app's
# own message is given); anything else the app parses.
_REF = re.compile(r"[^-\s]\S{0,39}")
_COMMANDER = re.compile(r"[^-\s]\S{0,319}")
_MAX_AGENT = 2**31 - 1  # serve's bound on an agent id: beyond it the app's message is given


@dataclass(frozen=True)
class Request:
    """One command as serve takes it: the route, its body, and how the answer is printed."""

    command: str
    path: str
    payload: dict[str, Any]


def run_warm(args: list[str]) -> int | None:
    """The exit code of ``crisiscast ARGS`` run through serve; None when the app must run it."""
    request = parse(args)
    if request is None:
        return None
    server = matching_server()
    if server is None:
        return None
    return answer(server, request)


def parse(args: list[str]) -> Request | None:
    """The request a plain flow command stands for; None for anything else."""
    match args:
        case ["broadcast", ref] if _REF.fullmatch(ref):
            return _broadcast("broadcast", ref, "launch")
        case ["all-clear", ref] if _REF.fullmatch(ref):
            return _broadcast("all-clear", ref, "all_clear")
        case ["update", ref, *options] if _REF.fullmatch(ref) and options:
            return _update(ref, options)
        case ["sweep"]:
            return Request("sweep", "/api/warm/sweep", {"commander": None})
        case ["sweep", "--commander", who] if _COMMANDER.fullmatch(who):
            return Request("sweep", "/api/warm/sweep", {"commander": who})
        case ["stand-down", ref] if _REF.fullmatch(ref):
            return _stand_down(ref, None)
        case ["stand-down", ref, "--hand-over-to", agent] if _REF.fullmatch(ref):
            return _stand_down(ref, agent)
    return None


def _broadcast(command: str, ref: str, when: str) -> Request:
    # The app's defaults for the options not given, so serve runs the same broadcast.
    payload = {"incident": ref, "when": when, "audience": None, "default_region": "US",
               "target": None}  # fmt: skip
    return Request(command, "/api/warm/broadcast", payload)


def _update(ref: str, options: list[str]) -> Request | None:
    """``update INC --text T [--text T ...]``; None for another option or a missing value."""
    texts: list[str] = []
    rest = list(options)
    while rest:
        match rest:
            case ["--text", value, *rest] if not value.startswith("-"):
                texts.append(value)
            case [option, *rest] if option.startswith("--text="):
                texts.append(option.removeprefix("--text="))
            case _:
                return None
    payload = {"incident": ref, "when": "update", "texts": texts}
    return Request("update", "/api/warm/broadcast", payload)


def _stand_down(ref: str, agent: str | None) -> Request | None:
    if agent is not None and not (agent.isascii() and agent.isdigit()
                                  and 1 <= int(agent) <= _MAX_AGENT):  # fmt: skip
        return None
    hand_over_to = int(agent) if agent is not None else None
    return Request("stand-down", "/api/warm/stand-down",
                   {"incident": ref, "hand_over_to": hand_over_to})  # fmt: skip


def matching_server() -> ServerInfo | None:
    """The running serve on this command's own store; None to let the app decide."""
    from crisiscast.config import load_settings
    from crisiscast.web.warm import masked_store_url, probe_server

    try:
        settings = load_settings()
    except CrisiscastError:
        return None  # the app says what is wrong with the settings
    store = masked_store_url(settings.database_url)
    return None if store is None else probe_server(settings.home, store)


def answer(server: ServerInfo, request: Request) -> int:
    """Ask serve and print its answer as the app does; the command's exit code."""
    from crisiscast.cli import answers
    from crisiscast.cli.texts import parse_texts

    payload = dict(request.payload)
    ref = str(payload.get("incident", ""))
    resume = f"crisiscast {'all-clear' if request.command == 'all-clear' else 'broadcast'} {ref}"
    try:
        if request.command == "update":
            payload["texts"] = parse_texts(payload["texts"], None)
        if request.command == "sweep":
            return _sweep(server, payload)
        if request.command == "stand-down":
            return _stand_down_answer(server, payload, ref)
        then = f"`{resume}` sends the rest, each recipient once."
        result = {**hand_over(server, request.path, payload, then), "warm": True}
    except CrisiscastError as exc:
        return answers.print_error(str(exc))
    return answers.broadcast_exit(result, resume)


def _sweep(server: ServerInfo, payload: dict[str, Any]) -> int:
    from crisiscast.cli import answers
    from crisiscast.web.warm import call_server

    try:
        found = call_server(server, "/api/warm/sweep", payload, timeout=None)
    except KeyboardInterrupt:
        return answers.EXIT_INTERRUPTED  # as the app: Typer exits 130 without a word
    if found.get("idle"):
        answers.print_idle_sweep()
    else:
        answers.print_sweep(found.get("done", {}), warm=True)
    return 0


def _stand_down_answer(server: ServerInfo, payload: dict[str, Any], ref: str) -> int:
    from crisiscast.cli import answers
    from crisiscast.web.warm import call_server

    try:
        result = call_server(server, "/api/warm/stand-down", payload, timeout=None)
    except KeyboardInterrupt:
        return answers.stopped_waiting(ref)
    if result.get("flow") is False:  # closed before: no flow ran, as the app answers it
        answers.print_already_closed(str(result.get("ref", ref)))
        return 0
    answers.print_stand_down(result, result.get("lines", []), ref, payload["hand_over_to"],
                             warm=True)  # fmt: skip
    return 0


def hand_over(server: ServerInfo, path: str, payload: dict[str, Any], then: str) -> dict[str, Any]:
    """Hand a broadcast to serve and wait for its answer, however long it sends. A first
    Ctrl-C asks serve to stop at its next batch boundary (the answer then has
    ``interrupted``); a second quits at once, serve still recording the batch in hand.
    ``then``: as for ``interrupt.stop_on_interrupt``, how the rest gets sent."""
    from crisiscast.cli.interrupt import stop_on_interrupt
    from crisiscast.web.warm import call_server

    with stop_on_interrupt(then, on_first=_in_background(server), local=False) as interrupt:
        answer = dict(call_server(server, path, payload, timeout=None))
    answer["interrupted"] = interrupt.requested
    return answer


def _in_background(server: ServerInfo) -> Callable[[], None]:
    """What the first Ctrl-C does: ask serve to stop, without waiting in the signal handler."""

    def ask_stop() -> None:
        from crisiscast.web.warm import call_server

        with suppress(CrisiscastError):
            call_server(server, "/api/warm/stop", {}, timeout=10)

    def start() -> None:
        threading.Thread(target=ask_stop, name="warm-stop", daemon=True).start()

    return start
