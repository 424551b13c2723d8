"""Line charts as server-rendered SVG: geometry, then the SVG text (_svg).

Points are given in data units; this module maps them onto the picture, picks round tick
values and thins long series so a page never carries thousands of points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from markupsafe import Markup, escape

MAX_POINTS = 320


@dataclass
class Series:
    label: str
    points: list[tuple[float, float]]
    css: str = "series-1"  # colour class
    dashed: bool = False
    step: bool = False  # draw as a staircase (learning rates change per epoch)


@dataclass
class Marker:
    x: float
    label: str
    kind: str = "checkpoint"  # checkpoint | crash | resume


@dataclass
class Shade:
    """A band across the plot between two x values (e.g. work lost since the last checkpoint)."""

    x0: float
    x1: float
    label: str
    kind: str = "lost"


@dataclass
class Chart:
    title: str
    y_label: str
    x_label: str
    series: list[Series]
    markers: list[Marker] = field(default_factory=list)
    x_max: float | None = None
    log_y: bool = False
    width: int = 720
    height: int = 260
    shades: list[Shade] = field(default_factory=list)
    # "compact": a narrow picture with larger text, legible when a phone shrinks it to ~350 px.
    size: str = ""
    toggles: bool = False  # legend items switch their series on and off
    line_labels: bool = False  # each label also written at the end of its (last) line, in a right margin


def thin(points: list[tuple[float, float]], limit: int = MAX_POINTS) -> list[tuple[float, float]]:
    """Average consecutive points in buckets: keeps a spike's height better than skipping."""
    if len(points) <= limit:
        return points
    size = math.ceil(len(points) / limit)
    out = []
    for i in range(0, len(points), size):
        bucket = points[i : i + size]
        out.append((bucket[-1][0], sum(p[1] for p in bucket) / len(bucket)))
    return out


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    return [round(first + i * step, 10) for i in range(int((hi - first) / step) + 1)]


def _log_ticks(lo: float, hi: float) -> list[float]:
    """Ticks of a log axis spanning 10**lo .. 10**hi: decades when two or more fit, else 1-2-5
    steps, else every integer multiple, so that a range inside one decade still has labels."""
    for multiples in ((1,), (1, 2, 5), tuple(range(1, 10))):
        ticks = [
            round(m * 10**e, 12)
            for e in range(math.floor(lo), math.ceil(hi) + 1)
            for m in multiples
            if lo <= math.log10(m * 10**e) <= hi
        ]
        if len(ticks) >= 2:
            return ticks
    return ticks


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1000 or abs(v) < 0.001:
        return f"{v:.0e}"
    return f"{v:.4g}"


