"""Tables update rows by key across ticks: never cleared and rebuilt."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from conftest import fixed_snapshot
from textual.pilot import Pilot
from textual.widgets import DataTable

from tui_bot.config import Settings
from tui_bot.engine.snapshot import Snapshot
from tui_bot.tui.app import TuiBotApp
from tui_bot.tui.messages import SnapshotArrived
from tui_bot.tui.widgets.caches import CachesTable
from tui_bot.tui.widgets.opportunities import OpportunitiesTable
from tui_bot.tui.widgets.positions import PositionsTable


@pytest.fixture
def still_app(settings: Settings) -> TuiBotApp:
    """No engine: snapshots are fed by hand through the same message path."""
    return TuiBotApp(settings, start_engine=False, monotonic=lambda: 0.0)


async def feed(app: TuiBotApp, pilot: Pilot[Any], snapshot: Snapshot) -> None:
    app.post_message(SnapshotArrived(snapshot))
    await pilot.pause()


def cell_text(table: DataTable[Any], row: str, column: str) -> str:
    return str(table.get_cell(row, column).plain).strip()


async def test_rows_keep_their_keys_across_ticks(
    still_app: TuiBotApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_clear(self: object, columns: bool = False) -> None:
        raise AssertionError("a table was cleared on a tick")

    monkeypatch.setattr(DataTable, "clear", no_clear)
    app = still_app
    async with app.run_test(size=(120, 40)) as pilot:
        await feed(app, pilot, fixed_snapshot(cycle=42))
        table = app.query_one(PositionsTable)
        keys = list(table.rows)
        before = cell_text(table, "BTC/USDT", "last")
        unchanged = table.get_cell("UNI/USDT", "last")
        await feed(app, pilot, fixed_snapshot(cycle=43, price_shift=0.01))
        assert list(table.rows) == keys  # the same RowKey objects, in the same order
        assert cell_text(table, "BTC/USDT", "last") != before
        assert cell_text(table, "BTC/USDT", "last") == "96,053.27"
        assert table.get_cell("UNI/USDT", "last") is unchanged  # untouched cell, same object
        caches = app.query_one(CachesTable)
        assert caches.row_keys() == ["market_scan", "indicators", "ml_prediction", "symbol_group"]


async def test_rows_come_and_go_by_key(still_app: TuiBotApp) -> None:
    app = still_app
    async with app.run_test(size=(120, 40)) as pilot:
        first = fixed_snapshot()
        await feed(app, pilot, first)
        table = app.query_one(PositionsTable)
        btc_key = next(k for k in table.rows if k.value == "BTC/USDT")
        fewer = replace(first, positions=first.positions[1:])
        await feed(app, pilot, fewer)
        assert table.row_keys() == ["DOGE/USDT", "UNI/USDT"]
        await feed(app, pilot, first)
        assert table.row_keys() == ["BTC/USDT", "DOGE/USDT", "UNI/USDT"]  # the engine's order
        assert btc_key in table.rows  # keys are symbols: a returning symbol gets the same key


async def test_opportunities_are_reranked_without_a_rebuild(still_app: TuiBotApp) -> None:
    app = still_app
    async with app.run_test(size=(120, 40)) as pilot:
        first = fixed_snapshot()
        await feed(app, pilot, first)
        table = app.query_one(OpportunitiesTable)
        assert table.row_keys()[:3] == ["SOL/USDT", "PEPE/USDT", "BTC/USDT"]
        reversed_scores = tuple(
            replace(o, score=1 - o.score, probability=1 - o.probability)
            for o in first.opportunities
        )
        await feed(app, pilot, replace(first, opportunities=reversed_scores))
        assert table.row_keys()[0] == "AAVE/USDT"
        assert cell_text(table, "AAVE/USDT", "rank") == "1"


async def test_profit_and_loss_carry_a_sign_and_theme_colours(still_app: TuiBotApp) -> None:
    app = still_app
    async with app.run_test(size=(120, 40)) as pilot:
        await feed(app, pilot, fixed_snapshot())
        table = app.query_one(PositionsTable)
        profit = table.get_cell("BTC/USDT", "pnl")
        loss = table.get_cell("DOGE/USDT", "pnl")
        assert profit.plain.strip().startswith("+") and loss.plain.strip().startswith("−")
        assert str(profit.style) == app.theme_variables["success"]
        assert str(loss.style) == app.theme_variables["error"]
        app.theme = "tui-light"
        await pilot.pause()
        await pilot.pause()
        assert str(table.get_cell("BTC/USDT", "pnl").style) == app.theme_variables["success"]
