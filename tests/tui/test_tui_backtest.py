"""The Backtest screen (b): inputs checked inline, the run in its own process with progress,
the results, cancel, failures; SVG snapshots of the results at 80x24 and 120x40.

The process target is injectable: most tests give the app a fake one (in backtest_targets.py, so
the spawned child can import it) that reports progress, waits for a gate file, and returns a
canned report. Update the SVG baselines with: pytest tests/tui/test_tui_backtest.py
--snapshot-update
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from backtest_targets import (
    FIVE_MIN,
    T0_MS,
    broken_target,
    canned_outcome,
    crashing_target,
    gated_target,
    refusing_target,
)
from conftest import ROOT, FakeFactory, fixed_snapshot, tui_settings, wait_for
from textual.pilot import Pilot
from textual.widgets import Input, Label, ProgressBar, Sparkline

from tui_bot.backtest import process
from tui_bot.backtest.process import (
    BacktestRequest,
    Finished,
    Progress,
)
from tui_bot.config import Settings
from tui_bot.market.files import sample_dir
from tui_bot.tui.app import TuiBotApp
from tui_bot.tui.messages import SnapshotArrived
from tui_bot.tui.screens.backtest import (
    BacktestScreen,
    ExitsTable,
    PairsTable,
    SummaryTable,
    TradesTable,
)
from tui_bot.tui.widgets.status_bar import StatusBar

SIZE = (120, 40)
STEPS = 6000  # pilot pauses of 0.02 s: a spawned child on a busy machine may take seconds
SnapCompare = Callable[..., bool]


def make_app(settings: Settings, factory: FakeFactory, target: Any = None) -> TuiBotApp:
    return TuiBotApp(settings, factory, monotonic=lambda: 0.0, backoff=0.05, backtest_target=target)


async def open_backtest(app: TuiBotApp, pilot: Pilot[Any]) -> BacktestScreen:
    await wait_for(pilot, lambda: app.snapshot is not None)
    await pilot.press("b")
    await wait_for(pilot, lambda: isinstance(app.screen, BacktestScreen))
    assert isinstance(app.screen, BacktestScreen)
    return app.screen


async def type_into(pilot: Pilot[Any], screen: BacktestScreen, input_id: str, text: str) -> None:
    screen.query_one(f"#{input_id}", Input).focus()
    await pilot.press("ctrl+a", "ctrl+k", *text)
    await pilot.pause()


def text_of(screen: BacktestScreen, label_id: str) -> str:
    return str(screen.query_one(f"#{label_id}", Label).render())


def gone(pid: int) -> bool:
    """The process has ended and been reaped (or is at most a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2] == "Z"


def cells(table: Any, key: str) -> list[str]:
    return [c.plain.strip() for c in table.get_row(key)]


# -- opening ----------------------------------------------------------------------------------
async def test_b_opens_the_screen_with_the_sample_folder(settings: Settings) -> None:
    app = make_app(settings, FakeFactory())
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_backtest(app, pilot)
        assert screen.query_one("#bt-data", Input).value == str(sample_dir())
        assert screen.query_one("#bt-pairs", Input).value == ""
        assert "cycle 42" in text_of(screen, "bt-live")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, BacktestScreen))


async def test_the_command_palette_offers_backtest(settings: Settings) -> None:
    app = make_app(settings, FakeFactory())
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Backtest" in titles
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"backtest")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, BacktestScreen))


# -- inputs -----------------------------------------------------------------------------------
async def test_a_bad_time_range_is_refused_inline(settings: Settings, tmp_path: Path) -> None:
    gate = tmp_path / "go"
    app = make_app(settings, FakeFactory(), partial(gated_target, gate=str(gate)))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_backtest(app, pilot)
        await type_into(pilot, screen, "bt-range", "2018-01-10")
        error = text_of(screen, "bt-error")
        assert "time range '2018-01-10': expected YYYYMMDD-YYYYMMDD" in error
        assert screen.query_one("#bt-range", Input).has_class("-invalid")
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert screen.job is None  # nothing started
        assert screen.query_one("#bt-error", Label).has_class("-shown")
        await type_into(pilot, screen, "bt-range", "20180112-20180110")
        assert "its start is not before its end" in text_of(screen, "bt-error")
        await type_into(pilot, screen, "bt-range", "20180110-20180112")
        assert text_of(screen, "bt-error") == ""
        assert not screen.query_one("#bt-error", Label).has_class("-shown")


