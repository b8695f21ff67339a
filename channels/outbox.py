"""The outbox: records exactly what would be sent, one JSON Lines file per channel kind.

The default whenever a channel has no credentials, and the way a commander previews a broadcast.
It must keep up with a million-recipient broadcast, so: one open file per channel kind, one
``write`` per batch, the rendered content of each distinct text serialised once, no fsync.

One line per message::

    {"key": ..., "address": ..., "language": ..., "subject": ..., "text": ..., "html": ...,
     "segments": 1, "encoding": "gsm7"}

plus ``"parts": [...]`` when the channel would send more than one body (an X thread) or a
body that differs from ``text`` (truncated). The file holds recipients' addresses because it is
the record of what the provider would have received; it is created readable by its owner only.

A broadcast records its batches with ``record_shared`` (one content, many recipients). For
email (long text, maybe HTML) each distinct content is written once to
``<medium>.contents.jsonl`` (``{"content": id, "subject": ..., "text": ..., "html": ...}``)
and the recipient's line holds only ``{"key", "address", "language", "content": id}`` (a
1M-recipient email broadcast: ~80 MB instead of ~2.6 GB). The contents line
is flushed before any line that names it, so a SIGKILL never leaves a line without its content.
``read_outbox`` gives back the full message either way.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from json.encoder import encode_basestring
from pathlib import Path
from typing import IO, ClassVar

from crisiscast.channels.base import (
    Channel,
    ChannelKind,
    DeliveryResult,
    OutgoingMessage,
    PreparedMessage,
)
from crisiscast.errors import LocalWriteError, PermanentChannelError

Preparer = Callable[[OutgoingMessage], PreparedMessage]

SHARED_MEDIA = frozenset({"email"})  # long bodies: recorded once per content by record_shared
_CACHE_LIMIT = 4096  # distinct (language, subject, text, html) contents kept serialised


def single_part(message: OutgoingMessage) -> PreparedMessage:
    """The default preparation: the text goes out as it is, in one part."""
    return PreparedMessage(message=message, parts=(message.text,), segments=1, encoding="utf-8")


def outbox_path(directory: Path, medium: ChannelKind) -> Path:
    """Where the outbox for ``medium`` lives: ``<directory>/<medium>.jsonl``."""
    return directory / f"{medium}.jsonl"


def contents_path(path: Path) -> Path:
    """Where the shared contents of the outbox file ``path`` live: ``<medium>.contents.jsonl``."""
    return path.with_name(f"{path.stem}.contents.jsonl")


def _read_contents(path: Path) -> dict[str, dict[str, object]]:
    contents: dict[str, dict[str, object]] = {}
    if path.is_file():
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                if line.strip():
                    record = json.loads(line)
                    contents[str(record.pop("content"))] = record
    return contents


def read_outbox(path: Path) -> Iterator[dict[str, object]]:
    """Yield the recorded messages of one outbox file, oldest first, each in full (a line
    that names a shared content gets that content's fields back)."""
    contents: dict[str, dict[str, object]] | None = None
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if not line.strip():
                continue
            record = json.loads(line)
            content_id = record.pop("content", None)
            if content_id is not None:
                if contents is None or content_id not in contents:
                    contents = _read_contents(contents_path(path))
                if content_id not in contents:
                    raise PermanentChannelError(
                        f"outbox {path}: a line names content {content_id!r}, which "
                        f"{contents_path(path)} does not hold; restore that file from the same run."
                    )
                record = {**record, **contents[content_id], "language": record["language"]}
            yield record


class OutboxChannel(Channel):
    """Records what the ``medium`` channel would send, instead of sending it."""

    kind: ClassVar[ChannelKind] = "outbox"
    name: ClassVar[str] = "outbox"
    # A broadcast batch is one transaction; 50k rather than 10k contacts per batch lets the
    # ledger insert and the writing of lines overlap longer (1M x 2: about 1.5 s less).
    batch_size: ClassVar[int] = 50_000
    rate_per_second: ClassVar[float | None] = None
    needs_address: ClassVar[bool] = False

    def __init__(
        self, medium: ChannelKind, directory: Path, *, preparer: Preparer | None = None
    ) -> None:
        self.medium: ChannelKind = medium
        self.path = outbox_path(directory, medium)
        self._preparer = preparer or single_part
        self._file: IO[bytes] | None = None
        self._offset = 0
        self._lock = threading.Lock()
        self._fragments: dict[tuple[str, str | None, str, str | None], str] = {}
        self._shared: dict[tuple[str, str | None, str, str | None], str] = {}  # -> line prefix

    def to_url(self, redact: bool = True) -> str:
        """``outbox://<medium>/<path>``: nothing secret to hide."""
        return f"outbox://{self.medium}/{self.path}"

    def prepare(self, message: OutgoingMessage) -> PreparedMessage:
        """The medium's own preparation, so the outbox shows the same segments and parts."""
        return self._preparer(message)

    def send(self, batch: Sequence[OutgoingMessage]) -> list[DeliveryResult]:
        """Append one line per message with a single write; results point at each line."""
        lines = [self._line(message) for message in batch]
        start = self._append(lines)
        results = []
        prefix = f"outbox:{self.medium}:"
        for message, encoded in zip(batch, lines, strict=True):
            results.append(DeliveryResult(message.key, "sent", f"{prefix}{start}"))
            start += len(encoded)
        return results

    def _line(self, message: OutgoingMessage) -> bytes:
        # encode_basestring is json.dumps(s, ensure_ascii=False) without its per-call setup.
        quote = encode_basestring
        address = "null" if message.address is None else quote(message.address)
        line = f'{{"key":{quote(message.key)},"address":{address},{self._fragment(message)}}}\n'
        return line.encode("utf-8")

    def record_shared(
        self, content: OutgoingMessage, recipients: Sequence[tuple[str, str | None]]
    ) -> int:
        """Record one content for many recipients, ``(key, address)`` each, with one write;
        return how many were recorded. ``content`` gives the message (its own key and address
        are not used).

        Email lines name their content, written once to ``<medium>.contents.jsonl``; other
        media (short bodies) are recorded in full, as ``send`` does. No per-message results:
        the caller records the batch in the ledger as a whole.
        """
        if not recipients:
            return 0
        shared = self.medium in SHARED_MEDIA
        tail = f",{self._shared_fragment(content) if shared else self._fragment(content)}}}\n"
        quote = encode_basestring
        text = "".join(
            f'{{"key":{quote(key)},"address":{"null" if address is None else quote(address)}{tail}'
            for key, address in recipients
        )
        self._append([text.encode()])
        return len(recipients)

    def _shared_fragment(self, message: OutgoingMessage) -> str:
        """``"language": ..., "content": id`` for a message, writing its content once first."""
        content = (message.language, message.subject, message.text, message.html)
        fragment = self._shared.get(content)
        if fragment is None:
            full = self._fragment(message)
            content_id = hashlib.sha256(full.encode()).hexdigest()[:16]
            line = f'{{"content":"{content_id}",{full}}}\n'.encode()
            self._write_content(line)
            fragment = f'"language":{encode_basestring(message.language)},"content":"{content_id}"'
            self._shared[content] = fragment
        return fragment

    def _write_content(self, line: bytes) -> None:
        """Append one shared content, flushed before any recipient line names it."""
        path = contents_path(self.path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "ab") as handle:
                handle.write(line)
        except OSError as exc:
            raise LocalWriteError(
                f"outbox {path}: cannot write ({exc.strerror or exc}); "
                "check free disk space and permissions on the outbox directory."
            ) from exc

    def _append(self, lines: list[bytes]) -> int:
        """Write the lines at the end of the file; return the byte offset of the first."""
        with self._lock:
            handle = self._open()
            start = self._offset
            try:
                handle.write(b"".join(lines))
                handle.flush()
            except OSError as exc:
                with contextlib.suppress(OSError):  # the write error above is the one to report
                    handle.close()
                self._file = None
                raise LocalWriteError(
                    f"outbox {self.path}: cannot write ({exc.strerror or exc}); "
                    "check free disk space and permissions on the outbox directory."
                ) from exc
            self._offset += sum(len(line) for line in lines)
            return start

    def size(self) -> int:
        """Bytes in the outbox file now, 0 before it exists: no line written after this call
        starts before it (every write is flushed before ``send`` returns)."""
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def close(self) -> None:
        """Close the file; a later ``send`` reopens it and appends."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def _open(self) -> IO[bytes]:
        if self._file is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            except OSError as exc:
                raise LocalWriteError(
                    f"outbox {self.path}: cannot open ({exc.strerror or exc}); set CRISISCAST_HOME "
                    "to a writable directory."
                ) from exc
            self._file = os.fdopen(fd, "ab", buffering=1 << 20)
            self._offset = self._file.tell()
        return self._file

    def _fragment(self, message: OutgoingMessage) -> str:
        """The JSON members shared by every message with the same content, serialised once."""
        content = (message.language, message.subject, message.text, message.html)
        fragment = self._fragments.get(content)
        if fragment is None:
            if len(self._fragments) >= _CACHE_LIMIT:
                self._fragments.clear()
            prepared = self._preparer(message)
            fields: dict[str, object] = {
                "language": message.language,
                "subject": message.subject,
                "text": message.text,
                "html": message.html,
                "segments": prepared.segments,
                "encoding": prepared.encoding,
            }
            if prepared.parts != (message.text,):
                fields["parts"] = list(prepared.parts)
            fragment = json.dumps(fields, ensure_ascii=False)[1:-1]
            self._fragments[content] = fragment
        return fragment
