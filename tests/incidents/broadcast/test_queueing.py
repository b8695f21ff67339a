"""Reading back what an interrupted shard wrote to the outbox after its mark."""

from __future__ import annotations

import json
from pathlib import Path

from crisiscast.incidents.broadcast.ledger import QueuedDelivery, contact_key
from crisiscast.incidents.broadcast.queueing import outbox_rows_after


def _line(incident: int, announcement: int, channel: str, contact: int) -> bytes:
    key = contact_key(incident, announcement, channel, contact)
    return (
        json.dumps({"key": key, "address": f"+6681000{contact:04d}", "text": "t"}) + "\n"
    ).encode()


def test_only_this_shards_whole_lines_after_the_mark_are_read(tmp_path: Path) -> None:
    """Lines of other shards, channels and incidents, the part of a line the mark falls inside,
    and a line torn by a kill are all left out."""
    before = _line(1, 5, "sms", 3)  # this shard's range, but written before the mark
    neighbour = _line(1, 5, "sms", 150)  # another shard of the same file
    mine = [_line(1, 5, "sms", 7), _line(1, 6, "sms", 8)]  # two languages of one announcement
    other_channel = _line(1, 5, "email", 9)
    other_incident = _line(2, 5, "sms", 10)
    torn = _line(1, 5, "sms", 11)[:-9]
    path = tmp_path / "sms.jsonl"
    path.write_bytes(before + neighbour + mine[0] + other_channel + other_incident + mine[1] + torn)
    mark = len(before) + 10  # inside the neighbour's line: another shard was mid-write

    rows = outbox_rows_after(path, mark, 1, "sms", (1, 100))

    assert rows == [
        QueuedDelivery(contact_key(1, 5, "sms", 7), 1, 5, "sms", 7, "+66810000007"),
        QueuedDelivery(contact_key(1, 6, "sms", 8), 1, 6, "sms", 8, "+66810000008"),
    ]


def test_a_mark_at_a_line_start_reads_that_line(tmp_path: Path) -> None:
    first = _line(1, 5, "sms", 7)
    path = tmp_path / "sms.jsonl"
    path.write_bytes(_line(1, 5, "sms", 150) + first)
    rows = outbox_rows_after(path, len(_line(1, 5, "sms", 150)), 1, "sms", (1, 100))
    assert [r.contact_id for r in rows] == [7]


def test_a_missing_outbox_file_has_nothing_to_reconcile(tmp_path: Path) -> None:
    assert outbox_rows_after(tmp_path / "sms.jsonl", 0, 1, "sms", (1, 100)) == []


def test_a_line_continuing_a_killed_writers_torn_line_is_still_read(tmp_path: Path) -> None:
    """Runners on several workers share the file: one killed mid-write leaves a torn line
    that the next writer's line continues; that line is whole and is read back."""

    def compact(contact: int) -> bytes:  # as the outbox writes lines: no spaces
        key = contact_key(1, 5, "sms", contact)
        return f'{{"key":"{key}","address":"+668100000{contact:02d}","text":"t"}}\n'.encode()

    path = tmp_path / "sms.jsonl"
    path.write_bytes(compact(11) + compact(11)[:-9] + compact(12))
    rows = outbox_rows_after(path, 0, 1, "sms", (1, 100))
    assert [r.contact_id for r in rows] == [11, 12]
