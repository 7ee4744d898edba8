"""Charts as server-rendered SVG: pictures with no script and nothing from a CDN.

Each chart scales to its container (``viewBox``, width 100%), so it reads on
a 390 px phone; every bar is a link to the rows it counts and carries a
``<title>`` (the figure in words) for screen readers and hover.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str
    href: str = ""
    tone: str = "primary"  # primary, secondary, warn, good


WIDTH = 320
LABEL = 110
ROW = 26


def _bar(bar: Bar, y: float, width: float) -> SafeString:
    rect = format_html(
        '<rect x="{}" y="{}" width="{}" height="{}" rx="2" class="bar bar-{}">'
        "<title>{}: {}</title></rect>"
        '<text x="{}" y="{}" class="value">{}</text>',
        LABEL,
        y,
        f"{max(width, 1):.1f}",
        ROW - 8,
        bar.tone,
        bar.label,
        bar.text,
        f"{LABEL + max(width, 1) + 4:.1f}",
        y + ROW - 13,
        bar.text,
    )
    label = format_html('<text x="0" y="{}" class="label">{}</text>', y + ROW - 13, bar.label)
    if bar.href:
        return format_html('<a href="{}">{}{}</a>', bar.href, label, rect)
    return format_html("{}{}", label, rect)


def bar_chart(
    bars: Sequence[Bar], *, title: str, marks: Sequence[tuple[float, str]] = ()
) -> SafeString:
    """Horizontal bars, one per row, longest at 60% of the width; ``marks`` are reference lines."""
    top = max([b.value for b in bars] + [v for v, _t in marks] + [0]) or 1
    span = (WIDTH - LABEL - 60) / top
    height = ROW * len(bars) + 16
    body = format_html_join(
        "", "{}", ((_bar(bar, ROW * i, bar.value * span),) for i, bar in enumerate(bars))
    )
    lines = format_html_join(
        "",
        '<line x1="{0}" x2="{0}" y1="0" y2="{1}" class="mark"/>'
        '<text x="{0}" y="{2}" class="mark-label">{3}</text>',
        ((f"{LABEL + v * span:.1f}", height - 12, height - 2, t) for v, t in marks),
    )
    return format_html(
        '<svg class="chart" viewBox="0 0 {} {}" role="group" aria-label="{}" '
        'preserveAspectRatio="xMinYMin meet" data-testid="chart">{}{}</svg>',
        WIDTH,
        height,
        title,
        body,
        lines,
    )


def percent(rate: Decimal | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"
