"""The Sweep screen (ctrl+o on the Backtest screen): the Backtest screen's data, the run in a
process of its own, the table filling best first with both parts, the overfitting figures, stop,
and a row applied through the settings editor's path; SVG snapshots at 80x24 and 120x40.

The process target is injectable: the fakes (in sweep_targets.py, so the spawned
child can import them) send canned results. Update the SVG baselines with:
pytest tests/tui/test_tui_sweep.py --snapshot-update
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, FakeFactory, fixed_snapshot, tui_settings, wait_for
from sweep_targets import canned_results, canned_setup, canned_target
from textual.pilot import Pilot
from textual.widgets import Input, Label

from tui_bot.config import Settings
from tui_bot.engine import commands as cmd
from tui_bot.sweep.process import Finished, Started, TrialDone
from tui_bot.tui.app import HELP, TuiBotApp
from tui_bot.tui.messages import SnapshotArrived
from tui_bot.tui.screens.backtest import BacktestScreen
from tui_bot.tui.screens.confirm import ConfirmScreen
from tui_bot.tui.screens.sweep import SweepScreen, SweepTable

SIZE = (120, 40)
STEPS = 6000  # pilot pauses of 0.02 s: a spawned child on a busy machine may take seconds
SPACE = "[risk]\nstop_loss_pct = [1, 2, 3]\ntake_profit_pct = [4]\n"
SnapCompare = Callable[..., bool]


# -- helpers --------------------------------------------------------------------------------
def make_app(settings: Settings, factory: FakeFactory, target: Any = None) -> TuiBotApp:
    app = TuiBotApp(settings, factory, monotonic=lambda: 0.0, backoff=0.05)
    if target is not None:
        app.install_screen(SweepScreen(settings, target), "sweep")
    return app


def space_file(tmp_path: Path) -> Path:
    path = tmp_path / "space.toml"
    path.write_text(SPACE)
    return path


def gone(pid: int) -> bool:
    """The process has ended and been reaped (or is at most a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2] == "Z"


async def open_sweep(app: TuiBotApp, pilot: Pilot[Any]) -> SweepScreen:
    await wait_for(pilot, lambda: app.snapshot is not None)
    await pilot.press("b")
    await wait_for(pilot, lambda: isinstance(app.screen, BacktestScreen))
    backtest = app.screen
    for input_id, text in (("bt-pairs", "eth/btc"), ("bt-range", "20180110-20180115")):
        backtest.query_one(f"#{input_id}", Input).focus()
        await pilot.press("ctrl+a", "ctrl+k", *text)
    await pilot.pause()
    await pilot.press("ctrl+o")
    await wait_for(pilot, lambda: isinstance(app.screen, SweepScreen))
    assert isinstance(app.screen, SweepScreen)
    return app.screen


async def start(pilot: Pilot[Any], screen: SweepScreen, space: Path, trials: str = "") -> None:
    screen.query_one("#sw-space", Input).value = str(space)
    screen.query_one("#sw-trials", Input).value = trials
    await pilot.press("ctrl+r")
    await pilot.pause()


def text_of(screen: SweepScreen, label_id: str) -> str:
    return str(screen.query_one(f"#{label_id}", Label).render())


def rows(table: SweepTable) -> list[list[str]]:
    return [[c.plain.strip() for c in table.get_row(key)] for key in table.row_keys()]


# -- tests ----------------------------------------------------------------------------------
async def test_ctrl_o_opens_the_sweep_on_the_backtest_screens_data(settings: Settings) -> None:
    app = make_app(settings, FakeFactory())
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_sweep(app, pilot)
        assert screen.pairs == ("ETH/BTC",)
        assert screen.timerange == (1_515_542_400_000, 1_515_974_400_000)
        data = text_of(screen, "sw-data")
        assert "ETH/BTC" in data and "2018-01-10 to 2018-01-15" in data
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, SweepScreen))


