"""WCAG 2 contrast between two colours, to keep campaign colour choices readable."""

from __future__ import annotations

# Pairs that carry text in the themes: (text colour, background colour).
TEXT_PAIRS = (
    ("text", "background"),
    ("text", "surface"),
    ("muted", "background"),
    ("muted", "surface"),
    ("link", "background"),
    ("link", "surface"),
    ("primary_text", "primary"),
    ("text", "accent"),
)
MINIMUM = 4.5  # WCAG AA for body text


def _luminance(hex_colour: str) -> float:
    value = hex_colour.lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    channels = [int(value[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(foreground: str, background: str) -> float:
    """The contrast ratio, 1 to 21."""
    lighter, darker = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def weak_pairs(colours: dict[str, str]) -> list[tuple[str, str, float]]:
    """Text/background pairs under WCAG AA, as (text, background, ratio)."""
    return [
        (fg, bg, round(contrast(colours[fg], colours[bg]), 2))
        for fg, bg in TEXT_PAIRS
        if fg in colours and bg in colours and contrast(colours[fg], colours[bg]) < MINIMUM
    ]