async def test_bad_pairs_and_a_missing_folder_are_refused_inline(
    settings: Settings, tmp_path: Path
) -> None:
    app = make_app(settings, FakeFactory(), refusing_target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_backtest(app, pilot)
        await type_into(pilot, screen, "bt-pairs", "ADA/BTC, ETHBTC")
        assert "pairs: 'ETHBTC' is not a pair" in text_of(screen, "bt-error")
        await type_into(pilot, screen, "bt-pairs", "")
        missing = tmp_path / "nowhere"
        screen.query_one("#bt-data", Input).value = str(missing)  # typed: slow, for a long path
        await pilot.pause()
        assert f"{missing}: no such folder" in text_of(screen, "bt-error")
        await pilot.press("enter")  # enter runs, when the inputs are good
        await pilot.pause()
        assert screen.job is None
        assert app.focused is screen.query_one("#bt-data", Input)


# -- a run ------------------------------------------------------------------------------------
async def test_a_run_shows_progress_then_every_result(settings: Settings, tmp_path: Path) -> None:
    gate = tmp_path / "go"
    app = make_app(settings, FakeFactory(), partial(gated_target, gate=str(gate)))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_backtest(app, pilot)
        await type_into(pilot, screen, "bt-pairs", "ada/btc, ETH_BTC")
        await type_into(pilot, screen, "bt-range", "20180110-20180111")
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert screen.running and screen.job is not None
        pid = screen.job.pid
        assert pid is not None and not gone(pid)
        bar = screen.query_one("#bt-progress", ProgressBar)
        await wait_for(pilot, lambda: bar.progress == 1, STEPS)
        assert bar.total == 10
        assert "Data time 2018-01-10 05:00 UTC · cycle 1 of 10" in text_of(screen, "bt-message")
        assert screen.query_one(TradesTable).row_count == 0  # no results before the end
        gate.touch()
        await wait_for(pilot, lambda: screen.outcome is not None, STEPS)
        assert bar.progress == 10
        assert "Done: 3 trades, −0.42% after fees (market +1.87%), in 1.5 s" in text_of(
            screen, "bt-message"
        )
        summary = screen.query_one(SummaryTable)
        assert cells(summary, "Trades") == ["Trades", "3 · 2 won"]
        assert cells(summary, "Win rate") == ["Win rate", "66.7%"]
        assert cells(summary, "Profit after fees") == ["Profit after fees", "−0.42%"]
        assert cells(summary, "Market change") == ["Market change", "+1.87%"]
        assert cells(summary, "Max drawdown") == ["Max drawdown", "3.21%"]
        assert cells(summary, "Sharpe") == ["Sharpe", "−0.52"]
        assert cells(summary, "Fees paid") == ["Fees paid", "0.00060000 BTC"]
        assert cells(summary, "oos AUC") == ["oos AUC", "0.521 (1,234 rows)"]
        # the inputs reached the child: the fake echoes the pairs it was asked for
        assert cells(summary, "Pairs") == ["Pairs", "2: ADA/BTC, ETH/BTC"]
        assert screen.query_one(PairsTable).row_keys() == ["ADA/BTC", "ETH/BTC"]
        assert cells(screen.query_one(PairsTable), "ETH/BTC")[-2:] == ["−0.0053000 BTC", "−2.20%"]
        assert screen.query_one(ExitsTable).row_keys() == ["max_hold", "stop_loss", "take_profit"]
        trades = screen.query_one(TradesTable)
        assert trades.row_count == 3
        assert cells(trades, "1")[:3] == ["ETH/BTC", "2018-01-10 05:45", "2h30m"]
        assert len(screen.query_one("#bt-equity", Sparkline).data or []) == 120
        drawdown = screen.query_one("#bt-drawdown", Sparkline).data or []
        assert len(drawdown) == 120 and min(drawdown) >= 0 and max(drawdown) > 0
        assert "40 candles missing" in text_of(screen, "bt-notes-text")
        await wait_for(pilot, lambda: screen.job is None, STEPS)  # the child is reaped
        assert gone(pid)
        assert not screen.query_one("#bt-run").disabled
        assert screen.query_one("#bt-cancel").disabled


async def test_cancel_ends_the_child(settings: Settings, tmp_path: Path) -> None:
    app = make_app(settings, FakeFactory(), partial(gated_target, gate=str(tmp_path / "never")))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_backtest(app, pilot)
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert screen.job is not None
        pid = screen.job.pid
        assert pid is not None
        bar = screen.query_one("#bt-progress", ProgressBar)
        await wait_for(pilot, lambda: bar.progress == 1, STEPS)
        await pilot.press("ctrl+x")
        await pilot.pause()
        assert screen.job is None and not screen.running
        assert gone(pid)
        assert "Cancelled" in text_of(screen, "bt-message")
        assert screen.outcome is None
        assert not screen.query_one("#bt-run").disabled


async def test_quitting_the_dashboard_ends_a_running_backtest(
    settings: Settings, tmp_path: Path
) -> None:
    app = make_app(settings, FakeFactory(), partial(gated_target, gate=str(tmp_path / "never")))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_backtest(app, pilot)
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert screen.job is not None
        pid = screen.job.pid
        assert pid is not None
        await pilot.press("escape")  # back to the dashboard: the run carries on
        await wait_for(pilot, lambda: not isinstance(app.screen, BacktestScreen))
        assert screen.running and not gone(pid)
    assert gone(pid)


async def test_a_run_carries_on_behind_the_dashboard(settings: Settings, tmp_path: Path) -> None:
    gate = tmp_path / "go"
    app = make_app(settings, FakeFactory(), partial(gated_target, gate=str(gate)))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_backtest(app, pilot)
        await pilot.press("ctrl+r")
        await pilot.pause()
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, BacktestScreen))
        gate.touch()
        await wait_for(pilot, lambda: screen.outcome is not None, STEPS)
        messages = [n.message for n in app._notifications]
        assert any(m.startswith("Backtest done: 3 trades") for m in messages), messages
        await pilot.press("b")
        await wait_for(pilot, lambda: app.screen is screen)
        assert screen.query_one(TradesTable).row_count == 3


