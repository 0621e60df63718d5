"""Wiring: settings -> clock, exchange, store, trainer, engine (for the CLI and the dashboard)."""

from __future__ import annotations

from dataclasses import dataclass

from tui_bot.clock import AcceleratedClock, Clock
from tui_bot.config import ConfigError, Settings
from tui_bot.engine.cycle import Engine, SnapshotFn
from tui_bot.engine.model import Trainer
from tui_bot.exchange.base import Exchange
from tui_bot.store import Store

STORE_FILE = "tui_bot.sqlite"
SIM_STATE_FILE = "sim_exchange.sqlite"


@dataclass
class Runtime:
    engine: Engine
    exchange: Exchange
    store: Store
    trainer: Trainer

    async def close(self) -> None:
        """Persist what the engine holds, then release the exchange, trainer and database."""
        try:
            await self.engine.close()
        finally:
            await self.exchange.close()
            self.trainer.close()
            self.store.close()


def build_runtime(
    settings: Settings,
    trainer: Trainer | None = None,
    clock: Clock | None = None,
    on_snapshot: SnapshotFn | None = None,
) -> Runtime:
    if settings.exchange.name != "sim":
        raise ConfigError(
            f"[exchange] name = {settings.exchange.name!r}: real exchanges are not wired up "
            'yet in this version; use name = "sim"'
        )
    store = Store(settings.storage_dir / STORE_FILE)
    clock = clock or _sim_clock(settings, store)
    exchange = _sim_exchange(settings, clock)
    if trainer is None:
        from tui_bot.engine.model import ProcessTrainer

        trainer = ProcessTrainer()
    engine = Engine(settings, exchange, clock, store, trainer, "SIMULATED", on_snapshot)
    return Runtime(engine, exchange, store, trainer)


def _sim_clock(settings: Settings, store: Store) -> Clock:
    from tui_bot.exchange.sim import sim_start_time

    saved = store.get_state("clock_time")
    start = float(saved) if saved else sim_start_time(settings.scan.timeframe)
    return AcceleratedClock(start, settings.sim.speed)


def _sim_exchange(settings: Settings, clock: Clock) -> Exchange:
    from tui_bot.exchange.sim import SimExchange

    sim = settings.sim
    return SimExchange(
        clock=clock,
        seed=sim.seed,
        n_symbols=sim.symbols,
        timeframe=settings.scan.timeframe,
        latency_ms=sim.latency_ms,
        rate_limit_per_s=sim.rate_limit_per_s,
        error_rate=sim.error_rate,
        starting_balance=sim.starting_balance,
        stake_currency=settings.bot.stake_currency,
        state_path=settings.storage_dir / SIM_STATE_FILE,
    )
