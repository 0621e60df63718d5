"""What a snapshot carries for the dashboard beyond the cycle itself: the closed trades, the
performance figures and the chart's candles. Cheap to ask for on every snapshot: each part is
rebuilt only when its source changed (a trade closed, an equity point, new prices, a new scan)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from tui_bot.engine.chart_data import ChartCandles
from tui_bot.engine.performance import PerformanceTracker
from tui_bot.engine.scanner import ScanResult
from tui_bot.engine.snapshot import Performance, TradeView
from tui_bot.store import Store


class DashboardParts(NamedTuple):
    trades: tuple[TradeView, ...]
    performance: Performance
    candles: Mapping[str, np.ndarray]
    price_lines: Mapping[str, np.ndarray]


class DashboardData:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.performance = PerformanceTracker(store)
        self.candles = ChartCandles()

    def parts(
        self, now: float, prices: Mapping[str, float], scan: ScanResult | None
    ) -> DashboardParts:
        performance = self.performance.refresh(now, prices, scan)
        held = [p.symbol for p in self.store.positions()]  # kept in memory by the store
        chart = self.candles.of(scan, prices, held, now)
        return DashboardParts(
            self.performance.recent, performance, chart.candles, chart.price_lines
        )
