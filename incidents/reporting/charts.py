"""Bar charts as SVG text, built here from plain data: pure (no database, no I/O), no dependency.

Why no library: matplotlib 3.11 needs numpy, pillow, fonttools... (42 MB of wheels, 170 MB
installed, 0.35-0.9 s to import pyplot) for a few bar charts; pygal 3.1 is small (133 kB wheel)
but one 3-bar chart is 18 kB (8 kB of CSS) with a <script> fetching tooltip JS from
kozea.github.io (a network call, blocked by a strict CSP); leather 0.4 (alpha) has no stacked
bars, viewBox or <desc>. These charts are 2-4 kB, made of presentation attributes only (no
style, no script: fine under a strict CSP), with their title, units and text alternative.

Bars are horizontal, one row per category: long names (agents, channels) stay readable on a
phone without rotated text, and many categories make a taller chart instead of thinner bars.
Colours are the Okabe-Ito palette, distinguishable with the common colour-vision deficiencies.
"""

from __future__ import annotations

import hashlib
import html
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

PALETTE: tuple[str, ...] = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
    "#000000",
)
FONT = "system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif"
_TEXT = "#1a1a1a"
_MUTED = "#4d4d4d"  # axis names and ticks: 8.5:1 on white
_GRID = "#d9d9d9"
_AXIS = "#595959"
_TITLE_SIZE, _LABEL_SIZE, _VALUE_SIZE, _TICK_SIZE = 16, 14, 13, 12
_PAD, _ROW, _BAR = 12, 28, 18
_COLOUR = re.compile(r"#[0-9A-Fa-f]{6}")
_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
# Characters XML 1.0 does not allow (a NUL in a name would make the whole SVG unreadable).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class Series:
    """One named row of values, one per category, drawn in one colour.

    ``colour`` is ``#RRGGBB``; None takes the palette colour of the series' position.
    """

    name: str
    values: Sequence[float]
    colour: str | None = None


def bar_chart(
    title: str,
    unit_label: str,
    categories: Sequence[str],
    *series: Series,
    category_label: str = "",
    width: int = 400,
    chart_id: str | None = None,
) -> str:
    """A horizontal bar chart as one ``<svg>`` element (valid XML, also inline in HTML).

    One bar per category, top to bottom; several series stack left to right, with a legend
    and each segment's value inside it where it fits, the bar's total after it. The value
    axis is named ``unit_label`` (e.g. "messages", "minutes"), the category column
    ``category_label``. ``<title>`` and ``<desc>`` (every value, in words) are the text
    alternative, referenced by ``aria-labelledby`` with ids from ``chart_id`` (by default
    derived from the content, so distinct charts on one page have distinct ids).
    Every text is escaped. Raises ValueError for negative or non-finite values, a series
    whose length differs from ``categories``, a colour not ``#RRGGBB`` or a bad ``chart_id``.
    """
    _check(categories, series, chart_id)
    colours = [s.colour or PALETTE[i % len(PALETTE)] for i, s in enumerate(series)]
    ident = chart_id or _content_id(title, unit_label, category_label, categories, series)
    desc = describe(unit_label, categories, series, category_label=category_label)

    head: list[str] = []
    y = float(_PAD)
    for line in _wrap(title, _TITLE_SIZE, width - 2 * _PAD):
        y += _TITLE_SIZE * 1.25
        head.append(_text(_PAD, y, line, _TITLE_SIZE, weight="600"))
    y += 8
    if len(series) > 1:
        legend, y = _legend([s.name for s in series], colours, y, width)
        head.append(legend)
    y += _LABEL_SIZE + 2 if category_label else 0
    # The category column: names right-aligned against the axis, under their heading.
    heading = _fit(_clean(category_label), _LABEL_SIZE, width * 0.4)
    names = [_fit(_clean(c), _LABEL_SIZE, width * 0.4) for c in categories]
    x0 = _PAD + 10 + max(_text_width(n, _LABEL_SIZE) for n in [heading, *names])
    if heading:
        head.append(_text(x0 - 8, y, heading, _LABEL_SIZE, _MUTED, "end"))
    top = y + 6
    bottom = top + max(len(categories), 1) * _ROW

    totals = [sum(s.values[i] for s in series) for i in range(len(categories))]
    ticks, x1 = _value_axis(totals, series, x0, width)
    step, scale = ticks[1], (x1 - x0) / ticks[-1]
    unit = _fit(_clean(unit_label), _LABEL_SIZE, width - 2 * _PAD)
    grid = "".join(
        f'<line x1="{_n(x)}" y1="{_n(top)}" x2="{_n(x)}" y2="{_n(bottom)}" stroke="{_GRID}"/>'
        for x in (x0 + v * scale for v in ticks[1:])
    )
    axis = [
        f'<line x1="{_n(x0)}" y1="{_n(top)}" x2="{_n(x0)}" y2="{_n(bottom)}" '
        f'stroke="{_AXIS}" stroke-width="1.5"/>',
        *(
            _text(
                x0 + v * scale,
                bottom + _TICK_SIZE + 4,
                _tick(v, step),
                _TICK_SIZE,
                _MUTED,
                "middle",
            )
            for v in ticks
        ),
        _text((x0 + x1) / 2, bottom + _TICK_SIZE + 24, unit, _LABEL_SIZE, _MUTED, "middle"),
    ]
    bars: list[str] = []
    for row, category in enumerate(categories):
        bar_top = top + row * _ROW + (_ROW - _BAR) / 2
        label = _text(x0 - 8, bar_top + _BAR / 2 + 5, names[row], _LABEL_SIZE, anchor="end")
        if names[row] != _clean(category):  # cut short: the whole name on hover
            label = f"<g><title>{_esc(category)}</title>{label}</g>"
        bars.append(label)
        values = [s.values[row] for s in series]
        bars += _bar(values, colours, x0, bar_top, scale, inside=len(series) > 1)
    if not categories:
        bars.append(_text(x0 + 8, top + _ROW / 2 + 5, "no data", _LABEL_SIZE, _MUTED))

    height = bottom + _TICK_SIZE + 24 + _PAD
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {_n(height)}" '
        f'width="100%" role="img" aria-labelledby="{ident}-title {ident}-desc" '
        f'font-family="{FONT}" font-size="{_LABEL_SIZE}" fill="{_TEXT}">'
        f'<title id="{ident}-title">{_esc(title)}</title>'
        f'<desc id="{ident}-desc">{_esc(desc)}</desc>'
        + "".join(head)
        + f'<g class="grid">{grid}</g>'
        + f'<g class="bars">{"".join(bars)}</g>'
        + f'<g class="axis">{"".join(axis)}</g>'
        + "</svg>"
    )


