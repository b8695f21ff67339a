"""One writer thread for the webhooks: concurrent requests share commits (group commit).

Under a burst, every request handled in its own worker thread and transaction fights for the
database's write lock (SQLite's busy handler sleeps while it waits: seconds of tail latency
at a few hundred requests per second). Here the event loop hands each message to a single
writer thread, which takes every message waiting at that moment and passes them to
``Intake.receive_many``: two commits for the whole batch. Each request still answers only
after its own message is committed, so "stored before 2xx" holds exactly as before.

The thread starts on the first message and ends after a few idle seconds, so an app that is
built and dropped (tests, reloads) leaves nothing running.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading

from crisiscast.incidents.intake.inbound import Intake, IntakeResult, Pending

log = logging.getLogger(__name__)

MAX_BATCH = 64
IDLE_SECONDS = 5.0

_Item = tuple[Pending, asyncio.AbstractEventLoop, "asyncio.Future[IntakeResult]"]


class IntakeQueue:
    """``await submit(pending)`` returns once the message is committed and processed."""

    def __init__(self, intake: Intake, *, max_batch: int = MAX_BATCH) -> None:
        self.intake = intake
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    async def submit(self, pending: Pending) -> IntakeResult:
        """Queue one message for the writer and wait for its result (or its exception)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[IntakeResult] = loop.create_future()
        self._queue.put((pending, loop, future))
        self._ensure_writer()
        return await future

    def _ensure_writer(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="crisiscast-intake", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():
                        self._thread = None
                        return
                continue
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._write(batch)

    def _write(self, batch: list[_Item]) -> None:
        """Process a batch and hand every waiting request its own result or the error."""
        try:
            results = self.intake.receive_many([pending for pending, _, _ in batch])
        except BaseException as exc:  # handed to every waiting request, which answers for it
            for _, loop, future in batch:
                loop.call_soon_threadsafe(_fail, future, exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, loop, future), result in zip(batch, results, strict=True):
            loop.call_soon_threadsafe(_succeed, future, result)


def _succeed(future: asyncio.Future[IntakeResult], result: IntakeResult) -> None:
    if not future.done():
        future.set_result(result)


def _fail(future: asyncio.Future[IntakeResult], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
