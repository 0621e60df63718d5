"""The Trades pane, the performance figures in the Equity pane, the tabs and pages they live on,
and the labels that must not mislead (one probability column, simulated time, the caches)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cockpit_data import NOW, TODAY, TRADES, cockpit_snapshot, trade
from conftest import ROOT, tui_settings
from textual.pilot import Pilot
from textual.widgets import DataTable, Label

from tui_bot.config import Settings
from tui_bot.engine.snapshot import Opportunity, Performance, Snapshot
from tui_bot.engine.words import Decision
from tui_bot.tui.app import TuiBotApp
from tui_bot.tui.messages import SnapshotArrived
from tui_bot.tui.screens.help import HelpScreen
from tui_bot.tui.widgets.alerts import AlertsTable
from tui_bot.tui.widgets.opportunities import OpportunitiesTable
from tui_bot.tui.widgets.trades import TradesTable

SnapCompare = Callable[..., bool]


@pytest.fixture
def still_app(settings: Settings) -> TuiBotApp:
    return TuiBotApp(settings, start_engine=False, monotonic=lambda: 0.0)


async def feed(app: TuiBotApp, pilot: Pilot[Any], snapshot: Snapshot) -> None:
    app.post_message(SnapshotArrived(snapshot))
    await pilot.pause()


def cell(table: DataTable[Any], row: str, column: str) -> str:
    return str(table.get_cell(row, column).plain).strip()


def label(app: TuiBotApp, selector: str) -> str:
    return str(app.query_one(selector, Label).content)


async def test_trades_are_listed_newest_first_with_their_exit_reasons(
    still_app: TuiBotApp,
) -> None:
    app = still_app
    async with app.run_test(size=(120, 40)) as pilot:
        await feed(app, pilot, cockpit_snapshot())
        table = app.query_one(TradesTable)
        assert table.row_keys() == ["7", "6", "5", "4", "3", "2"]
        reasons = [cell(table, key, "reason") for key in table.row_keys()]
        assert reasons == [
            "take-profit", "max-hold", "stop-loss", "manual", "max-hold", "take-profit",
        ]  # fmt: skip
        assert cell(table, "7", "symbol") == "BTC/USDT" and cell(table, "7", "group") == "layer-1"
        assert cell(table, "7", "pnl_pct") == "+1.12%" and cell(table, "7", "pnl") == "+11.20"
        assert cell(table, "5", "pnl_pct") == "−2.21%" and cell(table, "5", "pnl") == "−22.10"
        assert cell(table, "7", "held") == "20m" and cell(table, "6", "held") == "30m"
        assert cell(table, "7", "probability") == "0.641"
        assert cell(table, "7", "entry") == "93,800.00"
        assert cell(table, "7", "closed") == "09:30:00"  # today: the time
        assert cell(table, "2", "closed") == "01-07 07:46"  # before today: the date too
        assert str(table.get_cell("7", "pnl").style) == app.theme_variables["success"]
        assert str(table.get_cell("5", "pnl").style) == app.theme_variables["error"]
        assert table.border_subtitle == "6 closed · PnL USDT after fees · sim time"


async def test_a_new_trade_comes_in_on_top_without_a_rebuild(
    still_app: TuiBotApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_clear(self: object, columns: bool = False) -> None:
        raise AssertionError("a table was cleared on a tick")

    monkeypatch.setattr(DataTable, "clear", no_clear)
    app = still_app
    first = cockpit_snapshot()
    async with app.run_test(size=(120, 40)) as pilot:
        await feed(app, pilot, first)
        table = app.query_one(TradesTable)
        keys = {k.value: k for k in table.rows}
        newer = trade(8, "ETH/USDT", "layer-1", NOW - 700, 600, 3_320.0, -0.3, "max_hold", 0.58)
        total = replace(first.performance.start, trades=40)
        more = replace(
            first, trades=(newer, *TRADES), performance=Performance(total, first.performance.today)
        )
        await feed(app, pilot, more)
        assert table.row_keys() == ["8", "7", "6", "5", "4", "3", "2"]
        assert all(keys[k] in table.rows for k in keys)  # the old rows' keys, untouched
        assert table.border_subtitle == "newest 7 of 40 · PnL USDT after fees · sim time"


async def test_performance_figures_show_both_windows(still_app: TuiBotApp) -> None:
    app = still_app
    async with app.run_test(size=(120, 40)) as pilot:
        await feed(app, pilot, cockpit_snapshot())
        assert label(app, "#perf-start-trades") == "6 (67% won)"
        assert label(app, "#perf-today-trades") == "5 (60% won)"
        assert label(app, "#perf-start-net") == "+26.90"
        assert label(app, "#perf-today-net") == "−3.60"
        assert label(app, "#perf-start-fees") == "12.00"
        assert label(app, "#perf-start-factor") == f"{53.3 / 26.3:.2f}"
        assert label(app, "#perf-start-expectancy") == "+0.45%"
        assert label(app, "#perf-start-drawdown") == "1.37%"
        assert label(app, "#perf-start-return") == "+0.27%"
        assert label(app, "#perf-start-market") == "−1.84%"
        # the market's prices were taken 90 minutes into today: said, not hidden
        assert label(app, "#perf-today-market") == "+0.61%"
        assert app.query_one("#perf-row-market-from").display
        assert label(app, "#perf-today-market-from") == "01:30"
        assert label(app, "#perf-start-from") == "01-05 23:00"
        for mode, key in (("SIMULATED", "from (sim)"), ("PAPER", "from (UTC)")):
            await feed(app, pilot, replace(cockpit_snapshot(), mode=mode))
            assert label(app, "#perf-key-from") == key
        assert label(app, "#perf-today-from") == "00:00"
        assert app.query_one("#perf-start-net").has_class("profit")
        assert app.query_one("#perf-today-net").has_class("loss")
        assert app.query_one("#perf-today-market").has_class("profit")
        no_losses = replace(TODAY, gross_loss=0.0, market_since=TODAY.since)
        only_today = Performance(today=no_losses)
        await feed(app, pilot, replace(cockpit_snapshot(), performance=only_today))
        assert label(app, "#perf-today-factor") == "no losses"
        assert not app.query_one("#perf-row-market-from").display  # taken on time: no row
        assert label(app, "#perf-start-trades") == "0"  # an empty window: no win rate
        assert label(app, "#perf-start-expectancy") == "-"


async def test_opportunities_show_one_probability_rounded_down(still_app: TuiBotApp) -> None:
    app = still_app
    below = Opportunity("WIF/USDT", "meme", 0.5498, 0.5498, Decision.SKIP, "probability < 0.55")
    async with app.run_test(size=(120, 40)) as pilot:
        snapshot = cockpit_snapshot()
        await feed(app, pilot, replace(snapshot, opportunities=(*snapshot.opportunities, below)))
        table = app.query_one(OpportunitiesTable)
        labels = [str(c.label.plain).strip() for c in table.columns.values()]
        assert labels == ["#", "Symbol", "P(win)", "Action / blocked by"]
        assert cell(table, "WIF/USDT", "probability") == "0.549"  # not 0.550 beside "< 0.55"
        assert cell(table, "SOL/USDT", "probability") == "0.612"


async def test_alert_times_say_they_are_the_simulators(
    still_app: TuiBotApp, tmp_path: Path
) -> None:
    app = still_app
    async with app.run_test(size=(120, 40)) as pilot:
        await feed(app, pilot, cockpit_snapshot())
        alerts = app.query_one(AlertsTable)
        assert str(alerts.columns["time"].label.plain).strip() == "Sim time"  # type: ignore[index]
        assert "simulator's clock" in str(alerts.border_subtitle)
    (tmp_path / "paper").mkdir()
    paper = tui_settings(tmp_path / "paper", **{"exchange.name": "binance"})
    real = TuiBotApp(paper, start_engine=False, monotonic=lambda: 0.0)
    async with real.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        alerts = real.query_one(AlertsTable)
        assert str(alerts.columns["time"].label.plain).strip() == "UTC"  # type: ignore[index]


async def test_help_says_what_the_figures_mean(still_app: TuiBotApp) -> None:
    app = still_app
    async with app.run_test(size=(120, 40)) as pilot:
        await feed(app, pilot, cockpit_snapshot())
        await pilot.press("question_mark")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, HelpScreen)
        text = " ".join(str(lbl.content) for lbl in screen.query(Label))
        assert "ML prediction: a feature row" in text  # what a hit of each cache is
        assert "buy & hold" in text and "profit factor" in text.lower()
        assert "P(win)" in text and "sim time" in text
        assert "1 … 8" in text


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        ("1", {"positions", "opportunities"}),
        ("2", {"equity"}),
        ("3", {"caches"}),
        ("4", {"alerts"}),
        ("5", {"timings"}),
        ("6", {"model"}),
        ("7", {"trades"}),
        ("8", {"chart"}),
    ],
)
async def test_every_tab_shows_its_panes_on_a_small_terminal(
    still_app: TuiBotApp, key: str, shown: set[str]
) -> None:
    app = still_app
    async with app.run_test(size=(80, 24)) as pilot:
        await feed(app, pilot, cockpit_snapshot())
        await pilot.press(key)
        await pilot.pause()
        await pilot.pause()
        visible = {p.id for p in app.query(".pane") if p.display and p.region.height > 0}
        assert visible == shown


async def test_big_terminals_show_a_page_of_panes(still_app: TuiBotApp) -> None:
    app = still_app
    trading = {"positions", "chart", "equity", "trades", "alerts", "opportunities"}
    engine = {"caches", "timings", "model", "alerts"}

    def visible() -> set[str]:
        return {str(p.id) for p in app.query(".pane") if p.display and p.region.height > 0}

    async with app.run_test(size=(120, 40)) as pilot:
        await feed(app, pilot, cockpit_snapshot())
        assert visible() == trading
        for key, page in (("3", engine), ("4", engine), ("7", trading), ("6", engine)):
            await pilot.press(key)
            await pilot.pause()
            await pilot.pause()
            assert visible() == page, key
        await pilot.press("1")
        await pilot.pause()
        assert visible() == trading and app.query_one("#positions").has_focus


# -- snapshots ------------------------------------------------------------------------------
def snapshot_app(tmp_path: Path) -> TuiBotApp:
    settings = tui_settings(tmp_path)
    return TuiBotApp(settings, start_engine=False, themes=[ROOT / "themes"], monotonic=lambda: 0.0)


def pressing(key: str) -> Callable[[Pilot[Any]], Any]:
    async def run_before(pilot: Pilot[Any]) -> None:
        pilot.app.post_message(SnapshotArrived(cockpit_snapshot()))
        await pilot.pause()
        await pilot.press(key)
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_trades_pane(snap_compare: SnapCompare, tmp_path: Path, size: tuple[int, int]) -> None:
    assert snap_compare(snapshot_app(tmp_path), terminal_size=size, run_before=pressing("7"))


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_performance_pane(snap_compare: SnapCompare, tmp_path: Path, size: tuple[int, int]) -> None:
    assert snap_compare(snapshot_app(tmp_path), terminal_size=size, run_before=pressing("2"))
