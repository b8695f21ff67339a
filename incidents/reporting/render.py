"""The incident report as Markdown (with SVG charts beside it) and as one self-contained HTML file.

Sections as the commander reads them after the fact: summary, broadcast delivery per channel,
cases per severity and channel, response and resolution times, SLA breaches, escalations, cases
per customer, satisfaction, agent load, timeline, audit log (also written as CSV beside the
report). Times are in the incident's time zone (the playbook's ``timezone``); an exercise says
EXERCISE in its title. Charts are SVG (:mod:`.charts`), inline in the
HTML; every chart also has its numbers in a table next to it and a text alternative, so
nothing is only in a picture.
"""

from __future__ import annotations

import csv
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from crisiscast.incidents.cases.sla import Clock
from crisiscast.incidents.reporting.charts import Series, bar_chart
from crisiscast.incidents.reporting.figures import DELIVERED, Figures, ReportData, Times, figures

STATUS_ORDER = ("delivered", "sent", "queued", "failed", "suppressed")
# Okabe-Ito: green for delivered, vermillion for failed, whatever the set of statuses present.
STATUS_COLOURS = {
    "delivered": "#009E73",
    "sent": "#56B4E9",
    "queued": "#999999",
    "failed": "#D55E00",
    "suppressed": "#E69F00",
}
TIMELINE_LIMIT = 500

Table = tuple[Sequence[str], Sequence[Sequence[str]]]


@dataclass(frozen=True)
class ReportFiles:
    markdown: Path
    html: Path
    charts: tuple[Path, ...]
    audit: Path | None = None  # <ref>-audit.csv


ESCALATION_NAMES = {
    "repage": "holder re-paged",
    "page_backup": "backup agent paged",
    "notify_commander": "commander notified",
    "remind_customer": "quiet customer reminded",
}


def _minutes(value: timedelta | None) -> str:
    return "-" if value is None else f"{value.total_seconds() / 60:.1f}"


def _when(value: datetime | None, zone: str = "UTC") -> str:
    """A time in the incident's zone, named (``2026-11-25 15:00 +07 Asia/Bangkok``)."""
    if value is None:
        return "-"
    if zone == "UTC":
        return value.strftime("%Y-%m-%d %H:%M UTC")
    local = value.astimezone(ZoneInfo(zone))
    return f"{local:%Y-%m-%d %H:%M} {local.strftime('%z')[:3]} {zone}"


def _pct(part: int, whole: int) -> str:
    return "-" if whole == 0 else f"{100 * part / whole:.1f}%"


def _delivery_table(data: ReportData) -> Table:
    statuses = [s for s in STATUS_ORDER if any(s in row for row in data.deliveries.values())]
    rows = []
    for channel, counts in sorted(data.deliveries.items()):
        total = sum(counts.values())
        cells = [str(counts.get(s, 0)) for s in statuses]
        rows.append([channel, str(total), *cells, _delivered(counts, total)])
    return ["channel", "total", *statuses, "delivered %"], rows


def _delivered(counts: Mapping[str, int], total: int) -> str:
    """Share delivered, from receipts; "n/a" for a channel that had none (the outbox, posts),
    where 0% would read as every message lost."""
    if not counts.get(DELIVERED, 0) and not counts.get("failed", 0):
        return "n/a (no receipts)"
    return _pct(counts.get(DELIVERED, 0), total)


def _case_table(data: ReportData, figs: Figures) -> Table:
    channels = sorted({c for row in figs.cases_by_severity_channel.values() for c in row})
    rows = []
    for severity in data.severities:
        counts = figs.cases_by_severity_channel.get(severity, {})
        rows.append(
            [severity, *(str(counts.get(c, 0)) for c in channels), str(sum(counts.values()))]
        )
    return ["severity", *channels, "total"], rows


def _times_table(data: ReportData, figs: Figures) -> Table:
    def cells(t: Times) -> list[str]:
        return [str(t.count), _minutes(t.median), _minutes(t.p90)]

    empty = Times(0, None, None)
    rows = [
        [s, *cells(figs.first_response.get(s, empty)), *cells(figs.resolution.get(s, empty))]
        for s in data.severities
    ]
    head = ["severity", "responded", "first response median (min)", "p90 (min)"]
    return [*head, "resolved", "resolution median (min)", "p90 (min)"], rows


def _breach_table(data: ReportData, figs: Figures) -> Table:
    rows = [
        [s, str(figs.breaches[s][Clock.FIRST_RESPONSE]), str(figs.breaches[s][Clock.RESOLUTION])]
        for s in data.severities
        if s in figs.breaches
    ]
    return ["severity", "first response breached", "resolution breached"], rows


def _escalation_table(data: ReportData) -> Table:
    """Per action: how many, and how many after the incident closed."""
    counts: dict[str, list[int]] = {}
    for e in data.escalations:
        row = counts.setdefault(e.kind, [0, 0])
        row[0] += 1
        row[1] += e.after_close
    rows = [[ESCALATION_NAMES.get(kind, kind), str(n), str(late)]
            for kind, (n, late) in sorted(counts.items())]  # fmt: skip
    return ["action", "times", "after the incident closed"], rows


