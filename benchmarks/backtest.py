"""Backtest rows: the whole engine replayed over 5 real pairs x 20 days of 5m candles, next to
the live loop replaying the same candles.

Data: the team's shared 20 days (../shared/data/candles) when that folder is there; on a fresh
clone the 10-day sample shipped in tui_bot/market, continued to 20 days by a second copy of
itself (shifted 10 days on and rescaled to start where the first copy ends).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from benchmarks import fixtures
from benchmarks.report import ROOT
from benchmarks.rows import Goal, Row, require
from benchmarks.timing import median_of
from tui_bot.backtest import run as backtest
from tui_bot.backtest.run import BacktestRun, run_backtest
from tui_bot.config import Settings
from tui_bot.engine.cycle import Engine
from tui_bot.engine.model import InlineTrainer
from tui_bot.exchange.backtest import BacktestExchange
from tui_bot.market.files import CandleFile, load_candles, timeframe_ms
from tui_bot.market.source import RecordedSource
from tui_bot.store import Store

SHARED_DATA = ROOT.parent / "shared" / "data" / "candles"
CANDLES_20D = 5_760  # 20 days of 5m
LIVE_SPEED = 3600.0  # sim.speed's maximum: the fastest the live loop's clock may run
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Sizes:
    candles: int  # per pair, warm-up included
    warmup: int  # backtest.warmup_candles
    naive_cycles: int  # cycles of the live loop measured (it sleeps: the rest is extrapolated)
    repeat: int


FULL = Sizes(candles=CANDLES_20D, warmup=1000, naive_cycles=120, repeat=1)
QUICK = Sizes(candles=250, warmup=150, naive_cycles=12, repeat=1)
# How the cost grows with pairs: each size's cycles after the warm-up (Sizes.warmup)
SCALING_PAIRS = {False: (5, 10, 20, 40), True: (5, 10)}
SCALING_CYCLES = {False: 600, True: 40}


# -- data -----------------------------------------------------------------------------------------


def _continued(f: CandleFile, candles: int) -> CandleFile:
    """`f` followed by a copy of itself: times shifted by its span, prices scaled so the copy
    opens at the last close; cut to `candles` candles' worth of time."""
    rows = f.candles
    tf = timeframe_ms(f.timeframe)
    first = rows[0, 0]
    copies = [rows]
    while copies[-1][-1, 0] < first + (candles - 1) * tf:
        last = copies[-1]
        nxt = last.copy()
        nxt[:, 0] += last[-1, 0] + tf - last[0, 0]
        nxt[:, 1:5] *= last[-1, 4] / last[0, 1]
        copies.append(nxt)
    joined = np.concatenate(copies)
    return f.with_rows(joined[joined[:, 0] < first + candles * tf])


def candle_files(candles: int) -> tuple[list[CandleFile], str]:
    """5 pairs of `candles` 5m candles (fewer where a pair has gaps), and where they are from."""
    if SHARED_DATA.is_dir():
        files, origin = load_candles(SHARED_DATA), "real candles from ../shared/data/candles"
    else:
        sample = load_candles()
        files = [_continued(f, candles) for f in sample]
        longer = any(len(f) > len(s) for f, s in zip(files, sample, strict=True))
        origin = "the bundled 10-day sample" + (
            ", continued by a rescaled copy of itself" if longer else ""
        )
    cut = []
    for f in files:
        end = f.times[0] + candles * timeframe_ms(f.timeframe)
        cut.append(f.with_rows(f.candles[f.times < end]))
    return cut, origin


def more_pairs(files: list[CandleFile], pairs: int) -> list[CandleFile]:
    """`pairs` pairs: the files, then copies of them under new names, each with its candles
    rolled by another offset (the same candles in another order: as costly to trade, with
    other features, so no copy hits the caches its original filled)."""
    more = list(files[:pairs])
    while len(more) < pairs:
        k = len(more)
        f, copy = files[k % len(files)], k // len(files)
        base, quote = f.symbol.split("/")
        rolled = np.roll(f.prices, copy * 97, axis=0)
        more.append(replace(f, symbol=f"{base}{copy}/{quote}", prices=rolled))
    return more


