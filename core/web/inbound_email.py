"""SendGrid Inbound Parse posts, read without holding up anything else.

A post can be 30 MB (mostly attachments). The body is parsed as it arrives (python-multipart's
streaming parser: about 10 ms of CPU for 5 MB, in slices of one network read each), keeping only
the few text fields intake uses; attachments and the other fields are counted and dropped, never
held. What is kept is bounded (``TEXT_LIMIT``), and decoding it (like the webhook's work on it:
header parsing, digest, the agent-command line) runs in a worker thread: the event loop that
answers SMS is never busy for more than one slice.
"""

from __future__ import annotations

import json

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from crisiscast.web.request_checks import MAX_FIELDS, BadRequest

BODY_LIMIT = 30 * 1024 * 1024  # SendGrid's own ceiling for an Inbound Parse post
TEXT_LIMIT = 5 * 1024 * 1024  # the fields kept, together
# What intake and the sender check (``sender_auth``) read; the rest (html, attachments) is dropped.
KEPT = frozenset(
    {"from", "subject", "text", "headers", "charsets", "envelope", "dkim", "SPF", "spf"}
)


class _Fields:
    """Callbacks for ``MultipartParser``: the wanted fields' bytes, everything else counted."""

    def __init__(self) -> None:
        self.fields: dict[str, bytearray] = {}
        self.parts = 0
        self.kept = 0
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._disposition = b""
        self._current: bytearray | None = None

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda data, start, end: self._header_field.extend(data[start:end]),
            "on_header_value": lambda data, start, end: self._header_value.extend(data[start:end]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
        }

    def _part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_FIELDS:
            raise BadRequest(400, f"more than {MAX_FIELDS} parts in the multipart body")
        self._disposition, self._current = b"", None

    def _header_end(self) -> None:
        if bytes(self._header_field).strip().lower() == b"content-disposition":
            self._disposition = bytes(self._header_value)
        self._header_field.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        kind, options = parse_options_header(self._disposition)
        name = options.get(b"name", b"").decode("latin-1")
        if kind == b"form-data" and b"filename" not in options and name in KEPT:
            self._current = self.fields.setdefault(name, bytearray())

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._current is None:
            return  # an attachment or a field intake does not use: dropped as it streams by
        self.kept += end - start
        if self.kept > TEXT_LIMIT:
            raise BadRequest(413, f"the email's text is over the {TEXT_LIMIT}-byte limit")
        self._current.extend(data[start:end])


async def read_inbound_parse(request: Request) -> dict[str, str]:
    """The text fields of an Inbound Parse post, decoded with the charsets SendGrid names.

    415 for another content type, 413 over the limits, 400 for a malformed body.
    """
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    if kind != b"multipart/form-data":
        raise BadRequest(415, "Inbound Parse posts multipart/form-data")
    boundary = options.get(b"boundary")
    if not boundary:
        raise BadRequest(400, "the multipart content type has no boundary")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > BODY_LIMIT:
        raise BadRequest(413, f"body of {declared} bytes is over the {BODY_LIMIT}-byte limit")
    sink = _Fields()
    parser = MultipartParser(boundary, sink.callbacks())  # type: ignore[arg-type]
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > BODY_LIMIT:
                raise BadRequest(413, f"body is over the {BODY_LIMIT}-byte limit")
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as exc:
        raise BadRequest(400, f"malformed multipart body: {exc}") from None
    if sink.parts == 0:
        raise BadRequest(400, "malformed multipart body: no parts")
    return await run_in_threadpool(_decode, sink.fields)


def _decode(raw: dict[str, bytearray]) -> dict[str, str]:
    """Each field in the charset SendGrid reports for it (UTF-8 otherwise); bad bytes as U+FFFD."""
    try:
        charsets = json.loads(bytes(raw.get("charsets", b"{}")) or b"{}")
    except ValueError:
        charsets = {}
    fields = {}
    for name, value in raw.items():
        charset = charsets.get(name) if isinstance(charsets, dict) else None
        try:
            fields[name] = value.decode(charset if isinstance(charset, str) else "utf-8", "replace")
        except LookupError:  # a charset Python does not know
            fields[name] = value.decode("utf-8", "replace")
    return fields
