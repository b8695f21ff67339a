"""The outbox's broadcast path: each delivery written to the ledger once, after its line.

A shard walks its contacts a batch at a time. In one store transaction (on SQLite the write
lock, ``BEGIN IMMEDIATE``) it reads the batch, writes the outbox lines, and inserts the batch
into the ledger as sent (opted-out contacts as suppressed). Before its first line it records
an outbox mark, the file's size, so a run killed between a write and its commit is finished by
the next run from the file (``queueing.reconcile_marks``), never written twice.

A batch first checks the ledger for its keys (one index probe per message when none are
there), under a lock on the incident's channel, so a rerun or a second run started by mistake
sends only what nobody recorded. Queueing every row first and marking it sent afterwards wrote
each row twice; this path records 1M contacts x 2 channels in about the time of a raw insert.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from crisiscast.channels.base import OutgoingMessage
from crisiscast.channels.outbox import OutboxChannel
from crisiscast.errors import ChannelError
from crisiscast.incidents.audience.optout import OPTED_OUT, opted_out_addresses
from crisiscast.incidents.broadcast import ledger as lg
from crisiscast.incidents.broadcast.decisions import Content, Reach, Recipients, split_batch
from crisiscast.incidents.broadcast.outbox_marks import add_mark, remove_mark
from crisiscast.incidents.broadcast.queueing import contacts_page, is_recalled

Sessions = Callable[[], AbstractContextManager[Session]]


def _insert(
    session: Session, incident_id: int, channel: str, recipients: Recipients, status: str,
    error: str | None,
) -> int:  # fmt: skip
    now = datetime.now(UTC)
    added = 0
    for row, pairs in recipients.items():
        added += lg.insert_for_contacts(session, incident_id, row, channel, pairs, now=now,
                                        status=status, error=error)  # fmt: skip
    return added


def _key_range(
    incident_id: int, row: int, channel: str, pairs: list[tuple[int, str | None]]
) -> tuple[str, str]:
    """The lowest and highest key (string order) of contacts given in ascending id order."""
    first = lg.contact_key(incident_id, row, channel, pairs[0][0])
    last = lg.contact_key(incident_id, row, channel, pairs[-1][0])
    if len(first) == len(last):  # padded to the same width: string order is id order
        return first, last
    keys = lg.contact_keys(incident_id, row, channel, (contact for contact, _ in pairs))
    return min(keys), max(keys)


def _unwritten(session: Session, incident_id: int, channel: str, batch: Recipients) -> Recipients:
    """Of a batch, the recipients the ledger has no row for. Usually all of them, which one
    index probe per message shows; otherwise (a run after an interrupted one, or two runs at
    once) each key is looked up."""
    if not any(lg.any_key_between(session, *_key_range(incident_id, row, channel, pairs))
               for row, pairs in batch.items() if pairs):  # fmt: skip
        return batch
    keys = {row: lg.contact_keys(incident_id, row, channel, (c for c, _ in pairs))
            for row, pairs in batch.items()}  # fmt: skip
    found = lg.existing_statuses(session, [k for ks in keys.values() for k in ks])
    return {
        row: [pair for pair, key in zip(pairs, keys[row], strict=True) if key not in found]
        for row, pairs in batch.items()
    }


class OutboxShard:
    """One shard of one per-recipient channel, recorded to the outbox a batch at a time."""

    def __init__(
        self, sessions: Sessions, incident_id: int, reach: Reach, bounds: tuple[int, int],
        channel: OutboxChannel, contents: dict[str, Content], default_language: str,
    ) -> None:  # fmt: skip
        self.sessions = sessions
        self.incident_id = incident_id
        self.reach = reach
        self.bounds = bounds
        self.channel = channel
        self.contents = contents
        self.default = default_language
        self.templates = {c.row_id: OutgoingMessage("", None, c.language, c.text, c.subject,
                                                    c.html) for c in contents.values()}  # fmt: skip
        self.sent = self.suppressed = self.seen = self.queued = 0
        self.recalled = False

    def run(self, size: int) -> None:
        """Send every batch that the ledger does not already have.

        A channel failure (disk full, say) stops the shard and is raised: the failed batch is
        rolled back and recorded queued, and the mark stays, so the next run reads back what
        was written and sends the rest.
        """
        name = self.reach.channel
        with self.sessions() as session:
            quiet_addresses = opted_out_addresses(session, name)
            mark = add_mark(session, self.incident_id, name, self.bounds, self.channel.size(),
                            now=datetime.now(UTC))  # fmt: skip
        after = self.bounds[0] - 1
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger-insert") as inserter:
            while True:
                send: Recipients = {}
                try:
                    with self.sessions() as session:
                        lg.lock_channel(session, self.incident_id, name)
                        page = contacts_page(session, self.reach, after, self.bounds[1], size)
                        if not page:
                            remove_mark(session, mark)
                            return
                        send, quiet = split_batch(page, self.contents, self.default,
                                                  quiet_addresses)  # fmt: skip
                        send = _unwritten(session, self.incident_id, name, send)
                        quiet = _unwritten(session, self.incident_id, name, quiet)
                        self._batch(session, send, quiet, inserter)
                except ChannelError:
                    with self.sessions() as session:
                        self.queued = _insert(session, self.incident_id, name, send, "queued",
                                              None)  # fmt: skip
                    raise
                after = page[-1][0]
                self.seen += len(page)

    def _batch(
        self, session: Session, send: Recipients, quiet: Recipients, inserter: Executor
    ) -> None:
        """Write and record one batch, all in ``session``'s transaction.

        The ledger insert runs on ``inserter``'s thread while this one writes the outbox lines:
        SQLite and psycopg release the GIL while they work, so the two overlap (1M x 2: about
        1.5 s less). This thread leaves the session alone until the insert is done, and the
        transaction commits only after both, so a line is still on disk before its row.
        """
        name = self.reach.channel
        if self.recalled or is_recalled(session, list(self.templates)):
            self.recalled = True  # the rest is recorded, not sent
            self.suppressed += _insert(session, self.incident_id, name, send, "suppressed",
                                       lg.RECALLED)  # fmt: skip
        else:
            inserted = inserter.submit(_insert, session, self.incident_id, name, send, "sent",
                                       None)  # fmt: skip
            try:
                for row, pairs in send.items():
                    keys = lg.contact_keys(self.incident_id, row, name, [c for c, _ in pairs])
                    recipients = list(zip(keys, [a for _, a in pairs], strict=True))
                    self.channel.record_shared(self.templates[row], recipients)
            finally:
                wait([inserted])  # the session is this thread's again before it goes on
            self.sent += inserted.result()
        self.suppressed += _insert(session, self.incident_id, name, quiet, "suppressed", OPTED_OUT)