def settings_for(directory: Path, sizes: Sizes, stake: str) -> Settings:
    values = {
        "bot.stake_currency": stake,
        "backtest.warmup_candles": sizes.warmup,
        "ml.require_edge": False,  # the engine's cost with trading, not a bot kept out
    }
    return fixtures.settings_in(directory, **values)


# -- the naive baseline: the live loop ------------------------------------------------------------


class LiveLoopClock:
    """The live loop's clock, as fast as the simulator may run it: each sleep waits 1/speed of
    its length on the wall clock (AcceleratedClock at sim.speed's maximum), then moves data time
    by exactly that length, so both contenders see the same candles at the same data times."""

    def __init__(self, start: float, speed: float) -> None:
        self.time = start
        self.speed = speed
        self.slept = 0.0  # wall seconds spent sleeping

    def now(self) -> float:
        return self.time

    async def sleep(self, seconds: float) -> None:
        wait = max(0.0, seconds) / self.speed
        started = time.perf_counter()
        await asyncio.sleep(wait)
        self.slept += time.perf_counter() - started
        self.time += max(0.0, seconds)


@dataclass
class LiveLoop:
    start_s: float  # Engine.start: the model's bootstrap from the warm-up candles
    cycle_s: list[float]  # wall time of each cycle, its sleep included
    slept_s: float
    equity: list[float]
    trades: list[tuple[Any, ...]]


async def live_loop(settings: Settings, files: list[CandleFile], cycles: int) -> LiveLoop:
    """The engine as `tui-bot run` drives it: Engine.run with a SQLite file store in a data
    folder (WAL; every cycle commits its equity point, cycle number and clock; every order and
    trade commits as it happens; the model and samples are written to files at each training),
    a snapshot published after every phase (to a sink) and the sleeps between cycles through
    LiveLoopClock. The venue is the backtest's, so the fills are the same."""
    files, _ = backtest.select_pairs(files, settings.bot.stake_currency)
    timeframe = files[0].timeframe
    settings = backtest._for_timeframe(settings, timeframe)  # the runner's own adjustments
    step_s = backtest.cycle_seconds(settings.bot.check_interval, timeframe)
    settings = settings.with_values({"bot.check_interval": step_s})
    timeline = backtest._timeline(files, settings.backtest.warmup_candles, step_s * 1000)
    clock = LiveLoopClock(timeline.start_ms / 1000, LIVE_SPEED)
    bt = settings.backtest
    source = RecordedSource.from_files(files)
    ex = BacktestExchange(
        source, clock, settings.bot.stake_currency, bt.starting_balance, bt.fee_pct,
        bt.slippage_bps,
    )  # fmt: skip
    store = Store(settings.storage_dir / fixtures.STORE_FILE)
    engine = Engine(settings, ex, clock, store, InlineTrainer(), "PAPER", on_snapshot=_shown)
    cycle_s: list[float] = []
    last = [time.perf_counter()]

    def lap(_: Any) -> None:
        now = time.perf_counter()
        cycle_s.append(now - last[0])
        last[0] = now

    try:
        started = time.perf_counter()
        await engine.start()
        start_s = time.perf_counter() - started
        last[0] = time.perf_counter()
        await engine.run(cycles=cycles, on_cycle=lap)
        await engine.close()
        trades = [
            _trade_key(t.symbol, t.opened_at, t.closed_at, t.pnl) for t in store.closed_trades()
        ]
        return LiveLoop(start_s, cycle_s, clock.slept, store.equity_history(cycles), trades)
    finally:
        await ex.close()
        store.close()


def _shown(snapshot: Any) -> None:
    """Where the dashboard would take the snapshot: the engine builds it all the same."""


