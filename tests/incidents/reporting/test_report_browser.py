"""The HTML report in a real browser: its charts are SVG images with visible axis labels."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crisiscast.incidents.reporting.charts import Series, bar_chart
from crisiscast.incidents.reporting.figures import AgentLoad, CaseFacts, ReportData
from crisiscast.incidents.reporting.render import write_report
from crisiscast.incidents.reporting.summary import TimelineEntry

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
XSS = '<img src=x onerror="window.xss=1">'
# (chart title, value axis name with its unit), in report order.
CHARTS = [
    ("Deliveries per channel by status", "messages"),
    ("Cases per severity", "cases"),
    ("First response time per severity (p90)", "minutes"),
    ("CSAT answers per score", "answers"),
    ("Cases assigned per agent", "cases assigned"),
]
# Every pair of text boxes in a chart that overlap, and every text outside the chart.
OVERLAPS = """svg => {
  const box = svg.getBoundingClientRect();
  const texts = [...svg.querySelectorAll('text')]
    .map(t => [t.textContent, t.getBoundingClientRect()]);
  const bad = [];
  for (const [text, r] of texts) {
    if (r.left < box.left - 0.5 || r.right > box.right + 0.5) bad.push(`outside: ${text}`);
  }
  texts.forEach(([a, r], i) => texts.slice(i + 1).forEach(([b, s]) => {
    const x = Math.min(r.right, s.right) - Math.max(r.left, s.left);
    const y = Math.min(r.bottom, s.bottom) - Math.max(r.top, s.top);
    if (x > 1 && y > 1) bad.push(`${a} / ${b}`);
  }));
  return bad;
}"""


def _case(i: int, severity: str, channel: str, respond: int, resolve: int | None) -> CaseFacts:
    def at(minutes: int | None) -> datetime | None:
        return None if minutes is None else T0 + timedelta(minutes=minutes)

    return CaseFacts(i, severity, channel, i % 4, T0, at(15), at(120), at(respond), at(resolve))


@pytest.fixture
def report(tmp_path: Path) -> Path:
    """The HTML report of an incident with data in every chart, big counts, a long Thai
    name and an agent name that is markup."""
    cases = [
        _case(1, "urgent", "sms", 5, 60),
        _case(2, "urgent", "sms", 12, 90),
        _case(3, "urgent", "email", 31, None),
        _case(4, "high", "email", 50, 200),
        _case(5, "high", "social", 22, 100),
        _case(6, "medium", "sms", 75, None),
        _case(7, "low", "email", 130, 400),
    ]
    data = ReportData(
        ref="INC-3",
        title="River flood",
        playbook_id="regional-flood",
        created_at=T0,
        stood_down_at=T0 + timedelta(hours=9),
        generated_at=T0 + timedelta(hours=10),
        severities=("urgent", "high", "medium", "low"),
        timeline=(TimelineEntry(T0, "launch", "launched regional-flood", None),),
        deliveries={
            "sms": {"delivered": 18400, "failed": 1120, "queued": 8},
            "email": {"delivered": 12100, "sent": 850, "suppressed": 410},
            "social": {"sent": 3},
        },
        cases=tuple(cases),
        csat=(5, 4, 4, 3, 5, 5, 2, 1, 4),
        agents=(
            AgentLoad("Somchai", False, 14, 13),
            AgentLoad(XSS, False, 7, 7),
            AgentLoad("Nok (สมหญิง ใจดี), regional coordination desk, night shift", True, 23, 20),
        ),
    )
    return write_report(data, tmp_path).html


def test_report_charts_are_svg_with_visible_axis_labels(page: Any, report: Path) -> None:
    """Each chart is an SVG image named by its title, with its unit shown under the value
    axis, no text overlapping another or leaving the chart, and markup in a name as text."""
    page.goto(report.as_uri())
    charts = page.locator("svg[role=img]")
    assert charts.count() == len(CHARTS)
    for index, (title, unit) in enumerate(CHARTS):
        chart = charts.nth(index)
        assert page.get_by_role("img", name=title).count() == 1
        box = chart.bounding_box()
        assert box["width"] > 300 and box["height"] > 100
        axis_name = chart.locator("g.axis text").last
        assert axis_name.text_content() == unit
        assert axis_name.is_visible()
        label = axis_name.bounding_box()
        assert label["width"] > 0 and label["height"] > 0
        assert box["y"] <= label["y"] and label["y"] + label["height"] <= box["y"] + box["height"]
        assert chart.evaluate(OVERLAPS) == [], title
    agents = charts.nth(len(CHARTS) - 1)
    assert agents.locator("text", has_text="<img src=x").count() == 1
    assert page.locator("img").count() == 0
    assert page.evaluate("window.xss") is None
    if path := os.environ.get("CRISISCAST_REPORT_SCREENSHOT"):
        page.screenshot(path=path, full_page=True)


def test_charts_fit_a_phone_screen(page: Any, report: Path) -> None:
    """On a 360 px wide screen every chart fits the width, and its labels stay readable."""
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(report.as_uri())
    charts = page.locator("svg[role=img]")
    for index in range(charts.count()):
        chart = charts.nth(index)
        box = chart.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 360
        axis_name = chart.locator("g.axis text").last.bounding_box()
        assert axis_name["height"] >= 10  # px on screen, from 14 user units
        assert chart.evaluate(OVERLAPS) == []


def test_a_chart_needs_no_inline_style_or_script(page: Any) -> None:
    """Inline in a page with a strict Content-Security-Policy (the web console) a chart
    renders without violations: it is made of presentation attributes only."""
    svg = bar_chart(
        "Deliveries per channel by status",
        "messages",
        ["email", "sms"],
        Series("delivered", [40, 90], "#009E73"),
        Series("failed", [0, 10], "#D55E00"),
        category_label="channel",
    )
    csp = "default-src 'none'; style-src 'self'; script-src 'self'"
    page.set_content(
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}"></head>'
        f"<body>{svg}</body></html>"
    )
    chart = page.get_by_role("img", name="Deliveries per channel by status")
    assert chart.bounding_box()["width"] > 300
    assert chart.locator("g.axis text").last.is_visible()
