"""Clocks: the backtest's jumping clock, and every engine sleep going through the Clock."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tui_bot.clock import JumpingClock
from tui_bot.engine.executor import Executor
from tui_bot.engine.monitor import Monitor
from tui_bot.exchange.errors import NetworkError, OrderNotFound, RateLimited
from tui_bot.store import Store


def test_jumping_clock_jumps_forward_only() -> None:
    clock = JumpingClock(1000.0)
    assert clock.now() == 1000.0
    clock.set(1300.0)
    assert clock.now() == 1300.0
    clock.set(1300.0)  # standing still is allowed
    with pytest.raises(ValueError, match="back"):
        clock.set(1299.0)
    assert clock.now() == 1300.0


async def test_jumping_clock_sleep_advances_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    waits = _record_asyncio_sleeps(monkeypatch)
    clock = JumpingClock(0.0)
    await clock.sleep(3600.0)
    await clock.sleep(-5.0)  # a negative wait is none
    assert clock.now() == 3600.0
    assert waits and all(w == 0 for w in waits)


class _FlakyOrders:
    """create_order fails `failures` times before the order goes through."""

    id = "flaky"

    def __init__(self, failures: list[Exception]) -> None:
        self.failures = list(failures)
        self.orders: dict[str, dict[str, Any]] = {}

    async def load_markets(self) -> dict[str, Any]:
        return {}

    async def create_order(self, symbol, type, side, amount, price=None, params=None):  # noqa: A002
        if self.failures:
            raise self.failures.pop(0)
        coid = (params or {})["clientOrderId"]
        order = {
            "id": str(len(self.orders) + 1), "clientOrderId": coid, "symbol": symbol,
            "side": side, "amount": amount, "filled": amount, "average": 100.0,
            "cost": amount * 100.0, "fee": {"cost": 0.1, "currency": "USDT"}, "status": "closed",
        }  # fmt: skip
        self.orders[coid] = order
        return dict(order)

    async def fetch_order(self, id, symbol=None, params=None):  # noqa: A002
        coid = (params or {}).get("clientOrderId")
        if coid not in self.orders:
            raise OrderNotFound(coid)
        return dict(self.orders[coid])


def _record_asyncio_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waits: list[float] = []
    real_sleep = asyncio.sleep

    async def recording_sleep(delay: float, *args: Any, **kwargs: Any) -> Any:
        waits.append(delay)
        return await real_sleep(0)

    monkeypatch.setattr(asyncio, "sleep", recording_sleep)
    return waits


@pytest.mark.parametrize(
    "failure", [NetworkError("connection reset"), RateLimited("429", retry_after=30.0)]
)
async def test_executor_retries_sleep_on_the_clock_not_the_wall(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: Exception
) -> None:
    waits = _record_asyncio_sleeps(monkeypatch)
    clock = JumpingClock(1_000_000.0)
    exchange = _FlakyOrders([failure, failure])
    executor = Executor(
        exchange,  # type: ignore[arg-type]
        Store(tmp_path / "store.sqlite"),
        clock,
        Monitor(),
        lambda level, source, msg: None,
        backoff_seconds=10.0,
    )
    result = await executor.open_position(1, "BTC/USDT", 0.5, {"group": "layer-1"})
    assert result.status == "filled"
    # two backoffs of at least 0.5 * 10 s (10 * 2**attempt * [0.5, 1.5)), or 2 x 30 s retry_after
    assert clock.now() - 1_000_000.0 >= 15.0
    assert all(w <= 0 for w in waits), f"waited on the wall clock: {waits}"
