from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

from tui_bot.clock import FakeClock
from tui_bot.engine.caches import TimedCache
from tui_bot.engine.monitor import Monitor
from tui_bot.engine.scanner import MarketScanner, ScanOptions, closed_candles, rank
from tui_bot.exchange.errors import NetworkError

TF = 300


class FakeMarket:
    """Tickers and candles for a few symbols; counts calls and concurrency."""

    id = "fake"

    def __init__(self, clock: FakeClock, failing: set[str] | None = None) -> None:
        self.clock = clock
        self.failing = failing or set()
        self.calls: dict[str, int] = {}
        self.in_flight = 0
        self.max_in_flight = 0
        self.symbols = [f"C{i}/USDT" for i in range(12)] + ["X/BTC"]

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    async def load_markets(self) -> dict[str, Any]:
        self._count("load_markets")
        return {
            s: {"symbol": s, "quote": s.split("/")[1], "active": s != "C11/USDT", "spot": True}
            for s in self.symbols
        }

    async def fetch_tickers(self, symbols: list[str] | None = None) -> dict[str, Any]:
        self._count("fetch_tickers")
        return {
            s: {"quoteVolume": 1e6 * (i + 1), "percentage": 1.0, "bid": 99.9, "ask": 100.1}
            for i, s in enumerate(self.symbols)
        }

    async def fetch_ohlcv(self, symbol: str, timeframe: str, since=None, limit=None):
        self._count("fetch_ohlcv")
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        await asyncio.sleep(0.001)
        self.in_flight -= 1
        if symbol in self.failing:
            raise NetworkError("boom")
        now = int(self.clock.now() // TF * TF)
        # the last candle is still forming (like most real exchanges return)
        return [[(now - TF * k) * 1000, 1, 1, 1, 1, 1] for k in range(limit, -1, -1)]


def make(clock: FakeClock, market: FakeMarket, workers: int = 3) -> MarketScanner:
    options = ScanOptions(top_n=8, candles=50, timeframe="5m", max_parallel_workers=workers,
                          stake_currency="USDT")  # fmt: skip
    return MarketScanner(market, options, TimedCache(1, 300, clock.now), clock, Monitor())  # type: ignore[arg-type]


async def test_scan_ranks_filters_and_fetches_the_top_n() -> None:
    clock = FakeClock(1_000_000.0)
    market = FakeMarket(clock)
    result = await make(clock, market).scan()
    assert len(result.ranked) == 8
    assert "X/BTC" not in result.ranked and "C11/USDT" not in result.ranked  # other quote, inactive
    assert result.ranked[0] == "C10/USDT"  # the most liquid active USDT market
    assert market.calls["fetch_tickers"] == 1 and market.calls["fetch_ohlcv"] == 8
    assert all(len(result.candles[s]) == 50 for s in result.ranked)  # forming candle dropped


async def test_cache_hit_touches_nothing_and_expires_after_ttl() -> None:
    clock = FakeClock(1_000_000.0)
    market = FakeMarket(clock)
    scanner = make(clock, market)
    first = await scanner.scan()
    clock.advance(299)
    assert await scanner.scan() is first
    assert market.calls["fetch_ohlcv"] == 8
    clock.advance(2)
    await scanner.scan()
    assert market.calls["fetch_ohlcv"] == 16
    assert (scanner.cache.hits, scanner.cache.misses) == (1, 2)


async def test_force_bypasses_the_cache() -> None:
    clock = FakeClock(1_000_000.0)
    market = FakeMarket(clock)
    scanner = make(clock, market)
    first = await scanner.scan()
    again = await scanner.scan(force=True)  # nothing closed since: the held candles, no request
    assert again is not first and market.calls["fetch_ohlcv"] == 8
    clock.advance(300)  # a candle closes for every symbol
    await scanner.scan(force=True)
    assert market.calls["fetch_ohlcv"] == 16


async def test_concurrency_never_exceeds_the_worker_limit() -> None:
    clock = FakeClock(1_000_000.0)
    market = FakeMarket(clock)
    scanner = make(clock, market, workers=3)
    await scanner.scan()
    assert market.max_in_flight == 3 == scanner.max_in_flight


async def test_a_failing_symbol_is_left_out_not_fatal() -> None:
    clock = FakeClock(1_000_000.0)
    market = FakeMarket(clock, failing={"C10/USDT"})
    result = await make(clock, market).scan()
    assert "C10/USDT" not in result.ranked
    assert "boom" in result.failed["C10/USDT"]
    assert len(result.ranked) == 7


def test_rank_handles_missing_and_garbage_fields() -> None:
    tickers = {
        "A": {"quoteVolume": None, "percentage": "x", "bid": None, "ask": 1},
        "B": {"quoteVolume": 5e6, "percentage": 2.0, "bid": 1.0, "ask": 1.001},
    }
    assert rank(["A", "B"], tickers) == ["B", "A"]
    assert rank([], tickers) == []


def test_closed_candles_drops_only_a_forming_candle() -> None:
    rows = [[0, 1, 1, 1, 1, 1], [300_000, 1, 1, 1, 1, 1]]
    assert len(closed_candles(rows, "5m", now=600.0)) == 2
    assert len(closed_candles(rows, "5m", now=599.0)) == 1
    assert closed_candles([], "5m", now=0.0).shape == (0, 6)
    assert isinstance(closed_candles(rows, "5m", 600.0), np.ndarray)
