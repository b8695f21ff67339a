"""The incident report: figures from plain data, files with well-formed SVG charts, collection."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree

from crisiscast.incidents.cases.sla import Clock
from crisiscast.incidents.reporting.charts import PALETTE, Series, bar_chart
from crisiscast.incidents.reporting.figures import (
    CSAT_EVENT,
    AgentLoad,
    CaseFacts,
    ReportData,
    collect,
    figures,
    percentile,
)
from crisiscast.incidents.reporting.render import write_report
from crisiscast.incidents.reporting.summary import TimelineEntry
from crisiscast.incidents.store.database import Store, add_announcement, add_event, create_incident
from crisiscast.incidents.store.models import Agent, Assignment, Case, Delivery, DeliveryStatus

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


SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "<script>alert(1)</script> & \"quotes\" 'single' \x00\x1b"


def _parse(svg: str) -> etree._Element:
    """Parse one chart as XML (no entities, no network); fails on anything not well-formed."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    root = etree.fromstring(svg.encode("utf-8"), parser)
    assert root.tag == f"{SVG}svg"
    return root


def _texts(root: etree._Element) -> list[str]:
    """The visible text of every <text>, in document order."""
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def _fills(root: etree._Element) -> set[str]:
    return {r.get("fill", "").upper() for r in root.iter(f"{SVG}rect")}


def _svgs(page: str) -> list[str]:
    return re.findall(r"<svg\b.*?</svg>", page, flags=re.DOTALL)


def test_a_chart_is_well_formed_svg_with_title_desc_axis_labels_and_values() -> None:
    """The SVG parses, names itself for assistive tech (role, title, desc via
    aria-labelledby), scales with its container, and shows the axis names with the unit,
    every bar's name and value, in the palette's first colour."""
    svg = bar_chart(
        "Cases per severity", "cases", ["urgent", "high"], Series("cases", [5, 2]),
        category_label="severity", chart_id="chart-cases",
    )  # fmt: skip
    root = _parse(svg)
    assert root.get("role") == "img"
    assert root.get("width") == "100%" and root.get("viewBox", "").startswith("0 0 400 ")
    assert "style" not in svg and "<script" not in svg  # presentation attributes only (CSP)
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None and desc is not None
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert (title.get("id"), desc.get("id")) == ("chart-cases-title", "chart-cases-desc")
    assert title.text == "Cases per severity"
    assert desc.text == "Bar chart of cases per severity, top to bottom: urgent 5; high 2."
    texts = _texts(root)
    assert texts[0] == "Cases per severity"  # the visible title
    for label in ("severity", "cases", "urgent", "high", "5", "2", "0"):
        assert label in texts, label
    assert _fills(root) == {PALETTE[0]}
    assert root.find(f".//{SVG}g[@class='legend']") is None  # one series: no legend needed
    # Without chart_id the ids come from the content: two different charts never share one.
    one, other = (bar_chart("t", "u", ["a"], Series("s", [n])) for n in (1, 2))
    assert _parse(one).get("aria-labelledby") != _parse(other).get("aria-labelledby")
    with pytest.raises(ValueError, match="chart_id"):
        bar_chart("t", "u", ["a"], Series("s", [1]), chart_id='x" onload="alert(1)')


def test_a_stacked_chart_has_a_legend_palette_colours_and_segment_values() -> None:
    """Series stack left to right in their colours (fixed or the palette's), the legend names
    them, segments show their values where they fit and each bar its total."""
    svg = bar_chart(
        "Deliveries", "messages", ["email", "sms"],
        Series("delivered", [400, 600]), Series("failed", [0, 400], "#D55E00"),
        Series("sent", [300, 0]), category_label="channel",
    )  # fmt: skip
    root = _parse(svg)
    assert _fills(root) >= {PALETTE[0], "#D55E00", PALETTE[2]}
    legend = root.find(f".//{SVG}g[@class='legend']")
    assert legend is not None and _texts(legend) == ["delivered", "failed", "sent"]
    bars = root.find(f".//{SVG}g[@class='bars']")
    assert bars is not None
    assert _texts(bars) == ["email", "400", "300", "700", "sms", "600", "400", "1,000"]
    desc = root.find(f"{SVG}desc")
    assert desc is not None and desc.text == (
        "Stacked bar chart of messages per channel, top to bottom: "
        "email 700 (delivered 400, sent 300); sms 1,000 (delivered 600, failed 400)."
    )
    axis = root.find(f".//{SVG}g[@class='axis']")
    assert axis is not None and _texts(axis)[-1] == "messages"


