"""Server-rendered SVG charts (no JavaScript): stacked bars, lines, histograms, horizontal bars.

Every chart is an ``<svg role="img">`` with a ``<title>`` and ``<desc>`` for screen readers; the
templates put the numbers in a table next to it as well. Colours come from CSS classes.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

_ids = itertools.count(1)


def _nice_max(value: float, ticks: int = 4) -> float:
    """The smallest ``ticks * step`` >= value with a round step (1, 2, 2.5, 5 × 10^k; counts: >= 1)."""
    if value <= 0:
        return ticks
    raw = value / ticks
    exponent = math.floor(math.log10(raw))
    for base in (1, 2, 2.5, 5, 10):
        step = base * 10**exponent
        if step >= raw:
            break
    if value >= ticks and step < 1:
        step = 1
    return step * ticks


def _fmt(value: float) -> str:
    if value >= 1000:
        return f"{value / 1000:g}k"
    if value == int(value):
        return str(int(value))
    return f"{value:.1f}"


def _frame(width: int, height: int, title: str, desc: str, body: list[str], kind: str = "") -> SafeString:
    n = next(_ids)
    return mark_safe(
        f'<svg class="chart {kind}" viewBox="0 0 {width} {height}" role="img" aria-labelledby="ct{n} cd{n}" '
        f'xmlns="http://www.w3.org/2000/svg"><title id="ct{n}">{escape(title)}</title>'
        f'<desc id="cd{n}">{escape(desc)}</desc>' + "".join(body) + "</svg>"
    )


def _y_axis(body, left, top, plot_h, plot_w, ymax, unit=""):
    for i in range(5):
        value = ymax * i / 4
        y = top + plot_h - plot_h * i / 4
        body.append(f'<line class="grid" x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}"/>')
        body.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{_fmt(value)}{unit}</text>')
    body.append(f'<line class="axis" x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}"/>')


def _x_labels(body, labels, left, top, plot_h, step_w, every):
    for i, label in enumerate(labels):
        if label and i % every == 0:
            x = left + step_w * i + step_w / 2
            body.append(f'<text x="{x:.1f}" y="{top + plot_h + 14}" text-anchor="middle">{escape(label)}</text>')


def stacked_bars(
    labels: Sequence[str],
    series: dict[str, Sequence[float]],
    *,
    title: str,
    desc: str,
    width: int = 560,
    height: int = 200,
    label_every: int = 1,
    hrefs: Sequence[str | None] | None = None,
) -> SafeString:
    """Bars stacked per label; ``series`` maps a CSS series name (failed, changed…) to values."""
    left, top, right, bottom = 42, 8, 8, 22
    plot_w, plot_h = width - left - right, height - top - bottom
    count = max(len(labels), 1)
    totals = [sum(values[i] for values in series.values()) for i in range(len(labels))]
    ymax = _nice_max(max(totals, default=0))
    body: list[str] = []
    _y_axis(body, left, top, plot_h, plot_w, ymax)
    step_w = plot_w / count
    bar_w = max(step_w * 0.8, 1)
    for i, label in enumerate(labels):
        base = top + plot_h
        x = left + step_w * i + (step_w - bar_w) / 2
        parts = []
        for name, values in series.items():
            value = values[i]
            if not value:
                continue
            h = plot_h * value / ymax
            base -= h
            parts.append(
                f'<rect class="s-{escape(name)}" x="{x:.1f}" y="{base:.1f}" width="{bar_w:.1f}" height="{h:.1f}">'
                f"<title>{escape(label)}: {_fmt(value)} {escape(name)}</title></rect>"
            )
        href = hrefs[i] if hrefs else None
        if href and parts:
            body.append(f'<a href="{escape(href)}">' + "".join(parts) + "</a>")
        else:
            body.extend(parts)
    _x_labels(body, labels, left, top, plot_h, step_w, label_every)
    return _frame(width, height, title, desc, body)


def lines(
    labels: Sequence[str],
    series: dict[str, Sequence[float | None]],
    *,
    title: str,
    desc: str,
    unit: str = "",
    width: int = 560,
    height: int = 200,
    label_every: int = 1,
) -> SafeString:
    """One polyline per series (CSS class ``line`` plus the series name); gaps where a value is None."""
    left, top, right, bottom = 42, 8, 8, 22
    plot_w, plot_h = width - left - right, height - top - bottom
    count = max(len(labels), 1)
    ymax = _nice_max(max((v for values in series.values() for v in values if v is not None), default=0))
    body: list[str] = []
    _y_axis(body, left, top, plot_h, plot_w, ymax, unit)
    step_w = plot_w / count
    for name, values in series.items():
        segment: list[str] = []
        segments = []
        for i, value in enumerate(values):
            if value is None:
                if segment:
                    segments.append(segment)
                segment = []
                continue
            x = left + step_w * i + step_w / 2
            y = top + plot_h - plot_h * value / ymax
            segment.append(f"{x:.1f},{y:.1f}")
        if segment:
            segments.append(segment)
        for points in segments:
            if len(points) == 1:
                x, y = points[0].split(",")
                body.append(f'<circle class="line {escape(name)}" cx="{x}" cy="{y}" r="2"/>')
            else:
                body.append(f'<polyline class="line {escape(name)}" points="{" ".join(points)}"/>')
    _x_labels(body, labels, left, top, plot_h, step_w, label_every)
    return _frame(width, height, title, desc, body)


def histogram(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    desc: str,
    width: int = 560,
    height: int = 180,
    label_every: int = 1,
    highlight_above: float | None = None,
) -> SafeString:
    """Single-series bars; bars above ``highlight_above`` get the ``s-hot`` class (waves of runs)."""
    left, top, right, bottom = 42, 8, 8, 22
    plot_w, plot_h = width - left - right, height - top - bottom
    count = max(len(labels), 1)
    ymax = _nice_max(max(values, default=0))
    body: list[str] = []
    _y_axis(body, left, top, plot_h, plot_w, ymax)
    step_w = plot_w / count
    bar_w = max(step_w - 1, 1)
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        if not value:
            continue
        h = plot_h * value / ymax
        cls = "s-hot" if highlight_above is not None and value > highlight_above else "s-bar"
        x = left + step_w * i + (step_w - bar_w) / 2
        body.append(
            f'<rect class="{cls}" x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}">'
            f"<title>{escape(label)}: {_fmt(value)}</title></rect>"
        )
    _x_labels(body, labels, left, top, plot_h, step_w, label_every)
    return _frame(width, height, title, desc, body)


def hbars(items: Sequence[tuple[str, float, str | None]], *, title: str, desc: str, width: int = 560) -> SafeString:
    """Horizontal bars, one per (label, value, href) item, largest first as given."""
    row_h, label_w, right = 22, 200, 50
    height = max(len(items), 1) * row_h + 4
    vmax = max((value for _, value, _ in items), default=0) or 1
    plot_w = width - label_w - right
    body: list[str] = []
    for i, (label, value, href) in enumerate(items):
        y = 2 + i * row_h
        shown = label if len(label) <= 30 else label[:28] + "…"
        w = max(plot_w * value / vmax, 1)
        text = f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">{escape(shown)}</text>'
        bar = (
            f'<rect class="s-bar" x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}">'
            f"<title>{escape(label)}: {_fmt(value)}</title></rect>"
        )
        num = f'<text x="{label_w + w + 4:.1f}" y="{y + 15}">{_fmt(value)}</text>'
        if href:
            body.append(f'<a href="{escape(href)}">{text}{bar}</a>{num}')
        else:
            body.append(text + bar + num)
    return _frame(width, height, title, desc, body, "hbars")
