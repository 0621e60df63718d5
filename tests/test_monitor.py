import asyncio

import pytest

from tui_bot.engine.monitor import Monitor


def test_stats_count_avg_min_max_p95_last() -> None:
    monitor = Monitor(slow_seconds=5)
    for seconds in range(1, 101):
        monitor.record("op", seconds / 100)
    stats = monitor.stats()["op"]
    assert stats.count == 100
    assert stats.avg == pytest.approx(0.505)
    assert (stats.min, stats.max, stats.last) == (0.01, 1.0, 1.0)
    assert stats.p95 == pytest.approx(0.9505)


def test_slow_operations_are_flagged_once() -> None:
    monitor = Monitor(slow_seconds=0.5)
    monitor.record("fast", 0.1)
    monitor.record("slow", 0.9)
    assert monitor.take_slow() == [("slow", 0.9)]
    assert monitor.take_slow() == []


def test_timed_decorator_and_context_manager() -> None:
    monitor = Monitor()

    @monitor.timed("sync")
    def add(a: int, b: int) -> int:
        return a + b

    @monitor.timed("async")
    async def double(a: int) -> int:
        return a * 2

    assert add(1, 2) == 3
    assert asyncio.run(double(4)) == 8
    with monitor.time("block"):
        pass
    assert monitor.calls() == {"sync": 1, "async": 1, "block": 1}
    assert "sync" in monitor.report()