async def test_the_live_panes_keep_updating_during_a_run(
    settings: Settings, tmp_path: Path
) -> None:
    app = make_app(settings, FakeFactory(), partial(gated_target, gate=str(tmp_path / "never")))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_backtest(app, pilot)
        await pilot.press("ctrl+r")
        await pilot.pause()
        app.post_message(SnapshotArrived(fixed_snapshot(cycle=77)))
        await wait_for(pilot, lambda: "cycle 77" in text_of(screen, "bt-live"))
        status = app.query_one(StatusBar)  # the dashboard's own panes, behind this screen
        assert "77" in str(status.query_one("#status-cycle", Label).render())
        assert screen.running
        await pilot.press("ctrl+x")
        await pilot.pause()


# -- failures ---------------------------------------------------------------------------------
async def test_an_error_in_the_child_is_shown(settings: Settings) -> None:
    app = make_app(settings, FakeFactory(), refusing_target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_backtest(app, pilot)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: not screen.running, STEPS)
        message = text_of(screen, "bt-message")
        assert message == f"✗ {sample_dir()}: no candle files; fetch some with download-data"
        assert screen.query_one("#bt-message", Label).has_class("error")
        assert screen.outcome is None
        await wait_for(pilot, lambda: screen.job is None, STEPS)


async def test_a_refused_run_leaves_no_progress_bar_that_looks_busy(settings: Settings) -> None:
    app = make_app(settings, FakeFactory(), refusing_target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_backtest(app, pilot)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: not screen.running, STEPS)
        bar = screen.query_one("#bt-progress", ProgressBar)
        assert bar.total is None  # it never got a progress report: an indeterminate bar
        assert not bar.visible, "an animated bar after a refused run reads as a run going on"
        await wait_for(pilot, lambda: screen.job is None, STEPS)


async def test_a_child_that_dies_is_reported(settings: Settings) -> None:
    app = make_app(settings, FakeFactory(), crashing_target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_backtest(app, pilot)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: not screen.running, STEPS)
        assert "ended without a result (exit code 3)" in text_of(screen, "bt-message")


