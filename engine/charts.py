"""Charts for `adieu report`: inline SVG written here, with no plotting
library and no JavaScript, so the report renders with no network and in
any browser, and a test can count what was drawn.

Chosen by measurement (2,000-point scatter and a 12-bar chart): matplotlib
SVG needs ~110 MB of packages (numpy, fonttools, pillow), 0.9 s to import
and wrote 255 KB with its marks as <use> references; altair with
vl-convert (for offline SVG or inline vega JS) needs ~95 MB, 1.1 s to
render, 626 KB of SVG or 1 MB of inline JavaScript. This module: no
dependency, milliseconds, ~70 bytes a point.

Every mark a chart draws (a point, a bar) has the class "mark" (plus
what it is: "point", "bar", and "offboard" for an offboard candidate), so
`svg .mark` counts them. Positions are computed with Decimal (fact values
are never turned into floats) and rounded to 0.1 px. Text from data is
escaped (escape below: hidden characters shown, then html.escape) where
it enters the SVG, and a label from data is cut to a fixed width with an
ellipsis, its full text in a <title> (fit below), so no data makes a text
leave its chart. Titles, notes and captions are not drawn here: the page
writes them in HTML under each chart, where they wrap."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from html import escape as _html_escape
from typing import Any
from unicodedata import combining, east_asian_width

from .safe_text import visible

OUTCOME_COLOURS = {
    "keep": "#4c9a5f", "watch": "#7a8fa6", "warn": "#e0b000", "final_notice": "#e07b00",
    "offboard": "#c62828", "exempt": "#8e6cbf", "held": "#9e9e9e",
}
_PX = Decimal("0.1")
FONT_PX = 11  # the page's CSS: svg { font-size: 11px }
# Widths in em, on the wide side of common sans-serif fonts (DejaVu Sans,
# Verdana, Helvetica), so an estimated width is never less than the drawn one.
_NARROW, _WIDE = set(" .,:;'!|ijlIft()[]`\"/-"), set("mwMW@%")


def escape(text: Any) -> str:
    """Text from data for SVG: hidden characters (ESC, bidi overrides,
    zero-width characters ...) shown as \\x1b, \\u202e (safe_text.visible),
    then HTML-escaped."""
    return _html_escape(visible(str(text), keep="\n\r\t"))


def text_width(text: str) -> float:
    """A generous estimate of `text`'s drawn width in px at FONT_PX."""
    em = 0.0
    for ch in text:
        if ch.isascii():
            em += 0.42 if ch in _NARROW else 1.05 if ch in _WIDE else \
                0.82 if ch.isupper() or ch in "&#~" else 0.68
        elif combining(ch):
            continue
        else:
            em += 1.25 if east_asian_width(ch) in ("W", "F") else 1.0
    return em * FONT_PX


def fit(text: Any, width: float) -> tuple[str, bool]:
    """(text with its hidden characters shown, cut with an ellipsis so it
    is drawn no wider than `width` px; whether it was cut)."""
    shown = visible(str(text), keep="")
    if text_width(shown) <= width:
        return shown, False
    room, used, end = width - text_width("\u2026"), 0.0, 0
    for end, ch in enumerate(shown):  # noqa: B007 (end is used after the loop)
        used += text_width(ch)
        if used > room:
            break
    return shown[:end].rstrip() + "\u2026", True


def label(text: Any, width: float, **attrs: Any) -> str:
    """An SVG <text> of a label from data, cut to `width` px (the full text
    in its <title>, shown on hover)."""
    shown, cut = fit(text, width)
    attributes = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in attrs.items())
    full = f"<title>{escape(text)}</title>" if cut else ""
    return f"<text{attributes}>{full}{_html_escape(shown)}</text>"


def _px(value: Decimal) -> str:
    return str(value.quantize(_PX, rounding=ROUND_HALF_EVEN))


def nice_ticks(low: Decimal, high: Decimal, count: int = 5) -> list[Decimal]:
    """Round tick values covering [low, high] on a 1-2-5 step (exact)."""
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    power = Decimal(1).scaleb(raw.adjusted())
    step = next(power * m for m in (1, 2, 5, 10) if power * m >= raw)
    start = (low / step).to_integral_value(rounding="ROUND_FLOOR") * step
    ticks = []
    value = start
    while value < high + step:
        ticks.append(value)
        if value >= high:
            break
        value += step
    return ticks


def tick_label(value: Decimal) -> str:
    """12,000 / 1.2M / 0.5: short, exact labels for axis ticks."""
    if abs(value) >= 1_000_000:
        return f"{(value / 1_000_000).normalize():f}M"
    text = f"{value.normalize():,f}"
    return text


