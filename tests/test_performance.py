"""Performance figures, trade history and chart candles for the dashboard and --json.

The figures are recomputed here from the database itself (plain SQL and loops, none of the
engine's code): what the snapshot says must agree with the trades and equity points stored.
"""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import make_settings

from tui_bot.clock import FakeClock
from tui_bot.engine.chart_data import CHART_CANDLES, ChartCandles
from tui_bot.engine.model import InlineTrainer
from tui_bot.engine.performance import (
    START_BASKET,
    TRADES_SHOWN,
    PerformanceTracker,
    day_start,
)
from tui_bot.engine.scanner import ScanResult
from tui_bot.runtime import build_runtime
from tui_bot.store import OrderRow, PositionRow, Store

KEYS = {
    "trades", "wins", "win_rate", "net_pnl", "fees_paid", "profit_factor", "expectancy_pct",
    "max_drawdown_pct", "market_change_pct",
}  # fmt: skip
DAY = 86_400.0
MIDNIGHT = 1_767_830_400.0  # 2026-01-08 00:00 UTC


# -- the figures, recomputed from the database ----------------------------------------------
def recomputed(path: Path, since: float, prices: dict[str, float], basket_key: str) -> dict:
    """The nine --json figures for the trades closed and equity points stored since `since`,
    and the market from the basket the store holds."""
    db = sqlite3.connect(path)
    try:
        trades = db.execute(
            "SELECT t.pnl, t.pnl_pct, "
            "(SELECT fee FROM orders WHERE client_order_id = t.entry_order), "
            "(SELECT fee FROM orders WHERE client_order_id = t.exit_order) "
            "FROM trades t WHERE t.closed_at >= ?",
            (since,),
        ).fetchall()
        equity = [e for (e,) in db.execute(
            "SELECT equity FROM equity WHERE time >= ? ORDER BY rowid", (since,)
        )]  # fmt: skip
        stored = db.execute("SELECT value FROM state WHERE key = ?", (basket_key,)).fetchone()
    finally:
        db.close()
    won = [t for t in trades if t[0] > 0]
    lost = [t for t in trades if t[0] <= 0]
    peak, deepest = 0.0, 0.0
    for e in equity:
        peak = max(peak, e)
        deepest = max(deepest, (peak - e) / peak * 100)
    market = None
    if stored is not None:
        basket = json.loads(stored[0])["prices"]
        moves = [prices[s] / p - 1 for s, p in basket.items() if s in prices]
        market = sum(moves) / len(moves) * 100
    gross_loss = -sum(t[0] for t in lost)
    return {
        "trades": len(trades),
        "wins": len(won),
        "win_rate": len(won) / len(trades) if trades else None,
        "net_pnl": sum(t[0] for t in trades),
        "fees_paid": sum((t[2] or 0) + (t[3] or 0) for t in trades),
        "profit_factor": sum(t[0] for t in won) / gross_loss if gross_loss > 0 else None,
        "expectancy_pct": sum(t[1] for t in trades) / len(trades) if trades else None,
        "max_drawdown_pct": deepest if equity else None,
        "market_change_pct": market,
    }


def assert_agree(shown: dict[str, Any], want: dict[str, Any]) -> None:
    assert set(shown) == KEYS
    for key in KEYS:
        if want[key] is None:
            assert shown[key] is None, key
        else:
            assert shown[key] == pytest.approx(want[key], rel=1e-9, abs=1e-6), key


