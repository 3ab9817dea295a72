"""Charts drawn on the server as SVG: no script, no CDN, and the numbers beside each as a table
(the template shows both). Values are numbers and labels are escaped, so the markup is safe."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from html import escape

from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT, PAD = 640, 220, 36
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


@dataclass(frozen=True, slots=True)
class Series:
    label: str
    values: Sequence[Decimal]


def line_chart(title: str, x_labels: Sequence[str], series: Sequence[Series]) -> SafeString:
    """Lines over a shared x axis (the days of a period)."""
    top = max((v for s in series for v in s.values), default=Decimal(0))
    bottom = min((v for s in series for v in s.values), default=Decimal(0))
    bottom = min(bottom, Decimal(0))
    span = (top - bottom) or Decimal(1)
    n = max(len(x_labels) - 1, 1)

    def x(i: int) -> float:
        return PAD + (WIDTH - 2 * PAD) * i / n

    def y(v: Decimal) -> float:
        return float(HEIGHT - PAD - (HEIGHT - 2 * PAD) * (v - bottom) / span)

    parts = [_frame(title), _axis_labels(x_labels, x, top, bottom, y)]
    for k, s in enumerate(series):
        colour = COLOURS[k % len(COLOURS)]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(s.values))
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}">'
            f"<title>{escape(s.label)}</title></polyline>"
        )
        parts.append(
            f'<text x="{WIDTH - PAD + 4}" y="{PAD + 14 * k}" font-size="10" fill="{colour}">'
            f"{escape(s.label)}</text>"
        )
    return _svg(title, parts, width=WIDTH + 120)


def bar_chart(title: str, bars: Mapping[str, Decimal], unit: str = "") -> SafeString:
    """One bar per label (exceptions by kind, match rate per provider)."""
    top = max(bars.values(), default=Decimal(0)) or Decimal(1)
    height = PAD + 22 * len(bars) + 10
    parts = [_frame(title)]
    for i, (label, value) in enumerate(bars.items()):
        length = float((WIDTH - 220) * value / top) if value > 0 else 0.0
        y = PAD + 22 * i
        parts.append(
            f'<text x="4" y="{y + 13}" font-size="11">{escape(label)}</text>'
            f'<rect x="180" y="{y}" width="{length:.1f}" height="16" fill="{COLOURS[i % 8]}">'
            f"<title>{escape(label)}: {value}{escape(unit)}</title></rect>"
            f'<text x="{184 + length:.1f}" y="{y + 13}" font-size="11">{value}{escape(unit)}</text>'
        )
    return _svg(title, parts, height=height)


def _frame(title: str) -> str:
    return f'<text x="4" y="16" font-size="13" font-weight="bold">{escape(title)}</text>'


def _axis_labels(labels: Sequence[str], x: object, top: Decimal, bottom: Decimal, y: object) -> str:
    assert callable(x) and callable(y)
    marks = [
        f'<line x1="{PAD}" y1="{y(Decimal(0)):.1f}" x2="{WIDTH - PAD}" y2="{y(Decimal(0)):.1f}" '
        'stroke="#999"/>',
        f'<text x="2" y="{y(top) + 4:.1f}" font-size="10">{top:.0f}</text>',
    ]
    if bottom < 0:
        marks.append(f'<text x="2" y="{y(bottom):.1f}" font-size="10">{bottom:.0f}</text>')
    step = max(len(labels) // 6, 1)
    for i in range(0, len(labels), step):
        marks.append(
            f'<text x="{x(i):.1f}" y="{HEIGHT - 8}" font-size="10" text-anchor="middle">'
            f"{escape(labels[i])}</text>"
        )
    return "".join(marks)


def _svg(
    title: str, parts: Sequence[str], *, width: int = WIDTH, height: int = HEIGHT
) -> SafeString:
    body = "".join(parts)
    return mark_safe(  # noqa: S308  (numbers and escaped labels only)
        f'<svg role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
        f'width="100%" style="max-width:{width}px" xmlns="http://www.w3.org/2000/svg">{body}</svg>'
    )
