"""`tui-bot backtest`: load candles, pick the stake currency's pairs, run, report.

stdout gets the report only (the readable text, or with --json exactly one JSON object);
everything else goes to stderr: what was skipped or wrong in the data, and the progress.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from tui_bot.config import Settings
from tui_bot.errors import RefusedToStart

PROGRESS_SECONDS = 0.2  # a terminal's bar is redrawn at most this often
PROGRESS_LINES = 10  # elsewhere (a file, a pipe): one plain line per tenth done
BAR_WIDTH = 24
HELP = (
    "Replay candle files through the same engine `run` uses (its seven phases, risk limits, "
    "executor and store), on a clock that jumps from candle to candle. The first "
    "backtest.warmup_candles candles of each pair are history only (the model's bootstrap); "
    "then one cycle runs every bot.check_interval of data time, rounded up to whole candles "
    "(at least one candle). An order decided at a cycle fills at the next candle's open plus "
    "backtest.slippage_bps, with backtest.fee_pct per side; what is open at the end is sold at "
    "the last candle's open (end_of_data). Without --data the bundled sample is used; it is "
    "quoted in BTC, so with another bot.stake_currency its quote is used (said on stderr). "
    "Pairs quoted in another currency than bot.stake_currency are skipped. stdout: the "
    "report; stderr: the progress (a bar on a terminal, else a line per tenth), what was wrong "
    "in the data, and the engine's own warnings only with -v."
)


def add_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    common: Callable[[argparse.ArgumentParser], None],
) -> None:
    """The `backtest` subcommand; `common` adds --config, --set and -v."""
    parser = sub.add_parser(
        "backtest", help="replay candle history through the engine", description=HELP
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="folder of <BASE>_<QUOTE>-<timeframe>.csv[.gz] or freqtrade .json candle files "
        "(default: the bundled sample)",
    )
    parser.add_argument(
        "--pairs", default=None, metavar="P1,P2", help="only these pairs (ADA/BTC or ADA_BTC)"
    )
    parser.add_argument(
        "--timerange", default=None, metavar="YYYYMMDD-YYYYMMDD", help="only candles in it"
    )
    parser.add_argument(
        "--json", action="store_true", help="one JSON object on stdout instead of the text"
    )
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON object here")
    common(parser)


def backtest_command(settings: Settings, args: argparse.Namespace) -> int:
    from tui_bot.backtest.report import report_json, report_text
    from tui_bot.backtest.run import run_backtest
    from tui_bot.market.files import parse_timerange, read_candles

    try:
        _check_out(args.out)
        timerange = parse_timerange(args.timerange) if args.timerange else None
        pairs = [p for p in args.pairs.split(",") if p.strip()] if args.pairs else None
        found = read_candles(args.data, pairs, timerange)
        _say(found.skipped)
        files = list(found.files)
        if args.data is None:
            settings, notice = sample_stake(settings, [f.symbol for f in files])
            _say([notice] if notice else [])
        run = run_backtest(settings, files, Progress(sys.stderr))
    except RefusedToStart as e:
        print(f"tui-bot: {e}", file=sys.stderr)
        return 2
    _say(run.skipped + run.problems)
    report = report_json(run)
    if args.out is not None:
        try:
            write_json(args.out, report)
        except OSError as e:
            print(f"tui-bot: --out {args.out}: cannot write it: {e.strerror or e}", file=sys.stderr)
            return 2
    if args.json:
        print(json.dumps(report))
    else:
        print(report_text(run))
    return 0


def _say(lines: Sequence[str]) -> None:
    for line in lines:
        print(f"tui-bot: {line}", file=sys.stderr)


def sample_stake(settings: Settings, symbols: list[str]) -> tuple[Settings, str | None]:
    """The bundled sample is quoted in BTC: with another stake currency, backtest it in its
    quote all the same, with a notice to show, rather than refuse the first command a user
    tries. (For the bundled sample only: a folder the user names is filtered as asked.)"""
    quotes = sorted({s.partition("/")[2] for s in symbols})
    stake = settings.bot.stake_currency
    if stake in quotes or not quotes:
        return settings, None
    notice = (
        f"the bundled sample is quoted in {quotes[0]}: backtesting it with "
        f"bot.stake_currency = {quotes[0]} instead of {stake} (give --data DIR for {stake} pairs)"
    )
    return settings.with_values({"bot.stake_currency": quotes[0]}), notice


def _check_out(path: Path | None) -> None:
    """Before the run: the folder --out names must exist (no run is wasted on a typo)."""
    if path is not None and not path.absolute().parent.is_dir():
        raise RefusedToStart(
            f"--out {path}: the folder {path.absolute().parent} does not exist; create it or "
            "choose another path"
        )


def write_json(path: Path, obj: dict[str, Any]) -> None:
    """Write `obj` as JSON atomically: a temporary file beside it, then renamed over it."""
    path = path.absolute()
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(obj, handle)
            handle.write("\n")
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


class Progress:
    """The progress on stderr: a bar redrawn in place on a terminal (cycles, data date, ETA),
    else one plain line per tenth done. Called as run_backtest's ProgressFn."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.started = time.monotonic()
        self.shown_at = 0.0
        self.shown_tenth = 0

    def __call__(self, done: int, total: int, data_time_ms: int) -> None:
        now = time.monotonic()
        last = done >= total
        if self.tty:
            if last or now - self.shown_at >= PROGRESS_SECONDS:
                self.shown_at = now
                end = "\n" if last else ""
                self.stream.write("\r" + self.line(done, total, data_time_ms, now) + end)
                self.stream.flush()
            return
        tenth = done * PROGRESS_LINES // max(total, 1)
        if tenth > self.shown_tenth:
            self.shown_tenth = tenth
            self.stream.write(self.line(done, total, data_time_ms, now) + "\n")
            self.stream.flush()

    def line(self, done: int, total: int, data_time_ms: int, now: float) -> str:
        share = done / max(total, 1)
        filled = round(share * BAR_WIDTH)
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        elapsed = now - self.started
        eta = elapsed / done * (total - done) if done else 0.0
        stamp = time.strftime("%Y-%m-%d %H:%M", time.gmtime(data_time_ms / 1000))
        return (
            f"backtest [{bar}] {done}/{total} cycles  {stamp} UTC  "
            f"{_minutes(elapsed)} elapsed, ETA {_minutes(eta)}"
        )


def _minutes(seconds: float) -> str:
    whole = int(round(seconds))
    return f"{whole // 60}:{whole % 60:02d}"