def _trade_key(pair: str, opened_s: float, closed_s: float, pnl: float) -> tuple[Any, ...]:
    return (pair, round(opened_s * 1000), round(closed_s * 1000), pnl)


# -- the rows -------------------------------------------------------------------------------------


@dataclass
class Ours:
    run: BacktestRun
    seconds: list[float]  # run_backtest's wall time, each run
    cycle_s: list[float]  # the mean cycle of each run: its first to its last, start left out


def _lap_times(laps: list[float]) -> Callable[[int, int, int], None]:
    """A progress callback that notes when each cycle ended."""

    def lap(done: int, total: int, data_time_ms: int) -> None:
        laps.append(time.perf_counter())

    return lap


def _ours(settings: Settings, files: list[CandleFile], repeat: int) -> Ours:
    runs, seconds, cycle_s = [], [], []
    for _ in range(repeat):
        laps: list[float] = []
        started = time.perf_counter()
        runs.append(run_backtest(settings, files, _lap_times(laps)))
        seconds.append(time.perf_counter() - started)
        cycle_s.append((laps[-1] - laps[0]) / max(1, len(laps) - 1))
    first = runs[0]
    require(
        all(r.trades == first.trades and r.equity == first.equity for r in runs),
        "backtest: two runs on the same data gave different trades or equity",
    )  # with repeat > 1: determinism, checked on every benchmark run
    return Ours(first, seconds, cycle_s)


def _same_start(ours: BacktestRun, naive: LiveLoop) -> str:
    """The live loop's first cycles must trade exactly like the backtest's."""
    k = len(naive.cycle_s)
    until = ours.equity[k - 1][0]
    expected = [
        _trade_key(t.pair, t.open_time / 1000, t.close_time / 1000, t.profit_abs)
        for t in ours.trades
        if t.close_time <= until
    ]
    require(naive.trades == expected, "backtest: the live loop and the backtest traded differently")
    ours_equity = [v for _, v in ours.equity[:k]]
    require(naive.equity == ours_equity, "backtest: the live loop and the backtest's equity differ")
    return (
        f"the live loop's {k} cycles made the same trades ({len(expected)} closed) and the same "
        f"equity, to the last bit, as the backtest's first {k} ({len(ours.trades)} trades in all)"
    )


def _rows(ours: Ours, naive: LiveLoop, origin: str, check: str) -> list[Row]:
    run, run_s, cycle_s = ours.run, median_of(ours.seconds), median_of(ours.cycle_s)
    naive_cycle = sum(naive.cycle_s[1:]) / max(1, len(naive.cycle_s) - 1)  # each after a sleep
    naive_total = naive.start_s + naive_cycle * run.cycles
    pairs = len(run.pairs)
    data = f"{pairs} pairs x {run.candles // max(1, pairs):,} traded candles ({origin})"
    naive_label = (
        f"the live loop: Engine.run with a SQLite file store, per-cycle commits and model files, "
        f"sleeping check_interval / {LIVE_SPEED:g} on the wall clock (sim.speed's maximum), "
        "predicting on one thread like run_backtest; "
        f"{len(naive.cycle_s)} cycles measured, the {run.cycles:,} extrapolated"
    )
    details = {
        "data": data,
        "pairs": pairs,
        "cycles": run.cycles,
        "candles": run.candles,
        "warmup_candles": run.warmup_candles,
        "trades": len(run.trades),
        "run_seconds": ours.seconds,
        "ms_per_cycle": cycle_s * 1e3,
        "start_and_end_s": run_s - cycle_s * run.cycles,
        "naive_cycles_measured": len(naive.cycle_s),
        "naive_ms_per_cycle": naive_cycle * 1e3,
        "naive_sleep_ms_per_cycle": naive.slept_s / max(1, len(naive.cycle_s) - 1) * 1e3,
        "naive_start_s": naive.start_s,
        "engine_ms_per_cycle": run.cycle_ms,
        "phase_ms": run.phase_ms,
        "training_s": run.training_seconds,
    }
    return [
        Row(
            "backtest_cycles_per_s",
            "cycles/s",
            1.0 / naive_cycle,
            1.0 / cycle_s,
            ratio=naive_cycle / cycle_s,  # how many times faster, like the other rows
            goal=Goal(">=", 500.0),
            baseline_label=naive_label + "; its mean cycle, the sleep before it included",
            ours_label=(
                f"run_backtest's mean cycle, its first to its last (retrains included; the "
                f"bootstrap before them left out, on both sides): {data}"
            ),
            check=check,
            details=details,
        ),
        Row(
            "backtest_engine_ms_per_cycle",
            "ms",
            naive_cycle * 1e3,
            run.cycle_ms,
            goal=Goal("<=", 2.0),
            baseline_label=naive_label + "; its mean cycle, the sleep before it included",
            ours_label=(
                "run_backtest's engine: its mean cycle (Engine.step, all phases) with the model's "
                f"trainings left out ({run.retrains} retrains, {run.training_seconds:.1f} s in "
                f"all, the bootstrap included): {data}"
            ),
            check=check,
            details=details,
        ),
        Row(
            "backtest_seconds_5x20d",
            "s",
            naive_total,
            run_s,
            goal=Goal("<", 15.0),
            baseline_label=naive_label + ": its start, then every cycle at its mean",
            ours_label=f"run_backtest's wall time, median of {len(ours.seconds)}: {data}",
            check=check,
            details=details,
        ),
    ]


