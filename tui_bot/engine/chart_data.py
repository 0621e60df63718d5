"""The candles a snapshot carries for the dashboard's price chart: the engine's own, never fetched.

Every scanned symbol's last CHART_CANDLES candles, as read-only views of the arrays the scan
holds (no copy), so the dashboard can chart whichever row the user selects without asking the
engine; rebuilt only when a new scan result arrives. An open position whose symbol is not among
the scanned pairs gets a price line instead: the price the engine read for it each cycle (the
tickers update_positions fetches anyway), as rows of the same shape, each one the move from the
previous price to this one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import NamedTuple

import numpy as np

from tui_bot.engine.scanner import ScanResult

CHART_CANDLES = 120

EMPTY: Mapping[str, np.ndarray] = MappingProxyType({})


def _read_only(candles: np.ndarray) -> np.ndarray:
    view = candles[-CHART_CANDLES:]
    view.flags.writeable = False  # a view's flag only: the scan's own array is untouched
    return view


def price_rows(points: Sequence[tuple[float, float]]) -> np.ndarray:
    """(time s, price) points as candle rows [ts_ms, open, high, low, close, 0]: each row opens
    at the previous price and closes at its own."""
    data = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    close = data[:, 1]
    opens = np.concatenate([close[:1], close[:-1]])
    high, low = np.maximum(opens, close), np.minimum(opens, close)
    rows = np.column_stack([data[:, 0] * 1000, opens, high, low, close, np.zeros(len(close))])
    rows.flags.writeable = False
    return rows


class ChartRows(NamedTuple):
    candles: Mapping[str, np.ndarray]  # the scanned symbols'
    price_lines: Mapping[str, np.ndarray]  # held symbols not scanned now: a row a cycle


class ChartCandles:
    def __init__(self) -> None:
        self._scan: ScanResult | None = None
        self._scanned: Mapping[str, np.ndarray] = EMPTY
        self._prices: Mapping[str, float] | None = None
        self._lines: dict[str, deque[tuple[float, float]]] = {}  # held symbol -> its prices
        self._result = ChartRows(EMPTY, EMPTY)

    def of(
        self,
        scan: ScanResult | None,
        prices: Mapping[str, float],
        held: Iterable[str],
        now: float,
    ) -> ChartRows:
        """symbol -> its last candles ([ts_ms, o, h, l, c, v] rows), the scan's; and for the
        held symbols the scan has none of, their price line."""
        changed = self._take_scan(scan)
        if prices is not self._prices:  # a new read of the prices: one point a held symbol
            self._prices = prices
            changed = self._take_prices(prices, set(held), now) or changed
        if changed:
            lines = {
                s: price_rows(points)
                for s, points in self._lines.items()
                if s not in self._scanned and len(points) >= 2
            }
            self._result = ChartRows(self._scanned, MappingProxyType(lines) if lines else EMPTY)
        return self._result

    def _take_scan(self, scan: ScanResult | None) -> bool:
        if scan is None or scan is self._scan:
            return False
        self._scan = scan
        views = {symbol: _read_only(c) for symbol, c in scan.candles.items() if len(c)}
        self._scanned = MappingProxyType(views)
        return True

    def _take_prices(self, prices: Mapping[str, float], held: set[str], now: float) -> bool:
        for symbol in list(self._lines):
            if symbol not in held:
                del self._lines[symbol]
        for symbol in held:
            price = prices.get(symbol)
            if price:
                line = self._lines.setdefault(symbol, deque(maxlen=CHART_CANDLES))
                line.append((now, float(price)))
        return bool(held)
