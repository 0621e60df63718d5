"""Every dashboard key, driven with Pilot against a fake engine that records commands."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from conftest import FakeFactory, fixed_snapshot, wait_for
from textual.pilot import Pilot
from textual.widgets import Footer, Label

from tui_bot.config import Settings, load_settings
from tui_bot.engine import commands as cmd
from tui_bot.tui.app import TuiBotApp
from tui_bot.tui.screens.confirm import ConfirmScreen
from tui_bot.tui.screens.help import HelpScreen
from tui_bot.tui.screens.settings import SettingsScreen
from tui_bot.tui.widgets.alerts import AlertsTable
from tui_bot.tui.widgets.caches import CachesTable
from tui_bot.tui.widgets.opportunities import OpportunitiesTable
from tui_bot.tui.widgets.positions import PositionsTable
from tui_bot.tui.widgets.timings import TimingsTable

SIZE = (120, 40)


def sent(factory: FakeFactory, kind: type) -> list[object]:
    return [c for c in factory.commands if isinstance(c, kind)]


async def started(app: TuiBotApp, pilot: Pilot[Any]) -> None:
    await wait_for(pilot, lambda: app.snapshot is not None and app.engine is not None)


async def test_a_snapshot_fills_every_pane(app: TuiBotApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        assert app.query_one(PositionsTable).row_keys() == ["BTC/USDT", "DOGE/USDT", "UNI/USDT"]
        assert app.query_one(OpportunitiesTable).row_keys()[:2] == ["SOL/USDT", "PEPE/USDT"]
        assert app.query_one(CachesTable).row_keys() == [
            "market_scan",
            "indicators",
            "ml_prediction",
            "symbol_group",
        ]
        assert app.query_one(AlertsTable).row_count == 3
        assert "phase.market_scan" in app.query_one(TimingsTable).row_keys()
        status = str(app.query_one("#status-mode", Label).render())
        assert "SIMULATED" in status


async def test_p_pauses_and_resumes(app: TuiBotApp, factory: FakeFactory) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        await pilot.press("p")
        await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.paused)
        assert sent(factory, cmd.Pause) == [cmd.Pause()]
        assert "PAUSED" in str(app.query_one("#status-state", Label).render())
        await pilot.press("p")
        await wait_for(pilot, lambda: app.snapshot is not None and not app.snapshot.paused)
        assert sent(factory, cmd.Resume) == [cmd.Resume()]
        assert "running" in str(app.query_one("#status-state", Label).render())


async def test_r_scans_now_and_t_retrains(app: TuiBotApp, factory: FakeFactory) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        await pilot.press("r")
        await pilot.press("t")
        await pilot.pause()
        assert sent(factory, cmd.ScanNow) == [cmd.ScanNow()]
        assert sent(factory, cmd.RetrainNow) == [cmd.RetrainNow()]


async def test_c_closes_the_selected_position_after_yes(
    app: TuiBotApp, factory: FakeFactory
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        await pilot.press("down")  # Positions has the focus: select the second row
        await pilot.press("c")
        assert isinstance(app.screen, ConfirmScreen)
        assert "DOGE/USDT" in app.screen.question
        await pilot.press("y")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        assert sent(factory, cmd.ClosePosition) == [cmd.ClosePosition("DOGE/USDT")]


async def test_c_then_no_or_escape_closes_nothing(app: TuiBotApp, factory: FakeFactory) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        for answer in ("n", "escape"):
            await pilot.press("c")
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press(answer)
            await pilot.pause()
            assert not isinstance(app.screen, ConfirmScreen)
        assert sent(factory, cmd.ClosePosition) == []


async def test_c_without_positions_asks_nothing(settings: Settings) -> None:
    factory = FakeFactory(replace(fixed_snapshot(), positions=()))
    app = TuiBotApp(settings, factory, monotonic=lambda: 0.0)
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        await pilot.press("c")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        assert sent(factory, cmd.ClosePosition) == []


async def test_s_opens_settings_and_escape_returns(app: TuiBotApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        await pilot.press("s")
        assert isinstance(app.screen, SettingsScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, SettingsScreen)


async def test_help_lists_every_key(app: TuiBotApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        keys = [str(label.render()) for label in app.screen.query(".help-key")]
        for key in ("p", "r", "t", "c", "s", "ctrl+t", "?", "q", "ctrl+p"):
            assert key in keys, key
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


async def test_footer_shows_every_action(app: TuiBotApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        app.query_one(Footer)
        shown = {
            binding.action
            for (_, binding, enabled, _) in app.active_bindings.values()
            if binding.show and enabled
        }
        expected = {"pause", "scan_now", "retrain", "close_position", "settings", "next_theme"}
        assert expected | {"help", "quit"} <= shown


async def test_command_palette_offers_every_action(app: TuiBotApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for title in ("Pause / resume", "Scan now", "Retrain now", "Close position", "Settings"):
            assert title in titles
        assert "Theme: tui-light" in titles and "Quit" in titles


async def test_command_palette_runs_scan_now(app: TuiBotApp, factory: FakeFactory) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"scan now")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: bool(sent(factory, cmd.ScanNow)))


async def test_theme_switch_is_live_and_saved(app: TuiBotApp, settings: Settings) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        assert app.theme == "tui-dark"
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert app.theme == app.theme_names[1]
        assert load_settings(settings.path, env={}).ui.theme == app.theme
        for _ in app.theme_names[1:]:
            await pilot.press("ctrl+t")
        await pilot.pause()
        assert app.theme == "tui-dark"


async def test_dashboard_keys_are_inert_on_other_screens(
    app: TuiBotApp, factory: FakeFactory
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        await pilot.press("question_mark")
        await pilot.press("p", "r", "t")
        await pilot.pause()
        assert factory.commands == []
        assert isinstance(app.screen, HelpScreen)


async def test_q_stops_the_engine_then_exits(app: TuiBotApp, factory: FakeFactory) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running)
    assert sent(factory, cmd.Stop) == [cmd.Stop()]
    assert factory.runtimes[-1].closed
    assert app.return_code == 0


async def test_number_keys_switch_tabs_in_a_small_terminal(app: TuiBotApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await started(app, pilot)
        assert app.compact
        assert app.query_one(PositionsTable).display and app.query_one("#positions").region
        await pilot.press("3")
        await pilot.pause()
        assert app.query_one(CachesTable).region.height > 0
        assert app.query_one(PositionsTable).region.height == 0
        await pilot.press("1")
        await pilot.pause()
        assert app.query_one(PositionsTable).region.height > 0
