"""Trade history and performance figures for the dashboard and `--json`, kept incrementally.

Two windows: since start (the bot's first cycle on its store) and today (since 00:00 UTC on the
engine's clock, or since start when that was later). For each: closed trades, win rate, net PnL
and fees, profit factor, expectancy, the deepest fall of equity, and the market's equal-weighted
buy-and-hold of the scanned pairs over the same window, so a user sees whether the bot beats
doing nothing. Each refresh reads only the trades and equity points added since the last one;
the figures are rebuilt only when something changed.
"""

from __future__ import annotations

import contextlib
import json
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from tui_bot.engine.scanner import ScanResult
from tui_bot.engine.snapshot import Performance, PerformanceFigures, TradeView
from tui_bot.errors import StorageError
from tui_bot.store import Store, TradeRecord

TRADES_SHOWN = 200  # the newest closed trades a snapshot carries
DAY = 86_400.0
START_BASKET = "performance.market_start"  # state keys: the baskets survive a restart
TODAY_BASKET = "performance.market_today"


def day_start(now: float) -> float:
    """00:00 UTC of the day `now` is in."""
    return now - now % DAY


@dataclass(frozen=True)
class Basket:
    """The prices of the pairs bought and held for the market figure, and when they were taken
    (`time`: at or after `since`, the start of the window it was taken for)."""

    since: float
    time: float
    prices: dict[str, float]


def basket_at(
    start: float, scan: ScanResult, prices: Mapping[str, float], now: float
) -> Basket | None:
    """The scanned pairs at `start`: each one's open of the first cached candle that opened at
    or after `start`, or, when no cached candle did, its price now. Its time is the latest of
    those, so the window it covers is never claimed longer than it is."""
    taken: dict[str, float] = {}
    latest = start
    for symbol in scan.ranked:
        first = _first_open(scan.candles.get(symbol), start)
        if first is not None:
            price, at = first
        elif prices.get(symbol):
            price, at = float(prices[symbol]), now
        else:
            continue
        if price > 0:
            taken[symbol] = price
            latest = max(latest, at)
    return Basket(start, latest, taken) if taken else None


def _first_open(candles: np.ndarray | None, start: float) -> tuple[float, float] | None:
    """(open, open time in s) of the first candle that opened at or after `start`, if any."""
    if candles is None:
        return None
    i = int(np.searchsorted(candles[:, 0], start * 1000))
    if i >= len(candles):
        return None
    return float(candles[i, 1]), float(candles[i, 0]) / 1000


def basket_change(basket: Basket, prices: Mapping[str, float]) -> tuple[float | None, int]:
    """(equal-weighted change % of the basket's pairs from their prices to `prices`, pairs)."""
    changes = [prices[s] / p - 1 for s, p in basket.prices.items() if prices.get(s)]
    return (sum(changes) / len(changes) * 100 if changes else None), len(changes)


@dataclass
class Window:
    """What one window has seen so far: trade totals and the equity curve's extremes."""

    since: float | None = None
    trades: int = 0
    wins: int = 0
    net_pnl: float = 0.0
    fees: float = 0.0
    gross_profit: float = 0.0
    gross_loss: float = 0.0
    pct_sum: float = 0.0
    first_equity: float | None = None
    last_equity: float | None = None
    peak: float = 0.0
    max_drawdown_pct: float | None = None

    def add_trade(self, t: TradeRecord) -> None:
        self.trades += 1
        self.wins += t.pnl > 0
        self.net_pnl += t.pnl
        self.fees += t.fees
        self.pct_sum += t.pnl_pct
        if t.pnl > 0:
            self.gross_profit += t.pnl
        else:
            self.gross_loss -= t.pnl

    def add_equity(self, time: float, equity: float) -> None:
        if self.first_equity is None:
            self.first_equity = equity
            if self.since is None:
                self.since = time
        self.last_equity = equity
        self.peak = max(self.peak, equity)
        fall = (self.peak - equity) / self.peak * 100 if self.peak > 0 else 0.0
        self.max_drawdown_pct = max(self.max_drawdown_pct or 0.0, fall)

    def figures(self, market: Basket | None, prices: Mapping[str, float]) -> PerformanceFigures:
        change, pairs = basket_change(market, prices) if market else (None, 0)
        first, last = self.first_equity, self.last_equity
        return PerformanceFigures(
            since=self.since,
            trades=self.trades,
            wins=self.wins,
            net_pnl=self.net_pnl,
            fees_paid=self.fees,
            gross_profit=self.gross_profit,
            gross_loss=self.gross_loss,
            expectancy_pct=self.pct_sum / self.trades if self.trades else None,
            max_drawdown_pct=self.max_drawdown_pct,
            return_pct=(last / first - 1) * 100 if first and last is not None else None,
            market_change_pct=change,
            market_since=market.time if market else None,
            market_pairs=pairs,
        )


