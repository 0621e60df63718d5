"""The Backtest screen tests' fake process targets: they run in the spawned child, which imports
this module by name, so it imports nothing from the tests' conftest files (two of them share that
name, and the child's sys.path may find either first)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tui_bot.backtest.process import BacktestOutcome, BacktestRequest
from tui_bot.errors import RefusedToStart

T0_MS = 1_515_560_100_000  # 2018-01-10 04:55 UTC
FIVE_MIN = 300_000


def canned_outcome(pairs: tuple[str, ...] = ("ADA/BTC", "ETH/BTC")) -> BacktestOutcome:
    trades = [
        trade("ADA/BTC", 0, 6, 0.00003, 0.0000309, 2.9, "take_profit", 0.61),
        trade("ETH/BTC", 10, 40, 0.09, 0.0882, -2.2, "stop_loss", 0.58),
        trade("ADA/BTC", 50, 98, 0.000031, 0.0000311, 0.12, "max_hold", 0.57),
    ]
    equity = [[T0_MS + i * FIVE_MIN, 1.0 + 0.002 * ((i * 7) % 11) - 0.0004 * i] for i in range(120)]
    report = {
        "summary": {
            "start": "2018-01-10T04:55:00Z",
            "end": "2018-01-10T14:55:00Z",
            "pairs": list(pairs),
            "candles": 240,
            "cycles": 120,
            "trades": 3,
            "wins": 2,
            "win_rate": 2 / 3,
            "profit_total_pct": -0.42,
            "profit_abs": -0.0042,
            "avg_profit_pct": 0.27,
            "max_drawdown_pct": 3.21,
            "sharpe": -0.52,
            "sortino": -0.71,
            "profit_factor": 0.91,
            "expectancy_pct": -0.14,
            "exposure_pct": 61.7,
            "avg_hold_minutes": 140.0,
            "fees_paid": 0.0006,
            "market_change_pct": 1.87,
            "seconds": 1.5,
            "cycles_per_second": 80.0,
        },
        "trades": trades,
        "per_pair": [
            group("pair", "ADA/BTC", 2, 2, 0.0011, 1.51),
            group("pair", "ETH/BTC", 1, 0, -0.0053, -2.2),
        ],
        "per_exit_reason": [
            group("exit_reason", "max_hold", 1, 1, 0.0001, 0.12),
            group("exit_reason", "stop_loss", 1, 0, -0.0053, -2.2),
            group("exit_reason", "take_profit", 1, 1, 0.001, 2.9),
        ],
        "model": {
            "kind": "hist_gradient_boosting",
            "retrains": 2,
            "validation_auc": 0.553,
            "oos_auc": 0.521,
            "oos_rows": 1234,
        },
        "equity": equity,
    }
    notes = ("ADA/BTC: 40 candles missing in 5 gaps: left as gaps",)
    return BacktestOutcome(report, "BTC", 1.0, notes)


def trade(
    pair: str,
    start: int,
    end: int,
    open_price: float,
    close_price: float,
    profit: float,
    reason: str,
    probability: float,
) -> dict[str, Any]:
    return {
        "pair": pair,
        "open_time": T0_MS + start * FIVE_MIN,
        "close_time": T0_MS + end * FIVE_MIN,
        "open_price": open_price,
        "close_price": close_price,
        "amount": 100.0,
        "profit_pct": profit,
        "profit_abs": profit / 1000,
        "fee": 0.0002,
        "exit_reason": reason,
        "probability": probability,
    }


def group(key: str, name: str, trades: int, wins: int, profit: float, avg: float) -> dict:
    return {
        key: name,
        "trades": trades,
        "wins": wins,
        "win_rate": wins / trades,
        "profit_abs": profit,
        "avg_profit_pct": avg,
    }


def gated_target(
    request: BacktestRequest, progress: Callable[[int, int, int], None], gate: str
) -> BacktestOutcome:
    """Reports cycle 1 of 10, waits for the gate file (forever if it never comes), finishes."""
    progress(1, 10, T0_MS + FIVE_MIN)
    while not Path(gate).exists():
        time.sleep(0.01)
    for done in range(2, 11):
        progress(done, 10, T0_MS + done * FIVE_MIN)
    return canned_outcome(request.pairs or ("ALL",))


def refusing_target(request: BacktestRequest, progress: Callable[..., None]) -> BacktestOutcome:
    raise RefusedToStart(f"{request.data_dir}: no candle files; fetch some with download-data")


def broken_target(request: BacktestRequest, progress: Callable[..., None]) -> BacktestOutcome:
    raise ValueError("a bug in the runner")


def crashing_target(request: BacktestRequest, progress: Callable[..., None]) -> BacktestOutcome:
    os._exit(3)


# -- helpers --------------------------------------------------------------------------------
