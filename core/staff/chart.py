"""The dashboard's chart of sign-ups per day, drawn on the server as SVG: no script, no library, no CDN, and the
same picture in every browser. Each day has two bars side by side: the sign-ups started that day, and those
signed that day (darker). The page gives the same numbers as a table too, for screen readers."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

from core.staff.figures import Day

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 12, 28


def nice_ceiling(value: int) -> int:
    """The axis maximum: ``value`` rounded up to 1, 2 or 5 times a power of ten (at least 1)."""
    if value <= 1:
        return 1
    scale = 1
    while True:
        for step in (1, 2, 5):
            if step * scale >= value:
                return step * scale
        scale *= 10


def sign_ups_per_day(days: Sequence[Day], title: str) -> Markup:
    """An ``<svg>`` element charting ``days``, ready for a template (the title is escaped; the rest is numbers)."""
    top = nice_ceiling(max((max(d.started, d.signed) for d in days), default=0))
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = inner_w / max(len(days), 1)
    bar = max(slot * 0.4, 0.5)

    def y(value: int) -> float:
        return TOP + inner_h - inner_h * value / top

    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="chart-title"><title id="chart-title">{escape(title)}</title>'
    ]
    for tick in (0, top // 2, top) if top > 1 else (0, top):
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" y2="{y(tick):.1f}"/>'
            f'<text class="axis" x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick}</text>'
        )
    label_every = max(1, round(len(days) / 8))
    for n, day in enumerate(days):
        x = LEFT + n * slot + slot * 0.1
        label = f"{day.day.isoformat()}: {day.started} started, {day.signed} signed"
        for kind, value, left in (("started", day.started, x), ("signed", day.signed, x + bar)):
            if value:
                parts.append(
                    f'<rect class="{kind}" x="{left:.1f}" y="{y(value):.1f}" width="{bar:.1f}" '
                    f'height="{y(0) - y(value):.1f}"><title>{label}</title></rect>'
                )
        if n % label_every == 0 or n == len(days) - 1:
            parts.append(
                f'<text class="axis" x="{x + bar:.1f}" y="{HEIGHT - 8}" text-anchor="middle">'
                f"{day.day.day}/{day.day.month}</text>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - built here from numbers and the escaped title only
