"""The Sweep screen tests' canned results and fake process targets: they run in the spawned
child, which imports this module by name, so it imports nothing from the tests' conftest files
(two of them share that name, and the child's sys.path may find either first)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tui_bot.sweep.data import Split
from tui_bot.sweep.process import Finished, Send, Started, SweepRequest, TrialDone
from tui_bot.sweep.report import SweepSetup
from tui_bot.sweep.space import load_space
from tui_bot.sweep.trial import TrialResult

DAY = 86_400_000
T0_MS = 1_515_801_600_000  # 2018-01-13 00:00 UTC


def summary(profit: float, trades: int) -> dict[str, Any]:
    return {
        "start": "2018-01-13T00:00:00Z",
        "end": "2018-01-20T00:00:00Z",
        "trades": trades,
        "profit_total_pct": profit,
        "sharpe": profit / 2,
        "expectancy_pct": profit / trades,
        "max_drawdown_pct": 2.0,
    }


def canned_setup(space: Path) -> SweepSetup:
    split = Split(T0_MS, T0_MS + 7 * DAY, T0_MS + 10 * DAY, 0.3)
    return SweepSetup(load_space(space), "grid", 0, "sharpe", 10, split, ("ETH/BTC",), 1000, 150)


def canned_results() -> list[TrialResult]:
    """Trial 2 is the best in sample and the worst out of sample; trial 3 has 4 trades."""
    runs = [
        (0, {}, 0.4, 12, 0.1, 5),
        (1, {"risk.stop_loss_pct": 1.0, "risk.take_profit_pct": 4.0}, 1.0, 30, 0.8, 12),
        (2, {"risk.stop_loss_pct": 2.0, "risk.take_profit_pct": 4.0}, 3.0, 25, -1.2, 10),
        (3, {"risk.stop_loss_pct": 3.0, "risk.take_profit_pct": 4.0}, 5.0, 4, 0.3, 2),
    ]
    return [
        TrialResult(i, v, summary(a, n), summary(b, m), 1.5, "host:7", 1)
        for i, v, a, n, b, m in runs
    ]


def canned_target(request: SweepRequest, send: Send, gate: str = "") -> None:
    """Started, two runs, then (once the gate file exists) the rest and Finished; SIGTERM
    (the screen's stop) arrives as KeyboardInterrupt and ends it with what finished."""
    results = canned_results()
    send(Started(canned_setup(request.options.space), 3, ("a note about the data",)))
    try:
        for done, result in enumerate(results[:2], start=1):
            send(TrialDone(result, done, 4))
        while gate and not Path(gate).exists():
            time.sleep(0.01)
        for done, result in enumerate(results[2:], start=3):
            send(TrialDone(result, done, 4))
    except KeyboardInterrupt:
        send(Finished({"seconds": 2.0}, interrupted=True))
        return
    send(Finished({"seconds": 6.0}))
