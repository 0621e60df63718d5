"""Status bar: mode in words, exchange, cycle, phase, countdown, equity, drawdown, model, state.

When the terminal is narrow the less important parts go first. The mode marker, the equity (with
its stale mark) and the engine's state stay. On the first line the exchange name, then the
countdown, then the phase give way; on the second the model's details (its age, then the AUC
interval behind its verdict, then the verdict), then the SIMULATED tag next to equity (the mode
marker says it already), then the drawdown.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label

from tui_bot.engine.snapshot import Snapshot
from tui_bot.tui import format as fmt
from tui_bot.tui.widgets.model import interval_text, show_verdict_class

MODE_CLASSES = {"SIMULATED": "mode-sim", "PAPER": "mode-paper", "LIVE": "mode-live"}
PADDING = 2  # every label has one cell of padding on each side (app.tcss)
Labels = TypeVar("Labels", bound=tuple[str, ...])


def first_fit(options: Sequence[Labels], width: int) -> Labels:
    """The first option whose labels fit side by side in `width` cells, else the last one."""
    for option in options:
        if sum(len(text) + PADDING for text in option if text) <= width:
            return option
    return options[-1]


class StatusBar(Vertical):
    """Two lines. `speed` is engine seconds per wall second (the simulator runs faster);
    `engine_time` is now on the engine's clock, for the countdown to the next cycle."""

    def __init__(
        self,
        speed: float = 1.0,
        engine_time: Callable[[], float] = time.time,
        stake: str = "",
        mode: str = "SIMULATED",
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.mode = mode
        self.speed = speed
        self.stake = stake
        self._engine_time = engine_time
        self._snapshot: Snapshot | None = None
        self._engine_state = "starting"  # starting | running | error | stopping | stopped
        self._engine_error = ""
        self.want_paused = False

    def compose(self) -> ComposeResult:
        with Horizontal(classes="status-line"):
            css = MODE_CLASSES.get(self.mode, "")
            yield Label(f" {self.mode} ", id="status-mode", classes=css, markup=False)
            yield Label("", id="status-cycle", markup=False)
            yield Label("starting engine…", id="status-state", classes="state", markup=False)
        with Horizontal(classes="status-line"):
            yield Label("", id="status-equity", markup=False)
            yield Label("", id="status-model", markup=False)

    def on_mount(self) -> None:
        self.set_interval(0.5, self._tick)

    def on_resize(self) -> None:
        self._render_all()

    # -- inputs ------------------------------------------------------------------------------
    def show(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot
        if self._engine_state in ("starting", "error"):
            self._engine_state = "running"
        self._render_all()

    def engine_failed(self, error: str, retry_in: float | None) -> None:
        self._engine_state = "error"
        again = f"; restarting in {retry_in:g}s" if retry_in is not None else "; not restarting"
        self._engine_error = f"ENGINE ERROR {error}{again}"
        self.refresh_state()

    def engine_starting(self) -> None:
        if self._engine_state != "error":
            self._engine_state = "starting"
        self.refresh_state()

    def stopping(self) -> None:
        self._engine_state = "stopping"
        self.refresh_state()

    # -- rendering ---------------------------------------------------------------------------
    def _tick(self) -> None:
        if self._snapshot is not None:
            self._render_cycle(self._snapshot)

    def _render_all(self) -> None:
        s = self._snapshot
        if s is None:
            return
        mode = self._update("#status-mode", f" {s.mode} ")
        for word, css in MODE_CLASSES.items():
            mode.set_class(s.mode == word, css)
        self._render_cycle(s)
        equity_text, model_text = first_fit(self._equity_options(s), self._width())
        equity = self._update("#status-equity", equity_text)
        equity.set_class(s.drawdown_pct > 0, "loss")
        model = self._update("#status-model", model_text)
        model.display = bool(model_text)
        show_verdict_class(model, s.model.verdict if s.model.trained_at is not None else None)
        self.refresh_state()

    def _width(self) -> int:
        return self.size.width or 1000  # 0 before the first layout: render everything

    def _equity_options(self, s: Snapshot) -> list[tuple[str, str]]:
        """(equity line, model) from the fullest to the barest; see the module's docstring."""
        known = s.equity_history or not s.balance_stale  # a stale 0 was never read at all
        money = f"{fmt.money(s.equity)} {self.stake}".rstrip() if known else "unknown"
        money += " (stale)" if s.balance_stale else ""
        equity = f"equity {money}"
        tag = " (SIMULATED)" if s.mode == "SIMULATED" else ""
        drawdown = f"  drawdown {s.drawdown_pct:.2f}%"
        models = self._model_options(s)
        options = [(equity + tag + drawdown, model) for model in models]
        options += [(equity + drawdown, models[-1]), (equity + drawdown, ""), (equity, "")]
        options.append((money, ""))
        return options

    def _model_options(self, s: Snapshot) -> list[str]:
        """The verdict with its AUC interval, never a bare AUC; fullest first."""
        m = s.model
        if m.trained_at is None:
            return ["model: none yet", "no model"]
        interval = interval_text(m.auc_low, m.auc_high)
        verdict = f"{m.verdict} (AUC {interval})" if interval else m.verdict
        age = fmt.duration(s.time - m.trained_at)
        models = [f"model {age} old, {verdict}", f"{age} old, {verdict}", verdict, m.verdict]
        if m.blocking:
            models.insert(0, f"{models[0]}: no new positions")
        return list(dict.fromkeys(models))  # without the interval two options are the same

    def _render_cycle(self, s: Snapshot) -> None:
        cycle, phase = f"cycle {s.cycle}", s.phase or "idle"
        later = []
        if s.paused:
            later.append("no next cycle")
        elif s.phase is None and s.next_cycle_at is not None:
            remaining = (s.next_cycle_at - self._engine_time()) / self.speed
            later.append(f"next in {fmt.countdown(remaining)}")
        options = [
            [s.exchange, cycle, phase, *later],
            [cycle, phase, *later],
            [cycle, phase],
            [cycle],
        ]
        # what the mode marker and the state (at most 60 % of the bar) leave for this label
        mode = len(f" {s.mode} ") + PADDING
        state = min(len(self._state_text()[0]) + PADDING, int(self._width() * 0.6))
        texts = [(" · ".join(parts),) for parts in options]
        (text,) = first_fit(texts, self._width() - mode - state)
        self._update("#status-cycle", text)

    def refresh_state(self) -> None:
        text, css = self._state_text()
        label = self._update("#status-state", text)
        for name in ("error", "warning", "ok"):
            label.set_class(css == name, name)

    def _state_text(self) -> tuple[str, str]:
        """The engine's state in words, and its css class."""
        s = self._snapshot
        state = self._engine_state
        paused = s is not None and s.paused
        if state == "error":
            text, css = self._engine_error, "error"
        elif state == "stopping":
            text, css = "stopping: finishing the current phase…", "warning"
        elif state == "starting":
            text, css = "starting engine…", "warning"
        elif s is not None and s.kill_switch:
            text, css = "KILL SWITCH: no new positions", "error"
        elif paused:
            text, css = "PAUSED (p resumes)", "warning"
        elif self.want_paused:
            text, css = "pausing after this cycle…", "warning"
        else:
            text, css = "running", "ok"
        return text, css

    def _update(self, selector: str, text: str) -> Label:
        """Set a label's text; an unchanged one is left alone (update() always re-lays out)."""
        label = self.query_one(selector, Label)
        if label.content != text:
            label.update(text)
        return label
