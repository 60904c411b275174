"""Charts drawn on the server as SVG: nothing to install or run in the browser."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from markupsafe import Markup, escape

COLOURS: Final = ("#1f4e99", "#2e8b57", "#c0392b", "#d98a1c", "#6b4fa0")


def bar_chart(
    labels: Sequence[str],
    series: Mapping[str, Sequence[float]],
    width: int = 720,
    height: int = 220,
) -> Markup:
    """Grouped bars, one group per label, one bar per series, with a legend; text escaped."""
    top = max((v for values in series.values() for v in values), default=0.0) or 1.0
    left, bottom, right = 40, 30, 10
    plot_w, plot_h = width - left - right, height - bottom - 24
    group_w = plot_w / max(len(labels), 1)
    bar_w = max(group_w / (len(series) + 1), 1.0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" class="chart" width="100%">',
        f'<line x1="{left}" y1="{24 + plot_h}" x2="{width - right}" y2="{24 + plot_h}" '
        'stroke="#999"/>',
        f'<text x="{left - 4}" y="30" text-anchor="end" font-size="10">{escape(f"{top:g}")}</text>',
    ]
    for index, (name, values) in enumerate(series.items()):
        colour = COLOURS[index % len(COLOURS)]
        parts.append(
            f'<rect x="{left + index * 110}" y="4" width="10" height="10" fill="{colour}"/>'
            f'<text x="{left + index * 110 + 14}" y="13" font-size="11">{escape(name)}</text>'
        )
        for position, value in enumerate(values):
            bar_h = plot_h * value / top
            x = left + position * group_w + (index + 0.5) * bar_w
            parts.append(
                f'<rect x="{x:.1f}" y="{24 + plot_h - bar_h:.1f}" width="{bar_w * 0.9:.1f}" '
                f'height="{bar_h:.1f}" fill="{colour}">'
                f"<title>{escape(name)}: {escape(f'{value:g}')}</title></rect>"
            )
    step = max(1, len(labels) // 12)
    for position, label in enumerate(labels):
        if position % step == 0:
            x = left + (position + 0.5) * group_w
            parts.append(
                f'<text x="{x:.1f}" y="{height - 8}" text-anchor="middle" font-size="10">'
                f"{escape(label)}</text>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))
