"""The incident report: figures from plain data, files with decodable PNG charts, collection."""

from __future__ import annotations

import base64
import re
import struct
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crisiscast.incidents.models import Agent, Assignment, Case, Delivery, DeliveryStatus
from crisiscast.incidents.report import (
    CSAT_EVENT,
    AgentLoad,
    CaseFacts,
    ReportData,
    collect,
    figures,
    percentile,
)
from crisiscast.incidents.report_charts import bar_chart, hex_to_rgb
from crisiscast.incidents.report_render import write_report
from crisiscast.incidents.sla import Clock
from crisiscast.incidents.store import Store, add_announcement, add_event, create_incident
from crisiscast.incidents.summary import TimelineEntry

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=10)


def _facts(
    case_id: int,
    severity: str,
    respond: int | None,
    resolve: int | None,
    *,
    channel: str = "sms",
    contact: int | None = None,
    first_target: int = 15,
    resolution_target: int = 120,
) -> CaseFacts:
    """A case opened at T0 that got its first response / resolution after so many minutes."""

    def at(minutes: int | None) -> datetime | None:
        return None if minutes is None else T0 + timedelta(minutes=minutes)

    return CaseFacts(
        case_id, severity, channel, contact, T0,
        at(first_target), at(resolution_target), at(respond), at(resolve),
    )  # fmt: skip


def _data(cases: list[CaseFacts], csat: tuple[int, ...] = ()) -> ReportData:
    return ReportData(
        ref="INC-3",
        title="River flood",
        playbook_id="regional-flood",
        created_at=T0,
        stood_down_at=T0 + timedelta(hours=9),
        generated_at=NOW,
        severities=("urgent", "high", "medium", "low"),
        timeline=(TimelineEntry(T0, "launch", "launched regional-flood", None),),
        deliveries={
            "sms": {"delivered": 90, "failed": 10},
            "email": {"delivered": 40, "sent": 5, "suppressed": 5},
            "social": {"sent": 3},  # posts and the outbox have no receipts
        },
        cases=tuple(cases),
        csat=csat,
        agents=(AgentLoad("Somchai", False, 4, 3), AgentLoad("Temp 1", True, 2, 2)),
    )


def test_percentile_is_nearest_rank() -> None:
    """p90 of 1..10 is 9 and of 1..20 is 18: observed values, never interpolated."""
    assert percentile(list(range(1, 11)), 90) == 9
    assert percentile(list(range(1, 21)), 90) == 18
    assert percentile([5.0], 90) == 5.0
    with pytest.raises(ValueError, match="no values"):
        percentile([], 90)


def test_figures_match_the_input() -> None:
    """Times per severity, breaches, open cases, cases per customer and CSAT are exact."""
    cases = [
        _facts(i, "urgent", respond, resolve, contact=i % 3)
        for i, (respond, resolve) in enumerate(
            [(5, 60), (10, 90), (20, 100), (30, 180), (None, None)]
        )
    ] + [_facts(10, "high", 40, None, channel="email", contact=99, first_target=60)]
    figs = figures(_data(cases, csat=(5, 4, 4, 2, 1, 9)))
    urgent = figs.first_response["urgent"]
    assert (urgent.count, urgent.median, urgent.p90) == (
        4,
        timedelta(minutes=15),
        timedelta(minutes=30),
    )
    assert figs.resolution["urgent"].median == timedelta(minutes=95)
    assert figs.resolution["urgent"].p90 == timedelta(minutes=180)
    assert figs.resolution["high"].count == 0 and figs.resolution["high"].median is None
    # First response late for 20, 30 and the unanswered one; resolution late for 180 and open.
    assert figs.breaches["urgent"] == {Clock.FIRST_RESPONSE: 3, Clock.RESOLUTION: 2}
    assert figs.breaches["high"] == {Clock.FIRST_RESPONSE: 0, Clock.RESOLUTION: 1}
    assert figs.cases_by_severity_channel == {"urgent": {"sms": 5}, "high": {"email": 1}}
    assert figs.open_cases == 2
    assert figs.cases_per_customer == {1: 2, 2: 2}  # contacts 0,1 twice; 2 and 99 once
    assert figs.csat.count == 5  # 9 is not a score
    assert figs.csat.mean == pytest.approx(3.2)
    assert figs.csat.satisfied == pytest.approx(0.6)
    assert figs.csat.distribution == {1: 1, 2: 1, 3: 0, 4: 2, 5: 1}


def _decode_png(data: bytes) -> tuple[int, int, bytes]:
    """Check a PNG's signature and every chunk CRC; return width, height and raw scanlines."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, idat, header = 8, b"", b""
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert crc == zlib.crc32(kind + body), f"bad CRC in {kind!r}"
        header = body if kind == b"IHDR" else header
        idat += body if kind == b"IDAT" else b""
        offset += 12 + length
    width, height, depth, colour_type = struct.unpack(">IIBB", header[:10])
    assert (depth, colour_type) == (8, 2)
    raw = zlib.decompress(idat)
    assert len(raw) == height * (1 + 3 * width)
    return width, height, raw


def test_a_chart_is_a_valid_png_with_the_bars_in_it() -> None:
    """The PNG decodes, has the declared size, and contains each bar's colour."""
    chart = bar_chart("Cases per severity", [("urgent", 5), ("high", 2)])
    width, height, raw = _decode_png(chart.png)
    assert (width, height) == (520, 240)
    for _, colour in chart.legend:
        assert bytes(hex_to_rgb(colour)) in raw
    assert chart.alt == "Cases per severity: urgent 5, high 2"