def test_chart_text_is_escaped_and_the_svg_stays_well_formed() -> None:
    """Names from playbooks and users stay text: no element or attribute comes from them,
    and characters XML cannot hold (NUL, ESC) are dropped instead of breaking the file."""
    svg = bar_chart(HOSTILE, HOSTILE, [HOSTILE], Series(HOSTILE, [3]), category_label=HOSTILE)
    root = _parse(svg)
    assert "<script" not in svg and "\x00" not in svg
    assert {el.tag for el in root.iter()} <= {
        f"{SVG}{t}" for t in ("svg", "title", "desc", "text", "g", "rect", "line")
    }
    assert {name for el in root.iter() for name in el.attrib} <= {
        *("viewBox", "width", "height", "role", "aria-labelledby", "id", "class"),
        *("x", "y", "x1", "y1", "x2", "y2", "fill", "stroke", "stroke-width"),
        *("font-family", "font-size", "font-weight", "text-anchor"),
    }
    title = root.find(f"{SVG}title")
    assert title is not None and title.text == """<script>alert(1)</script> & "quotes" 'single'"""
    assert any(t.startswith("<script>") for t in _texts(root))


def test_a_long_name_is_cut_in_the_chart_and_whole_in_its_description() -> None:
    """A name too wide for the label column ends in an ellipsis; the desc and a hover title
    keep it whole."""
    name = "Nok (สมหญิง ใจดี), regional coordination desk, night shift"
    root = _parse(bar_chart("Cases assigned per agent", "cases", [name], Series("cases", [4])))
    bars = root.find(f".//{SVG}g[@class='bars']")
    assert bars is not None
    label = _texts(bars)[0]
    assert label.endswith("…") and name.startswith(label[:-1])
    desc = root.find(f"{SVG}desc")
    assert desc is not None and name in (desc.text or "")
    assert [t.text for t in bars.iter(f"{SVG}title")] == [name]


def test_axis_ticks_are_round_numbers_covering_the_longest_bar() -> None:
    """Ticks step by 1, 2 or 5 x 10^k from 0 past the longest bar; counts get whole steps,
    fractions as many decimals as the step needs."""
    root = _parse(bar_chart("t", "minutes", ["a", "b"], Series("p90", [31.5, 130.0])))
    axis = root.find(f".//{SVG}g[@class='axis']")
    assert axis is not None and _texts(axis) == ["0", "50", "100", "150", "minutes"]
    root = _parse(bar_chart("t", "answers", ["1", "2"], Series("n", [1, 0])))
    axis = root.find(f".//{SVG}g[@class='axis']")
    assert axis is not None and _texts(axis) == ["0", "1", "answers"]
    root = _parse(bar_chart("t", "minutes", ["a", "b"], Series("p90", [0.04, 0.12])))
    axis = root.find(f".//{SVG}g[@class='axis']")
    assert axis is not None and _texts(axis) == ["0", "0.05", "0.10", "0.15", "minutes"]
    assert "0.04" in _texts(root)  # a small value keeps its digits, never "0.0"


@pytest.mark.parametrize(
    ("categories", "series", "message"),
    [
        (["a"], [], "at least one series"),
        (["a", "b"], [Series("s", [1])], "1 values for 2 categories"),
        (["a"], [Series("s", [-1])], "finite value >= 0"),
        (["a"], [Series("s", [float("nan")])], "finite value >= 0"),
        (["a"], [Series("s", [1], 'red" onload="alert(1)')], "#RRGGBB"),
    ],
)
def test_bad_chart_input_is_refused(
    categories: list[str], series: list[Series], message: str
) -> None:
    """Wrong lengths, negative or NaN values and colours that are not #RRGGBB raise."""
    with pytest.raises(ValueError, match=re.escape(message)):
        bar_chart("t", "u", categories, *series)


