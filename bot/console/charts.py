"""Server-side SVG charts: no script, Okabe-Ito colours (colour-blind safe), labelled axes."""

from __future__ import annotations

import datetime as dt
from html import escape

from markupsafe import Markup

#: Okabe & Ito (2008): distinguishable with every common colour-vision deficiency.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
WIDTH = 640
LABEL_W = 170


def _nice_max(value: int) -> int:
    """A round top for an axis of four whole-number steps: 4, 8, 20, 40, 80, 200, ..."""
    return 4 * _nice_step(-(-value // 4))


def _nice_step(value: int) -> int:
    decade = 1
    while True:
        for step in (1, 2, 5):
            if decade * step >= value:
                return decade * step
        decade *= 10


def _svg(height: int, title: str, body: list[str]) -> Markup:
    label = escape(title)
    return Markup(  # noqa: S704 - every text in `body` went through escape()
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{label}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{label}</title>' + "".join(body) + "</svg>"
    )


def _x_axis(
    top: int, y: int, x_label: str, left: int = LABEL_W, right: int = WIDTH - 40
) -> list[str]:
    parts = [f'<line x1="{left}" y1="{y}" x2="{right}" y2="{y}" stroke="#555"/>']
    for i in range(5):
        value = top * i / 4
        x = left + (right - left) * i / 4
        parts.append(f'<line x1="{x:.1f}" y1="{y}" x2="{x:.1f}" y2="{y + 4}" stroke="#555"/>')
        parts.append(
            f'<text x="{x:.1f}" y="{y + 16}" font-size="11" text-anchor="middle">{value:g}</text>'
        )
    parts.append(
        f'<text x="{(left + right) / 2:.0f}" y="{y + 32}" font-size="12" '
        f'text-anchor="middle">{escape(x_label)}</text>'
    )
    return parts


def _legend(series: list[tuple[str, str]], x: int) -> list[str]:
    """Swatches and names in one row; each name gets the room its length needs."""
    parts = []
    for i, (_, label) in enumerate(series):
        parts.append(f'<rect x="{x}" y="4" width="12" height="12" fill="{PALETTE[i % 7]}"/>')
        parts.append(f'<text x="{x + 16}" y="14" font-size="11">{escape(label)}</text>')
        x += 30 + 6 * len(label)
    return parts


def bars(title: str, items: list[tuple[str, int]], x_label: str) -> Markup:
    """Horizontal bars, one colour, the value at the end of each bar (a funnel reads down)."""
    top = _nice_max(max([v for _, v in items] + [1]))
    row = 26
    height = 20 + row * len(items) + 40
    span = WIDTH - 40 - LABEL_W
    body: list[str] = []
    for i, (label, value) in enumerate(items):
        y = 10 + i * row
        w = span * value / top
        body.append(
            f'<text x="{LABEL_W - 8}" y="{y + 15}" font-size="12" text-anchor="end">'
            f"{escape(label)}</text>"
        )
        body.append(
            f'<rect x="{LABEL_W}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" '
            f'fill="{PALETTE[0]}"/>'
        )
        body.append(f'<text x="{LABEL_W + w + 4:.1f}" y="{y + 15}" font-size="12">{value}</text>')
    body += _x_axis(top, 12 + row * len(items), x_label)
    return _svg(height, title, body)


def grouped(
    title: str,
    groups: dict[str, dict[str, int]],
    series: list[tuple[str, str]],
    x_label: str,
) -> Markup:
    """For each group (a pathway, a language), one bar per series (funnel stage), a legend."""
    top = _nice_max(max([v for g in groups.values() for v in g.values()] + [1]))
    bar = 9
    block = bar * len(series) + 12
    legend = 22
    height = legend + 10 + block * max(len(groups), 1) + 40
    span = WIDTH - 40 - LABEL_W
    body: list[str] = []
    body += _legend(series, 10)
    for g, (group, values) in enumerate(groups.items()):
        y0 = legend + 10 + g * block
        body.append(
            f'<text x="{LABEL_W - 8}" y="{y0 + block / 2:.0f}" font-size="12" '
            f'text-anchor="end">{escape(group)}</text>'
        )
        for i, (key, label) in enumerate(series):
            value = values.get(key, 0)
            w = span * value / top
            y = y0 + i * bar
            body.append(
                f'<rect x="{LABEL_W}" y="{y}" width="{w:.1f}" height="{bar - 1}" '
                f'fill="{PALETTE[i % 7]}"><title>{escape(group)}, {escape(label)}: {value}'
                "</title></rect>"
            )
    body += _x_axis(top, legend + 12 + block * max(len(groups), 1), x_label)
    return _svg(height, title, body)


def lines(
    title: str,
    points: list[tuple[dt.date, dict[str, int]]],
    series: list[tuple[str, str]],
    y_label: str,
    x_label: str,
) -> Markup:
    """A line per series over time; dates on the x axis, counts on the y axis."""
    left, right, top_y, bottom = 60, WIDTH - 20, 30, 210
    height = bottom + 50
    top = _nice_max(max([v for _, p in points for v in p.values()] + [1]))
    n = max(len(points) - 1, 1)
    body: list[str] = []
    body += _legend(series, left)
    for i in range(5):
        value = top * i / 4
        y = bottom - (bottom - top_y) * i / 4
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#ddd"/>')
        body.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">'
            f"{value:g}</text>"
        )
    body.append(
        f'<text x="14" y="{(top_y + bottom) / 2:.0f}" font-size="12" text-anchor="middle" '
        f'transform="rotate(-90 14 {(top_y + bottom) / 2:.0f})">{escape(y_label)}</text>'
    )
    body.append(f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#555"/>')
    every = max(1, len(points) // 6)
    for i, (day, _) in enumerate(points):
        if i % every == 0 or i == len(points) - 1:
            tick = left + (right - left) * i / n
            body.append(
                f'<text x="{tick:.1f}" y="{bottom + 16}" font-size="11" text-anchor="middle">'
                f"{escape(day.strftime('%m-%d'))}</text>"
            )
    body.append(
        f'<text x="{(left + right) / 2:.0f}" y="{bottom + 36}" font-size="12" '
        f'text-anchor="middle">{escape(x_label)}</text>'
    )
    for s, (key, label) in enumerate(series):
        coords = [
            (left + (right - left) * i / n, bottom - (bottom - top_y) * p.get(key, 0) / top)
            for i, (_, p) in enumerate(points)
        ]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        colour = PALETTE[s % 7]
        dash = ' stroke-dasharray="6 3"' if s % 2 else ""
        body.append(
            f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash}>'
            f"<title>{escape(label)}</title></polyline>"
        )
        body += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}"/>' for x, y in coords]
    return _svg(height, title, body)
