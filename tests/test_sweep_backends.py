"""The backends on real backtests of the bundled sample: the same trial results with 1 and 2
local workers and on a dask LocalCluster (scheduler and 2 worker processes on 127.0.0.1), each
equal to a single backtest of its settings; the data received once per worker; a worker killed
mid-trial costs a retry, not the sweep."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tui_bot.backtest.report import summarize
from tui_bot.backtest.run import run_backtest
from tui_bot.config import Settings, load_settings
from tui_bot.market.files import load_candles
from tui_bot.sweep.backends import DIED, DaskBackend, LocalBackend
from tui_bot.sweep.data import SweepData, iso, prepare
from tui_bot.sweep.runner import SweepOutcome, make_trials, run_sweep
from tui_bot.sweep.trial import Trial, TrialResult, failed, run_trial

PAIRS = ["ETH/BTC", "LTC/BTC", "XLM/BTC"]
CANDLES = 480
WARMUP = 150
TIMING = ("seconds", "cycles_per_second")
VALUES = [
    {"risk.stop_loss_pct": 1.0, "risk.take_profit_pct": 1.5},
    {"risk.stop_loss_pct": 3.0, "risk.take_profit_pct": 4.0},
    {"risk.min_probability": 0.6},
]


@pytest.fixture(scope="module", autouse=True)
def _no_loky_tracker_left() -> Iterator[None]:
    """loky keeps a resource tracker process for the life of the process that made a pool (a
    CLI run ends it by exiting); tests share one process, so it is stopped once they are done."""
    yield
    import gc

    from joblib.externals.loky.backend import resource_tracker

    gc.collect()  # the pools' queues unregister their semaphores with it first
    if getattr(resource_tracker._resource_tracker, "_fd", None) is not None:
        resource_tracker._resource_tracker._stop()


def sweep_settings(tmp: Path) -> Settings:
    return load_settings(
        None,
        env={},
        overrides={
            "bot.stake_currency": "BTC",
            "backtest.warmup_candles": str(WARMUP),
            "ml.require_edge": "false",  # the trading is the subject, not the edge gate
            "storage.dir": str(tmp / "unused"),
        },
    )


def figures(result: TrialResult) -> tuple[Any, ...]:
    """What a trial computed; its timings and its worker left out."""

    def strip(summary: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if summary is None else {k: v for k, v in summary.items() if k not in TIMING}

    return (result.values, strip(result.in_sample), strip(result.out_of_sample), result.error)


def by_id(outcome: SweepOutcome) -> dict[int, tuple[Any, ...]]:
    assert outcome.baseline is not None
    return {t.id: figures(t) for t in (outcome.baseline, *outcome.trials)}


def kill_once(marker: str, victim: int, data: SweepData, trial: Trial) -> TrialResult:
    """The victim's first attempt runs, then kills its worker before answering."""
    result = run_trial(data, trial)
    if trial.id == victim:
        try:
            os.unlink(marker)  # only the first attempt finds it
        except FileNotFoundError:
            return result
        os.kill(os.getpid(), signal.SIGKILL)
    return result


def kill_always(victim: int, data: SweepData, trial: Trial) -> TrialResult:
    if trial.id == victim:
        os.kill(os.getpid(), signal.SIGKILL)
    return run_trial(data, trial)


def threads_seen(data: SweepData, trial: Trial) -> TrialResult:
    """What a worker's thread pools are set to when a trial starts, as the trial's "error"."""
    from threadpoolctl import threadpool_info

    counts = sorted({pool["num_threads"] for pool in threadpool_info()})
    return failed(trial, f"threads {counts}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> SweepData:
    files = [f.with_rows(f.candles[:CANDLES]) for f in load_candles(pairs=PAIRS)]
    return prepare(sweep_settings(tmp_path_factory.mktemp("sweep")), files, 0.3)


@pytest.fixture(scope="module")
def trials(data: SweepData) -> list[Trial]:
    return make_trials(data.settings, VALUES)


@pytest.fixture(scope="module")
def one_worker(data: SweepData, trials: list[Trial]) -> SweepOutcome:
    return run_sweep(data, trials, LocalBackend(1))


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """A real dask cluster: a scheduler and 2 worker processes (nannies) on 127.0.0.1."""
    import dask
    from distributed import LocalCluster

    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        cluster = LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",  # its HTTP server on loopback only
        )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def check_complete(outcome: SweepOutcome) -> None:
    assert not outcome.interrupted
    assert len(outcome.trials) == len(VALUES) and outcome.baseline is not None
    assert all(t.ok for t in outcome.trials), [t.error for t in outcome.trials]