def _timeline_rows(data: ReportData) -> list[list[str]]:
    """The timeline; what happened after the closure says so (open cases kept escalating)."""
    rows = []
    for e in data.timeline[:TIMELINE_LIMIT]:
        late = data.closed_at is not None and e.at > data.closed_at
        what = f"{e.kind} (after closure)" if late else e.kind
        rows.append([_when(e.at, data.timezone), what, e.message])
    return rows


def _tables(data: ReportData, figs: Figures) -> list[tuple[str, Table]]:
    per_customer = [[str(n), str(c)] for n, c in figs.cases_per_customer.items()]
    scores = [[str(s), str(n)] for s, n in figs.csat.distribution.items()]
    agents = [[a.name, "yes" if a.temporary else "no", str(a.assigned), str(a.acked)]
              for a in data.agents]  # fmt: skip
    audit = [[_when(a.at, data.timezone), a.actor, a.action, a.subject, a.source, a.detail]
             for a in data.audit[:TIMELINE_LIMIT]]  # fmt: skip
    return [
        ("Broadcast delivery per channel", _delivery_table(data)),
        ("Cases per severity and channel", _case_table(data, figs)),
        ("First response and resolution times", _times_table(data, figs)),
        ("SLA breaches", _breach_table(data, figs)),
        ("Escalations", _escalation_table(data)),
        ("Cases per customer", (["cases", "customers"], per_customer)),
        ("Satisfaction (CSAT)", (["score", "answers"], scores)),
        ("Agent load", (["agent", "temporary", "cases assigned", "acknowledged"], agents)),
        ("Timeline", (["when", "what", "details"], _timeline_rows(data))),
        ("Audit log", (["when", "who", "action", "subject", "from", "what changed"], audit)),
    ]


def charts(data: ReportData, figs: Figures) -> dict[str, str]:
    """The report's charts as SVG by section title (only those with something to show)."""

    def bars(unit: str, rows: Sequence[tuple[str, float]]) -> tuple[list[str], list[Series]]:
        return [name for name, _ in rows], [Series(unit, [value for _, value in rows])]

    statuses = [s for s in STATUS_ORDER if any(s in row for row in data.deliveries.values())]
    channels = sorted(data.deliveries)
    delivery = [
        Series(s, [float(data.deliveries[c].get(s, 0)) for c in channels], STATUS_COLOURS[s])
        for s in statuses
    ]
    # section: (chart title, unit of the values, what the bars are, (bar names, series))
    specs = {
        "Broadcast delivery per channel": (
            "Deliveries per channel by status", "messages", "channel", (channels, delivery),
        ),
        "Cases per severity and channel": (
            "Cases per severity", "cases", "severity",
            bars("cases", [(s, float(sum(figs.cases_by_severity_channel.get(s, {}).values())))
                           for s in data.severities]),
        ),
        "First response and resolution times": (
            "First response time per severity (p90)", "minutes", "severity",
            bars("minutes", [(s, round(t.p90.total_seconds() / 60, 1))
                             for s, t in figs.first_response.items() if t.p90 is not None]),
        ),
        "Satisfaction (CSAT)": (
            "CSAT answers per score", "answers", "score (1-5)",
            bars("answers", [(str(s), float(n)) for s, n in figs.csat.distribution.items()]),
        ),
        "Agent load": (
            "Cases assigned per agent", "cases assigned", "agent",
            bars("cases assigned", [(a.name, float(a.assigned)) for a in data.agents]),
        ),
    }  # fmt: skip
    return {
        section: bar_chart(
            title, unit, names, *series, category_label=axis, chart_id=f"chart-{_slug(section)}"
        )
        for section, (title, unit, axis, (names, series)) in specs.items()
        if names and series
    }


def _summary_lines(data: ReportData, figs: Figures) -> list[str]:
    c = figs.csat
    mean = "-" if c.mean is None else f"{c.mean:.2f} of 5 ({c.count} answers)"
    zone = data.timezone
    first = sum(b[Clock.FIRST_RESPONSE] for b in figs.breaches.values())
    resolution = sum(b[Clock.RESOLUTION] for b in figs.breaches.values())
    lines = [
        f"Playbook: {data.playbook_id}",
        f"Launched: {_when(data.created_at, zone)}; stood down: {_when(data.stood_down_at, zone)}",
        f"Cases: {len(data.cases)} ({figs.open_cases} still open)",
        f"SLA breaches: {first} first response, {resolution} resolution "
        f"(as of {_when(data.as_of, zone)})",
        f"Escalations: {sum(figs.escalations.values())}" + _late(figs),
        f"Mean satisfaction: {mean}",
        f"Report generated: {_when(data.generated_at, zone)}; times in {zone}",
    ]
    if data.exercise:
        lines.insert(0, "EXERCISE: nothing in this incident reached the public")
    return lines


