"""Status bar: mode in words, exchange, cycle, phase, countdown, equity, drawdown, model, state."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label

from tui_bot.engine.snapshot import Snapshot
from tui_bot.tui import format as fmt

MODE_CLASSES = {"SIMULATED": "mode-sim", "PAPER": "mode-paper", "LIVE": "mode-live"}


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
        money = f"{fmt.money(s.equity)} {self.stake}".rstrip()
        tag = " (SIMULATED)" if s.mode == "SIMULATED" else ""
        equity = self._update(
            "#status-equity", f"equity {money}{tag}  drawdown {s.drawdown_pct:.2f}%"
        )
        equity.set_class(s.drawdown_pct > 0, "loss")
        if s.model.trained_at is None:
            self._update("#status-model", "model: none yet")
        else:
            auc = f"{s.model.auc:.3f}" if s.model.auc is not None else "-"
            age = fmt.duration(s.time - s.model.trained_at)
            self._update("#status-model", f"model {age} old, AUC {auc}")
        self.refresh_state()

    def _render_cycle(self, s: Snapshot) -> None:
        phase = s.phase or "idle"
        parts = [f"{s.exchange}", f"cycle {s.cycle}", phase]
        if s.paused:
            parts.append("no next cycle")
        elif s.phase is None and s.next_cycle_at is not None:
            remaining = (s.next_cycle_at - self._engine_time()) / self.speed
            parts.append(f"next in {fmt.countdown(remaining)}")
        self._update("#status-cycle", " · ".join(parts))

    def refresh_state(self) -> None:
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
        label = self._update("#status-state", text)
        for name in ("error", "warning", "ok"):
            label.set_class(css == name, name)

    def _update(self, selector: str, text: str) -> Label:
        """Set a label's text; an unchanged one is left alone (update() always re-lays out)."""
        label = self.query_one(selector, Label)
        if label.content != text:
            label.update(text)
        return label
