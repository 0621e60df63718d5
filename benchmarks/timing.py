"""Timing: median of repeats with time.perf_counter_ns, after warm-up calls that are not kept."""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Timing:
    """Seconds per call: the median over `repeat` batches of `number` calls each."""

    median: float
    low: float
    high: float
    repeat: int
    number: int

    def to_dict(self) -> dict[str, float | int]:
        return {
            "median_s": self.median,
            "min_s": self.low,
            "max_s": self.high,
            "repeat": self.repeat,
            "number": self.number,
        }


def _summary(per_call_ns: list[float], number: int) -> Timing:
    seconds = [ns / 1e9 for ns in per_call_ns]
    return Timing(statistics.median(seconds), min(seconds), max(seconds), len(seconds), number)


@dataclass(frozen=True)
class Case:
    """One contender of `measure_interleaved`: `fn()` called `number` times per batch."""

    fn: Callable[[], Any]
    number: int = 1
    setup: Callable[[], Any] | None = None


def measure_interleaved(
    cases: dict[str, Case], *, repeat: int, warmup: int = 1
) -> dict[str, Timing]:
    """Time several implementations of the same work, alternating them batch by batch, so a
    busy machine slows all of them alike and their ratio stays meaningful."""
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for round_ in range(warmup + repeat):
        for name, case in cases.items():
            if case.setup is not None:
                case.setup()
            start = time.perf_counter_ns()
            for _ in range(case.number):
                case.fn()
            if round_ >= warmup:
                samples[name].append((time.perf_counter_ns() - start) / case.number)
    return {name: _summary(samples[name], cases[name].number) for name in cases}


def measure(
    fn: Callable[[], Any],
    *,
    number: int = 1,
    repeat: int = 7,
    warmup: int = 1,
    setup: Callable[[], Any] | None = None,
) -> Timing:
    """Time `fn()`; `setup()` (untimed) runs before every batch, e.g. to empty a cache."""
    return measure_interleaved({"": Case(fn, number, setup)}, repeat=repeat, warmup=warmup)[""]


async def measure_async(
    fn: Callable[[], Awaitable[Any]],
    *,
    number: int = 1,
    repeat: int = 5,
    warmup: int = 1,
) -> Timing:
    """Like `measure` for a coroutine function, awaited in the running event loop."""
    for _ in range(warmup):
        await fn()
    samples: list[float] = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        for _ in range(number):
            await fn()
        samples.append((time.perf_counter_ns() - start) / number)
    return _summary(samples, number)


def median_of(values: list[float]) -> float:
    return float(statistics.median(values))