def describe(
    unit_label: str,
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    category_label: str = "",
) -> str:
    """The chart in words (its ``<desc>``): every bar top to bottom, with its parts."""
    kind = "Stacked bar chart" if len(series) > 1 else "Bar chart"
    head = f"{kind} of {unit_label}" + (f" per {category_label}" if category_label else "")
    if not categories:
        return f"{head}: no data."
    parts = []
    for i, category in enumerate(categories):
        total = _number(sum(s.values[i] for s in series))
        split = ", ".join(f"{s.name} {_number(s.values[i])}" for s in series if s.values[i])
        parts.append(f"{category} {total}" + (f" ({split})" if len(series) > 1 and split else ""))
    return f"{head}, top to bottom: {'; '.join(parts)}."


def _check(categories: Sequence[str], series: Sequence[Series], chart_id: str | None) -> None:
    if not series:
        raise ValueError("a chart needs at least one series")
    if chart_id is not None and not _ID.fullmatch(chart_id):
        raise ValueError(f"chart_id must be a letter then letters, digits, - or _: {chart_id!r}")
    for s in series:
        if len(s.values) != len(categories):
            raise ValueError(
                f"series {s.name!r} has {len(s.values)} values for {len(categories)} categories"
            )
        if s.colour is not None and not _COLOUR.fullmatch(s.colour):
            raise ValueError(f"colour of {s.name!r} must be #RRGGBB, not {s.colour!r}")
        for value in s.values:
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"series {s.name!r}: {value!r} is not a finite value >= 0")


def _content_id(
    title: str, unit: str, label: str, categories: Sequence[str], series: Sequence[Series]
) -> str:
    key = repr((title, unit, label, list(categories), [(s.name, list(s.values)) for s in series]))
    return "chart-" + hashlib.blake2b(key.encode("utf-8"), digest_size=5).hexdigest()


