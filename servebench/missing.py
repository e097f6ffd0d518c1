"""How every table shows a figure that was not measured: a dash, never a 0."""

from __future__ import annotations

MISSING = "—"


def figure(value: float | None, spec: str = "", width: int = 0) -> str:
    """``value`` in the format ``spec`` (".1f", ".2%", ...), or MISSING where there is none;
    right-aligned in ``width`` characters."""
    text = MISSING if value is None else format(value, spec)
    return f"{text:>{width}}"
