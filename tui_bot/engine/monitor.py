"""Performance monitoring: timing of every phase and hot operation, slow-operation alerts."""

from __future__ import annotations

import functools
import inspect
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import numpy as np

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class TimingStats:
    count: int
    avg: float
    min: float
    max: float
    p95: float
    last: float

    def to_dict(self) -> dict[str, float | int]:
        return {
            "count": self.count,
            "avg": self.avg,
            "min": self.min,
            "max": self.max,
            "p95": self.p95,
            "last": self.last,
        }


class _Series:
    __slots__ = ("count", "total", "min", "max", "last", "recent")

    def __init__(self, window: int) -> None:
        self.count = 0
        self.total = 0.0
        self.min = float("inf")
        self.max = 0.0
        self.last = 0.0
        self.recent: deque[float] = deque(maxlen=window)

    def add(self, seconds: float) -> None:
        self.count += 1
        self.total += seconds
        self.min = min(self.min, seconds)
        self.max = max(self.max, seconds)
        self.last = seconds
        self.recent.append(seconds)

    def stats(self) -> TimingStats:
        p95 = float(np.percentile(np.fromiter(self.recent, float), 95))
        return TimingStats(self.count, self.total / self.count, self.min, self.max, p95, self.last)


class Monitor:
    """Records durations (wall time) per operation name; flags those over the slow threshold.

    p95 is taken over the most recent `window` calls; count/avg/min/max over all calls.
    """

    def __init__(self, slow_seconds: float = 5.0, window: int = 512) -> None:
        self.slow_seconds = slow_seconds
        self._window = window
        self._series: dict[str, _Series] = {}
        self._slow: list[tuple[str, float]] = []

    def record(self, operation: str, seconds: float) -> None:
        series = self._series.get(operation)
        if series is None:
            series = self._series[operation] = _Series(self._window)
        series.add(seconds)
        if seconds > self.slow_seconds:
            self._slow.append((operation, seconds))

    @contextmanager
    def time(self, operation: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.record(operation, time.perf_counter() - start)

    def timed(self, operation: str) -> Callable[[F], F]:
        """Decorator for sync or async functions."""

        def decorate(func: F) -> F:
            if inspect.iscoroutinefunction(func):

                @functools.wraps(func)
                async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                    with self.time(operation):
                        return await func(*args, **kwargs)

                return cast(F, async_wrapper)  # functools.wraps: func's own signature

            @functools.wraps(func)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                with self.time(operation):
                    return func(*args, **kwargs)

            return cast(F, wrapper)

        return decorate

    def take_slow(self) -> list[tuple[str, float]]:
        """Slow operations recorded since the last call."""
        slow, self._slow = self._slow, []
        return slow

    def total(self, operation: str) -> float:
        """Seconds spent in `operation` over all its calls (0 if it never ran)."""
        series = self._series.get(operation)
        return series.total if series else 0.0

    def last(self, operation: str) -> float | None:
        series = self._series.get(operation)
        return series.last if series else None

    def calls(self) -> dict[str, int]:
        return {name: s.count for name, s in self._series.items()}

    def stats(self) -> dict[str, TimingStats]:
        return {name: s.stats() for name, s in sorted(self._series.items())}

    def report(self) -> str:
        lines = [f"{'operation':<32} {'count':>7} {'avg':>9} {'p95':>9} {'max':>9}"]
        for name, s in self.stats().items():
            lines.append(
                f"{name:<32} {s.count:>7} {s.avg * 1e3:>7.2f}ms {s.p95 * 1e3:>7.2f}ms "
                f"{s.max * 1e3:>7.2f}ms"
            )
        return "\n".join(lines)