def test_report_files_exist_and_the_html_embeds_well_formed_svg_charts(tmp_path: Path) -> None:
    """Markdown, HTML and SVG files are written; every inline chart is well-formed SVG
    with distinct ids, and the Markdown links the SVG files."""
    cases = [
        _facts(1, "urgent", 5, 60, contact=1),
        _facts(2, "high", 50, None, contact=1, first_target=60),
    ]
    files = write_report(_data(cases, csat=(5, 4)), tmp_path)
    assert files.markdown.name == "INC-3-report.md" and files.html.name == "INC-3-report.html"
    page = files.html.read_text(encoding="utf-8")
    assert "data:image/png" not in page and "<img" not in page
    inline = [_parse(svg) for svg in _svgs(page)]
    assert len(inline) == 5 == len(files.charts)
    ids = [el.get("id") for root in inline for el in root.iter() if el.get("id")]
    assert len(ids) == len(set(ids)) == 10  # a title and a desc per chart
    for path in files.charts:
        assert path.suffix == ".svg"
        _parse(path.read_text(encoding="utf-8"))
    descs = [root.findtext(f"{SVG}desc") for root in inline]
    assert descs[0] == (
        "Stacked bar chart of messages per channel, top to bottom: "
        "email 50 (delivered 40, sent 5, suppressed 5); sms 100 (delivered 90, failed 10); "
        "social 3 (sent 3)."
    )
    units = [_texts(root)[-1] for root in inline]  # the value axis' name, under the ticks
    assert units == ["messages", "cases", "minutes", "answers", "cases assigned"]
    text = files.markdown.read_text(encoding="utf-8")
    assert "| sms | 100 | 90 | 0 | 10 | 0 | 90.0% |" in text  # delivered sent failed suppressed
    assert "| social | 3 | 0 | 3 | 0 | 0 | n/a (no receipts) |" in text
    assert "| urgent | 1 | 5.0 | 5.0 | 1 | 60.0 | 60.0 |" in text
    assert "| high | 0 | 1 |" in text  # high: resolution breached, first response met
    assert "| 2 | 1 |" in text  # one customer with two cases
    assert "![Agent load](INC-3-charts/agent-load.svg)" in text
    assert "Mean satisfaction: 4.50 of 5 (2 answers)" in text


def test_report_text_is_escaped_in_html(tmp_path: Path) -> None:
    """A title with markup is shown as text, never run as HTML; so is an agent's name in
    the chart and its SVG file."""
    data = _data([])
    data = ReportData(**{**data.__dict__, "title": "<script>alert(1)</script>"})
    data = replace(data, agents=(AgentLoad("<img src=x onerror=alert(2)>", False, 1, 0),))
    files = write_report(data, tmp_path)
    page = files.html.read_text(encoding="utf-8")
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(2)&gt;" in page
    agents = _parse(_svgs(page)[-1])
    assert "<img src=x onerror=alert(2)>" in (agents.findtext(f"{SVG}desc") or "")
    assert any(t.startswith("<img src=x") for t in _texts(agents))  # shown as text (cut)
    assert "<img" not in (tmp_path / "INC-3-charts" / "agent-load.svg").read_text(encoding="utf-8")


def test_report_text_is_escaped_in_markdown(tmp_path: Path) -> None:
    """Markup in an agent's note, a parameter (the title) or an agent's name is text in the
    Markdown report too: a viewer that renders HTML in Markdown shows it, never runs it."""
    data = _data([])
    note = TimelineEntry(T0, "note", "agent note: <script>alert(3)</script> & ![x](http://x/t.png)",
                         None)  # fmt: skip
    data = replace(data, title="Flood in <script>alert(1)</script>", timeline=(note,),
                   agents=(AgentLoad("<img src=x onerror=alert(2)>", False, 1, 0),))  # fmt: skip
    text = write_report(data, tmp_path).markdown.read_text(encoding="utf-8")
    assert "<script" not in text and "<img" not in text and "![x](" not in text
    assert "# INC-3: Flood in &lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert (
        "agent note: &lt;script&gt;alert(3)&lt;/script&gt; &amp; !\\[x\\](http://x/t.png)" in text
    )
    assert "&lt;img src=x onerror=alert(2)&gt;" in text


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


def test_stacked_chart_names_the_bars_in_order(tmp_path: Path) -> None:
    """Delivery bars are named top to bottom beside them and in the description; the
    legend names the statuses in their stacking order; a one-series chart has no legend."""
    page = write_report(_data([]), tmp_path).html.read_text(encoding="utf-8")
    delivery, cases, *_ = (_parse(svg) for svg in _svgs(page))
    assert delivery.findtext(f"{SVG}title") == "Deliveries per channel by status"
    bars = delivery.find(f".//{SVG}g[@class='bars']")
    assert bars is not None
    names = [t for t in _texts(bars) if not t.replace(",", "").isdigit()]
    assert names == ["email", "sms", "social"]
    assert "top to bottom: email 50 (" in (delivery.findtext(f"{SVG}desc") or "")
    legend = delivery.find(f".//{SVG}g[@class='legend']")
    assert legend is not None
    assert _texts(legend) == ["delivered", "sent", "failed", "suppressed"]
    swatches = [r.get("fill") for r in legend.iter(f"{SVG}rect")]
    assert swatches == ["#009E73", "#56B4E9", "#D55E00", "#E69F00"]  # Okabe-Ito
    assert cases.findtext(f"{SVG}title") == "Cases per severity"
    assert cases.find(f".//{SVG}g[@class='legend']") is None  # one series: no legend needed