def _value_axis(
    totals: Sequence[float], series: Sequence[Series], x0: float, width: int
) -> tuple[list[float], float]:
    """The tick values (0 to the axis end) and the x where the axis ends: room is left on the
    right for the longest bar's total and the last tick label."""
    peak = max([*totals, 0.0])
    value_w = max(_text_width(_number(t), _VALUE_SIZE) + 8 for t in [*totals, 0.0])
    # As many ticks as fit with room between their labels (the widest is about the peak's).
    tick_w = _text_width(_number(peak * 2.5), _TICK_SIZE)
    room = width - _PAD - x0 - max(value_w, tick_w / 2 + 2)
    integers = all(float(v).is_integer() for s in series for v in s.values)
    step, end = _ticks(peak, integers, max(1, min(5, int(room // (tick_w + 14)))))
    ticks = [round(step * k, 9) for k in range(round(end / step) + 1)]
    right = max(value_w, _text_width(_tick(end, step), _TICK_SIZE) / 2 + 2)
    return ticks, width - _PAD - right


def _tick(value: float, step: float) -> str:
    """A tick label with the decimals its step needs (0.05 steps: two)."""
    return _number(value, max(0, -math.floor(math.log10(step))))


def _bar(
    values: Sequence[float],
    colours: Sequence[str],
    x0: float,
    top: float,
    scale: float,
    *,
    inside: bool,
) -> list[str]:
    """One bar: its segments left to right (with their values inside where they fit when
    ``inside``), then the total after it."""
    parts, x, middle = [], x0, top + _BAR / 2
    for value, colour in zip(values, colours, strict=True):
        size = value * scale
        if size <= 0:
            continue
        parts.append(
            f'<rect x="{_n(x)}" y="{_n(top)}" width="{_n(size)}" height="{_BAR}" fill="{colour}"/>'
        )
        label = _number(value)
        if inside and _text_width(label, _TICK_SIZE) + 6 <= size:
            parts.append(_text(x + size / 2, middle + 4, label, _TICK_SIZE, _ink(colour), "middle"))
        x += size
    parts.append(_text(x + 5, middle + 4.5, _number(sum(values)), _VALUE_SIZE))
    return parts


def _legend(
    names: Sequence[str], colours: Sequence[str], y: float, width: int
) -> tuple[str, float]:
    """Swatch + name per series, left to right, wrapping onto new lines; returns the new y."""
    items, x, line = [], float(_PAD), y
    for name, colour in zip(names, colours, strict=True):
        text = _fit(_clean(name), _LABEL_SIZE, width - 2 * _PAD - 18)
        size = 12 + 6 + _text_width(text, _LABEL_SIZE) + 18
        if x > _PAD and x + size > width - _PAD:
            x, line = float(_PAD), line + 22
        items.append(
            f'<rect x="{_n(x)}" y="{_n(line + 2)}" width="12" height="12" fill="{colour}"/>'
            + _text(x + 18, line + 13, text, _LABEL_SIZE)
        )
        x += size
    return f'<g class="legend">{"".join(items)}</g>', line + 22


def _ticks(peak: float, integers: bool, most: int) -> tuple[float, float]:
    """The step (1, 2 or 5 x 10^k; whole for counts) and the axis end (the first multiple of
    the step at or above ``peak``): at most ``most`` intervals, at least 2 if ``most`` allows."""
    if peak <= 0:
        return 1.0, 1.0
    raw = peak / most
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    if integers:
        step = max(step, 1.0)
    return step, step * math.ceil(peak / step - 1e-9)


def _ink(colour: str) -> str:
    """Black or white text, whichever contrasts more with ``colour``."""

    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    luminance = 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
    return "#000000" if (luminance + 0.05) / 0.05 >= 1.05 / (luminance + 0.05) else "#ffffff"


def _em(ch: str) -> float:
    """A generous guess at one character's width in em (no font files here): about DejaVu
    Sans, the widest common sans-serif (Debian's default)."""
    if unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0.0  # combining marks (Thai vowels and tones) take no width of their own
    if unicodedata.east_asian_width(ch) in ("W", "F"):
        return 1.0
    if ch in "ijlI.,:;'|!() ":
        return 0.34
    if ch in "mwMW%@—":
        return 0.95
    if ch.isupper():
        return 0.72
    return 0.64 if ch.isdigit() else 0.6


def _text_width(text: str, size: float) -> float:
    """The estimated rendered width of ``text``, plus 5% to spare."""
    return sum(_em(ch) for ch in text) * size * 1.05


def _fit(text: str, size: float, max_width: float) -> str:
    """``text``, cut with an ellipsis when wider than ``max_width``."""
    if _text_width(text, size) <= max_width:
        return text
    room, used = max_width - _text_width("…", size), 0.0
    for end, ch in enumerate(text):
        used += _em(ch) * size * 1.05
        if used > room:
            return text[:end].rstrip() + "…"
    return text  # not reached: the whole text is wider than the room


def _wrap(text: str, size: float, max_width: float) -> list[str]:
    """Words of ``text`` in lines no wider than ``max_width`` (a too-long word is cut)."""
    lines: list[str] = []
    for word in _clean(text).split(" "):
        if lines and _text_width(f"{lines[-1]} {word}", size) <= max_width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(_fit(word, size, max_width))
    return lines or [""]


def _clean(text: str) -> str:
    """One line of text, without the characters XML 1.0 cannot hold."""
    return " ".join(_NOT_XML.sub("", text).split())


def _esc(text: str) -> str:
    return html.escape(_clean(text), quote=True)


def _number(value: float, decimals: int | None = None) -> str:
    """1,234 for whole numbers; else ``decimals`` places, by default one (two significant
    digits below 1, so 0.04 is not shown as 0.0)."""
    if float(value).is_integer():
        return f"{int(value):,}"
    if decimals is None and abs(value) < 1:
        return f"{value:.2g}"
    return f"{value:,.{1 if decimals is None else decimals}f}"


def _n(value: float) -> str:
    """A coordinate with at most one decimal."""
    return f"{value:.1f}".removesuffix(".0")


def _text(
    x: float,
    y: float,
    text: str,
    size: int,
    fill: str = _TEXT,
    anchor: str = "start",
    weight: str | None = None,
) -> str:
    """One ``<text>``, escaped; attributes equal to the chart's defaults are left out."""
    extra = "" if size == _LABEL_SIZE else f' font-size="{size}"'
    extra += "" if fill == _TEXT else f' fill="{fill}"'
    extra += "" if anchor == "start" else f' text-anchor="{anchor}"'
    extra += f' font-weight="{weight}"' if weight else ""
    return f'<text x="{_n(x)}" y="{_n(y)}"{extra}>{_esc(text)}</text>'