async def test_the_command_palette_opens_the_sweep_and_help_names_its_key(
    settings: Settings,
) -> None:
    app = make_app(settings, FakeFactory())
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None)
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        assert "Sweep" in commands
        assert any(key == "ctrl+o" and "sweep" in text for key, text in HELP)
        await app.run_action("sweep")
        await wait_for(pilot, lambda: isinstance(app.screen, SweepScreen))
        await pilot.press("escape")  # back to the Backtest screen it came from
        await wait_for(pilot, lambda: isinstance(app.screen, BacktestScreen))


async def test_a_missing_space_file_is_refused_before_any_process(
    settings: Settings, tmp_path: Path
) -> None:
    app = make_app(settings, FakeFactory(), canned_target)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_sweep(app, pilot)
        await start(pilot, screen, tmp_path / "nope.toml")
        assert screen.job is None
        assert f"{tmp_path / 'nope.toml'}: no such file" in text_of(screen, "sw-error")
        await start(pilot, screen, space_file(tmp_path), trials="0")
        assert screen.job is None and "give 1 or more" in text_of(screen, "sw-error")


async def test_the_table_fills_best_first_then_says_what_the_holdout_shows(
    settings: Settings, tmp_path: Path
) -> None:
    gate = tmp_path / "go"
    app = make_app(settings, FakeFactory(), partial(canned_target, gate=str(gate)))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_sweep(app, pilot)
        await start(pilot, screen, space_file(tmp_path))
        assert screen.running and screen.job is not None
        pid = screen.job.pid
        table = screen.query_one(SweepTable)
        await wait_for(pilot, lambda: len(screen.results) == 2, STEPS)
        assert [r[:2] for r in rows(table)] == [["1", "1"], ["-", "yours"]]
        assert "2 of 4 runs done · best so far: trial 1" in text_of(screen, "sw-message")
        gate.touch()
        await wait_for(pilot, lambda: screen.report is not None, STEPS)
        shown = rows(table)
        assert [r[:2] for r in shown] == [["1", "2"], ["2", "1"], ["3*", "3"], ["-", "yours"]]
        assert shown[0][2:] == [
            "stop_loss_pct=2", "+1.50", "+3.00%", "25", "-0.60", "-1.20%", "10",
        ]  # fmt: skip
        verdict = text_of(screen, "sw-verdict")
        assert "over 3 trials: -0.50" in verdict
        assert "the best in-sample trial, 2 (stop_loss_pct=2, take_profit_pct=4)" in verdict
        assert "your settings (no sweep values)" in verdict and "a note about the data" in verdict
        assert text_of(screen, "sw-message").startswith("Done: 3 trials in 6 s")
        await wait_for(pilot, lambda: screen.job is None, STEPS)
        assert pid is not None and gone(pid)


async def test_stop_ends_the_child_and_keeps_what_finished(
    settings: Settings, tmp_path: Path
) -> None:
    app = make_app(settings, FakeFactory(), partial(canned_target, gate=str(tmp_path / "never")))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_sweep(app, pilot)
        await start(pilot, screen, space_file(tmp_path))
        await wait_for(pilot, lambda: len(screen.results) == 2, STEPS)
        assert screen.job is not None
        pid = screen.job.pid
        await pilot.press("ctrl+x")
        await wait_for(pilot, lambda: screen.report is not None, STEPS)
        assert text_of(screen, "sw-message").startswith("Stopped: 1 trial in 2 s")
        assert len(rows(screen.query_one(SweepTable))) == 2
        await wait_for(pilot, lambda: screen.job is None, STEPS)
        assert pid is not None and gone(pid)


async def test_quitting_the_dashboard_ends_a_running_sweep(
    settings: Settings, tmp_path: Path
) -> None:
    app = make_app(settings, FakeFactory(), partial(canned_target, gate=str(tmp_path / "never")))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_sweep(app, pilot)
        await start(pilot, screen, space_file(tmp_path))
        assert screen.job is not None
        pid = screen.job.pid
        await wait_for(pilot, lambda: len(screen.results) == 2, STEPS)
    assert pid is not None and gone(pid)


