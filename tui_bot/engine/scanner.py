"""Market scan: rank markets from one fetch_tickers call, fetch OHLCV for the top N in parallel.

The whole result is cached for `cache_duration` seconds of the engine's clock; a hit never
touches the exchange. Markets that are inactive, not spot, not in the stake currency, outside
the whitelist, on the blacklist or below the minimum 24h volume are left out. After the first
scan only new candles are fetched (`since` the last one held) and merged into those held.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

import numpy as np

from tui_bot.clock import Clock
from tui_bot.engine.caches import TimedCache
from tui_bot.engine.monitor import Monitor
from tui_bot.exchange.base import Exchange, Market, Ticker, timeframe_seconds
from tui_bot.exchange.errors import ExchangeError

SCAN_KEY = "scan"
MAX_OHLCV_LIMIT = 1000  # the most candles one request may ask for on most exchanges


@dataclass(frozen=True)
class ScanResult:
    time: float
    tickers: dict[str, Ticker]
    ranked: tuple[str, ...]  # top N symbols, best first, with candles
    candles: dict[str, np.ndarray]  # symbol -> (T, 6) array [ts_ms, o, h, l, c, v], closed only
    failed: dict[str, str] = field(default_factory=dict)  # symbol -> error text


@dataclass
class ScanOptions:
    top_n: int
    candles: int
    timeframe: str
    max_parallel_workers: int
    stake_currency: str
    whitelist: tuple[str, ...] = ()  # fnmatch patterns, upper case; empty: every market
    blacklist: tuple[str, ...] = ()
    min_quote_volume: float = 0.0


class MarketScanner:
    def __init__(
        self,
        exchange: Exchange,
        options: ScanOptions,
        cache: TimedCache[str, ScanResult],
        clock: Clock,
        monitor: Monitor,
    ) -> None:
        self.exchange = exchange
        self.options = options
        self.cache = cache
        self.clock = clock
        self.monitor = monitor
        self._markets: dict[str, Market] | None = None
        self.in_flight = 0
        self.max_in_flight = 0  # highest concurrency seen in the last uncached scan
        self._held: dict[str, np.ndarray] = {}  # symbol -> closed candles of the last scan
        self._held_timeframe = options.timeframe

    async def scan(
        self, force: bool = False, tickers: dict[str, Ticker] | None = None
    ) -> ScanResult:
        """The cached result, or a new scan; `tickers`: all tickers fetched moments ago this
        cycle, used instead of fetching them again."""
        if not force:
            cached = self.cache.lookup(SCAN_KEY)
            if cached is not None:
                return cached
        else:
            self.cache.misses += 1
        result = await self._scan_uncached(tickers)
        self.cache.put(SCAN_KEY, result)
        return result

    def scan_due(self, force: bool = False) -> bool:
        """Whether the next scan() fetches (the cached scan is gone or a scan was asked for);
        looks without counting a hit or a miss."""
        return force or SCAN_KEY not in self.cache

    def hold(self, candles: dict[str, np.ndarray]) -> None:
        """Closed candles fetched elsewhere (the model's history at start) to build the next
        scans on, so they fetch only what is newer."""
        for symbol, rows in candles.items():
            if len(rows):
                self._held[symbol] = rows[-self.options.candles :]

    async def markets(self) -> dict[str, Market]:
        if self._markets is None:
            with self.monitor.time("exchange.load_markets"):
                self._markets = await self.exchange.load_markets()
        return self._markets

    async def top_markets(
        self, tickers: dict[str, Ticker] | None = None
    ) -> tuple[dict[str, Ticker], list[str]]:
        """All tickers (one call, unless given) and the top N tradeable symbols, best first."""
        markets = await self.markets()
        if tickers is None:
            with self.monitor.time("exchange.fetch_tickers"):
                tickers = await self.exchange.fetch_tickers()
        tradeable = [
            s
            for s in tickers
            if _tradeable(markets.get(s), self.options.stake_currency)
            and _wanted(s, tickers[s], self.options)
        ]
        return tickers, rank(tradeable, tickers)[: self.options.top_n]

    async def fetch_history(self, symbols: list[str], limit: int) -> dict[str, np.ndarray]:
        """Closed candles for `symbols`, concurrently; symbols that fail are left out."""
        fetched = await self._fetch_all(symbols, limit)
        return {s: c for s, c in fetched.items() if isinstance(c, np.ndarray)}

    async def _scan_uncached(self, tickers: dict[str, Ticker] | None) -> ScanResult:
        tickers, top = await self.top_markets(tickers)
        self.max_in_flight = 0
        fetched = await self._fetch_all(top, self.options.candles, incremental=True)
        candles = {s: c for s, c in fetched.items() if isinstance(c, np.ndarray)}
        self._held = dict(candles)
        failed = {s: str(e) for s, e in fetched.items() if isinstance(e, Exception)}
        ranked = tuple(s for s in top if s in candles)
        return ScanResult(self.clock.now(), tickers, ranked, candles, failed)

    async def _fetch_all(
        self, symbols: list[str], limit: int, incremental: bool = False
    ) -> dict[str, np.ndarray | Exception]:
        gate = asyncio.Semaphore(self.options.max_parallel_workers)

        async def one(symbol: str) -> np.ndarray | Exception:
            async with gate:
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
                try:
                    if incremental:
                        return await self._fetch_new_candles(symbol, limit)
                    return await self._fetch_candles(symbol, limit)
                except ExchangeError as e:
                    return e
                finally:
                    self.in_flight -= 1

        results = await asyncio.gather(*(one(s) for s in symbols))
        return dict(zip(symbols, results, strict=True))

    async def _fetch_candles(self, symbol: str, limit: int) -> np.ndarray:
        # One more than wanted: most exchanges include the candle still forming (dropped here).
        ask = min(limit + 1, MAX_OHLCV_LIMIT)
        with self.monitor.time("exchange.fetch_ohlcv"):
            rows = await self.exchange.fetch_ohlcv(symbol, self.options.timeframe, limit=ask)
        return closed_candles(rows, self.options.timeframe, self.clock.now())[-limit:]

    async def _fetch_new_candles(self, symbol: str, limit: int) -> np.ndarray:
        """The last `limit` closed candles: those held from the last scan plus only the new ones."""
        timeframe = self.options.timeframe
        if timeframe != self._held_timeframe:
            self._held, self._held_timeframe = {}, timeframe
        held = self._held.get(symbol)
        if held is None or len(held) < limit:
            return await self._fetch_candles(symbol, limit)
        step_ms = timeframe_seconds(timeframe) * 1000
        since = int(held[-1, 0]) + step_ms
        if since + step_ms > self.clock.now() * 1000:
            return held[-limit:]  # the candle after the last held one has not closed yet
        missing = math.ceil((self.clock.now() * 1000 - since) / step_ms) + 1
        if missing > limit:  # too far behind: start over
            return await self._fetch_candles(symbol, limit)
        with self.monitor.time("exchange.fetch_ohlcv"):
            rows = await self.exchange.fetch_ohlcv(
                symbol, timeframe, since=since, limit=max(2, missing + 1)
            )
        new = closed_candles(rows, timeframe, self.clock.now())
        new = new[new[:, 0] > held[-1, 0]]
        return np.concatenate([held, new])[-limit:] if len(new) else held[-limit:]


def _tradeable(market: Market | None, stake: str) -> bool:
    if market is None:
        return False
    return (
        bool(market.get("active", True))
        and market.get("spot", True)
        and (market.get("quote") == stake)
    )


def _wanted(symbol: str, ticker: Ticker, options: ScanOptions) -> bool:
    name = symbol.upper()
    if options.whitelist and not any(fnmatchcase(name, p) for p in options.whitelist):
        return False
    if any(fnmatchcase(name, p) for p in options.blacklist):
        return False
    return options.min_quote_volume <= 0 or _num(ticker.get("quoteVolume")) >= (
        options.min_quote_volume
    )


def market_patterns(text: str) -> tuple[str, ...]:
    """ "BTC/USDT, eth/*" -> ("BTC/USDT", "ETH/*"): a comma-separated list of fnmatch patterns."""
    return tuple(p.strip().upper() for p in text.split(",") if p.strip())


def rank(symbols: list[str], tickers: dict[str, Ticker]) -> list[str]:
    """Best first: liquid (log quote volume), moving (|24h change|), tight (spread)."""
    if not symbols:
        return []
    volume = np.array([math.log1p(_num(tickers[s].get("quoteVolume"))) for s in symbols])
    change = np.array([abs(_num(tickers[s].get("percentage"))) for s in symbols])
    spread = np.array([_spread(tickers[s]) for s in symbols])
    score = _z(volume) + 0.5 * _z(change) - 0.5 * _z(spread)
    order = np.argsort(-score, kind="stable")
    return [symbols[i] for i in order]


def closed_candles(rows: list[list[float]], timeframe: str, now: float) -> np.ndarray:
    """Rows as a float array, without a candle that is still forming."""
    data = np.asarray(rows, dtype=np.float64).reshape(-1, 6)
    if len(data) and data[-1, 0] / 1000 + timeframe_seconds(timeframe) > now:
        data = data[:-1]
    return data


def _num(value: Any) -> float:
    try:
        result = float(value)
    except (TypeError, ValueError):
        return 0.0
    return result if math.isfinite(result) else 0.0


def _spread(ticker: Ticker) -> float:
    bid, ask = _num(ticker.get("bid")), _num(ticker.get("ask"))
    if bid <= 0 or ask <= 0:
        return 1.0
    return (ask - bid) / ((ask + bid) / 2)


def _z(values: np.ndarray) -> np.ndarray:
    std = values.std()
    return (values - values.mean()) / std if std > 0 else np.zeros_like(values)