async def test_an_unexpected_error_is_shown_in_one_line_and_logged(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(settings, FakeFactory(), broken_target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_backtest(app, pilot)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: not screen.running, STEPS)
        message = text_of(screen, "bt-message")
        assert message == (
            "✗ the backtest failed: ValueError: a bug in the runner; see the log for where"
        )
    logged = [r.getMessage() for r in caplog.records if r.name == "tui_bot.tui.screens.backtest"]
    assert any("Traceback" in m and "broken_target" in m for m in logged), logged


# -- the process module ---------------------------------------------------------------------
def test_a_request_pickles_although_settings_hold_read_only_mappings(settings: Settings) -> None:
    request = BacktestRequest(settings, sample_dir(), ("ADA/BTC",), (0, 1))
    copy = pickle.loads(pickle.dumps(request))
    assert copy.settings.bot == settings.bot
    assert dict(copy.settings.sources) == dict(settings.sources)
    assert (copy.data_dir, copy.pairs, copy.timerange) == (sample_dir(), ("ADA/BTC",), (0, 1))


def test_progress_is_sent_at_most_every_tenth_of_a_second_and_always_the_last(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [100.0]
    monkeypatch.setattr(process.time, "monotonic", lambda: now[0])
    sent: list[Progress] = []
    queue = SimpleNamespace(put=sent.append)
    progress = process._ThrottledProgress(queue)
    for done, at in [(1, 100.0), (2, 100.05), (3, 100.11), (4, 100.12), (5, 100.13)]:
        now[0] = at
        progress(done, 5, T0_MS + done)
    assert [p.done for p in sent] == [1, 3, 5]
    assert sent[-1] == Progress(5, 5, T0_MS + 5)


# -- the real runner -----------------------------------------------------------------------
async def test_the_real_backtest_on_a_slice_of_the_sample(tmp_path: Path) -> None:
    """The engine itself in the child, on two days of one sample pair (quoted in BTC: the USDT
    stake gives way to the sample's quote, with a note, as in `tui-bot backtest`)."""
    settings = tui_settings(tmp_path, **{"backtest.warmup_candles": 300})
    app = make_app(settings, FakeFactory())  # no target: the real one
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_backtest(app, pilot)
        await type_into(pilot, screen, "bt-pairs", "ETH/BTC")
        await type_into(pilot, screen, "bt-range", "20180110-20180112")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: not screen.running, STEPS)
        assert screen.outcome is not None, text_of(screen, "bt-message")
        report = screen.outcome.report
        summary = report["summary"]
        assert summary["pairs"] == ["ETH/BTC"]
        assert screen.outcome.stake_currency == "BTC"
        assert any("quoted in BTC" in note for note in screen.outcome.notes)
        bar = screen.query_one("#bt-progress", ProgressBar)
        assert bar.total == summary["cycles"] == bar.progress > 0
        assert screen.query_one(TradesTable).row_count == summary["trades"] == len(report["trades"])
        assert cells(screen.query_one(SummaryTable), "Trades")[1].startswith(
            f"{summary['trades']} "
        )
        assert screen.query_one(PairsTable).row_keys() == ["ETH/BTC"]
        equity = screen.query_one("#bt-equity", Sparkline).data or []
        assert len(equity) == len(report["equity"]) > 0
        await wait_for(pilot, lambda: screen.job is None, STEPS)


# -- snapshots ------------------------------------------------------------------------------
def still_app(tmp_path: Path) -> TuiBotApp:
    settings = tui_settings(tmp_path)
    return TuiBotApp(settings, start_engine=False, themes=[ROOT / "themes"], monotonic=lambda: 0.0)


async def show_results(pilot: Pilot[Any]) -> None:
    """The results of a finished run, put on the screen directly (no process: no timing)."""
    pilot.app.post_message(SnapshotArrived(fixed_snapshot()))
    await pilot.pause()
    await pilot.press("b")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, BacktestScreen)
    screen.query_one("#bt-data", Input).value = "/tmp"  # the same on every machine
    screen.apply(Progress(120, 120, T0_MS + 120 * FIVE_MIN))
    screen.apply(Finished(canned_outcome()))
    screen.query_one(SummaryTable).focus()
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_results(snap_compare: SnapCompare, tmp_path: Path, size: tuple[int, int]) -> None:
    assert snap_compare(still_app(tmp_path), terminal_size=size, run_before=show_results)


def test_trades_tab_80x24(snap_compare: SnapCompare, tmp_path: Path) -> None:
    async def trades_tab(pilot: Pilot[Any]) -> None:
        await show_results(pilot)
        pilot.app.screen.query_one("#bt-results").active = "bt-tab-trades"
        await pilot.pause()
        pilot.app.screen.query_one(TradesTable).focus()
        await pilot.pause()

    assert snap_compare(still_app(tmp_path), terminal_size=(80, 24), run_before=trades_tab)