class PerformanceTracker:
    """Reads the store's trades and equity as they are added; owned by the engine's thread."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._trade_id = 0  # the last trade read
        self._equity_row = 0  # the last equity point read
        self._all = Window()
        self._today = Window()
        self._day: float | None = None
        self._recent: deque[TradeView] = deque(maxlen=TRADES_SHOWN)  # newest first
        self.recent: tuple[TradeView, ...] = ()
        self._baskets: dict[str, Basket | None] = {}  # state key -> basket (None: none yet)
        self._prices: Mapping[str, float] | None = None
        self._result = Performance()
        self._changed = True

    def refresh(
        self, now: float, prices: Mapping[str, float], scan: ScanResult | None
    ) -> Performance:
        """The figures now: cheap when nothing was added (two indexed queries)."""
        self._read_new()
        # today's window: from 00:00 UTC, or from the bot's start if that was later today
        today = max(day_start(now), self._all.since or 0.0)
        if today != self._day:
            self._start_day(today)
        self._take_baskets(today, scan, prices, now)
        if self._changed or prices is not self._prices:
            self._prices = prices
            self._changed = False
            self._result = Performance(
                start=self._all.figures(self._baskets.get(START_BASKET), prices),
                today=self._today.figures(self._baskets.get(TODAY_BASKET), prices),
            )
        return self._result

    def _read_new(self) -> None:
        points = self.store.equity_points(after=self._equity_row)
        for _, time, equity in points:  # first: the first point starts the window
            self._all.add_equity(time, equity)
            if self._day is not None and time >= self._day:
                self._today.add_equity(time, equity)
        if points:
            self._equity_row = points[-1][0]
        trades = self.store.trade_records(after_id=self._trade_id)
        for t in trades:
            self._all.add_trade(t)
            if self._day is not None and t.closed_at >= self._day:
                self._today.add_trade(t)
        self._recent.extendleft(TradeView(**vars(t)) for t in trades[-TRADES_SHOWN:])
        if trades:
            self._trade_id = trades[-1].id
            self.recent = tuple(self._recent)
            if self._all.since is None:  # no equity point yet
                self._all.since = trades[0].opened_at
        self._changed = self._changed or bool(trades or points)

    def _start_day(self, today: float) -> None:
        """A new UTC day, the first refresh or the first equity point: today's window read
        from the store."""
        self._day = today
        window = Window(since=today)
        for t in self.store.trade_records(closed_from=today):
            if t.id <= self._trade_id:  # the rest is read as new, into both windows
                window.add_trade(t)
        for row, time, equity in self.store.equity_points(time_from=today):
            if row <= self._equity_row:
                window.add_equity(time, equity)
        self._today = window
        self._changed = True

    def _take_baskets(
        self, today: float, scan: ScanResult | None, prices: Mapping[str, float], now: float
    ) -> None:
        """The start basket once for the store's life, today's once a day; both persisted.
        One not stored yet is taken from the first scan there is."""
        for key in (START_BASKET, TODAY_BASKET):
            if key not in self._baskets:
                self._baskets[key] = self._load(key)
        held = self._baskets[TODAY_BASKET]
        if held is not None and held.since != today:  # yesterday's
            self._baskets[TODAY_BASKET] = None
        start = self._all.since if self._all.since is not None else now
        for key, since in ((START_BASKET, start), (TODAY_BASKET, today)):
            if self._baskets[key] is None and scan is not None:
                basket = self._baskets[key] = basket_at(since, scan, prices, now)
                if basket is not None:
                    self._save(key, basket)
                    self._changed = True

    def _load(self, key: str) -> Basket | None:
        try:
            stored = json.loads(self.store.get_state(key) or "null")
            prices = {str(k): float(v) for k, v in stored["prices"].items()}
            return Basket(float(stored["since"]), float(stored["time"]), prices)
        except (ValueError, TypeError, KeyError, AttributeError):
            return None  # none yet, or unreadable: taken again

    def _save(self, key: str, basket: Basket) -> None:
        value = json.dumps({"since": basket.since, "time": basket.time, "prices": basket.prices})
        with contextlib.suppress(StorageError):  # kept in memory; the engine reports the store
            self.store.set_state(key, value)