@pytest.mark.slow
def test_every_trial_is_a_single_backtest_of_its_settings_in_and_out_of_sample(
    data: SweepData, one_worker: SweepOutcome
) -> None:
    check_complete(one_worker)
    trial = one_worker.trials[1]
    settings = data.settings.with_values(trial.values)
    inside = summarize(run_backtest(settings, data.in_sample))
    outside = summarize(run_backtest(settings, data.out_of_sample))
    expected = TrialResult(trial.id, trial.values, inside, outside, 0.0, "")
    assert figures(trial) == figures(expected)
    assert trial.in_sample is not None and trial.out_of_sample is not None
    # the two parts meet at the split: nothing after it reaches the in-sample run
    assert trial.in_sample["end"] == iso(data.split.split_ms) == trial.out_of_sample["start"]
    assert max(int(f.times[-1]) for f in data.in_sample) == data.split.split_ms
    assert trial.in_sample["trades"] > 0 and trial.out_of_sample["trades"] > 0
    # the trials differ from each other and from the baseline: the values reached the engine
    assert len({str(figures(t)[1]) for t in (one_worker.baseline, *one_worker.trials)}) == 4


@pytest.mark.slow
def test_two_local_workers_give_the_same_results_as_one(
    data: SweepData, trials: list[Trial], one_worker: SweepOutcome
) -> None:
    two = run_sweep(data, trials, LocalBackend(2))
    check_complete(two)
    assert by_id(two) == by_id(one_worker)
    assert two.workers == 2


@pytest.mark.slow
def test_each_worker_receives_the_data_once_not_once_a_trial(
    one_worker: SweepOutcome,
) -> None:
    results = (one_worker.baseline, *one_worker.trials)
    assert len({t.worker for t in results}) == 1  # one worker ran all four
    assert [t.data_loads for t in results] == [1, 1, 1, 1]
    assert all(t.worker != f"{os.uname().nodename}:{os.getpid()}" for t in results)


@pytest.mark.slow
def test_a_local_worker_has_one_openmp_and_blas_thread(
    data: SweepData, trials: list[Trial]
) -> None:
    outcome = run_sweep(data, trials[:1], LocalBackend(1), threads_seen)
    assert outcome.baseline is not None
    assert outcome.baseline.error == "threads [1], OMP_NUM_THREADS=1"


@pytest.mark.slow
def test_a_local_worker_killed_mid_trial_costs_one_retry(
    data: SweepData, trials: list[Trial], one_worker: SweepOutcome, tmp_path: Path
) -> None:
    marker = tmp_path / "kill-once"
    marker.touch()
    outcome = run_sweep(data, trials, LocalBackend(2), partial(kill_once, str(marker), 2))
    check_complete(outcome)
    assert not marker.exists()  # the first attempt ran and killed its worker
    assert by_id(outcome) == by_id(one_worker)
    assert {t.id: t.attempts for t in outcome.trials}[2] == 2
    assert all(t.data_loads == 1 for t in outcome.trials)  # a new worker: the data once again


@pytest.mark.slow
def test_a_trial_that_kills_every_worker_fails_after_one_retry_and_the_rest_finish(
    data: SweepData, trials: list[Trial], one_worker: SweepOutcome
) -> None:
    outcome = run_sweep(data, trials, LocalBackend(2), partial(kill_always, 1))
    results = {t.id: t for t in outcome.trials}
    assert results[1].error == DIED and results[1].attempts == 2
    assert [results[i].error for i in (2, 3)] == [None, None]
    expected = by_id(one_worker)
    assert [figures(results[i]) for i in (2, 3)] == [expected[2], expected[3]]


@pytest.mark.slow
def test_a_dask_cluster_gives_the_same_results_as_local_workers(
    data: SweepData, trials: list[Trial], one_worker: SweepOutcome, scheduler: str
) -> None:
    outcome = run_sweep(data, trials, DaskBackend(scheduler, None))
    check_complete(outcome)
    assert outcome.backend == "dask" and outcome.workers == 2
    assert by_id(outcome) == by_id(one_worker)
    results = (outcome.baseline, *outcome.trials)
    assert all(t.worker.startswith("tcp://127.0.0.1:") for t in results)
    assert all(t.data_loads == 1 for t in results)  # scattered once, not shipped a trial


@pytest.mark.slow
def test_a_dask_worker_killed_mid_trial_is_replaced_and_the_trial_rerun(
    data: SweepData, trials: list[Trial], one_worker: SweepOutcome, scheduler: str, tmp_path: Path
) -> None:
    marker = tmp_path / "kill-once"
    marker.touch()
    outcome = run_sweep(
        data, trials, DaskBackend(scheduler, None), partial(kill_once, str(marker), 3)
    )
    check_complete(outcome)
    assert not marker.exists()
    assert by_id(outcome) == by_id(one_worker)


@pytest.mark.slow
def test_a_trial_that_kills_every_dask_worker_fails_and_the_rest_finish(
    data: SweepData, trials: list[Trial], one_worker: SweepOutcome, scheduler: str
) -> None:
    outcome = run_sweep(data, trials, DaskBackend(scheduler, None), partial(kill_always, 2))
    results = {t.id: t for t in outcome.trials}
    assert results[2].error == DIED
    expected = by_id(one_worker)
    assert [figures(results[i]) for i in (1, 3)] == [expected[1], expected[3]]
