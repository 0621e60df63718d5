"""Dashboard test fixtures: settings in a temp dir, a fixed snapshot, a fake engine."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from tui_bot.config import Settings, load_settings
from tui_bot.engine import commands as cmd
from tui_bot.engine.caches import CacheStats
from tui_bot.engine.monitor import TimingStats
from tui_bot.engine.snapshot import (
    PHASES,
    Alert,
    ModelInfo,
    Opportunity,
    PositionView,
    Snapshot,
)
from tui_bot.engine.words import Decision
from tui_bot.tui.app import TuiBotApp

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_767_830_400.0  # 2026-01-08 00:00 UTC


def write_config(tmp_path: Path, text: str | None = None) -> Path:
    config = tmp_path / "config.toml"
    config.write_text((ROOT / "config.toml").read_text() if text is None else text)
    return config


def tui_settings(tmp_path: Path, env: dict[str, str] | None = None, **values: object) -> Settings:
    """The repo's config.toml copied to tmp_path, storage there, a fast simulator."""
    config = write_config(tmp_path)
    base = load_settings(config, env=env or {})
    fast = {
        "sim.latency_ms": 0.0,
        "sim.rate_limit_per_s": 100000.0,
        "scan.top_n": 12,
        "scan.candles": 120,
        "sim.symbols": 24,
        "storage.dir": str(tmp_path / "data"),
    }
    return base.with_values({**fast, **values})


def position(symbol: str, group: str, entry: float, last: float, age: float) -> PositionView:
    return PositionView(
        symbol=symbol,
        group=group,
        side="long",
        amount=round(1000 / entry, 4),
        entry_price=entry,
        last_price=last,
        pnl_pct=(last / entry - 1) * 100,
        stop_loss=entry * 0.98,
        take_profit=entry * 1.03,
        opened_at=T0 - age,
        age_seconds=age,
    )


LABEL = (
    "buy at the next open +5 bps; stop-loss -2 %, take-profit +3 %, max hold 60 min; "
    "0.1 % fee a side; a win when it nets more than 0"
)
# (mean predicted, realised win rate, rows) by probability decile; the empty ones are left out
CALIBRATION = (
    (0.0, 0.0, 0),
    (0.171, 0.25, 8),
    (0.262, 0.301, 73),
    (0.352, 0.372, 94),
    (0.447, 0.418, 67),
    (0.538, 0.442, 43),
    (0.631, 0.407, 27),
    (0.0, 0.0, 0),
    (0.0, 0.0, 0),
    (0.0, 0.0, 0),
)


def no_edge_model(blocking: bool = False) -> ModelInfo:
    """A model like the real candles give: an AUC interval around 0.5, a loss after fees."""
    return ModelInfo(
        trained_at=T0 - 7_500,
        samples=11_448,
        auc=0.514,
        accuracy=0.547,
        kind="hist_gradient_boosting",
        label=LABEL,
        auc_low=0.4873,
        auc_high=0.5461,
        log_loss=0.6941,
        constant_log_loss=0.6912,
        expectancy_pct=-0.118,
        validation_rows=4_210,
        live_auc=0.503,
        live_auc_low=0.4411,
        live_auc_high=0.5658,
        live_rows=312,
        live_expectancy_pct=-0.205,
        calibration=CALIBRATION,
        trades=7,
        win_rate=3 / 7,
        net_pnl=-18.42,
        verdict="NO EDGE",
        verdict_reason="AUC 0.487-0.546 includes 0.5; held-out trades net −0.12% after fees",
        blocking=blocking,
    )


