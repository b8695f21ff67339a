"""The outbox records exactly what would be sent, fast, one JSON Lines file per kind."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from crisiscast.channels.base import OutgoingMessage
from crisiscast.channels.outbox import OutboxChannel, outbox_path, read_outbox
from crisiscast.channels.registry import PREPARERS
from crisiscast.errors import LocalWriteError, PermanentChannelError


def sms(
    key: str, text: str = "Call 0800 123", address: str | None = "+15005550009"
) -> OutgoingMessage:
    return OutgoingMessage(key=key, address=address, language="en", text=text)


def test_records_every_field_of_every_message(tmp_path: Path) -> None:
    """Each message becomes one line holding exactly its key, address and content."""
    message = OutgoingMessage(
        "k1", "ana@example.org", "th", 'ข้อความ "quoted"\n', "หัวข้อ", "<p>x</p>"
    )
    with OutboxChannel("email", tmp_path) as outbox:
        (result,) = outbox.send([message])
    assert result.status == "sent" and result.provider_id == "outbox:email:0"
    (record,) = read_outbox(outbox_path(tmp_path, "email"))
    assert record == {
        "key": "k1",
        "address": "ana@example.org",
        "language": "th",
        "subject": "หัวข้อ",
        "text": 'ข้อความ "quoted"\n',
        "html": "<p>x</p>",
        "segments": 1,
        "encoding": "utf-8",
    }


def test_uses_the_mediums_preparation(tmp_path: Path) -> None:
    """The SMS outbox shows segments and encoding; the social outbox shows the thread parts."""
    with OutboxChannel("sms", tmp_path, preparer=PREPARERS["sms"]) as outbox:
        outbox.send([sms("a", "ภาษาไทย" * 11)])
    with OutboxChannel("social", tmp_path, preparer=PREPARERS["social"]) as outbox:
        outbox.send([sms("b", "word " * 100, address=None)])
    (sms_record,) = read_outbox(tmp_path / "sms.jsonl")
    (post,) = read_outbox(tmp_path / "social.jsonl")
    assert (sms_record["segments"], sms_record["encoding"]) == (2, "ucs2")
    assert "parts" not in sms_record
    assert post["segments"] == 2 and [p[-4:] for p in post["parts"]] == [" 1/2", " 2/2"]


def test_appends_across_batches_and_reopens(tmp_path: Path) -> None:
    """Later batches and later runs append; provider ids are the byte offsets of the lines."""
    outbox = OutboxChannel("sms", tmp_path)
    first = outbox.send([sms("a"), sms("b")])
    outbox.close()
    second = OutboxChannel("sms", tmp_path).send([sms("c")])
    data = (tmp_path / "sms.jsonl").read_bytes()
    offsets = [int(r.provider_id.rsplit(":", 1)[1]) for r in first + second]  # type: ignore[union-attr]
    assert [data[o:].split(b"\n", 1)[0].count(b'"key"') for o in offsets] == [1, 1, 1]
    assert [r["key"] for r in read_outbox(tmp_path / "sms.jsonl")] == ["a", "b", "c"]


def test_file_is_private_to_its_owner(tmp_path: Path) -> None:
    """The outbox holds addresses, so only its owner may read it."""
    OutboxChannel("sms", tmp_path).send([sms("a")])
    assert stat.S_IMODE((tmp_path / "sms.jsonl").stat().st_mode) == 0o600


def test_unwritable_directory_is_a_local_write_error(tmp_path: Path) -> None:
    """An outbox that cannot be opened fails the channel with a fix, not a traceback; it is
    this machine's error (the deliveries stay queued), not a permanent one."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(LocalWriteError, match="CRISISCAST_HOME"):
        OutboxChannel("sms", blocker / "outbox").send([sms("a")])


def test_to_url_names_the_file(tmp_path: Path) -> None:
    """The configuration shows where the records go."""
    assert OutboxChannel("chat", tmp_path).to_url() == f"outbox://chat/{tmp_path}/chat.jsonl"


