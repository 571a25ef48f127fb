"""Server-side SVG of the recommender's validation metrics over its model versions (no JavaScript)."""
from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from ..models import ModelVersion

METRICS = (("ndcg@20", "#4e79a7"), ("recall@20", "#f28e2b"), ("hr@10", "#59a14f"), ("new_ndcg@20", "#b07aa1"))
WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 760, 300, 48, 130, 14, 40


def metrics_svg(versions: Sequence[ModelVersion]) -> SafeString:
    """One line per metric over the versions (oldest left); the active version's points are ringed."""
    versions = [v for v in versions if v.metrics]
    if not versions:
        return format_html('<p class="help">{}</p>', "No trained recommender with validation metrics yet.")
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = max([float(v.metrics.get(m, 0.0)) for v in versions for m, _ in METRICS] + [0.1])
    step = plot_w / max(len(versions) - 1, 1)

    def x(i: int) -> float:
        return LEFT + (i * step if len(versions) > 1 else plot_w / 2)

    def y(value: float) -> float:
        return TOP + plot_h * (1 - value / top)

    parts = [format_html('<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#999"/>', LEFT, TOP + plot_h, LEFT + plot_w,
                         TOP + plot_h)]
    for tick in (0.0, top / 2, top):
        parts.append(format_html('<text x="{}" y="{}" font-size="11" text-anchor="end">{}</text>', LEFT - 6,
                                 round(y(tick) + 4, 1), f"{tick:.2f}"))
    for i, version in enumerate(versions):
        parts.append(format_html('<text x="{}" y="{}" font-size="11" text-anchor="middle">v{}</text>', round(x(i), 1),
                                 HEIGHT - BOTTOM + 16, version.pk))
    for row, (metric, colour) in enumerate(METRICS):
        points = [(x(i), y(float(v.metrics[metric]))) for i, v in enumerate(versions) if metric in v.metrics]
        if not points:
            continue
        parts.append(format_html('<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>', colour,
                                 " ".join(f"{px:.1f},{py:.1f}" for px, py in points)))
        parts.append(format_html_join("", '<circle cx="{}" cy="{}" r="{}" fill="{}" stroke="{}"><title>{}</title>'
                                          '</circle>', (
            (round(x(i), 1), round(y(float(v.metrics[metric])), 1), 5 if v.status == "active" else 3,
             "#fff" if v.status == "active" else colour, colour, f"v{v.pk} {metric} = {v.metrics[metric]:.4f}")
            for i, v in enumerate(versions) if metric in v.metrics)))
        parts.append(format_html('<text x="{}" y="{}" font-size="12" fill="{}">{}</text>', LEFT + plot_w + 12,
                                 TOP + 14 + 18 * row, colour, metric))
    body = mark_safe("".join(str(p) for p in parts))  # noqa: S308 - every part is built with format_html
    return format_html('<svg class="recommender-metrics" role="img" aria-label="{}" viewBox="0 0 {} {}" width="{}" '
                       'height="{}">{}</svg>', "Validation metrics per model version", WIDTH, HEIGHT, WIDTH, HEIGHT,
                       body)
