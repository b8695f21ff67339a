"""One writer thread for the webhooks: concurrent requests share commits (group commit).

Under a burst, every request handled in its own worker thread and transaction fights for the
database's write lock (SQLite's busy handler sleeps while it waits: seconds of tail latency
at a few hundred requests per second). Here the event loop hands each message to a single
writer thread, which takes every message waiting at that moment and passes them to
``Intake.receive_each``: two commits for the whole batch. Each request still answers only
after its own message is committed, so "stored before 2xx" holds exactly as before. The
messages of a batch come from different people, so one that fails fails alone: the batch is
redone message by message and each request gets its own result or its own exception (only a
store that cannot be reached fails every request of the batch, with the 503 providers retry).

The thread starts on the first message and ends after a few idle seconds, so an app that is
built and dropped (tests, reloads) leaves nothing running. ``Batcher`` is the same machinery
for any per-request question better asked once per batch (the webhooks' "is this sender an
agent?": one indexed read for everyone waiting instead of a transaction each).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from crisiscast.incidents.intake.inbound import Intake, IntakeResult, Pending

log = logging.getLogger(__name__)

MAX_BATCH = 64
IDLE_SECONDS = 5.0

T = TypeVar("T")
R = TypeVar("R")
_Item = tuple[T, asyncio.AbstractEventLoop, "asyncio.Future[R]"]


class Batcher(Generic[T, R]):
    """One thread answering, in batches, for whatever is waiting when it looks: ``await
    submit(item)`` returns ``process([... item ...])``'s answer for it (or raises its error)."""

    def __init__(
        self,
        process: Callable[[list[T]], list[R | Exception]],
        *,
        max_batch: int = MAX_BATCH,
        name: str = "crisiscast-batcher",
    ) -> None:
        self.process = process
        self.max_batch = max_batch
        self.name = name
        self._queue: queue.SimpleQueue[_Item[T, R]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    async def submit(self, item: T) -> R:
        """Queue one item for the thread and wait for its result (or its exception)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._queue.put((item, loop, future))
        self._ensure_thread()
        return await future

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
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
            self._answer(batch)

    def _answer(self, batch: list[_Item[T, R]]) -> None:
        """Process a batch and hand every waiting request its own result or the error."""
        try:
            results = self.process([item for item, _, _ in batch])
        except BaseException as exc:  # handed to every waiting request, which answers for it
            for _, loop, future in batch:
                loop.call_soon_threadsafe(_fail, future, exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, loop, future), result in zip(batch, results, strict=True):
            if isinstance(result, Exception):
                loop.call_soon_threadsafe(_fail, future, result)
            else:
                loop.call_soon_threadsafe(_succeed, future, result)


class IntakeQueue(Batcher[Pending, IntakeResult]):
    """``await submit(pending)`` returns once the message is committed and processed."""

    def __init__(
        self, intake: Intake, *, max_batch: int = MAX_BATCH, name: str = "crisiscast-intake"
    ) -> None:
        super().__init__(intake.receive_each, max_batch=max_batch, name=name)
        self.intake = intake


def _succeed(future: asyncio.Future[R], result: R) -> None:
    if not future.done():
        future.set_result(result)


def _fail(future: asyncio.Future[R], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
