"""A fixed snapshot with what the trader's panes show: closed trades, performance figures and the
scan's candles for the chart (deterministic: no randomness, no engine)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from conftest import T0, fixed_snapshot

from tui_bot.engine.snapshot import Performance, PerformanceFigures, Snapshot, TradeView

STEP = 300.0  # 5m candles
NOW = T0 + 36_000  # 10:00 UTC: the trades of today and of yesterday read differently


def candles(base: float, count: int = 120, end: float = NOW) -> np.ndarray:
    """`count` closed 5m candles ending at `end`, a smooth made-up path around `base`."""
    rows = []
    close = base
    for i in range(count):
        start = end - (count - i) * STEP
        open_ = close
        close = base * (1 + 0.012 * math.sin(i / 9) + 0.004 * math.sin(i / 2.3))
        high = max(open_, close) * (1 + 0.0015 * (1 + math.sin(i)))
        low = min(open_, close) * (1 - 0.0015 * (1 + math.cos(i)))
        rows.append([start * 1000, open_, high, low, close, 1000.0 + i])
    data = np.array(rows)
    data.flags.writeable = False
    return data


def trade(
    id: int,
    symbol: str,
    group: str,
    opened: float,
    held: float,
    entry: float,
    pnl_pct: float,
    reason: str,
    probability: float,
) -> TradeView:
    cost = 1000.0
    exit_price = entry * (1 + pnl_pct / 100)
    return TradeView(
        id=id,
        symbol=symbol,
        group=group,
        opened_at=opened,
        closed_at=opened + held,
        entry_price=entry,
        exit_price=exit_price,
        amount=round(cost / entry, 6),
        pnl=cost * pnl_pct / 100,
        pnl_pct=pnl_pct,
        fees=2.0,
        reason=reason,
        probability=probability,
    )


TRADES = (  # newest first
    trade(7, "BTC/USDT", "layer-1", NOW - 3_000, 1_200, 93_800.0, 1.12, "take_profit", 0.641),
    trade(6, "SOL/USDT", "layer-1", NOW - 6_000, 1_800, 201.4, -0.42, "max_hold", 0.587),
    trade(5, "DOGE/USDT", "meme", NOW - 9_000, 700, 0.3455, -2.21, "stop_loss", 0.603),
    trade(4, "ETH/USDT", "layer-1", NOW - 12_000, 900, 3_310.0, 0.35, "manual", 0.566),
    trade(3, "BTC/USDT", "layer-1", NOW - 20_000, 1_800, 94_400.0, 0.81, "max_hold", 0.612),
    trade(2, "PEPE/USDT", "meme", NOW - 95_000, 600, 0.0000172, 3.05, "take_profit", 0.702),
)

START = PerformanceFigures(
    since=T0 - 2 * 86_400 - 3_600,
    trades=6,
    wins=4,
    net_pnl=26.9,
    fees_paid=12.0,
    gross_profit=53.3,
    gross_loss=26.3,
    expectancy_pct=0.45,
    max_drawdown_pct=1.37,
    return_pct=0.27,
    market_change_pct=-1.84,
    market_since=T0 - 2 * 86_400 - 3_600,
    market_pairs=12,
)
TODAY = PerformanceFigures(
    since=T0,
    trades=5,
    wins=3,
    net_pnl=-3.6,
    fees_paid=10.0,
    gross_profit=22.8,
    gross_loss=26.3,
    expectancy_pct=-0.07,
    max_drawdown_pct=0.84,
    return_pct=-0.04,
    market_change_pct=0.61,
    market_since=T0 + 5_400,  # later than the window: the pane says from when
    market_pairs=12,
)
CANDLES = {
    "BTC/USDT": candles(94_500.0),
    "DOGE/USDT": candles(0.3400),
    "SOL/USDT": candles(201.0),
    "ETH/USDT": candles(3_300.0),
    "AAVE/USDT": candles(310.0),
}


def cockpit_snapshot(cycle: int = 42) -> Snapshot:
    """fixed_snapshot (positions BTC, DOGE, UNI; UNI not scanned) with trades, figures and
    candles."""
    base = fixed_snapshot(cycle=cycle)
    return replace(
        base,
        time=NOW,
        next_cycle_at=NOW + 42,
        positions=tuple(replace(p, opened_at=NOW - p.age_seconds) for p in base.positions),
        trades=TRADES,
        performance=Performance(START, TODAY),
        candles=CANDLES,
    )
