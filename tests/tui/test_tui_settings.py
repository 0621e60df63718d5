"""The settings flow: valid save (engine and file change), invalid input, cancel, env keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import FakeFactory, tui_settings, wait_for
from textual.pilot import Pilot
from textual.widgets import Input, Label

from tui_bot.config import Settings, load_settings
from tui_bot.engine import commands as cmd
from tui_bot.tui.app import TuiBotApp
from tui_bot.tui.screens.settings import EDITABLE, SettingsScreen, input_id

SIZE = (120, 40)
KEY = "scan.cache_duration"


def config(settings: Settings) -> Path:
    assert settings.path is not None
    return settings.path


def applied(factory: FakeFactory) -> list[cmd.ApplySettings]:
    return [c for c in factory.commands if isinstance(c, cmd.ApplySettings)]


async def open_settings(app: TuiBotApp, pilot: Pilot[Any]) -> SettingsScreen:
    await wait_for(pilot, lambda: app.engine is not None)
    await pilot.press("s")
    await pilot.pause()
    assert isinstance(app.screen, SettingsScreen)
    return app.screen


async def type_into(pilot: Pilot[Any], screen: SettingsScreen, key: str, text: str) -> None:
    widget = screen.query_one(f"#{input_id(key)}", Input)
    widget.focus()
    await pilot.pause()
    await pilot.press("home", "ctrl+k", *text)
    await pilot.pause()


def error_text(screen: SettingsScreen, key: str) -> str:
    return str(screen.query_one(f"#error-{input_id(key)}", Label).render())


async def test_every_required_setting_shows_value_unit_source_and_range(
    app: TuiBotApp,
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_settings(app, pilot)
        required = {
            "scan.cache_duration",
            "ml.prediction_cache_duration",
            "ml.prediction_cache_size",
            "scan.max_parallel_workers",
            "bot.check_interval",
            "monitor.slow_operation_seconds",
            "risk.stop_loss_pct",
            "risk.take_profit_pct",
            "risk.max_position_pct",
            "risk.max_per_group",
            "risk.max_drawdown_pct",
        }
        assert required <= set(EDITABLE)
        assert screen.query_one(f"#{input_id(KEY)}", Input).value == "300"
        hints = " ".join(str(label.render()) for label in screen.query(".setting-hint"))
        assert "scan.cache_duration · source: file · recommended 180–600 · allowed 1–86400" in hints
        units = [str(label.render()) for label in screen.query(".setting-unit")]
        assert "seconds" in units and "%" in units


async def test_valid_save_applies_to_the_engine_and_writes_the_file(
    app: TuiBotApp, factory: FakeFactory, settings: Settings
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_settings(app, pilot)
        await type_into(pilot, screen, KEY, "240")
        await type_into(pilot, screen, "scan.max_parallel_workers", "4")
        assert error_text(screen, KEY) == ""
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: bool(applied(factory)))
        assert not isinstance(app.screen, SettingsScreen)
        new = applied(factory)[-1].settings
        assert new.scan.cache_duration == 240 and new.scan.max_parallel_workers == 4
        assert app.settings.scan.cache_duration == 240
    on_disk = load_settings(settings.path, env={})
    assert on_disk.scan.cache_duration == 240
    assert on_disk.scan.max_parallel_workers == 4
    assert "# How long market scan results are reused" in config(settings).read_text()


async def test_invalid_input_is_refused_inline_and_nothing_changes(
    app: TuiBotApp, factory: FakeFactory, settings: Settings
) -> None:
    before = config(settings).read_bytes()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_settings(app, pilot)
        for bad, words in (("abc", "wrong type"), ("-5", "out of range"), ("999999", "range")):
            await type_into(pilot, screen, KEY, bad)
            assert words in error_text(screen, KEY), bad
            assert screen.query_one(f"#{input_id(KEY)}", Input).has_class("-invalid")
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert app.screen is screen  # still open: Save refused
            message = str(screen.query_one("#settings-message", Label).render())
            assert "Not saved" in message
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, SettingsScreen)
    assert applied(factory) == []
    assert config(settings).read_bytes() == before
    assert app.settings.scan.cache_duration == 300


async def test_escape_cancels_with_nothing_changed(
    app: TuiBotApp, factory: FakeFactory, settings: Settings
) -> None:
    before = config(settings).read_bytes()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_settings(app, pilot)
        await type_into(pilot, screen, KEY, "240")
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, SettingsScreen)
        await pilot.press("s")  # reopened: the running value again, not the abandoned edit
        await pilot.pause()
        assert app.screen.query_one(f"#{input_id(KEY)}", Input).value == "300"
    assert applied(factory) == []
    assert config(settings).read_bytes() == before


async def test_env_overridden_key_says_so_and_saving_does_not_apply_it(tmp_path: Path) -> None:
    settings = tui_settings(tmp_path, env={"MARKET_SCAN_CACHE_DURATION": "200"})
    assert settings.scan.cache_duration == 200
    factory = FakeFactory()
    app = TuiBotApp(settings, factory, monotonic=lambda: 0.0)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_settings(app, pilot)
        notes = " ".join(str(label.render()) for label in screen.query(".setting-env"))
        assert "env MARKET_SCAN_CACHE_DURATION" in notes
        assert "keeps winning until you unset it" in notes
        assert screen.query_one(f"#{input_id(KEY)}", Input).value == "200"
        await type_into(pilot, screen, KEY, "240")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, SettingsScreen))
        await pilot.pause()
        assert applied(factory) == []  # nothing else changed, and the env value keeps winning
        assert app.settings.scan.cache_duration == 200
        toasts = " ".join(str(n.message) for n in app._notifications)
        assert "MARKET_SCAN_CACHE_DURATION keeps winning" in toasts
    assert load_settings(settings.path, env={}).scan.cache_duration == 240
