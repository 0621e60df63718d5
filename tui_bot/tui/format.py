"""Number and time formatting shared by the panes (plain strings, no styling)."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable

SPARK_BARS = "▁▂▃▄▅▆▇█"


def price(value: float) -> str:
    """About five significant digits, never scientific notation."""
    if not math.isfinite(value):
        return "-"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.2f}"
    if magnitude == 0:
        return "0"
    decimals = max(2, 4 - math.floor(math.log10(magnitude)))
    return f"{value:.{decimals}f}"


def amount(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return price(value)


def money(value: float) -> str:
    return f"{value:,.2f}"


def pct_sign(value: float) -> int:
    """1, -1 or 0: the sign of a percentage as `signed_pct` shows it (0 if it rounds to 0.00)."""
    shown = round(value, 2)
    return (shown > 0) - (shown < 0)


def signed_pct(value: float) -> str:
    """+1.23% / −0.45%: the sign carries profit and loss even without colour."""
    sign = {1: "+", -1: "−", 0: " "}[pct_sign(value)]
    return f"{sign}{abs(round(value, 2)):.2f}%"


def duration(seconds: float | None) -> str:
    """45s, 12m, 1h05m, 3d04h."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, _ = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def countdown(seconds: float) -> str:
    if seconds < 10:
        return f"{max(0.0, seconds):.1f}s"
    return duration(seconds)


def millis(seconds: float) -> str:
    """A duration in milliseconds with about three significant digits."""
    ms = seconds * 1000
    if ms >= 100:
        return f"{ms:,.0f}"
    if ms >= 10:
        return f"{ms:.1f}"
    if ms >= 1:
        return f"{ms:.2f}"
    return f"{ms:.3f}"


def clock_time(epoch: float) -> str:
    """HH:MM:SS in UTC (the engine's clock may be simulated; UTC keeps it unambiguous)."""
    return time.strftime("%H:%M:%S", time.gmtime(epoch))


def spark(values: Iterable[float | None], width: int) -> str:
    """A text sparkline of values in 0..1 (None: no data that cycle)."""
    points = list(values)[-width:]
    bars = []
    for value in points:
        if value is None:
            bars.append(" ")
        else:
            index = round(min(1.0, max(0.0, value)) * (len(SPARK_BARS) - 1))
            bars.append(SPARK_BARS[index])
    return "".join(bars).rjust(width)