def render(chart: Chart, marker_names: dict[str, str] | None = None) -> Markup:
    pad_l, pad_r, pad_t, pad_b = (50, 10, 16, 40) if chart.size == "compact" else (56, 12, 14, 36)
    w, h = chart.width, chart.height
    if chart.line_labels:  # room on the right for the longest label (~6.5 units a character)
        pad_r += min(220, 24 + round(6.5 * max((len(s.label) for s in chart.series), default=0)))
    pw, ph = w - pad_l - pad_r, h - pad_t - pad_b
    series = [Series(s.label, thin(s.points), s.css, s.dashed, s.step) for s in chart.series if s.points]
    xs = [p[0] for s in series for p in s.points] + [m.x for m in chart.markers]
    ys = [p[1] for s in series for p in s.points if math.isfinite(p[1])]
    if chart.log_y:
        ys = [y for y in ys if y > 0]
    x_max = max([chart.x_max or 0, *xs, 1])
    if ys:
        y_lo, y_hi = min(ys), max(ys)
    else:  # nothing drawn yet: an empty frame with a sensible scale
        y_lo, y_hi = (0.01, 1.0) if chart.log_y else (0.0, 1.0)
    if chart.log_y:
        y_lo, y_hi = math.log10(y_lo), math.log10(y_hi)
    if y_hi - y_lo < 1e-9:
        # One flat value (a constant learning rate): show it from zero, not on a ±0.5 band.
        y_lo, y_hi = (y_lo - 0.5, y_hi + 0.5) if chart.log_y else (0.0, abs(y_hi) * 1.25 or 1.0)
    if not chart.log_y:
        y_lo = min(0.0, y_lo)
    y_hi += (y_hi - y_lo) * 0.05

    def sx(x: float) -> float:
        return round(pad_l + pw * x / x_max, 1)

    def sy(y: float) -> float:
        if chart.log_y:
            y = math.log10(max(y, 1e-12))
        return round(pad_t + ph * (1 - (y - y_lo) / (y_hi - y_lo)), 1)

    def path(s: Series) -> str:
        pts = [(x, y) for x, y in s.points if math.isfinite(y) and (y > 0 or not chart.log_y)]
        coords = []
        for i, (x, y) in enumerate(pts):
            if s.step and i:
                coords.append(f"{sx(x)},{sy(pts[i - 1][1])}")
            coords.append(f"{sx(x)},{sy(y)}")
        return " ".join(coords)

    if chart.log_y:
        y_ticks = [(sy(v), _fmt(v)) for v in _log_ticks(y_lo, y_hi)]
    else:
        y_ticks = [(sy(v), _fmt(v)) for v in _ticks(y_lo, y_hi)]
    x_ticks = [(sx(v), _fmt(v)) for v in _ticks(0, x_max, 8) if v <= x_max]
    lines = [
        {
            "label": s.label,
            "css": s.css,
            "dashed": s.dashed,
            "points": path(s),
            "last": (sx(s.points[-1][0]), sy(s.points[-1][1])) if s.points else None,
        }
        for s in series
    ]
    # A label reads away from the middle: one on a marker near the right edge (a crash in the last
    # epoch drawn) would otherwise run out of the frame and be cut off.
    markers = [
        {"x": sx(m.x), "label": m.label, "kind": m.kind, "end": sx(m.x) > pad_l + pw / 2}
        for m in chart.markers
    ]
    shades = [
        {"x": sx(b.x0), "w": max(sx(b.x1) - sx(b.x0), 1.0), "label": b.label, "kind": b.kind}
        for b in chart.shades
        if b.x1 > b.x0
    ]
    if chart.size == "compact":
        x_ticks = [(sx(v), _fmt(v)) for v in _ticks(0, x_max, 4) if v <= x_max]
    return _svg(
        chart, w, h, pad_l, pad_t, pw, ph, shades, y_ticks, x_ticks, lines, markers, marker_names or {}
    )


def _line_labels(lines: list[dict], top: float, bottom: float) -> list[str]:
    """A label at the end of the last line of each name, with a dash of its colour, pushed apart
    (12 units at least) so that lines ending close together stay readable."""
    ends: dict[str, dict] = {}
    for line in lines:
        if line["last"] and (line["label"] not in ends or line["last"][0] >= ends[line["label"]]["last"][0]):
            ends[line["label"]] = line
    out, below = [], top - 4.0
    for line in sorted(ends.values(), key=lambda ln: ln["last"][1]):
        x, y = line["last"]
        y = min(max(y, top + 8, below + 12), bottom)
        below = y
        css = escape(line["css"]) + (" dashed" if line["dashed"] else "")
        out.append(
            f'  <line class="line {css}" x1="{x + 4}" x2="{x + 16}" y1="{y}" y2="{y}"/>'
            f'<text class="line-label" x="{x + 20}" y="{round(y + 4, 1)}">{escape(line["label"])}</text>\n'
        )
    return out


_MARKER_KEYS = {"checkpoint": "● ", "crash": "✕ ", "resume": "↻ "}


