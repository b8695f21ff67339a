"""Small bar charts as PNG, written in pure Python (zlib + struct): no plotting dependency.

matplotlib (with numpy, pillow, fonttools...) is tens of megabytes and slow to import, for a
handful of bar charts in one report. These charts draw bars, an axis and the value above each
bar (a 3x5 pixel digit font); the words (bar names, series) go in the HTML legend next to the
chart, where they are real text: readable by screen readers, searchable, translatable.
Colours are the Okabe-Ito palette, distinguishable with the common colour-vision deficiencies.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

RGB = tuple[int, int, int]
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
_BACKGROUND: RGB = (255, 255, 255)
_AXIS: RGB = (60, 60, 60)
_GRID: RGB = (225, 225, 225)

# 3x5 glyphs, one 3-bit row each (top to bottom), for the value labels.
_GLYPHS: Mapping[str, tuple[int, ...]] = {
    "0": (7, 5, 5, 5, 7),
    "1": (2, 6, 2, 2, 7),
    "2": (7, 1, 7, 4, 7),
    "3": (7, 1, 7, 1, 7),
    "4": (5, 5, 7, 1, 1),
    "5": (7, 4, 7, 1, 7),
    "6": (7, 4, 7, 5, 7),
    "7": (7, 1, 1, 2, 2),
    "8": (7, 5, 7, 5, 7),
    "9": (7, 5, 7, 1, 7),
    ".": (0, 0, 0, 0, 2),
    "-": (0, 0, 7, 0, 0),
}


def hex_to_rgb(colour: str) -> RGB:
    value = int(colour.lstrip("#"), 16)
    return (value >> 16) & 255, (value >> 8) & 255, value & 255


class Canvas:
    """An RGB pixel buffer that knows how to fill rectangles, print digits and encode PNG."""

    def __init__(self, width: int, height: int, background: RGB = _BACKGROUND) -> None:
        self.width = width
        self.height = height
        self._rows = [bytearray(bytes(background) * width) for _ in range(height)]

    def rect(self, x0: int, y0: int, x1: int, y1: int, colour: RGB) -> None:
        """Fill [x0, x1) x [y0, y1), clipped to the canvas."""
        x0, x1 = max(x0, 0), min(x1, self.width)
        if x1 <= x0:
            return
        run = bytes(colour) * (x1 - x0)
        for y in range(max(y0, 0), min(y1, self.height)):
            self._rows[y][x0 * 3 : x1 * 3] = run

    def text(self, x: int, y: int, text: str, colour: RGB = _AXIS, scale: int = 2) -> None:
        """Print digits, '.' and '-' with their top-left corner at (x, y)."""
        for char in text:
            for row, bits in enumerate(_GLYPHS.get(char, (0,) * 5)):
                for col in range(3):
                    if bits & (4 >> col):
                        px, py = x + col * scale, y + row * scale
                        self.rect(px, py, px + scale, py + scale, colour)
            x += 4 * scale

    def png(self) -> bytes:
        """The canvas as a PNG file (8-bit RGB, no interlace)."""
        raw = b"".join(b"\x00" + bytes(row) for row in self._rows)

        def chunk(kind: bytes, data: bytes) -> bytes:
            body = kind + data
            return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return (
            b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b"")
        )


@dataclass(frozen=True)
class Chart:
    """A chart ready for the report: the PNG, its legend and a text alternative."""

    title: str
    png: bytes
    legend: tuple[tuple[str, str], ...]  # (label, colour)
    alt: str
    bars: tuple[str, ...] = ()  # bar names, left to right


def _label(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def stacked_chart(
    title: str,
    bars: Sequence[tuple[str, Mapping[str, float]]],
    series: Sequence[str],
    *,
    colours: Mapping[str, str] | None = None,
    width: int = 520,
    height: int = 240,
) -> Chart:
    """Bars left to right, each a stack of ``series`` segments; the total printed on top.

    ``colours`` fixes a series' colour (e.g. failed in vermillion); others take the palette.
    """
    fixed = colours or {}
    colours = {name: fixed.get(name, PALETTE[i % len(PALETTE)]) for i, name in enumerate(series)}
    canvas = Canvas(width, height)
    top, bottom, left = 24, height - 12, 12
    totals = [sum(parts.get(s, 0.0) for s in series) for _, parts in bars]
    peak = max([*totals, 1.0])
    for fraction in (0.25, 0.5, 0.75, 1.0):
        y = bottom - round((bottom - top) * fraction)
        canvas.rect(left, y, width - 12, y + 1, _GRID)
    slot = (width - left - 12) // max(len(bars), 1)
    for index, ((_, parts), total) in enumerate(zip(bars, totals, strict=True)):
        x0 = left + index * slot + slot // 6
        x1 = left + (index + 1) * slot - slot // 6
        y = bottom
        for name in series:
            size = round((bottom - top) * parts.get(name, 0.0) / peak)
            canvas.rect(x0, y - size, x1, y, hex_to_rgb(colours[name]))
            y -= size
        label = _label(total)
        canvas.text(x0 + (x1 - x0 - len(label) * 8) // 2, y - 14, label)
    canvas.rect(left, bottom, width - 12, bottom + 2, _AXIS)
    order = ", ".join(
        f"{name} {_label(total)}" for (name, _), total in zip(bars, totals, strict=True)
    )
    alt = f"{title}: {order or 'no data'}"
    return Chart(title, canvas.png(), tuple(colours.items()), alt, tuple(n for n, _ in bars))


def bar_chart(
    title: str, bars: Sequence[tuple[str, float]], *, width: int = 520, height: int = 240
) -> Chart:
    """One bar per label, each in its own colour (the legend names them)."""
    labels = [label for label, _ in bars]
    stacked = [(label, {label: value}) for label, value in bars]
    return stacked_chart(title, stacked, labels, width=width, height=height)
