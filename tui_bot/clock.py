"""Injected time: engine code asks a Clock for the time and sleeps through it; tests never sleep."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the Unix epoch, in the clock's own time."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of this clock's time."""
        ...


class WallClock:
    """Real time."""

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class AcceleratedClock:
    """Time that runs `speed` times faster than the wall, starting at `start`.

    The simulated market runs on it so a demo shows a cycle every second or two.
    """

    def __init__(self, start: float, speed: float) -> None:
        self.start = start
        self.speed = speed
        self._wall_start = time.monotonic()

    def now(self) -> float:
        return self.start + (time.monotonic() - self._wall_start) * self.speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)


class FakeClock:
    """Manual time for tests: `sleep` and `advance` move it forward at once."""

    def __init__(self, start: float = 1_767_225_600.0) -> None:
        self.time = start

    def now(self) -> float:
        return self.time

    def advance(self, seconds: float) -> None:
        self.time += seconds

    async def sleep(self, seconds: float) -> None:
        self.time += max(0.0, seconds)
        await asyncio.sleep(0)


class JumpingClock:
    """Backtest time: it moves only when told (`set`) or slept through, never waiting on the
    wall clock. `sleep` advances it at once and yields to the event loop once."""

    def __init__(self, start: float) -> None:
        self.time = float(start)

    def now(self) -> float:
        return self.time

    def set(self, t: float) -> None:
        """Jump to `t`; time never runs backwards (ValueError)."""
        if t < self.time:
            raise ValueError(f"clock: cannot jump back from {self.time} to {t}")
        self.time = float(t)

    async def sleep(self, seconds: float) -> None:
        self.time += max(0.0, seconds)
        await asyncio.sleep(0)