def _svg(
    chart: Chart,
    w,
    h,
    pad_l,
    pad_t,
    pw,
    ph,
    shades,
    y_ticks,
    x_ticks,
    lines,
    markers,
    marker_names: dict[str, str],
) -> Markup:
    """The picture as SVG text. Written here rather than in a template: a live view carries two
    or three charts and a class pushes hundreds of views, and Jinja took ~0.19 ms a chart where
    this takes a fraction of it. Every text from outside (titles, labels) is escaped."""
    e = escape
    size = f" chart-{chart.size}" if chart.size else ""
    bottom = pad_t + ph
    out = [
        f'<figure class="chart-figure{size}">\n'
        f'<svg class="chart{size}" viewBox="0 0 {w} {h}" role="img" aria-label="{e(chart.title)}">\n'
        f"  <title>{e(chart.title)}</title>\n"
    ]
    for b in shades:
        out.append(
            f'  <rect class="shade shade-{e(b["kind"])}" x="{b["x"]}" y="{pad_t}" width="{b["w"]}" '
            f'height="{ph}"><title>{e(b["label"])}</title></rect>\n'
        )
    for y, label in y_ticks:
        out.append(
            f'  <line class="grid" x1="{pad_l}" x2="{pad_l + pw}" y1="{y}" y2="{y}"/>\n'
            f'  <text x="{pad_l - 6}" y="{y + 4}" text-anchor="end">{e(label)}</text>\n'
        )
    for x, label in x_ticks:
        out.append(f'  <text x="{x}" y="{bottom + 16}" text-anchor="middle">{e(label)}</text>\n')
    out.append(
        f'  <line class="axis" x1="{pad_l}" x2="{pad_l + pw}" y1="{bottom}" y2="{bottom}"/>\n'
        f'  <line class="axis" x1="{pad_l}" x2="{pad_l}" y1="{pad_t}" y2="{bottom}"/>\n'
        f'  <text x="{pad_l + pw / 2}" y="{h - 4}" text-anchor="middle">{e(chart.x_label)}</text>\n'
        f'  <text x="12" y="{pad_t + ph / 2}" text-anchor="middle"'
        f' transform="rotate(-90 12 {pad_t + ph / 2})">'
        f"{e(chart.y_label)}</text>\n"
    )
    for m in markers:
        x, kind = m["x"], m["kind"]
        out.append(
            f'  <g class="marker marker-{e(kind)}">\n'
            f'    <line x1="{x}" x2="{x}" y1="{pad_t}" y2="{bottom}"/>\n'
        )
        # A label reads leftwards from a marker in the right half of the plot (render()).
        at = f'x="{x - 4}" y="{{}}" text-anchor="end"' if m["end"] else f'x="{x + 4}" y="{{}}"'
        if kind == "crash":
            out.append(f'    <text {at.format(pad_t + 12)} class="marker-label">✕ {e(m["label"])}</text>\n')
        elif kind == "checkpoint":
            out.append(f'    <circle cx="{x}" cy="{bottom}" r="4"><title>{e(m["label"])}</title></circle>\n')
        else:
            out.append(f'    <text {at.format(pad_t + 24)} class="marker-label">{e(m["label"])}</text>\n')
        out.append("  </g>\n")
    for i, line in enumerate(lines):
        dashed = " dashed" if line["dashed"] else ""
        out.append(
            f'  <polyline class="line {e(line["css"])}{dashed}" data-series="{i}" points="{line["points"]}">'
            f"<title>{e(line['label'])}</title></polyline>\n"
        )
    if chart.line_labels:
        out.extend(_line_labels(lines, pad_t, bottom))
    out.append('</svg>\n<figcaption class="legend">\n')
    shown = set()
    for i, line in enumerate(lines):
        # One entry per label and colour: lines drawn alike (two resumes of one mode) share it.
        if (line["label"], line["css"], line["dashed"]) in shown and not chart.toggles:
            continue
        shown.add((line["label"], line["css"], line["dashed"]))
        dashed = " dashed" if line["dashed"] else ""
        key = (
            f'<svg width="26" height="10" aria-hidden="true"><line class="line {e(line["css"])}{dashed}" '
            f'x1="0" x2="26" y1="5" y2="5"/></svg>{e(line["label"])}'
        )
        if chart.toggles:
            out.append(
                f'  <button type="button" class="legend-item legend-toggle" data-series="{i}" '
                f'aria-pressed="true">{key}</button>\n'
            )
        else:
            out.append(f'  <span class="legend-item">{key}</span>\n')
    for kind in dict.fromkeys(m["kind"] for m in markers):
        out.append(
            f'<span class="legend-item marker-key marker-{e(kind)}">{_MARKER_KEYS[kind]}'
            f"{e(marker_names.get(kind, kind))}</span>"
        )
    for b in shades:
        out.append(
            f'<span class="legend-item shade-key shade-{e(b["kind"])}"><svg width="14" height="10" '
            f'aria-hidden="true"><rect class="shade shade-{e(b["kind"])}" width="14" height="10"/></svg>'
            f"{e(b['label'])}</span>"
        )
    out.append("\n</figcaption>\n</figure>")
    return Markup("".join(out))