class _Scale:
    def __init__(self, low: Decimal, high: Decimal, px0: int, px1: int):
        self.ticks = nice_ticks(low, high)
        self.low, self.high = self.ticks[0], self.ticks[-1]
        self.px0, self.px1 = Decimal(px0), Decimal(px1)

    def __call__(self, value: Any) -> str:
        span = self.high - self.low
        return _px(self.px0 + (Decimal(value) - self.low) * (self.px1 - self.px0) / span)


def scatter(points: Sequence[dict[str, Any]], x_label: str, y_label: str,
            width: int = 720, height: int = 420) -> str:
    """A scatter plot: points are {x, y (int or Decimal), offboard (bool),
    title (text shown on hover)}. Offboard candidates are drawn last, in red,
    as larger points with the class "offboard". A dashed line marks y = x
    (cost equals revenue). What was drawn (sampling) is said under the
    chart, in HTML."""
    left, right, top, bottom = 80, width - 50, 20, height - 60
    xs = [Decimal(p["x"]) for p in points] or [Decimal(0)]
    ys = [Decimal(p["y"]) for p in points] or [Decimal(0)]
    sx = _Scale(min(min(xs), Decimal(0)), max(xs), left, right)
    sy = _Scale(min(min(ys), Decimal(0)), max(ys), bottom, top)
    out = [f'<svg class="chart scatter" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(y_label)} against '
           f'{escape(x_label)}">', _axes(sx, sy, left, right, top, bottom)]
    line_end = min(sx.high, sy.high)
    line_start = max(sx.low, sy.low)
    out.append(f'<line class="guide" x1="{sx(line_start)}" y1="{sy(line_start)}" '
               f'x2="{sx(line_end)}" y2="{sy(line_end)}" stroke="#888" '
               'stroke-dasharray="4 4"/>')
    for p in sorted(points, key=lambda p: bool(p["offboard"])):
        cls, r, colour = ("mark point offboard", 4.5, OUTCOME_COLOURS["offboard"]) \
            if p["offboard"] else ("mark point", 2.5, "#3f6fa8")
        out.append(f'<circle class="{cls}" cx="{sx(p["x"])}" cy="{sy(p["y"])}" r="{r}" '
                   f'fill="{colour}" fill-opacity="0.7"><title>{escape(p["title"])}'
                   '</title></circle>')
    out.append(f'<text x="{(left + right) // 2}" y="{height - 20}" text-anchor="middle">'
               f'{escape(x_label)}</text>')
    out.append(f'<text x="15" y="{(top + bottom) // 2}" text-anchor="middle" '
               f'transform="rotate(-90 15 {(top + bottom) // 2})">{escape(y_label)}</text>')
    out.append("</svg>")
    return "".join(out)


