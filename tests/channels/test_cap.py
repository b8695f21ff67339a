"""CAP 1.2: the alerts crisiscast writes validate against the OASIS XSD; CAP it reads is parsed
with entities, DTDs and network access off."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from crisiscast.channels.banner import BannerSite, publish_banner, take_down
from crisiscast.channels.banner_state import BannerState, Route, Wording
from crisiscast.channels.cap_feed import (
    AlertMeta,
    build_cap,
    cap_schema_errors,
    cap_time,
    parse_cap,
)
from crisiscast.errors import PermanentChannelError

# The OASIS schema and example alerts, carried in the repository: see data/README.md.
CAP_DIR = Path(__file__).resolve().parent / "data" / "cap"
XSD = CAP_DIR / "CAP-v1.2.xsd"
BANGKOK = timezone(timedelta(hours=7))
T0 = datetime(2026, 11, 25, 16, 40, 7, 999_999, tzinfo=BANGKOK)
SITE = BannerSite("https://status.example.com/inc-3/", "alerts@example.com", "Example Co")


@pytest.fixture
def state() -> BannerState:
    return BannerState(
        incident="INC-3",
        title="Payment outage",
        headline="Card payments are failing",
        body="Fix in progress. Cash & transfers work <as usual>.",
        level="critical",
        language="en",
        routes=(
            Route("technical", "Technical problems", "live_chat", "https://example.com/chat"),
            Route("emergency", "Emergency line", "phone", "+6621234567", "24/7"),
        ),
        sent=T0,
        updated=T0,
        translations=(Wording("lo", "ລະບົບຊຳລະເງິນຂັດຂ້ອງ", "ການຊຳລະດ້ວຍບັດລົ້ມເຫຼວ", ""),),
    )


def _meta(**changes: object) -> AlertMeta:
    meta = AlertMeta("INC-3-1", "alerts@example.com", "Example Co", "Alert")
    return replace(meta, **changes)  # type: ignore[arg-type]


def test_cap_time_has_whole_seconds_and_an_offset() -> None:
    """<sent> is YYYY-MM-DDThh:mm:ss+hh:mm: no fractional seconds and never 'Z', even for UTC."""
    assert cap_time(T0) == "2026-11-25T16:40:07+07:00"
    assert cap_time(datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)) == "2026-01-02T03:04:05+00:00"


def test_cap_time_refuses_naive_datetimes() -> None:
    """A time without timezone cannot be written as CAP and says how to fix it."""
    with pytest.raises(PermanentChannelError, match="pass an aware datetime"):
        cap_time(datetime(2026, 1, 2, 3, 4, 5))


@pytest.mark.parametrize(
    ("exercise", "ended", "msg_type", "status", "response"),
    [
        (False, False, "Alert", "Actual", ()),
        (True, False, "Alert", "Exercise", ()),
        (False, False, "Update", "Actual", ()),
        (False, True, "Update", "Actual", ("AllClear",)),
        (True, True, "Cancel", "Exercise", ()),
    ],
)
def test_generated_alerts_validate_and_say_what_they_are(
    state: BannerState,
    exercise: bool,
    ended: bool,
    msg_type: str,
    status: str,
    response: tuple[str, ...],
) -> None:
    """Every kind of alert validates against CAP-v1.2.xsd; exercises are Exercise, the
    all-clear is an Update with responseType AllClear, a retraction is a Cancel."""
    if exercise:
        state = replace(state, exercise=True)
    if ended:
        state = state.ended(T0 + timedelta(hours=2))
    refs = ("alerts@example.com,INC-3-1,2026-11-25T16:40:07+07:00",) if msg_type != "Alert" else ()
    xml = build_cap(state, _meta(msg_type=msg_type, references=refs), state.updated)
    assert cap_schema_errors(xml, XSD) == []
    alert = parse_cap(xml)
    assert (alert.status, alert.msg_type, alert.scope) == (status, msg_type, "Public")
    assert alert.references == refs
    assert alert.incidents == ("INC-3",)
    assert [info.response_types for info in alert.infos] == [response, response]


def test_one_info_per_language_with_routes_as_instruction(state: BannerState) -> None:
    """Each language gets its own <info> with <language>, and the routes become the
    instruction, with the staffed phone line as the contact."""
    xml = build_cap(
        state, _meta(page_urls={"en": "https://s.example/", "lo": "https://s.example/lo"}), T0
    )
    alert = parse_cap(xml)
    assert [(i.language, i.headline) for i in alert.infos] == [
        ("en", "Card payments are failing"),
        ("lo", "ການຊຳລະດ້ວຍບັດລົ້ມເຫຼວ"),
    ]
    assert alert.infos[0].instruction.splitlines() == [
        "Technical problems: https://example.com/chat",
        "Emergency line: +6621234567 (24/7)",
    ]
    assert alert.infos[0].description == "Fix in progress. Cash & transfers work <as usual>."
    assert [i.web for i in alert.infos] == ["https://s.example/", "https://s.example/lo"]
    assert (alert.infos[0].urgency, alert.infos[0].severity) == ("Immediate", "Severe")
    assert b"<contact>+6621234567</contact>" in xml


def test_published_directory_alerts_reference_earlier_ones(
    tmp_path: Path, state: BannerState
) -> None:
    """Published alerts validate, and the all-clear references the alert it closes."""
    publish_banner(tmp_path, state, SITE)
    take_down(tmp_path, SITE, T0 + timedelta(hours=1))
    first = (tmp_path / "cap" / "INC-3-1.xml").read_bytes()
    last = (tmp_path / "cap" / "INC-3-2.xml").read_bytes()
    assert cap_schema_errors(first, XSD) == [] and cap_schema_errors(last, XSD) == []
    assert parse_cap(last).references == ("alerts@example.com,INC-3-1,2026-11-25T16:40:07+07:00",)
    assert parse_cap(last).sent == datetime(2026, 11, 25, 17, 40, 7, tzinfo=BANGKOK)


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"identifier": "INC 3"}, "CAP identifier 'INC 3'"),
        ({"sender": "a,b@example.com"}, "CAP sender"),
        ({"category": "Outage"}, "CAP category 'Outage'"),
    ],
)
def test_bad_alert_metadata_is_refused(
    state: BannerState, changes: dict[str, str], problem: str
) -> None:
    """Identifiers and senders with spaces or commas, and unknown categories, are refused."""
    with pytest.raises(PermanentChannelError, match=problem):
        build_cap(state, _meta(**changes), T0)


@pytest.mark.parametrize("path", sorted((CAP_DIR / "examples" / "valid").glob("*.xml")))
def test_valid_examples_parse_and_validate(path: Path) -> None:
    """Real-world CAP alerts (OASIS, NOAA, Google; one ISO-8859-1) parse and pass the XSD."""
    data = path.read_bytes()
    alert = parse_cap(data, origin=path.name)
    assert alert.identifier and alert.sender
    assert alert.sent.utcoffset() is not None
    assert alert.infos and all(info.event for info in alert.infos)
    assert cap_schema_errors(data, XSD, origin=path.name) == []


def test_invalid_example_reports_the_missing_element() -> None:
    """The XSD check names the file, the line and what is wrong (a missing <scope>)."""
    path = CAP_DIR / "examples" / "invalid" / "google_testdata_missing_scope.xml"
    errors = cap_schema_errors(path.read_bytes(), XSD, origin=path.name)
    assert len(errors) == 1
    assert errors[0].startswith("google_testdata_missing_scope.xml:")
    assert "scope" in errors[0]


class _Recorder(BaseHTTPRequestHandler):
    hits: list[str] = []  # noqa: RUF012 - one list shared by the handler instances of a test

    def do_GET(self) -> None:
        self.hits.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'<!ENTITY send SYSTEM "http://127.0.0.1/leak">LEAKED')

    def log_message(self, format: str, *args: object) -> None:
        """Silence the default stderr log."""


@pytest.fixture
def entity_server() -> Iterator[tuple[str, list[str]]]:
    """A local server standing in for the attacker's host; records every request it gets."""
    hits: list[str] = []
    handler = type("Recorder", (_Recorder,), {"hits": hits})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.mark.parametrize("path", sorted((CAP_DIR / "examples" / "hostile").glob("*.xml")))
