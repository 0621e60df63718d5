"""A sweep from start to end: prepare_sweep checks the space file, draws the trials, loads and
splits the candles (in the order that fails fastest); run_sweep runs the baseline (the settings
as they are) and every trial on one backend, handing each result to `progress` as it arrives.
Ctrl-C (KeyboardInterrupt) stops the backend and returns what had finished. The CLI and the
dashboard's sweep process both go through here."""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui_bot.config import ConfigError, Settings
from tui_bot.sweep.backends import Backend, trial_bytes
from tui_bot.sweep.data import DEFAULT_HOLDOUT, SweepData, prepare
from tui_bot.sweep.report import DEFAULT_MIN_TRADES, SweepSetup, resolve_objective
from tui_bot.sweep.space import describe_values, load_space, plan_trials
from tui_bot.sweep.trial import BASELINE, Trial, TrialResult, TrialRunner, run_trial

ProgressFn = Callable[[TrialResult, int, int], None]  # (the result, runs done, runs in all)


@dataclass(frozen=True)
class SweepOutcome:
    trials: tuple[TrialResult, ...]  # every trial that finished (or failed), by id
    baseline: TrialResult | None  # None if it did not finish (interrupted)
    planned: int  # trials planned, the baseline not counted
    interrupted: bool
    seconds: float
    backend: str
    workers: int


@dataclass(frozen=True)
class SweepOptions:
    """What a sweep is asked to do (the CLI's flags; the dashboard's inputs)."""

    space: Path
    data: Path | None = None  # None: the bundled sample
    pairs: Sequence[str] | None = None
    timerange: tuple[int, int] | None = None  # [start_ms, end_ms) of candle open times
    search: str | None = None
    trials: int | None = None
    seed: int = 0
    holdout: float = DEFAULT_HOLDOUT
    objective: str | None = None
    min_trades: int = DEFAULT_MIN_TRADES
    scheduler: str | None = None


@dataclass(frozen=True)
class PreparedSweep:
    setup: SweepSetup
    data: SweepData
    trials: list[Trial]
    settings: Settings  # the base settings (with the sample's quote, on the bundled sample)
    notes: tuple[str, ...]  # what was decided or wrong on the way, one line each


def prepare_sweep(settings: Settings, options: SweepOptions) -> PreparedSweep:
    """Everything before the first trial; RefusedToStart (the user's text) on any problem.
    The space file is checked first: nothing is loaded before it is."""
    from tui_bot.backtest.command import sample_stake
    from tui_bot.market.files import read_candles

    if options.min_trades < 0:
        raise ConfigError(f"--min-trades {options.min_trades}: give 0 or more")
    space = load_space(options.space)
    plan = plan_trials(space, options.search, options.trials, options.seed)
    found = read_candles(options.data, options.pairs, options.timerange)
    files = list(found.files)
    notes = [*found.skipped, *plan.notes]
    if options.data is None:
        settings, notice = sample_stake(settings, [f.symbol for f in files])
        notes += [notice] if notice else []
    trials = make_trials(settings, plan.values)
    data = prepare(settings, files, options.holdout)
    objective, notice = resolve_objective(options.objective, data.split)
    notes += [*data.notes, *([notice] if notice else [])]
    setup = SweepSetup(
        space=space,
        search=plan.search,
        seed=options.seed,
        objective=objective,
        min_trades=options.min_trades,
        split=data.split,
        pairs=tuple(f.symbol for f in data.in_sample),
        data_bytes=len(pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)),
        trial_bytes=trial_bytes(trials[0]),
        scheduler=options.scheduler,
    )
    return PreparedSweep(setup, data, trials, settings, tuple(notes))


def make_trials(settings: Settings, values: Sequence[dict[str, Any]]) -> list[Trial]:
    """Trials 1..N; each one's settings are checked as a whole (keys that depend on each
    other) before anything runs."""
    errors: list[str] = []
    for i, trial_values in enumerate(values, start=1):
        try:
            settings.with_values(trial_values)
        except ConfigError as error:
            problems = "; ".join(error.problems)
            errors.append(f"trial {i} ({describe_values(trial_values)}): {problems}")
    if errors:
        raise ConfigError(errors)
    return [Trial(i, dict(v)) for i, v in enumerate(values, start=1)]


def run_sweep(
    data: SweepData,
    trials: Sequence[Trial],
    backend: Backend,
    runner: TrialRunner = run_trial,
    progress: ProgressFn | None = None,
) -> SweepOutcome:
    """The baseline first, then the trials; the backend is closed however it ends."""
    runs = [Trial(BASELINE, {}), *trials]
    done: dict[int, TrialResult] = {}
    started = time.perf_counter()
    interrupted = False
    workers = 0
    try:
        backend.start(data)
        workers = backend.workers
        for result in backend.results(runs, runner):
            done[result.id] = result
            if progress is not None:
                progress(result, len(done), len(runs))
    except KeyboardInterrupt:
        interrupted = True
    finally:
        backend.close()
    return SweepOutcome(
        trials=tuple(done[i] for i in sorted(done) if i != BASELINE),
        baseline=done.get(BASELINE),
        planned=len(trials),
        interrupted=interrupted,
        seconds=time.perf_counter() - started,
        backend=backend.name,
        workers=workers,
    )
