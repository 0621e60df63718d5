"""The Sweep screen (ctrl+o on the Backtest screen): many backtests of the Backtest screen's data,
one per trial of a space file, in a process of its own with local workers while the live bot
trades on. The table fills as trials finish, best in-sample first, with each trial's
out-of-sample result next to it; at the end, what the holdout shows about overfitting. Enter
on a row applies its values to the running bot and config.toml, through the same validated,
persisted path as the settings editor (asked first).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.theme import Theme
from textual.widgets import Button, DataTable, Footer, Input, Label, ProgressBar

from tui_bot.config import ConfigError, Settings, save_settings, validate_value
from tui_bot.sweep.process import (
    Failed,
    Finished,
    Started,
    SweepProcess,
    SweepRequest,
    SweepTarget,
    TrialDone,
    Update,
    run_request,
)
from tui_bot.sweep.report import (
    SweepSetup,
    enough_trades,
    objective_text,
    objective_value,
    overfitting_lines,
    ranked,
)
from tui_bot.sweep.runner import SweepOptions
from tui_bot.sweep.space import describe_values
from tui_bot.sweep.trial import BASELINE, TrialResult
from tui_bot.tui.screens.backtest import BacktestScreen, ResultTable
from tui_bot.tui.screens.confirm import ConfirmScreen
from tui_bot.tui.screens.settings import SettingsSaved
from tui_bot.tui.widgets.table import Column, Row, cell, num

log = logging.getLogger(__name__)

POLL_SECONDS = 0.1
DEFAULT_SPACE = Path("sweep.toml")
INTRO = (
    "Runs one backtest of the Backtest screen's data for each trial of the space file (a list "
    "of values or a range table for each config key; the project's sweep.toml is an example), "
    "plus one with your settings as they are. The last 30 % of the traded range is held out: "
    "trials are ranked in-sample, and the out-of-sample columns show how much of a result "
    "survives data the ranking never saw. Enter on a row applies its values to the running "
    "bot and config.toml (asked first)."
)


class SweepTable(ResultTable):
    """One row a finished trial, best in-sample first; the baseline ("yours") last. Its
    columns follow the objective (set_objective): with profit there is no second profit."""

    TITLE = "Trials"

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.COLUMNS = columns_for("profit")
        self.objective = "profit"

    def set_objective(self, objective: str) -> None:
        """New columns for a new sweep (once a sweep, not a tick)."""
        self.objective = objective
        self.COLUMNS = columns_for(objective)
        self.clear(columns=True)
        self._cells.clear()
        for key, label, justify in self.COLUMNS:
            self.add_column(cell(label, "", justify), key=key)

    def show_trials(self, results: Sequence[TrialResult], setup: SweepSetup) -> None:
        order = ranked([r for r in results if r.id != BASELINE], setup.objective, setup.min_trades)
        rows: dict[str, Row] = {}
        for rank, result in enumerate(order, start=1):
            rows[str(result.id)] = self._row(str(rank), result, setup)
        for result in results:
            if result.id == BASELINE:
                rows[str(BASELINE)] = self._row("-", result, setup)
        self.sync(rows)

    def _row(self, rank: str, t: TrialResult, setup: SweepSetup) -> Row:
        keys = [d.key for d in setup.space.dimensions if d.choices is None or len(d.choices) > 1]
        if t.id == BASELINE:
            head = (num("-"), num("yours"), cell("your settings", "italic"))
        else:
            mark = "" if not t.ok or enough_trades(t, setup.min_trades) else "*"
            head = (
                num(rank + mark if t.ok else "-"),
                num(str(t.id)),
                cell(describe_values(t.values, keys)),
            )
        if not t.ok:
            error = self.coloured(f"failed: {t.error}", -1, right=False)
            return (*head, error, *(num("") for _ in range(len(self.COLUMNS) - 4)))
        return (*head, *self._part(t.in_sample, setup), *self._part(t.out_of_sample, setup))

    def _part(self, summary: dict[str, Any] | None, setup: SweepSetup) -> tuple[Any, ...]:
        width = 2 if setup.objective == "profit" else 3
        if summary is None:
            return tuple(num("-") for _ in range(width))
        profit = summary.get("profit_total_pct")
        sign = 0 if profit is None else (profit > 0) - (profit < 0)
        cells = (
            self.coloured("-" if profit is None else f"{profit:+.2f}%", sign),
            num(str(summary.get("trades", 0))),
        )
        if setup.objective == "profit":
            return cells
        value = objective_value(summary, setup.objective)
        return (num(objective_text(value, setup.objective)), *cells)


def columns_for(objective: str) -> tuple[Column, ...]:
    """(key, label, justify) of each column: the objective's, then profit and trades, for the
    in-sample part and the out-of-sample part."""
    columns: list[Column] = [
        ("rank", "#", "right"),
        ("trial", "Trial", "right"),
        ("values", "Values", "left"),
    ]
    for part in ("IS", "OOS"):
        if objective != "profit":
            columns.append((f"{part}_objective", f"{part} {objective}", "right"))
        columns.append((f"{part}_profit", f"{part} profit", "right"))
        columns.append((f"{part}_trades", f"{part} trades", "right"))
    return tuple(columns)


def saved_settings(settings: Settings, path: Path, values: dict[str, Any]) -> SettingsSaved:
    """A trial's values as the settings editor saves its own: checked, written to the file
    atomically, applied unless an environment variable wins. ConfigError: nothing changed."""
    checked = {key: validate_value(key, value) for key, value in values.items()}
    changed = {k: v for k, v in checked.items() if v != settings.get(k)}
    env_kept = {
        k: settings.env_names.get(k, "environment")
        for k in changed
        if settings.sources.get(k) == "env"
    }
    applied = {k: v for k, v in changed.items() if k not in env_kept}
    new = settings.with_values(applied) if applied else settings
    if changed:
        save_settings(path, changed)
    return SettingsSaved(new, path, changed, applied, env_kept)


class SweepScreen(Screen[None]):
    CSS_PATH = "sweep.tcss"
    AUTO_FOCUS = "#sw-space"
    BINDINGS = [
        Binding("escape", "close", "Back"),
        Binding("ctrl+r", "start", "Run", priority=True),
        Binding("ctrl+x", "stop", "Stop", priority=True),
    ]

    class Applied(Message):
        """A trial's settings were saved to the config file: the running bot takes them."""

        def __init__(self, saved: SettingsSaved) -> None:
            super().__init__()
            self.saved = saved

    def __init__(self, settings: Settings, target: SweepTarget | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.target = target or run_request
        self.data_dir: Path | None = None
        self.pairs: tuple[str, ...] | None = None
        self.timerange: tuple[int, int] | None = None
        self.job: SweepProcess | None = None
        self.setup: SweepSetup | None = None
        self.results: dict[int, TrialResult] = {}
        self.report: dict[str, Any] | None = None
        self.notes: tuple[str, ...] = ()  # about the data and the choices made, one line each

    def compose(self) -> ComposeResult:
        from tui_bot.sweep.backends import default_jobs

        yield Label("Sweep · many backtests, in and out of sample", id="sw-title")
        with Horizontal(classes="bt-row"):
            yield Label("Space file", classes="bt-label")
            space = str(DEFAULT_SPACE) if DEFAULT_SPACE.is_file() else ""
            yield Input(space, placeholder="e.g. sweep.toml", id="sw-space", classes="bt-input")
            yield Label("Trials", classes="bt-label-short")
            yield Input("", placeholder="all", id="sw-trials", classes="bt-input")
            yield Label("Workers", classes="bt-label-short")
            yield Input(str(default_jobs()), id="sw-jobs", classes="bt-input")
        yield Label("", id="sw-data", markup=False)
        yield Label("", id="sw-error", markup=False)
        with Horizontal(id="sw-controls"):
            yield Button("Run ^r", id="sw-run", variant="primary", compact=True)
            yield Button("Stop ^x", id="sw-stop", compact=True, disabled=True)
            yield Button("Apply ↵", id="sw-apply", compact=True, disabled=True)
            yield ProgressBar(id="sw-progress", show_eta=True)
        yield Label("ctrl+r runs it. escape: back (a sweep carries on).", id="sw-message")
        yield Label(INTRO, id="sw-intro", markup=False)
        yield SweepTable(id="sw-table", classes="bt-table")
        yield Label("", id="sw-verdict", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.add_class("-no-results", "-no-progress")
        self.set_interval(POLL_SECONDS, self.tick)
        self.app.theme_changed_signal.subscribe(self, self._restyle)
        self._show_data()

    def on_unmount(self) -> None:
        if self.job is not None:  # the dashboard is closing: no sweep outlives it
            self.job.cancel()
            self.job = None

    def use_data(
        self, data_dir: Path, pairs: tuple[str, ...] | None, timerange: tuple[int, int] | None
    ) -> None:
        """The Backtest screen's folder, pairs and range: what the next sweep runs on."""
        self.data_dir, self.pairs, self.timerange = data_dir, pairs, timerange
        if self.is_mounted:
            self._show_data()

    def _show_data(self) -> None:
        from tui_bot.market.files import sample_dir

        folder = self.data_dir or sample_dir()
        pairs = ", ".join(self.pairs) if self.pairs else "every pair"
        when = "every candle"
        if self.timerange is not None:
            from tui_bot.sweep.data import iso

            when = " to ".join(iso(ms)[:10] for ms in self.timerange)
        self.query_one("#sw-data", Label).update(
            f"Data: {folder} · {pairs} · {when} (set them on the Backtest screen)"
        )

    # -- actions --------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.job is not None and not self.job.ended

    def action_close(self) -> None:
        if self.running:
            self.app.notify("The sweep carries on in its own process; ctrl+o shows it again")
        self.app.pop_screen()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {"sw-run": self.action_start, "sw-stop": self.action_stop}
        actions.get(str(event.button.id), self.action_apply)()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_start()

    def action_start(self) -> None:
        if self.running:
            self._message("A sweep is running: ctrl+x stops it first.", "error")
            return
        request = self._request()
        if request is None:
            return
        try:
            job = SweepProcess(request, self.target)
            job.start()
        except (OSError, ValueError) as error:
            self._message(f"✗ the sweep process could not start: {error}", "error")
            return
        self.job, self.setup, self.report, self.results, self.notes = job, None, None, {}, ()
        self.query_one(SweepTable).sync({})
        self.query_one("#sw-verdict", Label).update("")
        self.remove_class("-no-progress")
        self.query_one("#sw-progress", ProgressBar).update(total=None, progress=0)
        self._message(f"Checking the space file and loading the candles (pid {job.pid})…", "")
        self._set_running(True)

    def _request(self) -> SweepRequest | None:
        from tui_bot.sweep.backends import default_jobs

        space = self.query_one("#sw-space", Input).value.strip()
        trials = _count(self.query_one("#sw-trials", Input).value)
        jobs = _count(self.query_one("#sw-jobs", Input).value)
        problem = None
        if not space:
            problem = "space file: empty; give a .toml file of the settings to try"
        elif not Path(space).expanduser().is_file():
            problem = f"{space}: no such file; give a space file (sweep.toml is an example)"
        elif trials == 0 or jobs == 0:
            problem = "trials and workers: give 1 or more (trials empty: the whole grid, or 20)"
        self._show_error(problem)
        if problem is not None:
            return None
        settings = getattr(self.app, "settings", None) or self.settings
        options = SweepOptions(
            space=Path(space).expanduser(),
            data=None if self._is_sample() else self.data_dir,
            pairs=self.pairs,
            timerange=self.timerange,
            trials=trials,
        )
        return SweepRequest(settings, options, jobs or default_jobs())

    def _is_sample(self) -> bool:
        from tui_bot.market.files import sample_dir

        return self.data_dir is None or self.data_dir.resolve() == sample_dir().resolve()

    def action_stop(self) -> None:
        if not self.running or self.job is None:
            self._message("No sweep is running.", "")
            return
        self.job.stop()
        self._message("Stopping: the workers end, then what finished stays here…", "")

    def _set_running(self, running: bool) -> None:
        self.query_one("#sw-run", Button).disabled = running
        self.query_one("#sw-stop", Button).disabled = not running

    # -- the process's updates ----------------------------------------------------------------
    def tick(self) -> None:
        job = self.job
        if job is None:
            return
        for update in job.poll():
            self.apply(update)
        if job.ended and not job.alive():
            self.job = None

    def apply(self, update: Update) -> None:
        if isinstance(update, Started):
            self._started(update)
        elif isinstance(update, TrialDone):
            self._trial_done(update)
        elif isinstance(update, Finished):
            self._finished(update)
        elif isinstance(update, Failed):
            self._failed(update)

    def _started(self, started: Started) -> None:
        self.setup = started.setup
        self.remove_class("-no-results")
        self.query_one("#sw-progress", ProgressBar).update(total=started.trials + 1, progress=0)
        objective = started.setup.objective
        table = self.query_one(SweepTable)
        table.set_objective(objective)
        held = started.setup.split.holdout
        table.border_title = f"Trials · IS: in sample · OOS: out of sample (the last {held:.0%})"
        table.border_subtitle = f"* fewer than {started.setup.min_trades} in-sample trades"
        self._message(
            f"{started.trials} trials and your settings, ranked by in-sample {objective} · "
            "ctrl+x stops",
            "",
        )
        self.notes = started.notes
        self.query_one("#sw-verdict", Label).update("\n".join(self.notes))

    def _trial_done(self, done: TrialDone) -> None:
        self.results[done.result.id] = done.result
        self.query_one("#sw-progress", ProgressBar).update(total=done.total, progress=done.done)
        if self.setup is not None:
            self.query_one(SweepTable).show_trials(list(self.results.values()), self.setup)
        self.query_one("#sw-apply", Button).disabled = False
        self._message(f"{done.done} of {done.total} runs done · {self._best_text()}", "")

    def _best_text(self) -> str:
        from tui_bot.sweep.report import best_trial

        if self.setup is None:
            return ""
        trials = [r for r in self.results.values() if r.id != BASELINE]
        best = best_trial(trials, self.setup.objective, self.setup.min_trades)
        if best is None:
            return "no best trial yet"
        objective = self.setup.objective
        value = objective_text(objective_value(best.in_sample, objective), objective)
        return f"best so far: trial {best.id}, in-sample {self.setup.objective} {value}"

    def _finished(self, finished: Finished) -> None:
        self._set_running(False)
        self.report = finished.report
        if self.setup is not None:
            trials = [r for r in self.results.values() if r.id != BASELINE]
            baseline = self.results.get(BASELINE)
            lines = overfitting_lines(trials, baseline, self.setup)
            self.query_one("#sw-verdict", Label).update("\n".join([*lines, *self.notes]))
        done = len([r for r in self.results.values() if r.id != BASELINE])
        if finished.interrupted:
            self.add_class("-no-progress")  # its ETA is of a sweep that no longer runs
        head = "Stopped" if finished.interrupted else "Done"
        count = f"{done} trial{'' if done == 1 else 's'}"
        text = f"{head}: {count} in {finished.report['seconds']:.0f} s · {self._best_text()}"
        self._message(text + " · enter on a row applies it", "ok")
        if self.app.screen is not self:
            self.app.notify(
                f"Sweep {text[0].lower()}{text[1:]}; ctrl+o on b shows it", markup=False
            )

    def _failed(self, failure: Failed) -> None:
        self._set_running(False)
        self.add_class("-no-progress")
        self._message(f"✗ {failure.message}", "error")
        if failure.detail:
            log.error("sweep failed:\n%s", failure.detail)
        if self.app.screen is not self:
            self.app.notify(f"Sweep failed: {failure.message}", severity="error", markup=False)

    # -- applying a row -----------------------------------------------------------------------
    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_apply()

    def action_apply(self) -> None:
        key = self.query_one(SweepTable).selected_key()
        result = self.results.get(int(key)) if key is not None else None
        if result is None or result.id == BASELINE or not result.ok:
            self._message("Pick a trial's row to apply (your settings are what runs now).", "")
            return
        path = getattr(self.app, "config_path", None) or Path("config.toml")
        question = (
            f"Apply trial {result.id} ({describe_values(result.values)}) to the running bot "
            f"and save it in {Path(path).name}?"
        )
        self.app.push_screen(ConfirmScreen(question, "Apply"), lambda yes: self._apply(yes, result))

    def _apply(self, yes: bool | None, result: TrialResult) -> None:
        if not yes:
            return
        settings = getattr(self.app, "settings", None) or self.settings
        path = Path(getattr(self.app, "config_path", None) or "config.toml")
        try:
            saved = saved_settings(settings, path, result.values)
        except ConfigError as error:
            self._message(f"✗ not applied: {error}", "error")
            return
        self.post_message(self.Applied(saved))  # the app applies it as the editor's save
        self.settings = saved.settings
        self._message(f"Applied trial {result.id}: {describe_values(saved.saved)}", "ok")

    # -- helpers ----------------------------------------------------------------------------
    def _show_error(self, problem: str | None) -> None:
        label = self.query_one("#sw-error", Label)
        label.update(f"✗ {problem}" if problem else "")
        label.set_class(bool(problem), "-shown")

    def _message(self, text: str, kind: str) -> None:
        label = self.query_one("#sw-message", Label)
        label.update(text)
        label.set_class(kind == "error", "error")
        label.set_class(kind == "ok", "ok")

    def _restyle(self, theme: Theme) -> None:
        if self.setup is not None and self.results:
            table = self.query_one(SweepTable)
            table.forget()
            table.show_trials(list(self.results.values()), self.setup)


def _count(text: str) -> int | None:
    """An input's whole number: None when empty, 0 when it is not one of 1 or more."""
    text = text.strip()
    if not text:
        return None
    try:
        return max(int(text), 0)
    except ValueError:
        return 0


def open_sweep(
    backtest: BacktestScreen,
    data_dir: Path,
    pairs: tuple[str, ...] | None,
    timerange: tuple[int, int] | None,
) -> None:
    """From the Backtest screen: one Sweep screen for the app's life (a running sweep carries
    on behind it), on the data the Backtest screen has."""
    app = backtest.app
    if not app.is_screen_installed("sweep"):
        app.install_screen(SweepScreen(backtest.settings), "sweep")
    screen = app.get_screen("sweep")
    assert isinstance(screen, SweepScreen)
    screen.use_data(data_dir, pairs, timerange)
    app.push_screen("sweep")
