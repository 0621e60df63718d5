"""Candle sources: which candles exist up to a given time, and the price one can trade at then.

A source knows nothing of balances or orders; a venue (the simulator, the backtest exchange)
asks it for prices at the venue's clock. Candles are numpy float64 rows
`[open_time_ms, open, high, low, close, volume]`; a candle opening at `ts` is closed at
`ts + tf_ms`, so "closed by now" means `ts + tf_ms <= now_ms`. No source ever returns a candle
that is not closed by the time asked about: that is what keeps a backtest free of look-ahead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np

from tui_bot.exchange.base import timeframe_seconds
from tui_bot.exchange.sim_prices import ASSETS, CLOSE, OPEN, SIM_EPOCH, Asset, PricePaths
from tui_bot.market.files import PRICE_CLOSE, PRICE_OPEN, CandleFile

__all__ = ["CandleSource", "GeneratedSource", "RecordedSource"]

ROW_TS, ROW_OPEN, ROW_HIGH, ROW_LOW, ROW_CLOSE, ROW_VOLUME = range(6)  # columns of a candle row
SIM_EPOCH_MS = int(SIM_EPOCH * 1000)


class CandleSource(Protocol):
    timeframe: str
    tf_ms: int

    def symbols(self) -> list[str]: ...

    def closed(
        self, symbol: str, now_ms: int, limit: int | None = None, since_ms: int | None = None
    ) -> np.ndarray:
        """The candles closed by now_ms, never a later one: the last `limit` (all if None);
        with `since_ms`, those opening at or after it, the first `limit` of them."""
        ...

    def trade_price(self, symbol: str, now_ms: int) -> float | None:
        """The open of the candle starting in [now_ms, now_ms + tf_ms); None if there is none
        (a gap, or the end of the data)."""
        ...

    def last_close(self, symbol: str, now_ms: int) -> float | None:
        """The close of the last candle closed by now_ms; None before the first one."""
        ...


def _window(start: int, end: int, limit: int | None, from_start: bool) -> tuple[int, int]:
    """Candle indexes [start, end) cut to `limit`: the first ones if from_start, else the last
    ones; never below 0, never reversed."""
    start, end = max(start, 0), max(end, 0)
    if limit is not None:
        if from_start:
            end = min(end, start + max(limit, 0))
        else:
            start = max(start, end - max(limit, 0))
    return start, max(start, end)


class RecordedSource:
    """Candles from recorded arrays: RecordedSource({"ADA/BTC": candles, ...}, "5m").

    Each array is (n, 6), sorted by open time, times unique (as the loader delivers them);
    `from_files` takes the loader's CandleFiles as they are. Held as int64 open times and float32
    prices (28 bytes a candle); `closed` returns a new float64 (n, 6) array of the rows asked for.
    """

    def __init__(self, candles: Mapping[str, np.ndarray], timeframe: str) -> None:
        held = {}
        for symbol, array in candles.items():
            rows = np.asarray(array, dtype=np.float64)
            if rows.ndim != 2 or rows.shape[1] != 6:
                raise ValueError(f"candles of {symbol}: shape {rows.shape}, expected (n, 6)")
            held[symbol] = (rows[:, ROW_TS].astype(np.int64), rows[:, 1:].astype(np.float32))
        self._hold(held, timeframe)

    @classmethod
    def from_files(cls, files: Sequence[CandleFile]) -> RecordedSource:
        """The files' candles, shared (not copied); one timeframe, that of the first file."""
        source = cls.__new__(cls)
        source._hold({f.symbol: (f.times, f.prices) for f in files}, files[0].timeframe)
        return source

    def _hold(self, held: Mapping[str, tuple[np.ndarray, np.ndarray]], timeframe: str) -> None:
        self.timeframe = timeframe
        self.tf_ms = timeframe_seconds(timeframe) * 1000
        self._data: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # symbol -> (times, prices)
        for symbol, (times, prices) in held.items():
            times = np.ascontiguousarray(times, dtype=np.int64)
            if times.size > 1 and not bool(np.all(np.diff(times) > 0)):
                raise ValueError(f"candles of {symbol}: open times must be sorted and unique")
            self._data[symbol] = (times, np.asarray(prices, dtype=np.float32))

    def symbols(self) -> list[str]:
        return list(self._data)

    # the hot path of a backtest: ndarray.searchsorted and plain slices, no helper layers
    def closed(
        self, symbol: str, now_ms: int, limit: int | None = None, since_ms: int | None = None
    ) -> np.ndarray:
        times, prices = self._data[symbol]
        end = int(times.searchsorted(now_ms - self.tf_ms, "right"))
        if since_ms is None:
            start = 0 if limit is None else max(end - max(limit, 0), 0)
        else:
            start = int(times.searchsorted(since_ms))
            end = end if limit is None else min(end, start + max(limit, 0))
        end = max(start, end)
        rows = np.empty((end - start, 6), dtype=np.float64)
        rows[:, ROW_TS] = times[start:end]
        rows[:, 1:] = prices[start:end]
        return rows

    def trade_price(self, symbol: str, now_ms: int) -> float | None:
        times, prices = self._data[symbol]
        i = int(times.searchsorted(now_ms))
        if i < times.size and times[i] < now_ms + self.tf_ms:
            return float(prices[i, PRICE_OPEN])
        return None

    def last_close(self, symbol: str, now_ms: int) -> float | None:
        times, prices = self._data[symbol]
        end = int(times.searchsorted(now_ms - self.tf_ms, "right"))
        return float(prices[end - 1, PRICE_CLOSE]) if end > 0 else None


