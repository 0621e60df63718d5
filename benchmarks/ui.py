"""UI event-loop lag while a model trains: in a worker process (ours) vs a thread (baseline).

A minimal Textual app runs headless under `App.run_test()`. A Textual timer fires every
INTERVAL seconds; each Timer event carries the time it was scheduled for, and the app records
how late it was handled (Textual's timers use time.monotonic on Linux and macOS). That is the
delay a key press or a redraw would see.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
from textual import events
from textual.app import App, ComposeResult
from textual.widgets import Static

from benchmarks.fixtures import Dataset
from benchmarks.rows import Goal, Row, require
from tui_bot.engine.model import ProcessTrainer, TrainedModel, train_model

INTERVAL = 0.01
IDLE_SECONDS = 0.5  # per run: the lag with no training, for reference


class LagApp(App[None]):
    """A screen of text redrawn on every tick; records how late each tick is handled."""

    def __init__(self) -> None:
        super().__init__()
        self.lags: list[float] = []
        self.recording = False
        self._probe: Any = None
        self._label = Static("lag", id="lag")

    def compose(self) -> ComposeResult:
        yield self._label
        for i in range(20):
            yield Static(f"row {i}", classes="row")

    def on_mount(self) -> None:
        self._probe = self.set_interval(INTERVAL, name="lag-probe")

    async def on_timer(self, event: events.Timer) -> None:
        if event.timer is not self._probe:
            await super().on_timer(event)
            return
        lag = max(0.0, time.monotonic() - event.time)
        if self.recording:
            self.lags.append(lag)
        if self.is_running:
            self._label.update(f"lag {lag * 1000:.1f} ms (tick {event.count})")

    def stop_probe(self) -> None:
        if self._probe is not None:
            self._probe.stop()


async def _record(app: LagApp, work: Callable[[], Awaitable[Any]]) -> list[float]:
    app.lags.clear()
    app.recording = True
    try:
        await work()
    finally:
        app.recording = False
    return list(app.lags)


def _p99_ms(lags: list[float]) -> float:
    return float(np.percentile(np.array(lags), 99)) * 1000.0


async def ui_lag(data: Dataset, runs: int) -> Row:
    X, y = data.X, data.y
    trainer = ProcessTrainer()
    models: dict[str, TrainedModel] = {}

    async def in_process_pool(times: int) -> None:
        for _ in range(times):
            models["process"] = await trainer.train(X, y, "hist_gradient_boosting", 0.0)

    async def in_thread(times: int) -> None:
        for _ in range(times):
            models["thread"] = await asyncio.to_thread(
                train_model, X, y, "hist_gradient_boosting", 0.0
            )

    app = LagApp()
    try:
        # start the worker (and multiprocessing's resource tracker) before Textual replaces
        # sys.stderr with an object whose fileno() is -1, which spawning cannot pass on
        await trainer.worker_pid()
        async with app.run_test(headless=True, size=(80, 24)) as pilot:
            await pilot.pause(0.2)
            await in_process_pool(1)  # warm-up: starts the worker, imports scikit-learn there
            await in_thread(1)
            idle: list[float] = []
            ours: list[float] = []
            base: list[float] = []
            for _ in range(runs):  # alternated, so that other load on the machine hits all three
                ours += await _record(app, lambda: in_process_pool(1))
                base += await _record(app, lambda: in_thread(1))
                idle += await _record(app, lambda: asyncio.sleep(IDLE_SECONDS))
            app.stop_probe()
            await pilot.pause(0.05)
    finally:
        trainer.close()
    probe = X[:500].astype(np.float64)
    require(
        np.allclose(
            models["process"].predict_proba(probe),
            models["thread"].predict_proba(probe),
            rtol=0,
            atol=1e-12,
        ),
        "ui lag: the process-trained and thread-trained models differ",
    )
    require(len(ours) > 20 and len(base) > 20, "ui lag: too few timer ticks recorded")
    return Row(
        "ui_loop_lag_p99_ms",
        "ms",
        _p99_ms(base),
        _p99_ms(ours),
        goal=Goal("<", 50.0),
        baseline_label=f"{runs} trainings on 15,000 samples in a thread of the UI process",
        ours_label=f"{runs} trainings in the ProcessTrainer worker process (alternating with "
        "the baseline's; the idle lag is in results.json)",
        check="both trainings give the same model (predictions to 1e-12)",
        details={
            "interval_ms": INTERVAL * 1000,
            "ticks_ours": len(ours),
            "ticks_baseline": len(base),
            "max_ms_ours": max(ours) * 1000,
            "max_ms_baseline": max(base) * 1000,
            "idle_p99_ms": _p99_ms(idle),
            "ticks_idle": len(idle),
        },
    )