def test_report_files_exist_and_the_html_embeds_decodable_charts(tmp_path: Path) -> None:
    """Markdown, HTML and PNG files are written; every embedded image is a valid PNG."""
    cases = [
        _facts(1, "urgent", 5, 60, contact=1),
        _facts(2, "high", 50, None, contact=1, first_target=60),
    ]
    files = write_report(_data(cases, csat=(5, 4)), tmp_path)
    assert files.markdown.name == "INC-3-report.md" and files.html.name == "INC-3-report.html"
    page = files.html.read_text(encoding="utf-8")
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 5 == len(files.charts)
    for encoded in images:
        _decode_png(base64.b64decode(encoded))
    for path in files.charts:
        _decode_png(path.read_bytes())
    assert 'alt="Deliveries per channel by status: email 50, sms 100, social 3"' in page
    text = files.markdown.read_text(encoding="utf-8")
    assert "| sms | 100 | 90 | 0 | 10 | 0 | 90.0% |" in text  # delivered sent failed suppressed
    assert "| social | 3 | 0 | 3 | 0 | 0 | n/a (no receipts) |" in text
    assert "| urgent | 1 | 5.0 | 5.0 | 1 | 60.0 | 60.0 |" in text
    assert "| high | 0 | 1 |" in text  # high: resolution breached, first response met
    assert "| 2 | 1 |" in text  # one customer with two cases
    assert "![Agent load](INC-3-charts/agent-load.png)" in text
    assert "Mean satisfaction: 4.50 of 5 (2 answers)" in text


def test_report_text_is_escaped_in_html(tmp_path: Path) -> None:
    """A title with markup is shown as text, never run as HTML."""
    data = _data([])
    data = ReportData(**{**data.__dict__, "title": "<script>alert(1)</script>"})
    page = write_report(data, tmp_path).html.read_text(encoding="utf-8")
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_collect_reads_the_report_data_from_the_store(store: Store) -> None:
    """collect() counts deliveries, cases, agent load and CSAT answers of one incident only."""
    with store.session() as session:
        incident = create_incident(
            session, playbook_id="regional-flood", playbook_path="playbooks/regional-flood.yaml",
            title="River flood", params={}, languages=["en", "th"], exercise=True, now=T0,
        )  # fmt: skip
        other = create_incident(
            session, playbook_id="x", playbook_path="x.yaml", title="Other", params={},
            languages=["en"], exercise=True, now=T0,
        )  # fmt: skip
        ann = add_announcement(
            session, incident.id, announcement_id="first", when="launch", channel="sms",
            language="en", subject=None, body="b", html=None, now=T0,
        )  # fmt: skip
        for i, status in enumerate([DeliveryStatus.DELIVERED] * 3 + [DeliveryStatus.FAILED]):
            session.add(
                Delivery(
                    idempotency_key=f"k{i}", incident_id=incident.id, announcement_id=ann.id,
                    channel="sms", status=status, created_at=T0, updated_at=T0,
                )
            )  # fmt: skip
        cases = [
            Case(incident_id=incident.id, channel="sms", severity="urgent", opened_at=T0,
                 first_response_due=T0 + timedelta(minutes=15),
                 first_responded_at=T0 + timedelta(minutes=5)),
            Case(incident_id=incident.id, channel="email", severity="high", opened_at=T0),
            Case(incident_id=other.id, channel="sms", severity="low", opened_at=T0),
        ]  # fmt: skip
        session.add_all(cases)
        agent = Agent(name="Somchai", phone="+15005550010", skills=["rescue"], languages=["th"])
        session.add(agent)
        session.flush()
        session.add_all(
            [
                Assignment(case_id=cases[0].id, agent_id=agent.id, assigned_at=T0, acked_at=T0),
                Assignment(case_id=cases[1].id, agent_id=agent.id, assigned_at=T0),
                Assignment(case_id=cases[2].id, agent_id=agent.id, assigned_at=T0),
            ]
        )
        for score in (5, 3):
            add_event(session, incident.id, CSAT_EVENT, "csat answer", {"score": score}, now=NOW)
        add_event(session, other.id, CSAT_EVENT, "csat answer", {"score": 1}, now=NOW)
        data = collect(session, incident, NOW, levels=["urgent", "high", "medium", "low"])
    assert data.ref == incident.ref
    assert data.deliveries == {"sms": {"delivered": 3, "failed": 1}}
    assert [(c.severity, c.channel) for c in data.cases] == [("urgent", "sms"), ("high", "email")]
    assert data.cases[0].first_responded_at == T0 + timedelta(minutes=5)
    assert data.csat == (5, 3)
    assert data.agents == (AgentLoad("Somchai", False, 2, 1),)
    assert [e.kind for e in data.timeline] == [CSAT_EVENT, CSAT_EVENT]
    assert data.severities == ("urgent", "high", "medium", "low")


def test_stacked_chart_caption_names_the_bars_in_order(tmp_path: Path) -> None:
    """Delivery bars are named left to right in the caption; the legend names the statuses."""
    page = write_report(_data([]), tmp_path).html.read_text(encoding="utf-8")
    assert "Deliveries per channel by status (left to right: email, sms, social)" in page
    assert "Cases per severity<ul" in page  # one bar per legend entry: no list needed