async def test_the_snapshot_figures_agree_with_the_trades_in_the_store(
    tmp_path: Path, clock: FakeClock
) -> None:
    assert clock.now() < MIDNIGHT - 3_600  # the run crosses 00:00 UTC: today is a window too
    cycles = int((MIDNIGHT - clock.now()) // 60) + 30
    settings = make_settings(tmp_path, **{"risk.max_hold_minutes": 5})
    runtime = build_runtime(settings, trainer=InlineTrainer(), clock=clock)
    engine = runtime.engine
    try:
        await engine.start()
        snapshots: list[Any] = []
        await engine.run(cycles, snapshots.append)
        last = snapshots[-1]
        db = runtime.store.path
        out = last.to_json()
        start = recomputed(db, -math.inf, engine.prices, START_BASKET)
        assert start["trades"] >= 5 and 0 < start["wins"] < start["trades"]  # something to check
        assert_agree(out["performance"], start)
        first_equity = runtime.store.equity_points()[0][1]
        since_today = max(day_start(last.time), first_equity)
        assert since_today == MIDNIGHT
        today = recomputed(db, since_today, engine.prices, "performance.market_today")
        assert 0 < today["trades"] < start["trades"]
        assert_agree(out["performance_today"], today)
        assert last.performance.today.since == MIDNIGHT
        # the Trades pane's rows: the store's trades, newest first
        stored = runtime.store.trade_records()
        assert [t.id for t in last.trades] == [t.id for t in reversed(stored)][:TRADES_SHOWN]
        assert {t.reason for t in last.trades} <= {"take_profit", "stop_loss", "max_hold"}
        assert all(t.probability > 0 for t in last.trades)  # the entry's, from its order
        # and the chart's candles are the scan's own arrays, not copies
        scanned = engine._state.scan
        symbol = scanned.ranked[0]
        assert np.shares_memory(last.candles[symbol], scanned.candles[symbol])
    finally:
        await runtime.close()


# -- the tracker on a store written by hand -------------------------------------------------
def add_trade(
    store: Store,
    n: int,
    opened: float,
    closed: float,
    pnl: float,
    symbol: str = "BTC/USDT",
    reason: str = "max_hold",
    fees: tuple[float, float] = (0.5, 0.4),
) -> None:
    """One trade as the executor books it: an entry order, a position, an exit order."""
    cost = 100.0
    entry, exit_ = f"e{n}", f"x{n}"
    store.add_pending_order(
        OrderRow(entry, n, "open", symbol, "buy", 1.0, "pending", None, {"probability": 0.61}),
        opened,
    )
    position = PositionRow(
        symbol, "layer-1", "long", 1.0, cost, cost + fees[0], 98.0, 103.0, opened, 0.61, (), entry
    )
    with store.transaction() as db:
        fill = {"id": entry, "filled": 1.0, "average": cost, "cost": cost, "fee": fees[0]}
        store.record_fill(db, entry, fill, opened)
        store.insert_position(db, position)
    store.add_pending_order(
        OrderRow(exit_, n, "close", symbol, "sell", 1.0, "pending", reason, {}), closed
    )
    proceeds = position.entry_cost + pnl
    with store.transaction() as db:
        fill = {"id": exit_, "filled": 1.0, "average": proceeds, "cost": proceeds, "fee": fees[1]}
        store.record_fill(db, exit_, fill, closed)
        store.close_position(db, position, proceeds, proceeds, closed, reason, exit_)


def test_figures_of_both_windows(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    start = MIDNIGHT - 2 * DAY
    for i, equity in enumerate([1000.0, 1010.0, 990.0, 1005.0, 1020.0, 1000.0, 1012.0, 1030.0]):
        store.add_equity(start + i * DAY / 3 + 60 * (i == 7), i, equity, 0.0)  # 1030: 00:01
    add_trade(store, 1, start + 100, start + 400, 6.0)
    add_trade(store, 2, start + DAY, start + DAY + 300, -3.0, reason="stop_loss")
    add_trade(store, 3, MIDNIGHT + 100, MIDNIGHT + 700, 2.0, reason="take_profit")
    add_trade(store, 4, MIDNIGHT + 800, MIDNIGHT + 900, -1.0)
    add_trade(store, 5, MIDNIGHT + 950, MIDNIGHT + 990, 0.0, reason="manual")  # not a win
    tracker = PerformanceTracker(store)
    now = MIDNIGHT + 3_600
    result = tracker.refresh(now, {}, None)
    path = store.path
    assert_agree(result.start.to_json(), recomputed(path, -math.inf, {}, "none"))
    assert_agree(result.today.to_json(), recomputed(path, MIDNIGHT, {}, "none"))
    assert result.start.trades == 5 and result.today.trades == 3
    assert result.start.wins == 2 and result.today.wins == 1
    assert result.start.profit_factor == pytest.approx(8.0 / 4.0)
    assert result.start.since == start and result.today.since == MIDNIGHT
    assert result.start.return_pct == pytest.approx(3.0)  # 1000 -> 1030
    assert result.today.return_pct == pytest.approx((1030 / 1012 - 1) * 100)  # from 00:00's
    assert [t.id for t in tracker.recent] == [5, 4, 3, 2, 1]
    assert tracker.recent[0].fees == pytest.approx(0.9)
    assert tracker.recent[0].group == "layer-1" and tracker.recent[0].probability == 0.61
    # the next day: today starts empty, since start keeps everything
    tomorrow = tracker.refresh(MIDNIGHT + DAY + 60, {}, None)
    assert tomorrow.today.trades == 0 and tomorrow.today.since == MIDNIGHT + DAY
    assert tomorrow.start.trades == 5
    store.close()


def test_a_refresh_reads_only_what_was_added(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    store.add_equity(MIDNIGHT + 10, 1, 1000.0, 0.0)
    tracker = PerformanceTracker(store)
    prices = {"BTC/USDT": 100.0}
    first = tracker.refresh(MIDNIGHT + 60, prices, None)
    assert tracker.refresh(MIDNIGHT + 61, prices, None) is first  # nothing new: nothing rebuilt
    for n in range(1, TRADES_SHOWN + 6):
        add_trade(store, n, MIDNIGHT + n, MIDNIGHT + n + 30, 1.0 if n % 3 else -2.0)
    read: list[int] = []
    trade_records = store.trade_records

    def reading(after_id: int = 0, closed_from: float | None = None) -> list[Any]:
        read.append(after_id)
        return trade_records(after_id, closed_from)

    store.trade_records = reading  # type: ignore[method-assign]
    later = tracker.refresh(MIDNIGHT + 600, prices, None)
    assert later.start.trades == TRADES_SHOWN + 5
    assert len(tracker.recent) == TRADES_SHOWN  # capped: the newest
    assert tracker.recent[0].id == TRADES_SHOWN + 5
    add_trade(store, 999, MIDNIGHT + 700, MIDNIGHT + 800, 5.0)
    late = MIDNIGHT - 300  # booked now, closed yesterday (a restart's reconcile): not today's
    add_trade(store, 1000, late - 600, late, -4.0)
    last = tracker.refresh(MIDNIGHT + 900, prices, None)
    assert last.start.trades == TRADES_SHOWN + 7 and last.today.trades == TRADES_SHOWN + 6
    assert read == [0, TRADES_SHOWN + 5]  # each refresh asked only for trades after the last
    store.close()


def scan_of(candles: dict[str, np.ndarray], at: float) -> ScanResult:
    return ScanResult(at, {}, tuple(candles), candles)


def candle_rows(start: float, opens: list[float]) -> np.ndarray:
    """5m candles from `start`, opening at `opens` and closing 1 % higher."""
    return np.array([[(start + i * 300) * 1000, o, o * 1.02, o * 0.99, o * 1.01, 1.0]
                     for i, o in enumerate(opens)])  # fmt: skip


def test_the_market_is_equal_weighted_buy_and_hold_from_the_window_start(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    first = MIDNIGHT + 3_000
    store.add_equity(first, 1, 1000.0, 0.0)
    candles = {
        "AAA/USDT": candle_rows(first - 900, [10.0, 11.0, 12.0, 13.0, 14.0, 15.0]),
        "BBB/USDT": candle_rows(first - 900, [100.0, 100.0, 100.0, 80.0, 90.0, 95.0]),
    }
    now = first + 900
    prices = {"AAA/USDT": 19.5, "BBB/USDT": 120.0}
    result = PerformanceTracker(store).refresh(now, prices, scan_of(candles, now))
    # bought at the open of the first candle opening at the start: 13 and 80
    want = ((19.5 / 13 - 1) + (120 / 80 - 1)) / 2 * 100
    assert result.start.market_change_pct == pytest.approx(want)
    assert result.start.market_since == first and result.start.market_pairs == 2
    assert result.today.market_change_pct == pytest.approx(want)  # today began at the start
    # a restart: the basket is the stored one, whatever the candles held now say
    later = {s: c[-2:] for s, c in candles.items()}
    again = PerformanceTracker(store).refresh(now + 60, prices, scan_of(later, now + 60))
    assert again.start.market_change_pct == pytest.approx(want)
    # a pair without a price now is left out, not counted as a loss
    fewer = PerformanceTracker(store).refresh(now + 60, {"AAA/USDT": 19.5}, None)
    assert fewer.start.market_change_pct == pytest.approx((19.5 / 13 - 1) * 100)
    assert fewer.start.market_pairs == 1
    store.close()


def test_without_candles_at_the_start_the_market_says_when_it_began(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    store.add_equity(MIDNIGHT - 5 * DAY, 1, 1000.0, 0.0)  # an old store: no candles that far
    now = MIDNIGHT + 600
    candles = {"AAA/USDT": candle_rows(now - 1_800, [10.0, 10.0, 10.0, 10.0, 10.0])}
    result = PerformanceTracker(store).refresh(now, {"AAA/USDT": 10.0}, scan_of(candles, now))
    assert result.start.since == MIDNIGHT - 5 * DAY
    # taken at the first candle held, later than the window's start: and it says when
    assert result.start.market_since == now - 1_800
    assert result.start.market_change_pct == 0.0
    store.close()


def test_json_keys_and_a_window_without_losses(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    add_trade(store, 1, MIDNIGHT + 10, MIDNIGHT + 20, 3.0)
    result = PerformanceTracker(store).refresh(MIDNIGHT + 30, {}, None)
    shown = result.start.to_json()
    assert set(shown) == KEYS
    assert shown["profit_factor"] is None  # no losing trade: no ratio
    assert shown["win_rate"] == 1.0 and shown["market_change_pct"] is None
    assert result.start.since == MIDNIGHT + 10  # no equity point yet: the first trade's entry
    store.close()


# -- chart candles ------------------------------------------------------------------------------
def test_chart_candles_are_read_only_views_of_the_scan() -> None:
    arrays = {"AAA/USDT": candle_rows(MIDNIGHT, [10.0] * 300), "BBB/USDT": candle_rows(0, [1.0])}
    scan = scan_of(arrays, MIDNIGHT)
    chart = ChartCandles()
    rows = chart.of(scan, {}, [], MIDNIGHT)
    view = rows.candles["AAA/USDT"]
    assert len(view) == CHART_CANDLES and np.shares_memory(view, arrays["AAA/USDT"])
    assert view[-1, 0] == arrays["AAA/USDT"][-1, 0]  # the newest
    assert not view.flags.writeable and arrays["AAA/USDT"].flags.writeable
    assert chart.of(scan, {}, [], MIDNIGHT + 1).candles is rows.candles  # same scan: reused


def test_a_held_symbol_the_scan_lacks_gets_its_price_line() -> None:
    scan = scan_of({"AAA/USDT": candle_rows(MIDNIGHT, [10.0] * 5)}, MIDNIGHT)
    chart = ChartCandles()
    held = ["AAA/USDT", "ZZZ/USDT"]
    for i, price in enumerate([5.0, 5.5, 5.2]):
        prices = {"AAA/USDT": 10.0, "ZZZ/USDT": price}  # a new read each cycle
        rows = chart.of(scan, prices, held, MIDNIGHT + 60 * i)
        rows = chart.of(scan, prices, held, MIDNIGHT + 60 * i + 1)  # same read: no new point
    assert "AAA/USDT" not in rows.price_lines  # it has candles
    line = rows.price_lines["ZZZ/USDT"]
    assert line[:, 4].tolist() == [5.0, 5.5, 5.2]  # closes: the prices read
    assert line[1:, 1].tolist() == [5.0, 5.5]  # each opens at the previous price
    assert line[:, 0].tolist() == [MIDNIGHT * 1000 + 60_000 * i for i in range(3)]
    gone = chart.of(scan, {"AAA/USDT": 10.0}, ["AAA/USDT"], MIDNIGHT + 300)
    assert gone.price_lines == {}  # closed: forgotten
