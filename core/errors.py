"""Project exceptions. Every message says what is wrong and what to do about it.

CrisiscastError
├── ConfigError              settings or credentials are missing or malformed
├── PlaybookError            a playbook cannot be used (carries every problem found)
├── StoreError               the incident store cannot be reached or is out of date
│   └── NotFoundError        an incident, case or agent id that does not exist
└── ChannelError             a whole channel failed (per-recipient failures are data, not errors)
    ├── RetryableChannelError   try again later (429, 5xx, timeout)
    ├── PermanentChannelError   retrying will not help (bad credentials, bad sender)
    └── LocalWriteError         this machine could not write (disk full, permissions): fix, rerun
"""

from __future__ import annotations

from dataclasses import dataclass


class CrisiscastError(Exception):
    """Base class: the CLI prints these as one clear message, never a traceback."""


class ConfigError(CrisiscastError):
    """A setting or credential is missing or malformed."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file, located precisely enough to fix it."""

    file: str
    line: int | None
    column: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        key = f" {self.path}:" if self.path else ""
        return f"{where}:{key} {self.message}"


class PlaybookError(CrisiscastError):
    """A playbook failed validation; ``problems`` lists every issue found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class StoreError(CrisiscastError):
    """The incident store failed or needs an upgrade."""


class NotFoundError(StoreError):
    """An id that names nothing in the store."""


class AccessError(CrisiscastError):
    """Who you are could not be established, or your role may not do this (401/403)."""

    def __init__(self, message: str, *, signed_in: bool = True) -> None:
        super().__init__(message)
        self.signed_in = signed_in  # False: no or bad credentials (401); True: no right (403)


class ApprovalPending(CrisiscastError):
    """Nothing ran: the playbook needs a second person's approval, now requested."""

    def __init__(self, message: str, approval_id: int) -> None:
        super().__init__(message)
        self.approval_id = approval_id


class ChannelError(CrisiscastError):
    """A whole channel could not send; individual recipients' failures are returned as results."""


class RetryableChannelError(ChannelError):
    """Transient: rate limited, provider 5xx or a timeout. Safe to retry with backoff."""


class PermanentChannelError(ChannelError):
    """Retrying will not help: fix the configuration named in the message."""


class LocalWriteError(ChannelError):
    """This machine could not record what it sends (a full disk, a read-only folder): nothing
    left it, so the deliveries stay queued and the broadcast run again after the fix sends
    them. Not retried within the run (the disk does not free itself), never a failed delivery."""
