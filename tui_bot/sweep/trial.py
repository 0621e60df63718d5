"""One trial: the base settings plus the trial's values, backtested in-sample and out-of-sample.

This runs in a worker process (loky or dask). The worker holds the sweep's data once, under its
key (a loky worker gets it with its start, a dask worker from a worker plugin); a trial ships
only its id and values.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tui_bot.sweep.data import LOADS, SweepData

BASELINE = 0  # the id of the run with no sweep values: the settings as they are


@dataclass(frozen=True)
class Trial:
    id: int  # 0: the baseline; the trials are 1..N in plan order
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrialResult:
    id: int
    values: dict[str, Any]
    in_sample: dict[str, Any] | None  # the in-sample backtest's summary (report.summarize)
    out_of_sample: dict[str, Any] | None  # None with --holdout 0, or when the trial failed
    seconds: float  # both backtests, in the worker
    worker: str  # host:pid of the worker process, or a dask worker's address
    data_loads: int = 0  # times that worker process received the sweep's data (1: once)
    attempts: int = 1  # runs it took: 2 when its worker died the first time
    error: str | None = None  # why it failed (it then has no summaries)

    @property
    def ok(self) -> bool:
        return self.error is None


TrialRunner = Callable[[SweepData, Trial], TrialResult]


def run_trial(data: SweepData, trial: Trial) -> TrialResult:
    """Both backtests of one trial, on one OpenMP / BLAS thread."""
    from threadpoolctl import threadpool_limits

    from tui_bot.backtest.report import summarize
    from tui_bot.backtest.run import run_backtest

    started = time.perf_counter()
    with threadpool_limits(limits=1):
        settings = data.settings.with_values(trial.values)
        in_sample = summarize(run_backtest(settings, data.in_sample))
        out_of_sample = (
            summarize(run_backtest(settings, data.out_of_sample)) if data.out_of_sample else None
        )
    return TrialResult(
        id=trial.id,
        values=dict(trial.values),
        in_sample=in_sample,
        out_of_sample=out_of_sample,
        seconds=time.perf_counter() - started,
        worker=f"{socket.gethostname()}:{os.getpid()}",
        data_loads=LOADS[data.key],
    )


def failed(trial: Trial, error: str, attempts: int = 1, worker: str = "") -> TrialResult:
    return TrialResult(trial.id, dict(trial.values), None, None, 0.0, worker, 0, attempts, error)


def error_text(error: BaseException) -> str:
    """One line for the user: a RefusedToStart's own message, else the exception's type too."""
    from tui_bot.errors import RefusedToStart

    text = str(error) if isinstance(error, RefusedToStart) else f"{type(error).__name__}: {error}"
    return " ".join(text.split())


# -- in a worker process -----------------------------------------------------------------------
_INSTALLED: dict[str, SweepData] = {}  # data key -> the data, received once


def install(data: SweepData, parent_pid: int) -> None:
    """A local worker's initializer: keep the data (it arrived once, with the worker's start),
    one thread for OpenMP / BLAS, quiet logs, no Ctrl-C of its own (the parent stops it), and
    an end of its own if the parent dies."""
    from threadpoolctl import threadpool_limits

    from tui_bot.engine.model import exit_with_parent

    exit_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.getLogger("tui_bot").setLevel(logging.ERROR)
    threadpool_limits(limits=1)
    keep(data)


def run_installed(key: str, trial: Trial, runner: TrialRunner) -> TrialResult:
    data = _INSTALLED.get(key)
    if data is None:
        raise RuntimeError("the sweep's data has not reached this worker")
    return runner(data, trial)


def keep(data: SweepData) -> None:
    """Hold the sweep's data in this worker process, under its key."""
    _INSTALLED[data.key] = data


def forget(key: str) -> None:
    """Drop the data (a dask worker outlives the sweep); a later sweep's counts start anew."""
    _INSTALLED.pop(key, None)
    LOADS.pop(key, None)


def worker_facts() -> dict[str, Any]:
    """What the dask backend checks on every worker before the first trial."""
    from importlib.metadata import version

    return {"tui_bot": version("tui-bot"), "pid": os.getpid()}
