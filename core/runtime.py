"""Process-wide setup before Prefect is imported: quiet, offline-friendly defaults.

Prefect reads its settings from the environment when first imported, so these defaults must be
set before any ``import prefect``. A user's own PREFECT_* settings always win.
"""

from __future__ import annotations

import logging
import os

_QUIET_DEFAULTS = {
    # No telemetry: crisis tooling often runs on closed networks, and it logs an ERROR there.
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    # The CLI prints its own summary; Prefect's INFO lines would drown it.
    "PREFECT_LOGGING_LEVEL": "WARNING",
    # Prefect gives its temporary API 20 s to start; on a busy 2-core machine (load 8-10) it
    # took longer and `crisiscast demo` / `launch` failed with "Timed out while attempting to
    # connect to ephemeral Prefect API server". A launch in a crisis should wait, not fail.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
}

# Loggers whose messages at interpreter shutdown are noise to a commander (the ephemeral API
# stopping while events are still in flight): they never change what was recorded.
_SHUTDOWN_NOISE = (
    "prefect.events.clients",
    "prefect.events.worker",
    "prefect._internal.concurrency",
    "prefect.server",
    "uvicorn.error",
)


def prepare_prefect(verbose: bool = False) -> None:
    """Set quiet Prefect defaults; call before importing anything that imports prefect."""
    for key, value in _QUIET_DEFAULTS.items():
        if key == "PREFECT_LOGGING_LEVEL" and verbose:
            continue
        os.environ.setdefault(key, value)


def quiet_run_loggers() -> None:
    """The CLI reports a failed run itself, in one line; Prefect's copy is a long traceback.

    The failure is still recorded in Prefect (state and logs in its UI); only the console
    copy is dropped.
    """
    for name in ("prefect.flow_runs", "prefect.task_runs"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def silence_shutdown_noise() -> None:
    """Drop Prefect's end-of-process event-flush errors, which say nothing about our data."""
    for name in _SHUTDOWN_NOISE:
        logging.getLogger(name).setLevel(logging.CRITICAL)