def test_hostile_cap_is_refused_without_fetching_or_resolving(
    path: Path, entity_server: tuple[str, list[str]]
) -> None:
    """An XXE alert (external DTD and entities, /etc/passwd, XInclude) is refused: no request
    reaches the entities' host and no entity text ends up in what we read."""
    host, hits = entity_server
    data = path.read_bytes().replace(b"localhost:8080", host.encode())
    with pytest.raises(PermanentChannelError, match="must not carry a DOCTYPE") as info:
        parse_cap(data, origin=path.name)
    assert path.name in str(info.value)
    with pytest.raises(PermanentChannelError, match="must not carry a DOCTYPE"):
        cap_schema_errors(data, XSD, origin=path.name)
    assert hits == []


def test_billion_laughs_is_refused() -> None:
    """Nested internal entities (the 'billion laughs' bomb) are refused before expansion."""
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;">]>'
        b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&c;</identifier></alert>'
    )
    with pytest.raises(PermanentChannelError, match="must not carry a DOCTYPE"):
        parse_cap(bomb)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"<alert>", "not well-formed XML"),
        (b"<feed xmlns='http://www.w3.org/2005/Atom'/>", "expected CAP 1.2 <alert>"),
    ],
)
def test_non_cap_input_is_refused_clearly(data: bytes, problem: str) -> None:
    """Broken XML or a non-CAP document gets an error that names the origin and the problem."""
    with pytest.raises(PermanentChannelError, match=problem) as info:
        parse_cap(data, origin="upload.xml")
    assert str(info.value).startswith("upload.xml:")
