"""The dask side of a sweep, imported only with --backend dask (distributed is optional).

The sweep's data travels in a worker plugin: the scheduler sends it to every worker once, and
again to a worker that joins later or is restarted after a death, so no trial ever waits for
data that died with a worker. Tasks name the data by its key.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from typing import Any

from distributed import Worker, WorkerPlugin, get_worker

from tui_bot.sweep.data import SweepData
from tui_bot.sweep.trial import Trial, TrialResult, TrialRunner, forget, keep, run_installed

_ONE_AT_A_TIME = threading.Lock()  # a worker with several threads still runs one trial at a time


class SweepDataPlugin(WorkerPlugin):
    """Holds the sweep's data on a worker. While it does, the worker's statistical profiler
    (it samples every thread's stack every 10 ms) is paused: on a pure-Python backtest it
    cost ~20 % of a trial."""

    def __init__(self, data: SweepData) -> None:
        self.data = data
        self.name = plugin_name(data.key)
        self._paused: list[Any] = []

    def setup(self, worker: Worker) -> None:
        logging.getLogger("tui_bot").setLevel(logging.ERROR)
        keep(self.data)
        profiler = worker.periodic_callbacks.get("profile")
        if profiler is not None and profiler.is_running():
            profiler.stop()
            self._paused.append(profiler)

    def teardown(self, worker: Worker) -> None:
        forget(self.data.key)
        for profiler in self._paused:
            profiler.start()
        self._paused.clear()


def plugin_name(key: str) -> str:
    return f"tui-bot-sweep-{key[:16]}"


def run_on_dask(key: str, trial: Trial, runner: TrialRunner) -> TrialResult:
    """A dask task: one trial on the data this worker holds, named by the worker's address."""
    with _ONE_AT_A_TIME:
        result = run_installed(key, trial, runner)
    return replace(result, worker=get_worker().address)
