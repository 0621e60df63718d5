"""`tui-bot sweep`: check the space file, load and split the candles, run every trial on a
backend, report. stdout gets the report only (the ranked table, or with --json one object);
stderr gets the progress and what was decided or wrong on the way."""

from __future__ import annotations

import argparse
import difflib
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from tui_bot.config import ConfigError, Settings, save_settings
from tui_bot.errors import RefusedToStart

if TYPE_CHECKING:
    from tui_bot.sweep.report import SweepSetup
    from tui_bot.sweep.runner import SweepOptions
    from tui_bot.sweep.trial import TrialResult

INTERRUPTED_EXIT = 130
PROGRESS_SECONDS = 0.2
BAR_WIDTH = 20
HELP = (
    "Run many backtests of the same candles, each with the settings plus one trial's values "
    "from the space file (a list of values or a range table for each config key). The traded "
    "range is split in time: trials are ranked on the in-sample part and every trial is also "
    "backtested on the later out-of-sample part (the last --holdout of it), so the report can "
    "show how much of a result survives unseen data: the rank correlation of the two, and the "
    "best in-sample trial's out-of-sample result next to your settings'. Trials run on local "
    "worker processes (--jobs, default one per core) or on a dask.distributed cluster "
    "(--backend dask --scheduler tcp://HOST:PORT; pip install 'tui-bot[cluster]'). Without "
    "--objective trials are ranked by Sharpe, or by profit when a part is shorter than the 5 "
    "days a Sharpe needs (said on stderr). stdout: the report; stderr: the progress. Ctrl-C "
    "stops and reports what finished."
)


