"""What the rows measure on: settings, market data from the simulator, a trained model, engines."""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.exchange import BenchExchange
from benchmarks.naive import LoopSignals, SequentialScanner, UncachedGroups
from tui_bot.clock import FakeClock
from tui_bot.config import Settings, load_settings
from tui_bot.engine.caches import TimedCache
from tui_bot.engine.cycle import Engine
from tui_bot.engine.model import InlineTrainer, labels
from tui_bot.engine.monitor import Monitor
from tui_bot.engine.outcome import ExitRules
from tui_bot.engine.samples import SampleBuffer
from tui_bot.engine.scanner import MarketScanner, ScanOptions
from tui_bot.engine.training import MIN_RETURN, history_samples
from tui_bot.exchange.base import timeframe_seconds
from tui_bot.exchange.sim import SIM_EPOCH, sim_start_time
from tui_bot.store import Store

TIMEFRAME = "5m"
LATENCY_MS = 50.0  # the simulator's default per-call latency
RATE_LIMIT_PER_S = 50.0  # the simulator's default rate limit
WORKERS = 10  # scan.max_parallel_workers default
CANDLES = 200  # scan.candles default
SAMPLES = 15_000  # ml.max_samples_in_memory default
SAVED_SAMPLES = 5_000  # ml.saved_samples default
STORE_FILE = "tui_bot.sqlite"


def start_time() -> float:
    """Where the benchmark clock starts: 4000 closed candles of history (enough for 1000-candle
    fetches of every replica)."""
    return sim_start_time(TIMEFRAME, 4000)


def new_clock() -> FakeClock:
    return FakeClock(start_time())


def settings_in(directory: Path, **values: object) -> Settings:
    """The shipped defaults, storage in `directory`, and `values` on top."""
    config = directory / "config.toml"
    config.write_text("")
    return load_settings(config, env={}).with_values({"storage.dir": str(directory), **values})


def scan_options(top_n: int, workers: int = WORKERS) -> ScanOptions:
    return ScanOptions(
        top_n=top_n,
        candles=CANDLES,
        timeframe=TIMEFRAME,
        max_parallel_workers=workers,
        stake_currency="USDT",
    )


def exchange(
    clock: FakeClock, n_symbols: int, latency_ms: float = 0.0, rate: float = 0.0
) -> BenchExchange:
    return BenchExchange(
        clock=clock,
        n_symbols=n_symbols,
        timeframe=TIMEFRAME,
        latency_ms=latency_ms,
        rate_limit_per_s=rate,
    )


def history(n_symbols: int, candles: int, clock: FakeClock | None = None) -> np.ndarray:
    """(n_symbols, candles, 6) closed candles [ts_ms, o, h, l, c, v] ending now."""
    clock = clock or new_clock()
    ex = exchange(clock, n_symbols)
    end = math.floor((clock.now() - SIM_EPOCH) / timeframe_seconds(TIMEFRAME))  # in progress
    return np.stack([ex.candles(s, end - candles, end) for s in ex.symbols])


def symbols(n_symbols: int) -> list[str]:
    return exchange(new_clock(), n_symbols).symbols


@dataclass
class Dataset:
    """15,000 time-ordered samples derived from simulated candles, as the engine keeps them."""

    buffer: SampleBuffer
    X: np.ndarray
    y: np.ndarray
    outcome: np.ndarray
    time: np.ndarray


RULES = ExitRules(2.0, 3.0, 1800, 300, fee_pct=0.1, slippage_bps=5.0)  # the shipped defaults


def dataset(n_samples: int = SAMPLES) -> Dataset:
    """Bootstrap samples from 44 symbols x 1000 candles, like the engine's first start."""
    candles = history(44, 1000)
    X, outcome, times = history_samples(candles, RULES)  # time-ordered, as the engine labels
    buffer = SampleBuffer(X.shape[1], n_samples)
    buffer.add(X, outcome, times)
    return Dataset(
        buffer,
        buffer.X.copy(),
        labels(buffer.outcome, MIN_RETURN),
        buffer.outcome.copy(),
        buffer.time.copy(),
    )


def scanner(
    ex: BenchExchange, clock: FakeClock, top_n: int, sequential: bool = False
) -> MarketScanner:
    kind = SequentialScanner if sequential else MarketScanner
    cache = TimedCache(1, 300, clock.now)
    return kind(ex, scan_options(top_n), cache, clock, Monitor(5.0))


@dataclass
class BenchEngine:
    """An Engine on a BenchExchange, bootstrapped with no latency, then given the network."""

    engine: Engine
    exchange: BenchExchange
    store: Store
    directory: tempfile.TemporaryDirectory[str]

    async def close(self) -> None:
        try:
            await self.engine.close()
        finally:
            await self.exchange.close()
            self.store.close()
            self.directory.cleanup()


async def engine(
    clock: FakeClock,
    n_symbols: int,
    naive: bool = False,
    latency_ms: float = LATENCY_MS,
    rate: float = RATE_LIMIT_PER_S,
    progress: Callable[[str], None] | None = None,
) -> BenchEngine:
    """Our engine (or, with `naive`, the same engine with the naive scanner, signals and
    symbol groups swapped in), started, with `n_symbols` markets all scanned every cycle."""
    directory = tempfile.TemporaryDirectory(prefix="tui-bot-bench-")
    path = Path(directory.name)
    settings = settings_in(path, **{"scan.top_n": n_symbols})
    ex = exchange(clock, n_symbols)
    store = Store(settings.storage_dir / STORE_FILE)
    eng = Engine(settings, ex, clock, store, InlineTrainer(), "SIMULATED")
    if naive:
        eng.scanner = SequentialScanner(ex, eng.scanner.options, eng.scan_cache, clock, eng.monitor)
        eng.signals = LoopSignals(
            eng.indicator_cache, eng.prediction_cache, eng.monitor, eng.signals.precision
        )
        eng.groups = UncachedGroups()
    if progress is not None:
        progress(f"bootstrapping {'naive' if naive else 'our'} engine ({n_symbols} symbols)")
    await eng.start()
    ex.set_network(latency_ms, rate)
    return BenchEngine(eng, ex, store, directory)
