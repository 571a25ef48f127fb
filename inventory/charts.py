"""Inline SVG chart of a product's weekly demand history and its forecast with the quantile band (no JS, no CDN)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .models import DemandForecast

if TYPE_CHECKING:
    from .dashboard import Projection

WIDTH, HEIGHT, PAD = 640, 200, 28


def forecast_svg(forecast: DemandForecast, history_weeks: int = 26) -> SafeString:
    """History (grey line), forecast mean (blue line) and the band between the lowest and highest stored
    quantile (light blue) on one weekly axis; the origin is marked by a dashed line."""
    history = [float(v) for v in (forecast.history or [])][-history_weeks:]
    mean = [float(v) for v in forecast.mean or []]
    qcols = sorted(forecast.quantiles or {}, key=lambda c: float(c[1:]))
    low = [float(v) for v in forecast.quantiles[qcols[0]]] if qcols else mean
    high = [float(v) for v in forecast.quantiles[qcols[-1]]] if qcols else mean
    n = len(history) + len(mean)
    if n == 0:
        return mark_safe("<p>No data to draw.</p>")
    top = max([*history, *mean, *high, 1.0]) * 1.1
    step = (WIDTH - 2 * PAD) / max(n - 1, 1)

    def x(i: int) -> float:
        return PAD + i * step

    def y(v: float) -> float:
        return HEIGHT - PAD - (HEIGHT - 2 * PAD) * v / top

    def path(values: list[float], offset: int) -> str:
        return " ".join(f"{x(offset + i):.1f},{y(v):.1f}" for i, v in enumerate(values))

    h0 = len(history)
    # the forecast line starts at the last actual week so the two lines join
    join = [history[-1]] if history else []
    start = h0 - 1 if history else 0
    band = (
        path([*join, *high], start)
        + " "
        + " ".join(f"{x(start + i):.1f},{y(v):.1f}" for i, v in reversed(list(enumerate([*join, *low]))))
    )
    origin = forecast.origin
    first = origin - dt.timedelta(weeks=h0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" class="inventory-forecast-chart" aria-label="Weekly demand and forecast">',
        f"<title>Weekly units: history and forecast from {escape(origin.isoformat())}</title>",
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#fff" stroke="#ddd"/>',
        f'<polygon points="{band}" fill="#9ecae1" fill-opacity="0.5" class="band"/>',
        f'<polyline points="{path(history, 0)}" fill="none" stroke="#666" stroke-width="2" class="history"/>'
        if history
        else "",
        f'<polyline points="{path([*join, *mean], start)}" fill="none" stroke="#08519c" stroke-width="2" '
        f'class="forecast"/>',
        f'<line x1="{x(max(h0 - 0.5, 0)):.1f}" y1="{PAD}" x2="{x(max(h0 - 0.5, 0)):.1f}" y2="{HEIGHT - PAD}" '
        f'stroke="#999" stroke-dasharray="4 3"/>',
        f'<text x="{PAD}" y="{HEIGHT - 8}" font-size="11">{escape(first.isoformat())}</text>',
        f'<text x="{x(h0):.1f}" y="{HEIGHT - 8}" font-size="11">{escape(origin.isoformat())}</text>',
        f'<text x="4" y="{PAD - 10}" font-size="11">{top / 1.1:.0f} units/week</text>',
        f'<text x="{WIDTH - 200}" y="{PAD - 10}" font-size="11">grey: sold · blue: forecast · band: '
        f"{escape(qcols[0] if qcols else 'mean')}–{escape(qcols[-1] if qcols else 'mean')}</text>",
        "</svg>",
    ]
    return mark_safe("".join(parts))  # noqa: S308 - numbers and escaped text only


def projection_svg(projection: Projection, on_hand: float) -> SafeString:
    """Projected stock (green line from today's on hand), the weeks' arrivals (bars) and the zero line; weeks
    that end below zero are marked red: demand the stock and the open orders will not cover."""
    levels = [float(on_hand), *projection.stock]
    top = max([*levels, *projection.incoming, 1.0]) * 1.1
    bottom = min([*levels, 0.0]) * 1.1
    n = len(levels)
    step = (WIDTH - 2 * PAD) / max(n - 1, 1)

    def x(i: float) -> float:
        return PAD + i * step

    def y(v: float) -> float:
        return HEIGHT - PAD - (HEIGHT - 2 * PAD) * (v - bottom) / (top - bottom)

    bars = "".join(
        f'<rect class="incoming" x="{x(i + 1) - 8:.1f}" y="{y(q):.1f}" width="16" height="{y(0) - y(q):.1f}" '
        f'fill="#74c476"><title>{q} units arriving in week {i + 1}</title></rect>'
        for i, q in enumerate(projection.incoming) if q > 0
    )
    dots = "".join(
        (f'<circle class="short" cx="{x(i):.1f}" cy="{y(v):.1f}" r="3.5" fill="#cb181d">' if v < 0 else
         f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3.5" fill="#238b45">') + f"<title>{v:.0f} units</title></circle>"
        for i, v in enumerate(levels)
    )
    line = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(levels))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" class="inventory-projection-chart" aria-label="Projected stock">',
        f"<title>Projected stock from {escape(projection.origin.isoformat())}</title>",
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#fff" stroke="#ddd"/>',
        f'<line x1="{PAD}" y1="{y(0):.1f}" x2="{WIDTH - PAD}" y2="{y(0):.1f}" stroke="#999"/>',
        bars,
        f'<polyline points="{line}" fill="none" stroke="#238b45" stroke-width="2" class="stock"/>',
        dots,
        f'<text x="4" y="{y(0) + 4:.1f}" font-size="11">0</text>',
        f'<text x="{x(n - 1) - 34:.1f}" y="{y(levels[-1]) - 8:.1f}" font-size="11">{levels[-1]:.0f}</text>',
        f'<text x="{PAD}" y="{HEIGHT - 8}" font-size="11">now</text>',
        f'<text x="{x(n - 1) - 40:.1f}" y="{HEIGHT - 8}" font-size="11">week {n - 1}</text>',
        f'<text x="4" y="{PAD - 10}" font-size="11">green: stock at the end of each week · bars: open orders '
        "arriving · red: short</text>",
        "</svg>",
    ]
    return mark_safe("".join(parts))  # noqa: S308 - numbers and fixed text only