def add_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    common: Callable[[argparse.ArgumentParser], None],
) -> None:
    """The `sweep` subcommand; `common` adds --config, --set and -v."""
    from tui_bot.sweep.backends import BACKENDS
    from tui_bot.sweep.report import DEFAULT_MIN_TRADES, OBJECTIVES
    from tui_bot.sweep.space import SEARCHES

    parser = sub.add_parser(
        "sweep", help="many backtests in parallel, in and out of sample", description=HELP
    )
    parser.add_argument("--space", type=Path, required=True, help="the space file (see sweep.toml)")
    parser.add_argument(
        "--trials", type=int, default=None, help="how many (default: the whole grid, or 20)"
    )
    parser.add_argument(
        "--search",
        choices=SEARCHES,
        default=None,
        help="grid: every combination; random: seeded draws (default: grid when it is finite "
        "and --trials does not cut it)",
    )
    parser.add_argument("--seed", type=int, default=0, help="of the random draws (0)")
    parser.add_argument(
        "--objective", choices=OBJECTIVES, default=None, help="what ranks trials (sharpe)"
    )
    parser.add_argument(
        "--min-trades",
        type=int,
        default=DEFAULT_MIN_TRADES,
        help=f"trials with fewer in-sample trades rank last ({DEFAULT_MIN_TRADES})",
    )
    parser.add_argument(
        "--holdout",
        type=float,
        default=0.3,
        help="the share of the traded range kept out of sample, at its end (0.3)",
    )
    parser.add_argument("--backend", choices=BACKENDS, default="local", help="(local)")
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="tcp://HOST:PORT",
        help="the dask scheduler (--backend dask; without it a local dask cluster of --jobs "
        "workers is started)",
    )
    parser.add_argument(
        "--jobs", type=int, default=None, help="worker processes (default: one per core)"
    )
    parser.add_argument(
        "--data", type=Path, default=None, help="folder of candle files (the bundled sample)"
    )
    parser.add_argument(
        "--pairs", default=None, metavar="P1,P2", help="only these pairs (ADA/BTC or ADA_BTC)"
    )
    parser.add_argument(
        "--timerange", default=None, metavar="YYYYMMDD-YYYYMMDD", help="only candles in it"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON object here")
    parser.add_argument(
        "--apply-best",
        action="store_true",
        help="write the best trial's values into the config file (the diff is shown first)",
    )
    common(parser)


def sweep_command(settings: Settings, args: argparse.Namespace) -> int:
    try:
        return _sweep(settings, args)
    except KeyboardInterrupt:
        print("tui-bot: sweep interrupted before any trial ran", file=sys.stderr)
        return INTERRUPTED_EXIT


def _sweep(settings: Settings, args: argparse.Namespace) -> int:
    from tui_bot.sweep.backends import make_backend
    from tui_bot.sweep.report import sweep_json, sweep_text
    from tui_bot.sweep.runner import prepare_sweep, run_sweep

    try:
        _check_out(args.out)
        prepared = prepare_sweep(settings, _options(args))
        backend = make_backend(args.backend, args.jobs, args.scheduler)
    except RefusedToStart as e:
        print(f"tui-bot: {e}", file=sys.stderr)
        return 2
    setup = prepared.setup
    _say([*prepared.notes, _start_line(setup, len(prepared.trials), args)])
    progress = SweepProgress(sys.stderr, setup.objective, setup.min_trades)
    try:
        outcome = run_sweep(prepared.data, prepared.trials, backend, progress=progress)
    except RefusedToStart as e:  # the backend could not start (no scheduler, no dask, ...)
        progress.end()
        print(f"tui-bot: {e}", file=sys.stderr)
        return 2
    progress.end()
    _say(getattr(backend, "warnings", []))
    report = sweep_json(outcome, setup)
    if args.out is not None and not _write_out(args.out, report):
        return 2
    if args.json:
        print(json.dumps(report))
    else:
        print(sweep_text(outcome, setup), end="")
    if outcome.interrupted:
        return INTERRUPTED_EXIT
    if args.apply_best:
        return apply_best(prepared.settings, report)
    return 0


def _options(args: argparse.Namespace) -> SweepOptions:
    from tui_bot.market.files import parse_timerange
    from tui_bot.sweep.runner import SweepOptions

    return SweepOptions(
        space=args.space,
        data=args.data,
        pairs=[p for p in args.pairs.split(",") if p.strip()] if args.pairs else None,
        timerange=parse_timerange(args.timerange) if args.timerange else None,
        search=args.search,
        trials=args.trials,
        seed=args.seed,
        holdout=args.holdout,
        objective=args.objective,
        min_trades=args.min_trades,
        scheduler=args.scheduler,
    )


def _start_line(setup: SweepSetup, trials: int, args: argparse.Namespace) -> str:
    from tui_bot.sweep.backends import default_jobs

    if args.backend == "dask" and args.scheduler:
        ignored = " (--jobs is for a cluster tui-bot starts: ignored)" if args.jobs else ""
        where = f"dask at {args.scheduler}{ignored}"
    else:
        jobs = args.jobs or default_jobs()
        where = f"{args.backend}, {jobs} worker{'' if jobs == 1 else 's'}"
    return (
        f"sweep: {trials} trials and your settings ({setup.search}) of "
        f"{', '.join(setup.space.keys)} on {where}, ranked by in-sample {setup.objective}; "
        f"{setup.data_bytes / 1e6:.1f} MB of candles shipped once per worker, "
        f"{setup.trial_bytes} bytes a trial"
    )


def _say(lines: Sequence[str]) -> None:
    for line in lines:
        print(f"tui-bot: {line}", file=sys.stderr)


def _check_out(path: Path | None) -> None:
    if path is not None and not path.absolute().parent.is_dir():
        raise RefusedToStart(
            f"--out {path}: the folder {path.absolute().parent} does not exist; create it or "
            "choose another path"
        )


def _write_out(path: Path, report: dict[str, Any]) -> bool:
    from tui_bot.backtest.command import write_json

    try:
        write_json(path, report)
    except OSError as e:
        print(f"tui-bot: --out {path}: cannot write it: {e.strerror or e}", file=sys.stderr)
        return False
    return True


# -- --apply-best ---------------------------------------------------------------------------------
def apply_best(settings: Settings, report: dict[str, Any]) -> int:
    """Write the best trial's values into the config file through the same validated, atomic
    save as the dashboard's settings editor; the diff goes to stderr first."""
    best = report["best"]
    if best is None:
        _say(["--apply-best: no trial qualifies as best (see above); config not changed"])
        return 1
    path = settings.path or Path("config.toml")
    values = best["values"]
    try:
        diff = config_diff(path, values)
        save_settings(path, values)
    except ConfigError as e:
        print(f"tui-bot: --apply-best: {e}", file=sys.stderr)
        return 2
    print(f"tui-bot: --apply-best: trial {best['id']} into {path}:", file=sys.stderr)
    print(diff or "  (no change: the file already holds these values)", file=sys.stderr)
    for key in values:
        if settings.sources.get(key) == "env":
            name = settings.env_names.get(key, "an environment variable")
            _say([f"{key}: {name} is set and keeps winning over the file until you unset it"])
    return 0


def config_diff(path: Path, values: dict[str, Any]) -> str:
    """The unified diff save_settings(path, values) would make, made on a copy of the file."""
    before = path.read_text(encoding="utf-8") if path.exists() else ""
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / path.name
        if path.exists():
            shutil.copyfile(path, copy)
        save_settings(copy, values)
        after = copy.read_text(encoding="utf-8")
    lines = difflib.unified_diff(
        before.splitlines(), after.splitlines(), str(path), f"{path} (best trial)", lineterm=""
    )
    return "\n".join(lines)


# -- progress -----------------------------------------------------------------------------------
class SweepProgress:
    """Runs done, the best trial so far and an ETA on stderr: a line redrawn in place on a
    terminal, else one line per finished run. Called as run_sweep's ProgressFn."""

    def __init__(self, stream: TextIO, objective: str, min_trades: int) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.objective = objective
        self.min_trades = min_trades
        self.started = time.monotonic()
        self.shown_at = 0.0
        self.drawn = False
        self.best: tuple[float, int] | None = None  # (objective, trial id)

    def __call__(self, result: TrialResult, done: int, total: int) -> None:
        from tui_bot.sweep.report import objective_value

        value = objective_value(result.in_sample, self.objective)
        if value is not None and self._beats_best(result, value):
            self.best = (value, result.id)
        if not result.ok:
            self._write(f"trial {result.id} failed: {result.error}", newline=True)
        now = time.monotonic()
        if not self.tty or done >= total or now - self.shown_at >= PROGRESS_SECONDS:
            self.shown_at = now
            self._write(self.line(done, total, now), newline=not self.tty or done >= total)

    def _beats_best(self, result: TrialResult, value: float) -> bool:
        """A trial that counts (not the baseline, enough trades) with a better objective."""
        from tui_bot.sweep.report import enough_trades

        if not result.id or not enough_trades(result, self.min_trades):
            return False
        return self.best is None or (value, -result.id) > (self.best[0], -self.best[1])

    def line(self, done: int, total: int, now: float) -> str:
        filled = round(done / max(total, 1) * BAR_WIDTH)
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        elapsed = now - self.started
        eta = elapsed / done * (total - done) if done else 0.0
        best = (
            "best -"
            if self.best is None
            else f"best {self.objective} {self.best[0]:+.4g} (trial {self.best[1]})"
        )
        return (
            f"sweep [{bar}] {done}/{total} runs  {best}  {_minutes(elapsed)} elapsed, "
            f"ETA {_minutes(eta)}"
        )

    def _write(self, text: str, newline: bool) -> None:
        if self.tty:
            prefix = "\r\x1b[2K"  # back to the line's start and clear it
            self.stream.write(prefix + text + ("\n" if newline else ""))
            self.drawn = not newline
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def end(self) -> None:
        if self.tty and self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False


def _minutes(seconds: float) -> str:
    whole = int(round(seconds))
    return f"{whole // 60}:{whole % 60:02d}"