def scaling(
    settings: Settings, files: list[CandleFile], quick: bool, progress: Progress
) -> list[dict[str, Any]]:
    """The engine's cycle and its phases at more and more pairs (copies of the real ones)."""
    sizes = QUICK if quick else FULL
    entries = []
    for pairs in SCALING_PAIRS[quick]:
        progress(f"backtest scaling: {pairs} pairs x {SCALING_CYCLES[quick]} cycles")
        cut = [f.with_rows(f.candles[: sizes.warmup + SCALING_CYCLES[quick] + 1]) for f in files]
        wide = settings.with_values({"scan.top_n": max(pairs, settings.scan.top_n)})
        run = run_backtest(wide, more_pairs(cut, pairs))
        require(len(run.pairs) == pairs, f"backtest scaling: {pairs} pairs asked, {run.pairs}")
        entries.append(
            {
                "pairs": pairs,
                "cycles": run.cycles,
                "ms_per_cycle": run.cycle_ms,
                "phase_ms": run.phase_ms,
                "training_s": run.training_seconds,
                "retrains": run.retrains,
                "seconds": run.seconds,
            }
        )
    return entries


def rows(quick: bool, progress: Progress) -> tuple[list[Row], list[dict[str, Any]]]:
    """The rows and the scaling table; blocking (run_backtest runs its own event loop): call
    it from a thread."""
    sizes = QUICK if quick else FULL
    files, origin = candle_files(sizes.candles)
    stake = files[0].symbol.partition("/")[2]
    with tempfile.TemporaryDirectory(prefix="tui-bot-bench-backtest-") as name:
        settings = settings_for(Path(name), sizes, stake)
        progress(f"backtest: {len(files)} pairs x {sizes.candles:,} candles, {sizes.repeat} run(s)")
        ours = _ours(settings, files, sizes.repeat)
        progress(f"backtest: the live loop, {sizes.naive_cycles} cycles")
        live = Path(name) / "live"
        live.mkdir()
        with threadpool_limits(limits=1):  # as run_backtest predicts: only the loop differs
            naive = asyncio.run(
                live_loop(settings_for(live, sizes, stake), files, sizes.naive_cycles)
            )
        entries = scaling(settings, files, quick, progress)
    return _rows(ours, naive, origin, _same_start(ours.run, naive)), entries