def test_batches_of_a_large_send_each_get_their_own_lines(tmp_path: Path) -> None:
    """100k messages in batches of 10k: every message is one line, read back in order (the
    speed of this path is measured by bench/broadcast.py, not here)."""
    outbox = OutboxChannel("sms", tmp_path, preparer=PREPARERS["sms"])
    messages = [sms(f"k{i}", address=f"+1500555{i:04d}") for i in range(100_000)]
    for i in range(0, len(messages), outbox.batch_size):
        outbox.send(messages[i : i + outbox.batch_size])
    outbox.close()
    keys = [r["key"] for r in read_outbox(tmp_path / "sms.jsonl")]
    assert keys == [m.key for m in messages]


def test_broadcast_email_records_each_content_once_and_reads_back_in_full(
    tmp_path: Path,
) -> None:
    """A broadcast's email lines name their content, written once; reading gives every field."""
    long = "Go to high ground. " * 100
    english, thai = (
        OutgoingMessage("", None, lang, long + lang, "Flood", "<p>x</p>") for lang in ("en", "th")
    )
    with OutboxChannel("email", tmp_path) as outbox:
        assert outbox.record_shared(english, [("k0", "p0@example.org")]) == 1
        assert outbox.record_shared(thai, [("k1", "p1@example.org"), ("k3", None)]) == 2
        assert outbox.record_shared(english, [("k2", "p2@example.org")]) == 1
        assert outbox.record_shared(thai, []) == 0
    path = outbox_path(tmp_path, "email")
    assert path.stat().st_size < len(long)  # no body per recipient
    assert len((tmp_path / "email.contents.jsonl").read_text().splitlines()) == 2
    records = list(read_outbox(path))
    assert [(r["key"], r["address"], r["language"], r["text"]) for r in records] == [
        ("k0", "p0@example.org", "en", long + "en"),
        ("k1", "p1@example.org", "th", long + "th"),
        ("k3", None, "th", long + "th"),
        ("k2", "p2@example.org", "en", long + "en"),
    ]
    assert all(r["subject"] == "Flood" and r["html"] == "<p>x</p>" for r in records)


def test_broadcast_sms_is_recorded_in_full(tmp_path: Path) -> None:
    """Short bodies keep their text on every line, as ``send`` writes them."""
    with OutboxChannel("sms", tmp_path) as outbox:
        outbox.record_shared(sms(""), [("a", "+15005550009"), ("b", "+15005550010")])
    assert [r["text"] for r in read_outbox(tmp_path / "sms.jsonl")] == ["Call 0800 123"] * 2
    assert not (tmp_path / "sms.contents.jsonl").exists()


def test_a_line_without_its_content_is_reported(tmp_path: Path) -> None:
    """A missing contents file is named in the error, not silently skipped."""
    with OutboxChannel("email", tmp_path) as outbox:
        outbox.record_shared(OutgoingMessage("", None, "en", "t", "s", None), [("k", "a@x.org")])
    (tmp_path / "email.contents.jsonl").unlink()
    with pytest.raises(PermanentChannelError, match=r"email\.contents\.jsonl"):
        list(read_outbox(outbox_path(tmp_path, "email")))


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_full_disk_is_a_local_write_error_naming_the_file(tmp_path: Path) -> None:
    """A write that fails with ENOSPC names the file and the reason, as a LocalWriteError."""
    (tmp_path / "sms.jsonl").symlink_to("/dev/full")
    channel = OutboxChannel("sms", tmp_path)
    with pytest.raises(LocalWriteError, match=r"sms\.jsonl: cannot write \(No space left"):
        channel.send([sms("a")])
    (tmp_path / "sms.jsonl").unlink()  # space is back: the same channel writes again
    assert channel.send([sms("a")])[0].status == "sent"
