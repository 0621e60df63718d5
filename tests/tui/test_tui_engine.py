"""The dashboard hosting engines: the real one for a few cycles, and one that fails."""

from __future__ import annotations

from collections.abc import Callable

from conftest import FakeFactory, FakeRuntime, wait_for
from textual.widgets import Label

from tui_bot.config import ConfigError, Settings, load_settings
from tui_bot.engine import commands as cmd
from tui_bot.engine.model import InlineTrainer
from tui_bot.engine.snapshot import Snapshot
from tui_bot.runtime import Runtime, build_runtime
from tui_bot.store import Store
from tui_bot.tui.app import TuiBotApp
from tui_bot.tui.screens.settings import input_id
from tui_bot.tui.widgets.alerts import AlertsTable
from tui_bot.tui.widgets.caches import CachesTable
from tui_bot.tui.widgets.opportunities import OpportunitiesTable
from tui_bot.tui.widgets.timings import TimingsTable


def real_runtime(settings: Settings, on_snapshot: Callable[[Snapshot], None]) -> Runtime:
    return build_runtime(settings, trainer=InlineTrainer(), on_snapshot=on_snapshot)


async def test_the_real_engine_fills_the_panes_applies_settings_and_stops_cleanly(
    settings: Settings,
) -> None:
    app = TuiBotApp(settings, real_runtime)
    async with app.run_test(size=(120, 40)) as pilot:

        def cycle() -> int:
            return -1 if app.snapshot is None else app.snapshot.cycle

        await wait_for(pilot, lambda: cycle() >= 2, steps=1500)
        assert app.query_one(OpportunitiesTable).row_count > 0
        assert app.query_one(TimingsTable).row_count > 0
        caches = app.query_one(CachesTable)
        assert caches.get_cell("market_scan", "ttl").plain.strip() == "300 s"
        # settings: the running engine takes 240 s without a restart
        await pilot.press("s")
        await pilot.pause()
        app.screen.query_one(f"#{input_id('scan.cache_duration')}").focus()
        await pilot.press("home", "ctrl+k", "2", "4", "0", "ctrl+s")
        await wait_for(
            pilot,
            lambda: caches.get_cell("market_scan", "ttl").plain.strip() == "240 s",
            steps=500,
        )
        last = cycle()
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, steps=1500)
    assert app.return_code == 0
    assert load_settings(settings.path, env={}).scan.cache_duration == 240
    store = Store(settings.storage_dir / "tui_bot.sqlite")
    try:
        assert int(store.get_state("cycle", "0") or 0) >= last  # state persisted on the way out
        assert store.get_state("clock_time")
    finally:
        store.close()


class FailingOnce(FakeFactory):
    """The first engine raises in start(); the next ones work."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def __call__(self, settings: Settings, on_snapshot: Callable[[Snapshot], None]) -> FakeRuntime:
        runtime = super().__call__(settings, on_snapshot)
        if len(self.runtimes) == 1:
            error = self.error

            async def broken_start() -> None:
                raise error

            runtime.engine.start = broken_start  # type: ignore[method-assign]
        return runtime


async def test_an_engine_exception_becomes_an_alert_and_the_engine_restarts(
    settings: Settings,
) -> None:
    factory = FailingOnce(RuntimeError("exchange exploded"))
    app = TuiBotApp(settings, factory, monotonic=lambda: 0.0, backoff=1.0)
    async with app.run_test(size=(120, 40)) as pilot:
        alerts = app.query_one(AlertsTable)
        await wait_for(pilot, lambda: any("exchange exploded" in a.message for a in alerts.local))
        state = str(app.query_one("#status-state", Label).render())
        assert "ENGINE ERROR RuntimeError: exchange exploded" in state
        assert "restarting in" in state
        assert any(
            "RuntimeError: exchange exploded" in alerts.get_cell(key, "message").plain
            for key in alerts.row_keys()
        )
        assert factory.runtimes[0].closed  # closed on the way out, even on failure
        await wait_for(pilot, lambda: len(factory.runtimes) == 2 and app.engine is not None)
        await pilot.press("p")  # the app still answers, and talks to the new engine
        await pilot.pause()
        assert factory.runtimes[1].engine.commands == [cmd.Pause()]
        await wait_for(pilot, lambda: "PAUSED" in str(app.query_one("#status-state").render()))
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running)


async def test_a_configuration_error_is_shown_and_not_retried(settings: Settings) -> None:
    factory = FailingOnce(ConfigError("[exchange] name = 'kraken': not wired up"))
    app = TuiBotApp(settings, factory, monotonic=lambda: 0.0, backoff=0.01)
    async with app.run_test(size=(120, 40)) as pilot:
        alerts = app.query_one(AlertsTable)
        await wait_for(pilot, lambda: bool(alerts.local))
        for _ in range(10):
            await pilot.pause(0.02)
        assert len(factory.runtimes) == 1
        assert "not restarting" in str(app.query_one("#status-state", Label).render())
