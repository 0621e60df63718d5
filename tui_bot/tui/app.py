"""The dashboard app: hosts the engine in a thread worker and renders its snapshots."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from textual import events
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Container, Vertical
from textual.screen import Screen
from textual.theme import Theme
from textual.widgets import DataTable, Footer, Tab, Tabs

from tui_bot.config import ConfigError, Settings, save_settings
from tui_bot.engine import commands as cmd
from tui_bot.engine.snapshot import Alert, Snapshot
from tui_bot.engine.words import AlertLevel
from tui_bot.tui.hosting import EngineHostApp, RuntimeFactory, default_runtime
from tui_bot.tui.screens.confirm import ConfirmScreen
from tui_bot.tui.screens.help import HelpScreen
from tui_bot.tui.screens.settings import SettingsSaved, SettingsScreen
from tui_bot.tui.themes import DEFAULT_THEME, FALLBACK_THEME, load_themes, theme_dirs
from tui_bot.tui.widgets.alerts import AlertsTable
from tui_bot.tui.widgets.caches import CachesTable
from tui_bot.tui.widgets.chart import ChartPane
from tui_bot.tui.widgets.equity import EquityPane
from tui_bot.tui.widgets.model import ModelPane
from tui_bot.tui.widgets.opportunities import OpportunitiesTable
from tui_bot.tui.widgets.positions import UNMANAGED, PositionsTable
from tui_bot.tui.widgets.status_bar import StatusBar
from tui_bot.tui.widgets.table import KeyedTable
from tui_bot.tui.widgets.timings import TimingsTable
from tui_bot.tui.widgets.trades import TradesTable

if TYPE_CHECKING:
    from tui_bot.backtest.process import BacktestTarget
    from tui_bot.tui.screens.backtest import BacktestScreen
    from tui_bot.tui.screens.sweep import SweepScreen

log = logging.getLogger(__name__)
# A start-up warning (a broken theme or config) stays on screen this long, in full.
STARTUP_WARNING_SECONDS = 30.0

COMPACT_WIDTH = 100  # narrower or lower than this: one pane group at a time, in tabs
COMPACT_HEIGHT = 32
TABS = {
    "overview": "Overview",
    "equity": "Equity",
    "caches": "Caches",
    "alerts": "Alerts",
    "timings": "Timings",
    "model": "Model",
    "trades": "Trades",
    "chart": "Chart",
}
TAB_FOCUS = {
    "overview": "#positions",
    "equity": "#equity",
    "caches": "#caches",
    "alerts": "#alerts",
    "timings": "#timings",
    "model": "#model",
    "trades": "#trades",
    "chart": "#chart",
}
# Big terminals show a page of panes at once: what a trader watches, or the engine's insides.
# A tab picks the page its pane is on (Alerts is on both: its tab keeps the page shown).
PAGES = ("trading", "engine")
TAB_PAGE = {
    "overview": "trading",
    "equity": "trading",
    "trades": "trading",
    "chart": "trading",
    "caches": "engine",
    "timings": "engine",
    "model": "engine",
}
# the tables whose selected row is the chart's symbol
CHART_SOURCES = ("positions", "opportunities", "trades")
HELP = (
    ("p", "pause / resume the cycle (the running cycle finishes first)"),
    ("r", "scan now, bypassing the market scan cache"),
    ("t", "retrain the model now (in a separate process)"),
    ("c", "close the selected position at market (asks first)"),
    ("enter", "chart the selected row's symbol (small terminals: opens the Chart tab)"),
    ("s", "settings: edit, apply to the running bot, save"),
    ("b", "backtest: replay recorded candles in its own process; the bot trades on"),
    ("ctrl+o", "(in the backtest) sweep: many backtests in parallel, in- vs held-out results"),
    ("ctrl+t", "next theme (saved in [ui] theme)"),
    ("?", "this help"),
    ("q", "quit: finish the phase, save state, restore the terminal"),
)


class Pane(Protocol):
    """A pane that draws snapshots (the status bar apart)."""

    def show(self, snapshot: Snapshot) -> None: ...
    def restyle(self) -> None: ...


class TuiBotApp(EngineHostApp):
    CSS_PATH = "app.tcss"
    TITLE = "tui-bot"
    BINDINGS = [
        Binding("p", "pause", "Pause"),
        Binding("r", "scan_now", "Scan"),
        Binding("t", "retrain", "Retrain"),
        Binding("c", "close_position", "Close"),
        Binding("s", "settings", "Settings"),
        Binding("ctrl+t", "next_theme", "Theme"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
        Binding("b", "backtest", "Backtest"),  # last: an 80-column footer cuts it, not q
        *(Binding(str(i), f"tab('{name}')", show=False) for i, name in enumerate(TABS, 1)),
    ]
    # only the dashboard's own keys; other screens answer theirs
    DASHBOARD_ACTIONS = frozenset(
        binding.action.partition("(")[0] for binding in BINDINGS if isinstance(binding, Binding)
    )

    def __init__(
        self,
        settings: Settings,
        runtime_factory: RuntimeFactory = default_runtime,
        *,
        start_engine: bool = True,
        themes: Iterable[Path] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        backoff: float = 1.0,
        backtest_target: BacktestTarget | None = None,
    ) -> None:
        super().__init__(
            settings,
            runtime_factory,
            start_engine=start_engine,
            monotonic=monotonic,
            backoff=backoff,
        )
        self.config_path = settings.path or Path("config.toml")
        self.backtest_target = backtest_target  # what the backtest process runs (None: the real)
        if settings.exchange.name == "sim":
            self.engine_speed = settings.sim.speed
        self._main_screen: Screen[Any] | None = None
        self._startup_warnings: list[tuple[str, str]] = []
        for warning in settings.warnings:
            self._warn_at_start("config", warning)
        self.theme_names = self._load_themes(
            theme_dirs(settings.path) if themes is None else themes
        )

    # -- layout ------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        sim = self.settings.exchange.name == "sim"
        with Vertical(id="main"):
            yield StatusBar(
                speed=self.engine_speed,
                engine_time=self.engine_time,
                stake=self.settings.bot.stake_currency,
                mode="SIMULATED" if sim else "PAPER",  # until the first snapshot says
                id="status",
            )
            yield Tabs(*(Tab(label, id=f"tab-{name}") for name, label in TABS.items()), id="tabs")
            stake = self.settings.bot.stake_currency
            # each page's grid (app.tcss) places its panes in this order, row by row
            with Container(id="panes", classes="-tab-overview -page-trading"):
                yield PositionsTable(id="positions", classes="pane tab-overview page-trading")
                yield ChartPane(id="chart", classes="pane tab-chart page-trading")
                yield EquityPane(id="equity", classes="pane tab-equity page-trading")
                yield TradesTable(stake, id="trades", classes="pane tab-trades page-trading")
                yield CachesTable(id="caches", classes="pane tab-caches page-engine")
                yield TimingsTable(id="timings", classes="pane tab-timings page-engine")
                yield ModelPane(stake, id="model", classes="pane tab-model page-engine")
                yield AlertsTable(
                    sim, id="alerts", classes="pane tab-alerts page-trading page-engine"
                )
                yield OpportunitiesTable(
                    id="opportunities", classes="pane tab-overview page-trading"
                )
        yield Footer()

    def on_mount(self) -> None:
        self._main_screen = self.screen
        self.query_one(TimingsTable).slow_seconds = self.settings.monitor.slow_operation_seconds
        self._apply_layout(self.size.width, self.size.height)
        self.theme_changed_signal.subscribe(self, self._restyle)
        for source, warning in self._startup_warnings:
            self.add_alert(AlertLevel.WARNING, source, warning)
            # the Alerts pane cuts a long line to its width; a notification wraps it
            self.notify(warning, severity="warning", timeout=STARTUP_WARNING_SECONDS, markup=False)
        self.query_one(PositionsTable).focus()
        self.install_signal_handlers()
        if self._start_engine_on_mount:
            self.call_after_refresh(self.start_engine)  # paint first, then the heavy imports

    def on_resize(self, event: events.Resize) -> None:
        self._apply_layout(event.size.width, event.size.height)

    def _apply_layout(self, width: int, height: int) -> None:
        compact = width < COMPACT_WIDTH or height < COMPACT_HEIGHT
        self.query_one("#main").set_class(compact, "-compact")
        self.query_one(Footer).compact = compact

    def on_tabs_tab_activated(self, event: Tabs.TabActivated) -> None:
        name = (event.tab.id or "tab-overview").removeprefix("tab-")
        panes = self.query_one("#panes")
        for tab in TABS:
            panes.set_class(tab == name, f"-tab-{tab}")
        page = TAB_PAGE.get(name)
        if page is not None:
            for each in PAGES:
                panes.set_class(each == page, f"-page-{each}")

    def action_tab(self, name: str) -> None:
        self.query_one(Tabs).active = f"tab-{name}"
        self.call_after_refresh(self.query_one(TAB_FOCUS[name]).focus)

    @property
    def compact(self) -> bool:
        return self.query_one("#main").has_class("-compact")

    # -- the chart's symbol: the row under the cursor in Positions, Opportunities or Trades,
    # the one focused last (its cursor stays on a row index while the rows change under it)
    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.has_focus:
            self._chart_selected()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        self._chart_selected()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id in CHART_SOURCES and self.compact:
            self.action_tab("chart")

    def _chart_selected(self) -> None:
        table = self.focused
        if not isinstance(table, KeyedTable) or table.id not in CHART_SOURCES:
            return  # another pane: the chart keeps its symbol
        key = table.selected_key()
        if key is None or key.startswith(UNMANAGED):
            return  # nothing there, or coins the bot does not trade
        symbol = table.symbol_of(key) if isinstance(table, TradesTable) else key
        if symbol is not None:
            self.query_one(ChartPane).select(symbol)

    # -- snapshots ---------------------------------------------------------------------------
    def show_snapshot(self, snapshot: Snapshot) -> None:
        with self.batch_update():
            self.query_one(StatusBar).show(snapshot)
            for pane in self._panes():
                pane.show(snapshot)
            self._chart_selected()

    def _panes(self) -> Sequence[Pane]:
        return [
            self.query_one(PositionsTable),
            self.query_one(OpportunitiesTable),
            self.query_one(CachesTable),
            self.query_one(AlertsTable),
            self.query_one(TimingsTable),
            self.query_one(EquityPane),
            self.query_one(ModelPane),
            self.query_one(TradesTable),
            self.query_one(ChartPane),
        ]

    def _restyle(self, theme: Theme) -> None:
        with self.batch_update():
            for pane in self._panes():
                pane.restyle()

    def show_engine_starting(self) -> None:
        self.query_one(StatusBar).engine_starting()

    def show_engine_failed(self, error: str, retry_in: float | None) -> None:
        self.query_one(StatusBar).engine_failed(error, retry_in)

    def add_alert(
        self, level: AlertLevel, source: str, text: str, when: float | None = None
    ) -> None:
        when = self.engine_time() if when is None else when
        self.query_one(AlertsTable).add_local(Alert(when, level, source, text))

    # -- actions -----------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # another screen is open (settings, help, a dialog): only its own keys work
        return action not in self.DASHBOARD_ACTIONS or self.screen is self._main_screen

    async def action_quit(self) -> None:
        if self._quitting:
            self.exit(0)  # second q: do not wait for the phase
            return
        running = self.engine_running
        self.stop_engine()
        if not running:
            self.exit(0)
            return
        self.query_one(StatusBar).stopping()
        self.notify("Stopping after the current phase… (q again to leave at once)", timeout=10)

    def action_pause(self) -> None:
        self._want_paused = not self._want_paused
        status = self.query_one(StatusBar)
        status.want_paused = self._want_paused
        self.submit(cmd.Pause() if self._want_paused else cmd.Resume(), quiet=True)
        status.refresh_state()
        self.notify("Paused after the current cycle" if self._want_paused else "Resumed")

    def action_scan_now(self) -> None:
        if self.submit(cmd.ScanNow()):
            self.notify("Scanning now (scan cache bypassed)")

    def action_retrain(self) -> None:
        if self.submit(cmd.RetrainNow()):
            self.notify("Retraining the model in the background")

    def action_close_position(self) -> None:
        table = self.query_one(PositionsTable)
        symbol = table.selected_symbol()
        if symbol is None:
            why = (
                "the selected row is unmanaged coins: the bot never trades them, sell them by hand"
                if table.selected_key()
                else "Positions is empty"
            )
            self.notify(f"No position to close ({why})", severity="warning", markup=False)
            return
        question = f"Close {symbol} at market now?"
        self.push_screen(ConfirmScreen(question, "Close"), partial(self._close_answered, symbol))

    def _close_answered(self, symbol: str, yes: bool | None) -> None:
        if yes and self.submit(cmd.ClosePosition(symbol)):
            self.notify(f"Closing {symbol}", markup=False)

    def action_settings(self) -> None:
        self.push_screen(SettingsScreen(self.settings, self.config_path), self.settings_saved)

    def on_sweep_screen_applied(self, message: SweepScreen.Applied) -> None:
        self.settings_saved(message.saved)

    def settings_saved(self, result: SettingsSaved | None) -> None:
        """What a save of settings (the editor's, or a sweep's trial applied) means for the
        running bot: the new settings go to the engine and the user is told what changed."""
        if result is None:
            self.notify("Settings unchanged", timeout=3)
            return
        if not result.saved:
            self.notify("Nothing to save: no value changed", timeout=3)
            return
        self.settings = result.settings
        self.query_one(TimingsTable).slow_seconds = self.settings.monitor.slow_operation_seconds
        if result.applied:
            self.submit(cmd.ApplySettings(result.settings), quiet=True)
        saved = ", ".join(f"{key} = {value}" for key, value in result.saved.items())
        now = " and applied" if result.applied else ""
        self.notify(f"Saved to {result.path.name}{now}: {saved}", markup=False)
        for key, env in result.env_kept.items():
            self.notify(
                f"{key}: env {env} keeps winning until you unset it; saved to the file only",
                severity="warning",
                timeout=12,
                markup=False,
            )

    def action_backtest(self) -> None:
        """One Backtest screen for the app's life: closing it leaves a run going."""
        self.push_screen(self._backtest_screen())

    async def action_sweep(self) -> None:
        """The command palette's Sweep: the Backtest screen's (its data, pairs and range)."""
        screen = self._backtest_screen()
        await self.push_screen(screen)
        screen.action_sweep()

    def _backtest_screen(self) -> BacktestScreen:
        from tui_bot.tui.screens.backtest import BacktestScreen  # not on the start-up path

        if not self.is_screen_installed("backtest"):
            self.install_screen(BacktestScreen(self.settings, self.backtest_target), "backtest")
        return self.get_screen("backtest", BacktestScreen)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(HELP))

    # -- themes ------------------------------------------------------------------------------
    def _load_themes(self, directories: Iterable[Path]) -> tuple[str, ...]:
        loaded = load_themes(directories)
        for theme in loaded.themes:
            self.register_theme(theme)
        for warning in loaded.warnings:
            self._warn_at_start("theme", warning)
        names = loaded.names or (FALLBACK_THEME,)
        wanted = self.settings.ui.theme
        if wanted not in self.available_themes:
            fallback = DEFAULT_THEME if DEFAULT_THEME in names else names[0]
            self._warn_at_start("theme", f"[ui] theme = {wanted!r} not found; using {fallback!r}")
            wanted = fallback
        self.theme = wanted
        return names

    def _warn_at_start(self, source: str, warning: str) -> None:
        """Logged now; shown as an alert and a notification once the dashboard is up."""
        log.warning("%s", warning)
        self._startup_warnings.append((source, warning))

    def action_next_theme(self) -> None:
        names = self.theme_names
        index = names.index(self.theme) if self.theme in names else -1
        self.set_theme(names[(index + 1) % len(names)])

    def set_theme(self, name: str) -> None:
        self.theme = name
        try:
            save_settings(self.config_path, {"ui.theme": name})
            self.settings = self.settings.with_values({"ui.theme": name})
        except ConfigError as error:
            self.notify(f"Theme {name} not saved: {error}", severity="error", markup=False)
            return
        self.notify(f"Theme: {name} (saved)", timeout=3, markup=False)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        if screen is self._main_screen:
            yield SystemCommand(
                "Pause / resume", "Pause or resume the trading cycle (p)", self.action_pause
            )
            yield SystemCommand(
                "Scan now", "Run a cycle now, bypassing the scan cache (r)", self.action_scan_now
            )
            yield SystemCommand("Retrain now", "Retrain the model now (t)", self.action_retrain)
            yield SystemCommand(
                "Close position", "Close the selected position (c)", self.action_close_position
            )
            yield SystemCommand("Settings", "Edit and save the settings (s)", self.action_settings)
            yield SystemCommand(
                "Backtest", "Replay recorded candles through the engine (b)", self.action_backtest
            )
            yield SystemCommand(
                "Sweep", "Many backtests with different settings, in parallel", self.action_sweep
            )
            yield SystemCommand("Help", "Every key (?)", self.action_help)
            yield SystemCommand(
                "Next theme", "Switch to the next theme (ctrl+t)", self.action_next_theme
            )
            for name in self.theme_names:
                yield SystemCommand(
                    f"Theme: {name}",
                    "Use this theme (saved as ui.theme in the config file)",
                    partial(self.set_theme, name),
                )
        for command in super().get_system_commands(screen):
            if command.title not in ("Theme", "Quit"):
                yield command
        yield SystemCommand(
            "Quit", "Finish the current phase, save state and exit (q)", self.action_quit
        )