async def test_enter_on_a_row_applies_it_like_the_settings_editor(
    settings: Settings, tmp_path: Path
) -> None:
    factory = FakeFactory()
    app = make_app(settings, factory, canned_target)
    config = app.config_path
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_sweep(app, pilot)
        await start(pilot, screen, space_file(tmp_path))
        await wait_for(pilot, lambda: screen.report is not None, STEPS)
        table = screen.query_one(SweepTable)
        table.focus()
        table.move_cursor(row=table.row_keys().index("2"))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "Apply trial 2 (stop_loss_pct=2, take_profit_pct=4)" in app.screen.question
        await pilot.press("y")
        await wait_for(pilot, lambda: app.settings.risk.take_profit_pct == 4.0)
        assert app.settings.risk.stop_loss_pct == 2.0  # already the default: unchanged
        risk = tomllib.loads(config.read_text())["risk"]
        assert risk["take_profit_pct"] == 4.0 and risk["stop_loss_pct"] == 2.0
        applied = [c for c in factory.commands if isinstance(c, cmd.ApplySettings)]
        assert applied and applied[-1].settings.risk.take_profit_pct == 4.0
        assert "Applied trial 2: take_profit_pct=4" in text_of(screen, "sw-message")


async def test_a_real_sweep_on_a_slice_of_the_sample(tmp_path: Path) -> None:
    """The sweep itself in the child, with a loky worker: two trials of one sample pair."""
    settings = tui_settings(tmp_path, **{"backtest.warmup_candles": 150, "ml.require_edge": False})
    app = make_app(settings, FakeFactory())  # no target: the real one
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_sweep(app, pilot)
        screen.query_one("#sw-jobs", Input).value = "1"
        await start(pilot, screen, space_file(tmp_path), trials="2")
        await wait_for(pilot, lambda: not screen.running, STEPS)
        assert screen.report is not None, text_of(screen, "sw-message")
        assert len(screen.report["trials"]) == 2 and screen.report["pairs"] == ["ETH/BTC"]
        assert [r[1] for r in rows(screen.query_one(SweepTable))][-1] == "yours"
        assert "rank correlation" in text_of(screen, "sw-verdict")
        await wait_for(pilot, lambda: screen.job is None, STEPS)


# -- snapshots ------------------------------------------------------------------------------
def still_app(tmp_path: Path) -> TuiBotApp:
    settings = tui_settings(tmp_path)
    return TuiBotApp(settings, start_engine=False, themes=[ROOT / "themes"], monotonic=lambda: 0.0)


def snapshot_setup(tmp_path: Path) -> Callable[[Pilot[Any]], Any]:
    space = space_file(tmp_path)

    async def show(pilot: Pilot[Any]) -> None:
        """A finished sweep, put on the screen directly (no process: no timing)."""
        pilot.app.post_message(SnapshotArrived(fixed_snapshot()))
        await pilot.pause()
        await pilot.press("b")
        await pilot.pause()
        await pilot.press("ctrl+o")
        await pilot.pause()
        screen = pilot.app.screen
        assert isinstance(screen, SweepScreen)
        screen.use_data(Path("/tmp"), ("ETH/BTC",), None)  # the same on every machine
        screen.query_one("#sw-space", Input).value = "sweep.toml"
        screen.query_one("#sw-jobs", Input).value = "2"
        screen.apply(Started(canned_setup(space), 3, ("a note about the data",)))
        for done, result in enumerate(canned_results(), start=1):
            screen.apply(TrialDone(result, done, 4))
        screen.apply(Finished({"seconds": 6.0}))
        screen.query_one(SweepTable).focus()
        await pilot.pause()

    return show


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_results(snap_compare: SnapCompare, tmp_path: Path, size: tuple[int, int]) -> None:
    run_before = snapshot_setup(tmp_path)
    assert snap_compare(still_app(tmp_path), terminal_size=size, run_before=run_before)
