"""The price chart: drawn from the snapshot's candles, for the row selected in Positions,
Opportunities or Trades, with the position's levels and the trades' entries and exits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cockpit_data import NOW, STEP, candles, cockpit_snapshot
from conftest import ROOT, tui_settings, wait_for
from textual.color import Color
from textual.pilot import Pilot

from tui_bot.config import Settings
from tui_bot.engine.snapshot import Snapshot
from tui_bot.tui import format as fmt
from tui_bot.tui.app import TuiBotApp
from tui_bot.tui.messages import SnapshotArrived
from tui_bot.tui.widgets.chart import BUY, SELL, ChartPane, Level, Marker, draw

SnapCompare = Callable[..., bool]


def text_of(grid: list[list[tuple[str, str]]]) -> list[str]:
    return ["".join(ch for ch, _ in row) for row in grid]


def chart_text(app: TuiBotApp) -> list[str]:
    chart = app.query_one(ChartPane)
    size = chart.content_size
    return text_of(chart.grid(size.width, size.height))


async def feed(app: TuiBotApp, pilot: Pilot[Any], snapshot: Snapshot) -> None:
    app.post_message(SnapshotArrived(snapshot))
    await pilot.pause()
    await pilot.pause()


@pytest.fixture
def still_app(settings: Settings) -> TuiBotApp:
    return TuiBotApp(settings, start_engine=False, monotonic=lambda: 0.0)


# -- drawing -------------------------------------------------------------------------------
def test_levels_are_drawn_in_price_order_with_their_prices() -> None:
    rows = candles(100.0, 40)
    levels = [Level(103.0, "target", "TP"), Level(100.0, "entry", "E"), Level(98.0, "stop", "SL")]
    lines = text_of(draw(rows, levels, [], 70, 16))
    where = {
        label: next(i for i, line in enumerate(lines) if f"{label} {price}" in line)
        for label, price in (("TP", "103.00"), ("E", "100.00"), ("SL", "98.000"))
    }
    assert where["TP"] < where["E"] < where["SL"]
    assert where["TP"] == 0 and where["SL"] == 14  # the range reaches the levels: first, last
    assert "─" in lines[where["E"]][:10]  # the level runs across the plot
    assert lines[-1].startswith(fmt.clock_time(rows[0, 0] / 1000)[:5])  # the time axis


def test_one_candle_a_column_the_newest_on_the_right() -> None:
    rows = candles(100.0, 120)
    grid = draw(rows, [], [], 60, 12)
    plot = grid[:-1]  # the last row is the time axis
    filled = [x for x in range(60) if any(row[x][1] in ("up", "down") for row in plot)]
    assert filled == list(range(len(filled)))  # from the left edge, no gap
    assert 45 <= len(filled) < 60  # the price axis takes the rest
    shown = rows[-len(filled) :]  # the newest candles: one a column
    for x in (0, len(filled) - 1):
        want = "up" if shown[x, 4] >= shown[x, 1] else "down"
        assert {row[x][1] for row in plot} - {""} == {want}


def test_entries_and_exits_land_on_their_candles() -> None:
    rows = candles(100.0, 40)
    start = rows[0, 0] / 1000
    inside = Marker(start + 10 * STEP + 60, float(rows[10, 4]), "buy")
    exit_ = Marker(start + 20 * STEP + 1, float(rows[20, 4]), "sell")
    before = Marker(start - STEP, 100.0, "buy")  # before the candles shown: left out
    grid = draw(rows, [], [inside, exit_, before], 70, 16)
    buys = [(y, x) for y, row in enumerate(grid) for x, (ch, _) in enumerate(row) if ch == BUY]
    sells = [(y, x) for y, row in enumerate(grid) for x, (ch, _) in enumerate(row) if ch == SELL]
    assert [x for _, x in buys] == [10]
    assert [x for _, x in sells] == [20]


def test_too_small_or_empty_draws_blank() -> None:
    assert text_of(draw(np.empty((0, 6)), [], [], 20, 5)) == [" " * 20] * 5
    assert text_of(draw(candles(1.0, 10), [], [], 20, 2)) == [" " * 20] * 2


# -- selecting a row -------------------------------------------------------------------------
async def test_selecting_a_position_draws_its_chart_with_its_levels(still_app: TuiBotApp) -> None:
    app = still_app
    snapshot = cockpit_snapshot()
    async with app.run_test(size=(120, 40)) as pilot:
        await feed(app, pilot, snapshot)
        chart = app.query_one(ChartPane)
        btc = snapshot.positions[0]
        assert chart.border_title == "Chart · BTC/USDT"  # the cursor's row in Positions
        text = "\n".join(chart_text(app))
        assert f"TP {fmt.price(btc.take_profit)}" in text
        assert f"SL {fmt.price(btc.stop_loss)}" in text
        assert f"E {fmt.price(btc.entry_price)}" in text
        assert "5m candles" in str(chart.border_subtitle)
        assert "sim time" in str(chart.border_subtitle)
        await pilot.press("down")
        await pilot.pause()
        doge = snapshot.positions[1]
        assert chart.border_title == "Chart · DOGE/USDT"
        assert f"SL {fmt.price(doge.stop_loss)}" in "\n".join(chart_text(app))
        await pilot.press("down")  # UNI/USDT: held, but no candles in the scan
        await pilot.pause()
        assert chart.border_title == "Chart · UNI/USDT"
        assert "No candles held for UNI/USDT" in " ".join(chart_text(app))


async def test_selecting_a_trade_charts_its_entries_and_exits(still_app: TuiBotApp) -> None:
    app = still_app
    snapshot = cockpit_snapshot()
    async with app.run_test(size=(120, 40)) as pilot:
        await feed(app, pilot, snapshot)
        await pilot.press("7")  # Trades
        await pilot.pause()
        chart = app.query_one(ChartPane)
        assert chart.border_title == "Chart · BTC/USDT"  # the newest trade
        await pilot.press("down")
        await pilot.pause()
        assert chart.border_title == "Chart · SOL/USDT"
        text = "\n".join(chart_text(app))
        assert text.count(BUY) == 1 and text.count(SELL) == 1  # its one trade, in the candles
        assert "TP " not in text and "SL " not in text  # no position: no levels


async def test_selecting_an_opportunity_charts_it(still_app: TuiBotApp) -> None:
    app = still_app
    async with app.run_test(size=(120, 40)) as pilot:
        await feed(app, pilot, cockpit_snapshot())
        app.query_one("#opportunities").focus()
        await pilot.pause()
        assert app.query_one(ChartPane).border_title == "Chart · SOL/USDT"
        await pilot.press("down", "down")
        await pilot.pause()
        assert app.query_one(ChartPane).border_title == "Chart · BTC/USDT"


async def test_the_chart_follows_the_cursor_as_rows_change(still_app: TuiBotApp) -> None:
    """The cursor stays on a row index while positions come and go: the chart shows the
    symbol the cursor is on, never the one it was on before."""
    app = still_app
    snapshot = cockpit_snapshot()
    async with app.run_test(size=(120, 40)) as pilot:
        await feed(app, pilot, snapshot)
        await pilot.press("down")
        await pilot.pause()
        assert app.query_one(ChartPane).border_title == "Chart · DOGE/USDT"
        await feed(app, pilot, replace(snapshot, positions=snapshot.positions[1:]))
        # rows DOGE, UNI now; the cursor stayed on the second row
        assert app.query_one(ChartPane).border_title == "Chart · UNI/USDT"


async def test_enter_on_a_small_terminal_opens_the_chart_tab(still_app: TuiBotApp) -> None:
    app = still_app
    async with app.run_test(size=(80, 24)) as pilot:
        await feed(app, pilot, cockpit_snapshot())
        chart = app.query_one(ChartPane)
        assert not chart.display
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: chart.display)
        assert app.query_one("#tabs").active == "tab-chart"
        assert chart.border_title == "Chart · DOGE/USDT"
        assert chart.has_focus
        await pilot.press("1")
        await wait_for(pilot, lambda: not chart.display)


async def test_a_position_the_scan_does_not_hold_is_drawn_from_its_prices(
    still_app: TuiBotApp,
) -> None:
    app = still_app
    snapshot = cockpit_snapshot()
    line = np.array([[(NOW - 60 * (5 - i)) * 1000, 11.8, 11.9, 11.7, 11.8 + i / 100, 0.0]
                     for i in range(6)])  # fmt: skip
    async with app.run_test(size=(120, 40)) as pilot:
        await feed(app, pilot, replace(snapshot, price_lines={"UNI/USDT": line}))
        await pilot.press("down", "down")
        await pilot.pause()
        chart = app.query_one(ChartPane)
        assert chart.border_title == "Chart · UNI/USDT"
        assert "price each cycle (not scanned now)" in str(chart.border_subtitle)
        assert "SL " in "\n".join(chart_text(app))


async def test_chart_colours_come_from_the_theme(still_app: TuiBotApp) -> None:
    app = still_app
    async with app.run_test(size=(120, 40)) as pilot:
        await feed(app, pilot, cockpit_snapshot())
        chart = app.query_one(ChartPane)
        for theme in ("tui-dark", "tui-light"):
            app.theme = theme
            await pilot.pause()
            for role, variable in (("stop", "error"), ("target", "success"), ("up", "success")):
                style = chart.get_component_rich_style(f"chart--{role}")
                assert style.color is not None
                want = Color.parse(app.theme_variables[variable])
                assert Color.from_rich_color(style.color) == want


# -- snapshots ------------------------------------------------------------------------------
def snapshot_app(tmp_path: Path) -> TuiBotApp:
    settings = tui_settings(tmp_path)
    return TuiBotApp(settings, start_engine=False, themes=[ROOT / "themes"], monotonic=lambda: 0.0)


def test_chart_80x24(snap_compare: SnapCompare, tmp_path: Path) -> None:
    async def chart_tab(pilot: Pilot[Any]) -> None:
        pilot.app.post_message(SnapshotArrived(cockpit_snapshot()))
        await pilot.pause()
        await pilot.press("enter")  # Positions' first row: BTC/USDT
        await pilot.pause()

    assert snap_compare(snapshot_app(tmp_path), terminal_size=(80, 24), run_before=chart_tab)


def test_chart_120x40(snap_compare: SnapCompare, tmp_path: Path) -> None:
    async def chart_pane(pilot: Pilot[Any]) -> None:
        pilot.app.post_message(SnapshotArrived(cockpit_snapshot()))
        await pilot.pause()
        await pilot.press("down")  # DOGE/USDT
        await pilot.press("8")  # the chart, focused
        await pilot.pause()

    assert snap_compare(snapshot_app(tmp_path), terminal_size=(120, 40), run_before=chart_pane)