def _late(figs: Figures) -> str:
    late = figs.escalations_after_close
    if not late:
        return ""
    return (f" ({late} after the incident closed: its open cases were kept under the SLA "
            "sweep, which went on escalating them)")  # fmt: skip


def _heading(data: ReportData) -> str:
    return f"{'EXERCISE: ' if data.exercise else ''}{data.ref}: {data.title}"


def _md_text(text: str) -> str:
    """Text for the Markdown report, shown as written: HTML (``<script>`` in an agent's note
    or a parameter) is escaped, since Markdown viewers render raw HTML, and ``[``/``]`` are
    escaped so a note cannot make a link or load a remote image."""
    escaped = html.escape(text, quote=False)
    return escaped.replace("[", "\\[").replace("]", "\\]")


def _md_table(table: Table) -> list[str]:
    head, rows = table

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(_md_text(c).replace("|", "\\|").replace("\n", " ")
                                 for c in cells) + " |"  # fmt: skip

    return [line(head), line(["---"] * len(head)), *(line(r) for r in rows)]


def markdown(data: ReportData, figs: Figures, images: Mapping[str, str]) -> str:
    """The report as Markdown; ``images`` maps section titles to chart (SVG) file paths."""
    head = _md_text(_heading(data)).replace("\n", " ")
    lines = [f"# {head}", "", *(f"- {_md_text(s)}" for s in _summary_lines(data, figs))]
    for title, table in _tables(data, figs):
        lines += ["", f"## {title}", ""]
        if title in images:
            lines += [f"![{title}]({images[title]})", ""]
        lines += _md_table(table) if table[1] else ["(none)"]
    return "\n".join(lines) + "\n"


def _html_table(table: Table) -> str:
    head, rows = table
    if not rows:
        return "<p>(none)</p>"
    th = "".join(f'<th scope="col">{html.escape(h)}</th>' for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _html_chart(svg: str) -> str:
    return f'<figure class="chart">{svg}</figure>'


_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
    "color:#1a1a1a}table{border-collapse:collapse;margin:.5rem 0}th,td{border:1px solid #bbb;"
    "padding:.25rem .5rem;text-align:left}.chart{margin:1rem 0}"
    ".chart svg{display:block;max-width:30rem;height:auto}"
)


def to_html(data: ReportData, figs: Figures, made: Mapping[str, str]) -> str:
    """One self-contained HTML page, the charts inline as SVG."""
    parts = [f"<h1>{html.escape(_heading(data))}</h1><ul>"]
    parts += [f"<li>{html.escape(line)}</li>" for line in _summary_lines(data, figs)]
    parts.append("</ul>")
    for title, table in _tables(data, figs):
        parts.append(f"<section><h2>{html.escape(title)}</h2>")
        if title in made:
            parts.append(_html_chart(made[title]))
        parts.append(_html_table(table) + "</section>")
    head = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{'EXERCISE ' if data.exercise else ''}{html.escape(data.ref)} report</title>"
        f"<style>{_CSS}</style></head><body>"
    )
    return head + "".join(parts) + "</body></html>\n"


def _slug(title: str) -> str:
    return "-".join("".join(ch if ch.isalnum() else " " for ch in title.lower()).split())


def write_report(data: ReportData, directory: Path) -> ReportFiles:
    """Write ``<ref>-report.md`` (+ SVG charts in ``<ref>-charts/``) and ``<ref>-report.html``."""
    figs = figures(data)
    made = charts(data, figs)
    directory.mkdir(parents=True, exist_ok=True)
    chart_dir = directory / f"{data.ref}-charts"
    chart_dir.mkdir(exist_ok=True)
    images: dict[str, str] = {}
    written: list[Path] = []
    for title, svg in made.items():
        path = chart_dir / f"{_slug(title)}.svg"
        path.write_text(svg, encoding="utf-8")
        written.append(path)
        images[title] = f"{chart_dir.name}/{path.name}"
    md_path = directory / f"{data.ref}-report.md"
    md_path.write_text(markdown(data, figs, images), encoding="utf-8")
    html_path = directory / f"{data.ref}-report.html"
    html_path.write_text(to_html(data, figs, made), encoding="utf-8")
    audit_path = directory / f"{data.ref}-audit.csv"
    write_audit(data, audit_path)
    return ReportFiles(md_path, html_path, tuple(written), audit_path)


def write_audit(data: ReportData, path: Path) -> None:
    """The whole audit log as CSV (UTC ISO times: for machines; the report shows local time).

    Cells that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``) get a quote.
    """
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["at", "actor", "action", "subject", "source", "detail"])
        for a in data.audit:
            cells = [a.actor, a.action, a.subject, a.source, a.detail]
            writer.writerow([a.at.isoformat(), *(_cell(c) for c in cells)])


def _cell(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
