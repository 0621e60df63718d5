"""The account on screen: unmanaged coins in the Positions pane, a stale balance next to equity,
and a narrow status bar that keeps what matters most."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from conftest import fixed_snapshot
from textual.pilot import Pilot
from textual.widgets import Label

from tui_bot.config import Settings
from tui_bot.engine.snapshot import Snapshot, UnmanagedView
from tui_bot.tui.app import TuiBotApp
from tui_bot.tui.messages import SnapshotArrived
from tui_bot.tui.widgets.positions import PositionsTable


@pytest.fixture
def still_app(settings: Settings) -> TuiBotApp:
    return TuiBotApp(settings, start_engine=False, monotonic=lambda: 0.0)


async def feed(app: TuiBotApp, pilot: Pilot[Any], snapshot: Snapshot) -> None:
    app.post_message(SnapshotArrived(snapshot))
    await pilot.pause()
    await pilot.pause()


def shown(app: TuiBotApp, selector: str) -> str:
    """What a label shows on screen: its text cut to its width (wrapped lines are not seen)."""
    label = app.query_one(selector, Label)
    text = str(label.render()).strip()
    width = label.content_region.width
    return text[:width] if "\n" not in text else text.splitlines()[0][:width]


async def test_unmanaged_coins_are_rows_marked_unmanaged_without_exit_levels(
    still_app: TuiBotApp,
) -> None:
    app = still_app
    avax = UnmanagedView("AVAX", 25.9, "AVAX/USDT", 35.0, 906.5)
    odd = UnmanagedView("XYZ", 3.0, None, None, None)  # no market to value it in
    snapshot = replace(fixed_snapshot(), unmanaged=(avax, odd))
    async with app.run_test(size=(120, 40)) as pilot:
        await feed(app, pilot, snapshot)
        table = app.query_one(PositionsTable)
        keys = table.row_keys()
        assert keys[:3] == ["BTC/USDT", "DOGE/USDT", "UNI/USDT"]
        assert keys[3:] == ["unmanaged:AVAX", "unmanaged:XYZ"]
        row = [str(c.plain).strip() for c in table.get_row("unmanaged:AVAX")]
        columns = [key for key, _, _ in PositionsTable.COLUMNS]
        assert row[0] == "AVAX" and "unmanaged" in row
        assert float(row[columns.index("amount")]) == 25.9
        assert float(row[columns.index("last")]) == 35.0
        assert table.get_row("unmanaged:XYZ")[columns.index("last")].plain.strip() == "?"
        for level in ("stop_loss", "take_profit", "entry", "pnl"):
            assert row[columns.index(level)] in ("", "-")
        assert "2 unmanaged" in str(table.border_subtitle)
        await feed(app, pilot, fixed_snapshot())
        assert table.row_keys() == ["BTC/USDT", "DOGE/USDT", "UNI/USDT"]


async def test_a_stale_balance_is_marked_next_to_equity(still_app: TuiBotApp) -> None:
    app = still_app
    async with app.run_test(size=(120, 40)) as pilot:
        await feed(app, pilot, replace(fixed_snapshot(), balance_stale=True))
        assert "10,123.45" in shown(app, "#status-equity")
        assert "stale" in shown(app, "#status-equity")


@pytest.mark.parametrize("stale", [False, True])
async def test_at_40_columns_equity_and_mode_stay_on_screen(
    still_app: TuiBotApp, stale: bool
) -> None:
    app = still_app
    async with app.run_test(size=(40, 24)) as pilot:
        await feed(app, pilot, replace(fixed_snapshot(), balance_stale=stale))
        assert "10,123.45" in shown(app, "#status-equity")
        assert ("stale" in shown(app, "#status-equity")) == stale
        assert "SIMULATED" in shown(app, "#status-mode")
        assert "running" in shown(app, "#status-state")
        cycle = app.query_one("#status-cycle", Label)
        assert cycle.region.height == 1 and "\n" not in str(cycle.render())


async def test_at_80_columns_the_drawdown_is_on_screen_too(still_app: TuiBotApp) -> None:
    app = still_app
    async with app.run_test(size=(80, 24)) as pilot:
        await feed(app, pilot, fixed_snapshot())
        line = shown(app, "#status-equity")
        assert "10,123.45" in line and "drawdown 0.84%" in line
        assert "NO EDGE (AUC 0.487-0.546)" in shown(app, "#status-model")


async def test_closing_an_unmanaged_row_says_the_bot_never_trades_it(
    still_app: TuiBotApp,
) -> None:
    app = still_app
    avax = UnmanagedView("AVAX", 25.9, "AVAX/USDT", 35.0, 906.5)
    async with app.run_test(size=(120, 40)) as pilot:
        await feed(app, pilot, replace(fixed_snapshot(), unmanaged=(avax,)))
        table = app.query_one(PositionsTable)
        table.focus()
        table.move_cursor(row=table.row_keys().index("unmanaged:AVAX"))
        await pilot.press("c")
        await pilot.pause()
        assert not app.screen_stack[1:], "no confirmation for coins the bot does not trade"
        toasts = [str(n.message) for n in app._notifications]
        assert any("unmanaged" in t and "sell them by hand" in t for t in toasts), toasts
