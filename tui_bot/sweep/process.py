"""A sweep in its own process, for the dashboard: the live engine keeps its thread and the
terminal, the sweep's coordinator and its loky workers live below a child process.

As the backtest's process does (backtest/process.py): a "spawn" child that ends with the
dashboard, its stdout and stderr on /dev/null, updates through a queue that the screen polls
(Started, then a TrialDone per finished run, then one Finished or Failed). cancel() sends
SIGTERM, which the child turns into Ctrl-C: the sweep stops its workers and reports what had
finished; SIGKILL follows if it does not go. No textual here.
"""

from __future__ import annotations

import signal
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tui_bot.child_job import ChildJob
from tui_bot.config import Settings
from tui_bot.errors import RefusedToStart
from tui_bot.sweep.data import portable
from tui_bot.sweep.report import SweepSetup
from tui_bot.sweep.runner import SweepOptions
from tui_bot.sweep.trial import TrialResult

if TYPE_CHECKING:
    from multiprocessing.queues import Queue

STOP_WAIT_SECONDS = 10.0  # after SIGTERM (the workers are stopped first), before SIGKILL


@dataclass(frozen=True)
class SweepRequest:
    settings: Settings
    options: SweepOptions
    jobs: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "settings", portable(self.settings))


@dataclass(frozen=True)
class Started:
    setup: SweepSetup
    trials: int  # the baseline not counted
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class TrialDone:
    result: TrialResult
    done: int  # runs finished, the baseline counted
    total: int


@dataclass(frozen=True)
class Finished:
    report: dict[str, Any]  # report.sweep_json
    interrupted: bool = False


@dataclass(frozen=True)
class Failed:
    message: str
    detail: str = ""


Update = Started | TrialDone | Finished | Failed
Send = Callable[[Update], None]
SweepTarget = Callable[[SweepRequest, Send], None]


def run_request(request: SweepRequest, send: Send) -> None:
    """The real target, in the child: prepare, run on local workers, report."""
    from tui_bot.sweep.backends import LocalBackend
    from tui_bot.sweep.report import sweep_json
    from tui_bot.sweep.runner import prepare_sweep, run_sweep

    prepared = prepare_sweep(request.settings, request.options)
    send(Started(prepared.setup, len(prepared.trials), prepared.notes))

    def progress(result: TrialResult, done: int, total: int) -> None:
        send(TrialDone(result, done, total))

    backend = LocalBackend(request.jobs)
    outcome = run_sweep(prepared.data, prepared.trials, backend, progress=progress)
    send(Finished(sweep_json(outcome, prepared.setup), outcome.interrupted))


def _child_main(
    parent_pid: int, target: SweepTarget, request: SweepRequest, updates: Queue[Update]
) -> None:
    from tui_bot.engine.model import exit_with_parent
    from tui_bot.stdio import point_at_devnull

    exit_with_parent(parent_pid)
    point_at_devnull(1, 2)  # the dashboard owns the terminal
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # only cancel() stops it
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        target(request, updates.put)
    except RefusedToStart as error:
        updates.put(Failed(" ".join(str(error).split())))
    except Exception as error:
        message = f"the sweep failed: {type(error).__name__}: {error}; see the log for where"
        updates.put(Failed(" ".join(message.split()), traceback.format_exc()))


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _lost(code: int | None) -> Failed:
    return Failed(
        f"the sweep process ended without a result (exit code {code}); start it again, and "
        "see the log if it keeps happening"
    )


class SweepProcess(ChildJob[Update]):
    """One sweep in a child process: start(), then poll() from a timer; stop() asks it to end
    (its workers stop and it reports what finished), cancel() ends it at any time."""

    def __init__(self, request: SweepRequest, target: SweepTarget = run_request) -> None:
        super().__init__(
            _child_main,
            (target, request),
            name="tui-bot-sweep",
            daemon=False,  # it has children of its own (the workers): daemons may not
            final=(Finished, Failed),
            lost=_lost,
            stop_wait=STOP_WAIT_SECONDS,
        )
