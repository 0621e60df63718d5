"""A backtest in its own process, for the dashboard: the live engine keeps its thread and its
CPU share while history is replayed next to it.

The child is started with multiprocessing's "spawn" context (a clean interpreter: no copy of the
dashboard's threads or its terminal), ends itself when the dashboard dies, and sends what
happens back through a queue: Progress now and then, then one Finished or Failed. The dashboard
polls that queue with a timer (poll() never blocks). No textual here.
"""

from __future__ import annotations

import dataclasses
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_bot.child_job import ChildJob
from tui_bot.config import Settings
from tui_bot.errors import RefusedToStart

if TYPE_CHECKING:
    from multiprocessing.queues import Queue

PROGRESS_EVERY_SECONDS = 0.1  # the child sends at most this often (and always the last one)
STOP_WAIT_SECONDS = 5.0  # after SIGTERM, before SIGKILL

ProgressFn = Callable[[int, int, int], None]  # (cycles_done, cycles_total, data_time_ms)


@dataclass(frozen=True)
class BacktestRequest:
    """What to replay: the settings, the candle folder, pairs (None: every file) and the
    [start_ms, end_ms) range of candle open times (None: all)."""

    settings: Settings
    data_dir: Path
    pairs: tuple[str, ...] | None = None
    timerange: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        # Settings hold read-only mappings, which do not pickle; plain dicts read the same
        settings = dataclasses.replace(
            self.settings,
            sources=dict(self.settings.sources),
            env_names=dict(self.settings.env_names),
        )
        object.__setattr__(self, "settings", settings)


@dataclass(frozen=True)
class BacktestOutcome:
    """A finished backtest: report_json's object plus what the screen shows next to it."""

    report: dict[str, Any]
    stake_currency: str
    starting_balance: float
    notes: tuple[str, ...] = ()  # data problems, skipped pairs: one line each


BacktestTarget = Callable[[BacktestRequest, ProgressFn], BacktestOutcome]


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    data_time_ms: int


@dataclass(frozen=True)
class Finished:
    outcome: BacktestOutcome


@dataclass(frozen=True)
class Failed:
    message: str  # one line, for the user
    detail: str = ""  # the traceback of an unexpected error, for the log


Update = Progress | Finished | Failed


def run_request(request: BacktestRequest, progress: ProgressFn) -> BacktestOutcome:
    """The real target: load the candles, replay them through the engine, build the report.
    Runs in the child, so the engine's imports never load in the dashboard's process."""
    from tui_bot.backtest.command import sample_stake
    from tui_bot.backtest.report import report_json
    from tui_bot.backtest.run import run_backtest
    from tui_bot.market.files import read_candles, sample_dir

    found = read_candles(request.data_dir, request.pairs, request.timerange)
    settings, notice = request.settings, None
    if request.data_dir.resolve() == sample_dir().resolve():  # as `tui-bot backtest` does
        settings, notice = sample_stake(settings, [f.symbol for f in found.files])
    run = run_backtest(settings, found.files, progress)
    notes = (*([notice] if notice else []), *found.skipped, *run.skipped, *run.problems)
    return BacktestOutcome(report_json(run), run.stake_currency, run.starting_balance, notes)


class _ThrottledProgress:
    """The progress callback in the child: puts a Progress on the queue at most every
    PROGRESS_EVERY_SECONDS, and always the first and the last one."""

    def __init__(self, updates: Queue[Update]) -> None:
        self.updates = updates
        self.sent_at = -float("inf")

    def __call__(self, done: int, total: int, data_time_ms: int) -> None:
        now = time.monotonic()
        if done < total and now - self.sent_at < PROGRESS_EVERY_SECONDS:
            return
        self.sent_at = now
        self.updates.put(Progress(int(done), int(total), int(data_time_ms)))


def _child_main(
    parent_pid: int, target: BacktestTarget, request: BacktestRequest, updates: Queue[Update]
) -> None:
    from tui_bot.engine.model import exit_with_parent
    from tui_bot.stdio import point_at_devnull

    exit_with_parent(parent_pid)
    point_at_devnull(1, 2)  # the dashboard owns the terminal: a stray warning would garble it
    try:
        outcome = target(request, _ThrottledProgress(updates))
    except RefusedToStart as error:  # bad data, bad settings: the message says what to do
        updates.put(Failed(str(error)))
    except Exception as error:
        message = f"the backtest failed: {type(error).__name__}: {error}; see the log for where"
        updates.put(Failed(message.replace("\n", " "), traceback.format_exc()))
    else:
        updates.put(Finished(outcome))


def _lost(code: int | None) -> Failed:
    return Failed(
        f"the backtest process ended without a result (exit code {code}); start it again, "
        "and see the log if it keeps happening"
    )


class BacktestProcess(ChildJob[Update]):
    """One backtest run in a child process. start(), then poll() from a timer until it returns
    a Finished or Failed; cancel() ends the child at any time."""

    def __init__(self, request: BacktestRequest, target: BacktestTarget = run_request) -> None:
        super().__init__(
            _child_main,
            (target, request),
            name="tui-bot-backtest",
            daemon=True,  # multiprocessing ends it when the dashboard exits normally
            final=(Finished, Failed),
            lost=_lost,
            stop_wait=STOP_WAIT_SECONDS,
        )
