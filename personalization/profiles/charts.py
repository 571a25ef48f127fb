"""Server-side SVG of the customer segments' 2-D PCA projection (no JavaScript, nothing downloaded)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

# Tableau 10: distinguishable, and readable for the common colour-vision deficiencies
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")
WIDTH, HEIGHT = 760, 440
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 56, 20, 16, 48


def cluster_colour(cluster_id: int) -> str:
    """The colour of a cluster, the same on every page (stable ids keep their colour across builds)."""
    return PALETTE[int(cluster_id) % len(PALETTE)]


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    if high <= low:
        return [low]
    step = (high - low) / (count - 1)
    return [low + i * step for i in range(count)]


def scatter_svg(
    points: Sequence[Sequence[float]],
    centroids: Mapping[int, Sequence[float]],
    labels: Mapping[int, str],
    explained_variance: Sequence[float] = (),
) -> SafeString:
    """An inline ``<svg>``: one dot per sampled customer ``[x, y, cluster]``, one ringed dot per centroid."""
    xs = [float(p[0]) for p in points] + [float(c[0]) for c in centroids.values()]
    ys = [float(p[1]) for p in points] + [float(c[1]) for c in centroids.values()]
    if not xs:
        return format_html('<p class="help">{}</p>', "No customers to plot yet.")
    x_low, x_high, y_low, y_high = min(xs), max(xs), min(ys), max(ys)
    pad_x, pad_y = (x_high - x_low) * 0.04 or 1.0, (y_high - y_low) * 0.04 or 1.0
    x_low, x_high, y_low, y_high = x_low - pad_x, x_high + pad_x, y_low - pad_y, y_high + pad_y
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM

    def sx(x: float) -> float:
        return MARGIN_LEFT + (x - x_low) / (x_high - x_low) * plot_w

    def sy(y: float) -> float:
        return MARGIN_TOP + (1 - (y - y_low) / (y_high - y_low)) * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="segment-scatter" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" style="max-width:{WIDTH}px" role="img" aria-labelledby="segment-scatter-title">',
        '<title id="segment-scatter-title">'
        "Customers on the first two principal components, coloured by cluster</title>",
        f'<rect x="{MARGIN_LEFT}" y="{MARGIN_TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#ccc"/>',
    ]
    for value in _ticks(x_low, x_high):
        x = sx(value)
        bottom = MARGIN_TOP + plot_h
        parts.append(f'<line x1="{x:.1f}" y1="{bottom}" x2="{x:.1f}" y2="{bottom + 4}" stroke="#888"/>')
        parts.append(
            f'<text x="{x:.1f}" y="{bottom + 16}" font-size="10" text-anchor="middle" fill="#555">{value:.1f}</text>'
        )
    for value in _ticks(y_low, y_high):
        y = sy(value)
        parts.append(f'<line x1="{MARGIN_LEFT - 4}" y1="{y:.1f}" x2="{MARGIN_LEFT}" y2="{y:.1f}" stroke="#888"/>')
        parts.append(
            f'<text x="{MARGIN_LEFT - 6}" y="{y + 3:.1f}" font-size="10" text-anchor="end" '
            f'fill="#555">{value:.1f}</text>'
        )
    variance = list(explained_variance) + [0.0, 0.0]
    parts.append(
        f'<text x="{MARGIN_LEFT + plot_w / 2:.1f}" y="{HEIGHT - 8}" font-size="12" text-anchor="middle" fill="#333">'
        f"principal component 1 ({variance[0]:.0%} of variance)</text>"
    )
    parts.append(
        f'<text transform="translate(14 {MARGIN_TOP + plot_h / 2:.1f}) rotate(-90)" font-size="12" '
        f'text-anchor="middle" fill="#333">principal component 2 ({variance[1]:.0%} of variance)</text>'
    )
    parts.append('<g class="customers" fill-opacity="0.55">')
    for x, y, cluster in points:
        parts.append(
            f'<circle class="customer" data-cluster="{int(cluster)}" cx="{sx(float(x)):.1f}" cy="{sy(float(y)):.1f}" '
            f'r="2.6" fill="{cluster_colour(int(cluster))}"/>'
        )
    parts.append("</g>")
    parts.append('<g class="centroids">')
    for cluster_id, (x, y) in sorted(centroids.items()):
        label = escape(f"Cluster {cluster_id}: {labels.get(cluster_id, '')}")
        cx, cy = sx(float(x)), sy(float(y))
        parts.append(
            f'<circle class="centroid" data-cluster="{int(cluster_id)}" cx="{cx:.1f}" cy="{cy:.1f}" r="9" '
            f'fill="{cluster_colour(cluster_id)}" stroke="#222" stroke-width="2"><title>{label}</title></circle>'
        )
        parts.append(
            f'<text x="{cx:.1f}" y="{cy + 4:.1f}" font-size="10" font-weight="bold" text-anchor="middle" '
            f'fill="#fff">{int(cluster_id)}</text>'
        )
    parts.append("</g></svg>")
    return mark_safe("".join(parts))  # noqa: S308 - numbers we formatted and escaped labels only
