"""A backtest: the engine that trades live, replayed over recorded candles on a jumping clock.

The same Engine (seven phases, caches, risk limits, Kelly sizing, kill switch, executor, store)
as `tui-bot run`; only its collaborators differ: a JumpingClock, the BacktestExchange over a
RecordedSource, a Store and a model held in memory, an InlineTrainer. Nothing goes to disk.

The timeline, W = backtest.warmup_candles: the first W candles of each pair are history only
(the model's bootstrap reads them through the venue, as it reads an exchange's history live).
The first cycle runs when the W-th candle has closed, then one every bot.check_interval of data
time rounded up to whole candles (at least one candle per cycle). An order decided at t fills
at the open of the candle starting at t; the model retrains every ml.training_interval_hours of
data time. The last candle's open is the end: what is still open is sold there ("end_of_data").
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from tui_bot.backtest.predictions import PredictionLog
from tui_bot.clock import JumpingClock
from tui_bot.config import ConfigError, Settings, key_spec
from tui_bot.engine.cycle import Engine
from tui_bot.engine.executor import INSTANCE_KEY
from tui_bot.engine.live_record import LiveFigures
from tui_bot.engine.model import InlineTrainer, ModelMetrics
from tui_bot.engine.monitor import TimingStats
from tui_bot.engine.outcome import ExitRules, check_candles
from tui_bot.engine.snapshot import PHASES
from tui_bot.engine.training import ModelManager
from tui_bot.engine.words import AlertLevel, ExitReason, Mode
from tui_bot.exchange.backtest import BacktestExchange
from tui_bot.exchange.base import timeframe_seconds
from tui_bot.market.files import CandleDataError, CandleFile
from tui_bot.market.source import RecordedSource
from tui_bot.store import Store

__all__ = [
    "END_OF_DATA",
    "BacktestRun",
    "ProgressFn",
    "TradeRecord",
    "cycle_seconds",
    "run_backtest",
    "select_pairs",
]

END_OF_DATA = ExitReason.END_OF_DATA
MODE = Mode.BACKTEST
INSTANCE = "backtest"  # the store's fixed order-id part: the same run gives the same order ids
ProgressFn = Callable[[int, int, int], None]  # (cycles_done, cycles_total, data_time_ms)


@dataclass(frozen=True)
class TradeRecord:
    pair: str
    open_time: int  # ms
    close_time: int  # ms
    open_price: float
    close_price: float
    amount: float
    profit_pct: float
    profit_abs: float  # stake currency, after both fees
    fee: float  # both sides, stake currency
    exit_reason: str
    probability: float


@dataclass(frozen=True)
class BacktestRun:
    start_ms: int  # the traded range (after the warm-up): the first cycle
    end_ms: int  # the last candle's open, where what is open is sold
    warmup_start_ms: int
    warmup_candles: int
    pairs: tuple[str, ...]
    timeframe: str
    stake_currency: str
    candles: int  # candles in the traded range, all pairs
    cycles: int
    starting_balance: float
    trades: tuple[TradeRecord, ...]  # in close order; the last ones "end_of_data"
    equity: tuple[tuple[int, float], ...]  # (time_ms, equity) once a cycle, and at the end
    predictions: PredictionLog  # every probability the signal phase produced
    closes: dict[str, CandleFile]  # pair -> its candles, the whole loaded range
    model_kind: str | None
    retrains: int  # trainings after the bootstrap
    validation_auc: float | None  # the bootstrap model's (retrains are scored by oos_auc)
    validation: ModelMetrics | None  # the bootstrap model's walk-forward figures
    live: LiveFigures  # the engine's live record at the end: predictions scored as they resolved
    verdict: str  # the engine's verdict at the end (EDGE | NO EDGE | NOT ENOUGH DATA)
    verdict_reason: str
    rules: ExitRules  # the trade a label (and a fill) describes
    require_edge: bool  # ml.require_edge: no new position while the model shows no edge
    seconds: float
    cycle_ms: float  # the engine's mean cycle, its model trainings left out
    phase_ms: dict[str, float]  # phase -> its mean time a cycle (ml_training: a training)
    training_seconds: float  # the bootstrap and every retrain
    skipped: tuple[str, ...]  # pairs not used, one line each
    problems: tuple[str, ...]  # what was wrong with the data or the run, one line each


@dataclass(frozen=True)
class _Timeline:
    warmup_start_ms: int
    start_ms: int
    end_ms: int
    step_ms: int

    def cycle_times(self) -> range:
        return range(self.start_ms, self.end_ms, self.step_ms)


def cycle_seconds(check_interval: float, timeframe: str) -> int:
    """Data time between cycles: bot.check_interval rounded up to whole candles, at least one
    (a cycle between candle closes would see nothing new)."""
    tf = timeframe_seconds(timeframe)
    return check_candles(check_interval, tf) * tf


def select_pairs(
    files: Sequence[CandleFile], stake_currency: str
) -> tuple[list[CandleFile], list[str]]:
    """The files quoted in the stake currency, and one line for each skipped one. None left is a
    ConfigError naming bot.stake_currency."""
    kept = [f for f in files if _quote(f.symbol) == stake_currency]
    skipped = [
        f"{f.symbol}: skipped: quoted in {_quote(f.symbol)}, not in bot.stake_currency "
        f"{stake_currency}"
        for f in files
        if _quote(f.symbol) != stake_currency
    ]
    if not kept:
        quotes = sorted({_quote(f.symbol) for f in files})
        raise ConfigError(
            f"bot.stake_currency = {stake_currency}: none of the pairs "
            f"({', '.join(f.symbol for f in files)}) is quoted in it; trade them with "
            f"--set bot.stake_currency={quotes[0]}, or give candles quoted in {stake_currency}"
        )
    return kept, skipped


def run_backtest(
    settings: Settings, files: Sequence[CandleFile], progress: ProgressFn | None = None
) -> BacktestRun:
    """Replay `files` through the engine; deterministic for the same files and settings.
    RefusedToStart (ConfigError, CandleDataError) when the data cannot be backtested."""
    started = time.perf_counter()
    files, skipped = select_pairs(files, settings.bot.stake_currency)
    warmup = settings.backtest.warmup_candles
    files, short = _long_enough(files, warmup)
    skipped += short
    timeframe = _timeframe(files)
    settings = _for_timeframe(settings, timeframe)
    step_ms = cycle_seconds(settings.bot.check_interval, timeframe) * 1000
    timeline = _timeline(files, warmup, step_ms)
    replay = _Replay(settings, files, timeline, progress)
    asyncio.run(replay.run())  # predictions and training use one OpenMP thread (model.py)
    try:
        trades = replay.trades()
    finally:
        replay.store.close()
    model = replay.engine.models.model
    auc = replay.first_auc
    monitor = replay.engine.monitor
    retraining = monitor.total("phase.ml_training")
    edge = replay.engine.edge()
    return BacktestRun(
        start_ms=timeline.start_ms,
        end_ms=timeline.end_ms,
        warmup_start_ms=timeline.warmup_start_ms,
        warmup_candles=warmup,
        pairs=tuple(f.symbol for f in files),
        timeframe=timeframe,
        stake_currency=settings.bot.stake_currency,
        candles=sum(_traded_candles(f, timeline) for f in files),
        cycles=replay.cycles,
        starting_balance=settings.backtest.starting_balance,
        trades=tuple(trades),
        equity=tuple(replay.equity),
        predictions=replay.predictions,
        closes={f.symbol: f for f in files},
        model_kind=model.kind if model is not None else None,
        retrains=max(0, replay.trainings - 1),
        validation_auc=auc if auc is not None and math.isfinite(auc) else None,
        validation=replay.first_metrics,
        live=replay.engine.live.figures(),
        verdict=edge.verdict,
        verdict_reason=edge.reason,
        rules=replay.engine.rules,
        require_edge=settings.ml.require_edge,
        seconds=time.perf_counter() - started,
        cycle_ms=(monitor.total("cycle") - retraining) * 1000 / max(1, replay.cycles),
        training_seconds=monitor.total("ml.bootstrap") + retraining,
        phase_ms=_phase_ms(monitor.stats(), replay.cycles),
        skipped=tuple(skipped),
        problems=tuple(_file_problems(files)) + tuple(replay.problems),
    )


class _Replay:
    """The engine and its in-memory collaborators, and what the run collects."""

    def __init__(
        self,
        settings: Settings,
        files: Sequence[CandleFile],
        timeline: _Timeline,
        progress: ProgressFn | None,
    ) -> None:
        self.timeline = timeline
        self.progress = progress
        bt, ml = settings.backtest, settings.ml
        self.clock = JumpingClock(timeline.start_ms / 1000)
        source = RecordedSource.from_files(files)
        self.exchange = BacktestExchange(
            source,
            self.clock,
            settings.bot.stake_currency,
            bt.starting_balance,
            bt.fee_pct,
            bt.slippage_bps,
        )
        self.store = Store(None)
        self.store.set_state(INSTANCE_KEY, INSTANCE)
        trainer = InlineTrainer()
        models = ModelManager(
            self.store,
            trainer,
            None,  # in memory only
            self.clock,
            self._alert,
            ml.model,
            ml.max_samples_in_memory,
            ml.saved_samples,
            validate_retrains=False,
        )
        self.engine = Engine(
            settings, self.exchange, self.clock, self.store, trainer, MODE, models=models
        )
        self.cycles = 0
        self.trainings = 0
        self.first_auc: float | None = None  # the bootstrap model's validation AUC
        self.first_metrics: ModelMetrics | None = None
        self.equity: list[tuple[int, float]] = []
        self.predictions = PredictionLog([f.symbol for f in files], len(timeline.cycle_times()))
        self.problems: list[str] = []

    def _alert(self, level: AlertLevel, source: str, message: str) -> None:
        self.engine.alert(level, source, message)

    async def run(self) -> None:
        engine, times = self.engine, self.timeline.cycle_times()
        try:
            await engine.start()
            model = self._count_training(None)
            for done, t in enumerate(times, start=1):
                self._jump(t)
                await engine.step()
                model = self._count_training(model)
                self.cycles = done
                self.equity.append((t, engine.equity))
                self._collect_predictions(t)
                if self.progress is not None:
                    self.progress(done, len(times), t)
            self._jump(self.timeline.end_ms)
            await engine.close_all(END_OF_DATA)
            self.equity.append((self.timeline.end_ms, engine.equity))
            self._left_open()
        finally:
            await self.exchange.close()

    def _jump(self, t_ms: int) -> None:
        t = t_ms / 1000
        if t > self.clock.now():  # a retry's backoff may have moved it on already
            self.clock.set(t)

    def _count_training(self, last: object) -> object:
        model = self.engine.models.model
        if model is not None and model is not last:
            self.trainings += 1
            if self.first_metrics is None:
                self.first_metrics = model.metrics
                self.first_auc = model.metrics.auc
        return model

    def _collect_predictions(self, t_ms: int) -> None:
        signals = self.engine.last_signals
        if signals is None:
            self.predictions.add(t_ms, (), ())
        else:
            self.predictions.add(t_ms, signals.symbols, signals.probabilities.tolist())

    def _left_open(self) -> None:
        for position in self.store.positions():
            self.problems.append(
                f"{position.symbol}: still open at the end: no candle at the end of the data "
                "to sell it at; not counted as a trade"
            )

    def trades(self) -> list[TradeRecord]:
        return [
            TradeRecord(
                pair=t.symbol,
                open_time=round(t.opened_at * 1000),
                close_time=round(t.closed_at * 1000),
                open_price=t.entry_price,
                close_price=t.exit_price,
                amount=t.amount,
                profit_pct=t.pnl_pct,
                profit_abs=t.pnl,
                fee=t.fees,
                exit_reason=t.reason,
                probability=float(t.probability),
            )
            for t in self.store.closed_trades()
        ]


def _phase_ms(stats: dict[str, TimingStats], cycles: int) -> dict[str, float]:
    """Each phase's time a cycle; ml_training's a training (it runs only when one is due)."""
    phase_ms = {}
    for name in PHASES:
        timing = stats.get(f"phase.{name}")
        if timing is not None:
            runs = timing.count if name == "ml_training" else max(1, cycles)
            phase_ms[name] = timing.avg * timing.count * 1000 / runs
    return phase_ms


def _quote(symbol: str) -> str:
    return symbol.partition("/")[2]


def _long_enough(files: Sequence[CandleFile], warmup: int) -> tuple[list[CandleFile], list[str]]:
    """Pairs with more candles than the warm-up (two more: one cycle and the end); none left is a
    ConfigError naming backtest.warmup_candles."""
    kept = [f for f in files if len(f) >= warmup + 2]
    short = [
        f"{f.symbol}: skipped: {len(f)} candles, not more than backtest.warmup_candles "
        f"= {warmup} (the history before trading starts)"
        for f in files
        if len(f) < warmup + 2
    ]
    if not kept:
        most = max(len(f) for f in files)
        raise ConfigError(
            f"backtest.warmup_candles = {warmup}: no pair has more candles than that (the most: "
            f"{most}); give more data or --set backtest.warmup_candles={max(100, most // 4)}"
        )
    return kept, short


def _timeframe(files: Sequence[CandleFile]) -> str:
    timeframes = sorted({f.timeframe for f in files})
    if len(timeframes) > 1:
        raise CandleDataError(
            f"the candle files mix timeframes ({', '.join(timeframes)}); a backtest runs on one: "
            "give files of one timeframe"
        )
    return timeframes[0]


def _for_timeframe(settings: Settings, timeframe: str) -> Settings:
    """The settings with scan.timeframe set to the data's (the scan fetches that timeframe)."""
    if settings.scan.timeframe == timeframe:
        return settings
    choices = key_spec("scan.timeframe").choices or ()
    if timeframe not in choices:
        raise CandleDataError(
            f"the candles are {timeframe}: the engine trades {', '.join(choices)} candles "
            "(scan.timeframe); give candle files of one of those"
        )
    return settings.with_values({"scan.timeframe": timeframe})


def _timeline(files: Sequence[CandleFile], warmup: int, step_ms: int) -> _Timeline:
    """Every pair has `warmup` candles of history at the start; every pair has a candle to sell
    at by the end (the earliest last candle)."""
    start = max(int(f.times[warmup]) for f in files)
    end = min(int(f.times[-1]) for f in files)
    if end <= start:
        raise CandleDataError(
            "the pairs' candles do not overlap after the warm-up (backtest.warmup_candles = "
            f"{warmup}): give pairs covering the same time, or fewer pairs"
        )
    return _Timeline(int(min(f.times[0] for f in files)), start, end, step_ms)


def _traded_candles(f: CandleFile, timeline: _Timeline) -> int:
    times = f.times
    return int(np.count_nonzero((times >= timeline.start_ms) & (times <= timeline.end_ms)))


def _file_problems(files: Sequence[CandleFile]) -> list[str]:
    """The loader's lines (each names its file)."""
    return [problem for f in files for problem in f.problems]