class GeneratedSource:
    """The simulator's seeded price paths (sim_prices) as a candle source, on the grid
    SIM_EPOCH + k * timeframe from candle 0; no gaps, no end.

    Besides the protocol it answers what the simulator shows between candle boundaries: the
    mid price at any time (linear from the open to the close of the candle in progress) and
    the range of that path over an interval. `paths` and `assets` let the benchmarks list more
    symbols than ASSETS (replicas of the same model).
    """

    def __init__(
        self,
        seed: int = 42,
        timeframe: str = "5m",
        n_symbols: int = len(ASSETS),
        quote: str = "USDT",
        *,
        paths: PricePaths | None = None,
        assets: Sequence[Asset] | None = None,
    ) -> None:
        self.timeframe = timeframe
        self.tf_s = timeframe_seconds(timeframe)
        self.tf_ms = self.tf_s * 1000
        self.paths = paths if paths is not None else PricePaths(seed, self.tf_s)
        if assets is None:
            assets = ASSETS[: max(0, min(n_symbols, len(ASSETS)))]
        self.assets: tuple[Asset, ...] = tuple(assets)
        self._index = {f"{a.base}/{quote}": i for i, a in enumerate(self.assets)}

    # -- the protocol ------------------------------------------------------------------------

    def symbols(self) -> list[str]:
        return list(self._index)

    def closed(
        self, symbol: str, now_ms: int, limit: int | None = None, since_ms: int | None = None
    ) -> np.ndarray:
        end = (now_ms - SIM_EPOCH_MS) // self.tf_ms  # candles before it are closed
        start = 0 if since_ms is None else -(-(since_ms - SIM_EPOCH_MS) // self.tf_ms)
        first, stop = _window(start, end, limit, from_start=since_ms is not None)
        return self.paths.candles(self.index(symbol), first, stop)

    def trade_price(self, symbol: str, now_ms: int) -> float | None:
        k = max(-(-(now_ms - SIM_EPOCH_MS) // self.tf_ms), 0)  # the first candle opening >= now
        if SIM_EPOCH_MS + k * self.tf_ms >= now_ms + self.tf_ms:
            return None  # before the first candle
        return float(self.paths.block(k, k + 1)[OPEN, self.index(symbol), 0])

    def last_close(self, symbol: str, now_ms: int) -> float | None:
        end = (now_ms - SIM_EPOCH_MS) // self.tf_ms
        if end <= 0:
            return None
        return float(self.paths.block(end - 1, end)[CLOSE, self.index(symbol), 0])

    # -- the simulator's view (times in seconds) ---------------------------------------------

    def index(self, symbol: str) -> int:
        """The symbol's asset index (KeyError if unknown)."""
        return self._index[symbol]

    def index_at(self, t: float) -> int:
        """Index of the candle in progress at time t."""
        return self.paths.index_at(t)

    def mid_prices(self, t: float) -> np.ndarray:
        """Mid price of every asset at time t, indexed like `assets`."""
        return self.paths.prices_at(t)

    def mid_price(self, symbol: str, t: float) -> float:
        return float(self.paths.prices_at(t)[self.index(symbol)])

    def window(self, start_k: int, end_k: int) -> np.ndarray:
        """Candles [start_k, end_k) of every asset: (5, n_assets, n) OHLCV."""
        return self.paths.block(start_k, end_k)

    def candles(self, symbol: str, start_k: int, end_k: int) -> np.ndarray:
        """Candles [start_k, end_k) whether closed or not (tests, bootstrap, benchmarks)."""
        return self.paths.candles(self.index(symbol), start_k, end_k)

    def price_range(self, symbol: str, t0: float, t1: float) -> tuple[float, float]:
        """(min, max) of the mid-price path over [t0, t1]."""
        return self.paths.price_range(self.index(symbol), t0, t1)
