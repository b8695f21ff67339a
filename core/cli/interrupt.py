"""Ctrl-C during a command that sends: the first stops sending, the second quits at once.

A terminal's Ctrl-C goes to the whole foreground process group. Prefect's temporary API server
is a child of this process and used to die with it, so the flow, still running, spent minutes
failing to reach it ("Unable to connect to ws://127.0.0.1:..."), while its shards went on
sending. Now the server runs in its own session (``detach_prefect_server``), and the first
Ctrl-C only sets ``sending.STOP``: every shard stops at its next batch boundary, after the batch
in hand is recorded in the ledger, and the flow ends normally with what this run sent. The
second Ctrl-C stops Prefect's server and exits 130 on the spot; the ledger still holds (each
batch is recorded before the next begins, see ``sending``), so a resume sends each recipient
once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell expects of a command stopped by Ctrl-C


class _OwnSession(types.ModuleType):
    """``subprocess`` as Prefect's server module sees it: ``Popen`` starts the child in a session
    of its own, out of reach of the terminal's Ctrl-C (and so of our first interrupt)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(subprocess, name)

    @staticmethod
    def Popen(*args: Any, **kwargs: Any) -> subprocess.Popen[Any]:
        kwargs.setdefault("start_new_session", True)
        return subprocess.Popen(*args, **kwargs)  # noqa: S603  (Prefect's own command)


def detach_prefect_server() -> None:
    """Start Prefect's temporary API server (when it is started) in its own session.

    The flow needs that server until it ends, to record how its tasks ended. It is still stopped
    at exit (Prefect's atexit hook) or, on a second Ctrl-C, by ``stop_prefect_server``; and when
    the terminal closes (SIGHUP, which no longer reaches it), by ``_hang_up``.
    """
    from prefect.server.api import server

    if not isinstance(vars(server).get("subprocess"), _OwnSession):
        setattr(server, "subprocess", _OwnSession("subprocess"))  # noqa: B010  (module global)
    if _main_thread() and signal.getsignal(signal.SIGHUP) is signal.SIG_DFL:
        signal.signal(signal.SIGHUP, _hang_up)


def _main_thread() -> bool:
    """Signal handlers can only be set from the main thread."""
    return threading.current_thread() is threading.main_thread()


def _hang_up(signum: int, frame: object) -> None:
    """The terminal is gone: stop Prefect's server with us, as the default action would have."""
    stop_prefect_server()
    os._exit(128 + signum)


def stop_prefect_server() -> None:
    """Kill Prefect's temporary API server: a detached child would outlive ``os._exit``."""
    server = sys.modules.get("prefect.server.api.server")
    if server is None:
        return
    for instance in list(server.SubprocessASGIServer._instances.values()):
        process = getattr(instance, "server_process", None)
        if process is not None and process.poll() is None:
            process.kill()


@dataclass
class Interrupt:
    """What the first Ctrl-C asked for, read by the command once its flow has returned."""

    requested: bool = False


def _say(text: str) -> None:
    """Write straight to stderr: a signal handler must not wait on rich's console lock."""
    with suppress(OSError):
        os.write(2, text.encode())


@contextmanager
def stop_on_interrupt(
    then: str, on_first: Callable[[], None] | None = None, local: bool = True
) -> Iterator[Interrupt]:
    """While sending: the first SIGINT sets ``STOP`` and says so; a second (or a SIGHUP, the
    terminal gone) stops Prefect's server and exits 130 (129) at once. ``then`` says how the
    rest gets sent, e.g. "`crisiscast broadcast INC-3` sends the rest, each recipient once.".
    ``on_first`` also runs at the first SIGINT: a warm command asks serve to stop there; it
    must return at once (it runs in the signal handler). ``local`` False: the flow runs in
    serve, so there is no ``STOP`` here to set (nor the store's modules to load for it)."""
    interrupt = Interrupt()
    stop = _local_stop() if local else threading.Event()
    stop.clear()
    if not _main_thread():  # not from a shell: nothing to catch
        yield interrupt
        return

    def first(signum: int, frame: object) -> None:
        if interrupt.requested:
            _say(f"\nInterrupted again: quitting now. {then}\n")
            stop_prefect_server()
            os._exit(EXIT_INTERRUPTED)
        interrupt.requested = True
        stop.set()
        if on_first is not None:
            on_first()
        _say("\nStopping after the current batch is recorded (Ctrl-C again quits at once)...\n")

    previous_int = signal.signal(signal.SIGINT, first)
    previous_hup = signal.signal(signal.SIGHUP, _hang_up)
    try:
        yield interrupt
    finally:
        signal.signal(signal.SIGINT, previous_int)
        signal.signal(signal.SIGHUP, previous_hup)
        stop.clear()


def _local_stop() -> threading.Event:
    """The flag every shard of a broadcast running in this process checks between batches."""
    from crisiscast.incidents.broadcast.sending import STOP

    return STOP
