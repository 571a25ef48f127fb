"""Server-side SVG of one product's price history, with its suggestions marked (no JavaScript)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from django.utils import timezone
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from personalization.host.money import format_price

from .models import PriceChange, PriceSuggestion

WIDTH, HEIGHT = 760, 320
LEFT, RIGHT, TOP, BOTTOM = 60, 20, 16, 44
STATUS_COLOURS = {
    "pending": "#f28e2b",
    "approved": "#edc948",
    "applied": "#59a14f",
    "rejected": "#e15759",
    "expired": "#bab0ac",
}


def price_history_svg(
    changes: Sequence[PriceChange],
    suggestions: Sequence[PriceSuggestion],
    current_price: Decimal,
    *,
    now: dt.datetime | None = None,
) -> SafeString:
    """A step line of the price over time (``changes`` oldest first) and one marker per suggestion.

    A marker sits at the suggested price on the day it was made, coloured by its status.
    """
    now = now or timezone.now()
    if not changes and not suggestions:
        return format_html('<p class="help">{}</p>', "No price changes or suggestions yet.")
    times = [c.changed_at for c in changes] + [s.created_at for s in suggestions] + [now]
    start = min(times) - dt.timedelta(days=1)
    first_price = changes[0].old_price if changes else current_price
    steps: list[tuple[dt.datetime, float]] = [(start, float(first_price))]
    steps += [(c.changed_at, float(c.new_price)) for c in changes]
    prices = [p for _, p in steps] + [float(s.suggested_price) for s in suggestions] + [float(current_price)]
    low, high = min(prices), max(prices)
    pad = (high - low) * 0.1 or max(high * 0.05, 0.5)
    low, high = max(0.0, low - pad), high + pad
    span = (now - start).total_seconds() or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def sx(t: dt.datetime) -> float:
        return LEFT + (t - start).total_seconds() / span * plot_w

    def sy(p: float) -> float:
        return TOP + (1 - (p - low) / (high - low)) * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="price-history" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" '
        f'style="max-width:{WIDTH}px" role="img" aria-labelledby="price-history-title">',
        '<title id="price-history-title">Price over time; dots mark suggestions, coloured by status</title>',
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#ccc"/>',
    ]
    for i in range(5):
        value = low + (high - low) * i / 4
        y = sy(value)
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
        label = escape(format_price(value))
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{label}</text>')
    for t in (start, start + (now - start) / 2, now):
        parts.append(
            f'<text x="{sx(t):.1f}" y="{HEIGHT - BOTTOM + 18}" text-anchor="middle" font-size="11">{t:%Y-%m-%d}</text>'
        )
    points = []
    for i, (t, price) in enumerate(steps):
        if i:
            points.append(f"{sx(t):.1f},{sy(steps[i - 1][1]):.1f}")
        points.append(f"{sx(t):.1f},{sy(price):.1f}")
    points.append(f"{sx(now):.1f},{sy(steps[-1][1]):.1f}")
    parts.append(
        f'<polyline class="price-line" fill="none" stroke="#4e79a7" stroke-width="2" points="{" ".join(points)}"/>'
    )
    for s in suggestions:
        colour = STATUS_COLOURS.get(s.status, "#888")
        label = escape(f"{s.created_at:%Y-%m-%d}: {format_price(s.current_price)} → {format_price(s.suggested_price)} "
                       f"({s.get_status_display()})")
        parts.append(
            f'<circle class="suggestion suggestion-{s.status}" cx="{sx(s.created_at):.1f}" '
            f'cy="{sy(float(s.suggested_price)):.1f}" r="5" fill="{colour}" stroke="#333">'
            f"<title>{label}</title></circle>"
        )
    legend_x = LEFT
    for status, colour in STATUS_COLOURS.items():
        parts.append(f'<circle cx="{legend_x + 5}" cy="{HEIGHT - 10}" r="5" fill="{colour}" stroke="#333"/>')
        parts.append(f'<text x="{legend_x + 14}" y="{HEIGHT - 6}" font-size="11">{status}</text>')
        legend_x += 90
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated text is escaped or a number