def fixed_snapshot(cycle: int = 42, price_shift: float = 0.0) -> Snapshot:
    """A deterministic snapshot: what the SVG tests and the table tests render."""
    shift = 1 + price_shift

    def stats(hits: int, misses: int, size: int, maxsize: int, ttl: float | None) -> CacheStats:
        return CacheStats(hits, misses, hits / (hits + misses), size, maxsize, ttl)

    n = cycle  # hit and miss counts grow with the cycle, so per-cycle hit rates vary
    caches = {
        "market_scan": stats(n - 1, 1, 1, 1, 300.0),
        "indicators": stats(20 * n - 10 * (n % 3), 24 + 10 * (n % 3), 24, 4096, None),
        "ml_prediction": stats(18 * n - 5 * (n % 4), 49 + 5 * (n % 4), 49, 1000, 300.0),
        "symbol_group": stats(24 * n, 24, 24, 24, None),
    }
    timings = {
        "cycle": TimingStats(42, 0.0412, 0.0101, 0.912, 0.0884, 0.0375),
        "exchange.fetch_ohlcv": TimingStats(504, 0.0021, 0.0003, 0.035, 0.0052, 0.0011),
        "exchange.fetch_tickers": TimingStats(42, 0.0009, 0.0003, 0.0982, 0.0011, 0.0004),
        "ml.predict": TimingStats(42, 0.0031, 0.0012, 0.0215, 0.0061, 0.0024),
        "phase.market_scan": TimingStats(42, 0.0105, 0.00001, 0.412, 0.0211, 0.00001),
        "phase.ml_training": TimingStats(1, 6.2, 6.2, 6.2, 6.2, 6.2),
        "phase.signal_generation": TimingStats(42, 0.0044, 0.0011, 0.0311, 0.0081, 0.0031),
        "phase.update_positions": TimingStats(42, 0.0018, 0.0005, 0.0101, 0.0033, 0.0012),
    }
    positions = (
        position("BTC/USDT", "layer-1", 94_210.5, 95_102.25 * shift, 5_400),
        position("DOGE/USDT", "meme", 0.3412, 0.3371 * shift, 1_500),
        position("UNI/USDT", "defi", 11.82, 11.82, 240),
    )
    opportunities = (
        Opportunity("SOL/USDT", "layer-1", 0.612, 0.612, Decision.BUY, size_quote=850.0),
        Opportunity("PEPE/USDT", "meme", 0.598, 0.598, Decision.SKIP, "group limit (meme 2/2)"),
        Opportunity("BTC/USDT", "layer-1", 0.571, 0.571, Decision.SKIP, "already open"),
        Opportunity("ETH/USDT", "layer-1", 0.533, 0.533, Decision.SKIP, "probability < 0.55"),
        Opportunity("AAVE/USDT", "defi", 0.507, 0.507, Decision.SKIP, "probability < 0.55"),
    )
    alerts = (
        Alert(T0 - 60, "warning", "monitor", "slow operation phase.ml_training: 6.20s"),
        Alert(T0 - 600, "error", "market_scan", "exchange unavailable: timeout"),
        Alert(T0 - 900, "info", "model", "trained on 11448 samples: AUC 0.514"),
    )
    return Snapshot(
        cycle=cycle,
        time=T0,
        mode="SIMULATED",
        exchange="sim",
        equity=10_123.45,
        drawdown_pct=0.84,
        phases=dict.fromkeys(PHASES, 0.01),
        caches=caches,
        positions=positions,
        opportunities=opportunities,
        orders_placed=1,
        alerts=alerts,
        timings=timings,
        model=no_edge_model(),
        phase=None,
        paused=False,
        next_cycle_at=T0 + 42,
        equity_history=tuple(10_000 + 40 * ((i * 7) % 11) - 3 * i for i in range(60)),
    )


class FakeEngine:
    """Records commands; publishes `snapshot` on start and on every command; stops on Stop."""

    def __init__(self, on_snapshot: Callable[[Snapshot], None], snapshot: Snapshot) -> None:
        self.on_snapshot = on_snapshot
        self.snapshot = snapshot
        self.commands: list[object] = []
        self.started = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    def submit(self, command: object) -> None:
        self.commands.append(command)
        if isinstance(command, cmd.Pause):
            self.snapshot = replace(self.snapshot, paused=True)
        elif isinstance(command, cmd.Resume):
            self.snapshot = replace(self.snapshot, paused=False)
        self.on_snapshot(self.snapshot)
        if isinstance(command, cmd.Stop) and self._loop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)  # type: ignore[union-attr]

    def request_stop(self) -> None:
        self.submit(cmd.Stop())

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        if any(isinstance(c, cmd.Stop) for c in self.commands):
            self._stop.set()
        self.on_snapshot(self.snapshot)
        self.started.set()

    async def run(self) -> None:
        assert self._stop is not None
        await self._stop.wait()


class FakeRuntime:
    def __init__(self, engine: FakeEngine) -> None:
        self.engine = engine
        self.closed = False

    async def close(self) -> None:
        self.closed = True


class FakeFactory:
    """A runtime factory handing out FakeEngines; remembers each one built."""

    def __init__(self, snapshot: Snapshot | None = None) -> None:
        self.snapshot = snapshot or fixed_snapshot()
        self.runtimes: list[FakeRuntime] = []
        self.settings: list[Settings] = []

    def __call__(self, settings: Settings, on_snapshot: Callable[[Snapshot], None]) -> FakeRuntime:
        self.settings.append(settings)
        runtime = FakeRuntime(FakeEngine(on_snapshot, self.snapshot))
        self.runtimes.append(runtime)
        return runtime

    @property
    def engine(self) -> FakeEngine:
        return self.runtimes[-1].engine

    @property
    def commands(self) -> list[object]:
        return self.engine.commands


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return tui_settings(tmp_path)


@pytest.fixture
def factory() -> FakeFactory:
    return FakeFactory()


@pytest.fixture
def app(settings: Settings, factory: FakeFactory) -> TuiBotApp:
    return TuiBotApp(settings, factory, monotonic=lambda: 0.0, backoff=0.05)


async def wait_for(pilot: Pilot[Any], condition: Callable[[], bool], steps: int = 1500) -> None:
    """Let the app run until `condition` holds (pilot pauses only, no wall-clock sleeps)."""
    for _ in range(steps):
        if condition():
            return
        await pilot.pause(0.02)
    assert condition(), "condition not reached"