def _axes(sx: _Scale, sy: _Scale, left: int, right: int, top: int, bottom: int) -> str:
    out = [f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#333"/>',
           f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="#333"/>']
    for t in sx.ticks:
        out.append(f'<text class="tick" x="{sx(t)}" y="{bottom + 16}" '
                   f'text-anchor="middle">{tick_label(t)}</text>')
    for t in sy.ticks:
        out.append(f'<line x1="{left}" y1="{sy(t)}" x2="{right}" y2="{sy(t)}" '
                   'stroke="#eee"/>')
        out.append(f'<text class="tick" x="{left - 6}" y="{sy(t)}" text-anchor="end" '
                   f'dominant-baseline="middle">{tick_label(t)}</text>')
    return "".join(out)


def _run_label(x: Decimal, bottom: int, label: str, runs: int) -> str:
    """A run's label under its column: level for a few runs, slanted for many."""
    if runs <= 6:
        return (f'<text class="tick" x="{_px(x)}" y="{bottom + 16}" text-anchor="middle">'
                f'{escape(label)}</text>')
    y = bottom + 12
    return (f'<text class="tick" x="{_px(x)}" y="{y}" text-anchor="end" '
            f'transform="rotate(-40 {_px(x)} {y})">{escape(label)}</text>')


def hbars(rows: Sequence[tuple[str, Decimal, str]], title: str, width: int = 720,
          bar_height: int = 20) -> str:
    """Horizontal bars: rows are (label, value >= 0, text shown after the
    bar). One rect of class "mark bar" per row. A label is cut to the
    label column (fit); the bars end where the longest text after them
    still fits. `title` is the chart's aria-label (the page writes it)."""
    label_w = 260
    longest = max((text_width(visible(t)) for _, _, t in rows), default=0.0)
    right = max(label_w + 100, width - 8 - int(longest) - 6)
    height = 10 + bar_height * max(len(rows), 1) + 10
    top = Decimal(max((v for _, v, _ in rows), default=0))
    scale = (Decimal(right - label_w) / top) if top > 0 else Decimal(0)
    out = [f'<svg class="chart bars" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">']
    for i, (name, value, text) in enumerate(rows):
        y = 10 + i * bar_height
        out.append(label(name, label_w - 12, x=label_w - 6, y=y + bar_height // 2,
                         text_anchor="end", dominant_baseline="middle"))
        out.append(f'<rect class="mark bar" x="{label_w}" y="{y + 2}" '
                   f'width="{_px(Decimal(value) * scale)}" height="{bar_height - 4}" '
                   f'fill="{OUTCOME_COLOURS["offboard"]}"><title>{escape(name)}: '
                   f'{escape(text)}</title></rect>')
        out.append(label(text, float(width - 4 - (label_w + Decimal(value) * scale + 4)),
                         x=_px(label_w + Decimal(value) * scale + 4),
                         y=y + bar_height // 2, dominant_baseline="middle"))
    out.append("</svg>")
    return "".join(out)


def stacked_runs(runs: Sequence[dict[str, Any]], outcomes: Sequence[str],
                 width: int = 720, height: int = 300) -> str:
    """Outcomes over time: one column per run ({label, counts: {outcome:
    n}}), stacked by outcome in `outcomes` order; one rect "mark bar" per
    non-zero count, and a legend."""
    left, right, top, bottom = 60, width - 130, 20, height - 70
    totals = [sum(r["counts"].get(o, 0) for o in outcomes) for r in runs]
    sy = _Scale(Decimal(0), Decimal(max(totals, default=0)), bottom, top)
    n = max(len(runs), 1)
    slot = Decimal(right - left) / n
    bar_w = _px(slot * Decimal("0.7"))
    out = [f'<svg class="chart runs" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="outcomes per run">']
    out.append(f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#333"/>')
    for t in sy.ticks:
        out.append(f'<text class="tick" x="{left - 6}" y="{sy(t)}" text-anchor="end" '
                   f'dominant-baseline="middle">{tick_label(t)}</text>')
    for i, run in enumerate(runs):
        x = Decimal(left) + slot * i + slot * Decimal("0.15")
        base = 0
        for outcome in outcomes:
            count = run["counts"].get(outcome, 0)
            if not count:
                continue
            y_top, y_base = Decimal(sy(base + count)), Decimal(sy(base))
            out.append(f'<rect class="mark bar {outcome}" x="{_px(x)}" y="{_px(y_top)}" '
                       f'width="{bar_w}" height="{_px(y_base - y_top)}" '
                       f'fill="{OUTCOME_COLOURS.get(outcome, "#555")}"><title>'
                       f'{escape(run["label"])}: {escape(outcome)} {count}</title></rect>')
            base += count
        out.append(_run_label(x + slot * Decimal("0.35"), bottom, run["label"], len(runs)))
    for i, outcome in enumerate(outcomes):
        y = top + i * 18
        out.append(f'<rect x="{right + 15}" y="{y}" width="12" height="12" '
                   f'fill="{OUTCOME_COLOURS.get(outcome, "#555")}"/>'
                   f'<text x="{right + 32}" y="{y + 10}">{escape(outcome)}</text>')
    out.append("</svg>")
    return "".join(out)


def line_runs(runs: Sequence[dict[str, Any]], key: str, title: str, width: int = 720,
              height: int = 235) -> str:
    """A line over runs ({label, key: n}): one circle "mark point" per run.
    `title` is the chart's aria-label (the page writes it under the chart)."""
    left, right, top, bottom = 60, width - 130, 15, height - 70
    values = [Decimal(r.get(key) or 0) for r in runs]
    sy = _Scale(Decimal(0), max(values, default=Decimal(0)), bottom, top)
    n = max(len(runs), 1)
    slot = Decimal(right - left) / n
    xs = [Decimal(left) + slot * i + slot / 2 for i in range(len(runs))]
    out = [f'<svg class="chart line" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
           f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#333"/>']
    for t in sy.ticks:
        out.append(f'<text class="tick" x="{left - 6}" y="{sy(t)}" text-anchor="end" '
                   f'dominant-baseline="middle">{tick_label(t)}</text>')
    if len(runs) > 1:
        path = " ".join(f"{_px(x)},{sy(v)}" for x, v in zip(xs, values, strict=True))
        out.append(f'<polyline points="{path}" fill="none" stroke="#e07b00" '
                   'stroke-width="2"/>')
    for x, v, run in zip(xs, values, runs, strict=True):
        out.append(f'<circle class="mark point" cx="{_px(x)}" cy="{sy(v)}" r="4" '
                   f'fill="#e07b00"><title>{escape(run["label"])}: {v}</title></circle>')
        out.append(_run_label(x, bottom, run["label"], len(runs)))
    out.append("</svg>")
    return "".join(out)
