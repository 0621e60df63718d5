"""Wiring: settings -> clock, exchange, store, trainer, engine (for the CLI and the dashboard).

Exchange and mode: `[exchange] name = "sim"` is the embedded simulator (SIMULATED). Any other name
is a ccxt exchange id: PAPER (real public data, simulated fills, a paper balance in SQLite)
unless all three of `[exchange] mode = "live"`, API keys in the environment and `live=True`
(the `--live` flag) are there, which is LIVE. Anything less falls back to paper, with a notice
saying what was missing. ccxt is imported only here, only for a ccxt exchange.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from tui_bot.clock import AcceleratedClock, Clock, WallClock
from tui_bot.config import ConfigError, Settings
from tui_bot.engine.cycle import Engine, SnapshotFn
from tui_bot.engine.model import ProcessTrainer, Trainer
from tui_bot.engine.words import AlertLevel, Mode
from tui_bot.exchange.base import Exchange
from tui_bot.preload import FILTER_MODULES, HEAVY_MODULES, preload
from tui_bot.store import Store

STORE_FILE = "tui_bot.sqlite"
MODEL_FILE = "model.joblib"
SIM_STATE_FILE = "sim_exchange.sqlite"
LIVE_NEEDS = (
    'live trading needs [exchange] mode = "live", TUI_BOT_API_KEY and TUI_BOT_API_SECRET in the '
    "environment, and --live on the command line"
)


def paper_state_file(exchange: str) -> str:
    return f"paper_{exchange}.sqlite"


def store_file(exchange: str, mode: str) -> str:
    """The bot's own database: one per exchange and mode, so paper positions never mix with
    live ones (or the simulator's)."""
    if exchange == "sim":
        return STORE_FILE
    return f"tui_bot_{exchange}_{mode.lower()}.sqlite"


def model_file(exchange: str, mode: str) -> str:
    """The model the store of `store_file(exchange, mode)` trains: paper and the simulator in one
    folder must not overwrite each other's."""
    if exchange == "sim":
        return MODEL_FILE
    return f"model_{exchange}_{mode.lower()}.joblib"


@dataclass(frozen=True)
class ModeDecision:
    mode: Mode
    notice: str | None  # why this is not the live trading that was asked for, if it was


def decide_mode(settings: Settings, live: bool, env: Mapping[str, str]) -> ModeDecision:
    if settings.exchange.name == "sim":
        notice = "--live has no effect on the simulator" if live else None
        return ModeDecision(Mode.SIMULATED, notice)
    from tui_bot.exchange.ccxt_exchange import credentials_from_env

    credentials = credentials_from_env(env)
    wants_live = live or settings.exchange.mode == "live"
    missing = []
    if settings.exchange.mode != "live":
        missing.append('[exchange] mode = "live"')
    if not {"apiKey", "secret"} <= credentials.keys():
        missing.append("TUI_BOT_API_KEY and TUI_BOT_API_SECRET")
    if not live:
        missing.append("--live")
    if not missing:
        return ModeDecision(Mode.LIVE, None)
    if not wants_live:
        return ModeDecision(Mode.PAPER, None)
    return ModeDecision(
        Mode.PAPER, f"paper trading, not live: missing {', '.join(missing)} ({LIVE_NEEDS})"
    )


@dataclass
class Runtime:
    engine: Engine
    exchange: Exchange
    store: Store
    trainer: Trainer
    notice: str | None = None  # e.g. why live trading fell back to paper

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
    live: bool = False,
    env: Mapping[str, str] | None = None,
) -> Runtime:
    """`live`: the --live flag. `env`: where API keys come from (os.environ by default)."""
    env = os.environ if env is None else env
    trainer = ProcessTrainer() if trainer is None else trainer  # its worker starts on first use
    if settings.exchange.name != "sim":
        return _ccxt_runtime(settings, trainer, clock, on_snapshot, live, env)
    store = Store(settings.storage_dir / STORE_FILE)
    clock = clock or _sim_clock(settings, store)
    exchange = _sim_exchange(settings, clock)
    engine = Engine(
        settings, exchange, clock, store, trainer, Mode.SIMULATED, on_snapshot, MODEL_FILE
    )
    notice = decide_mode(settings, live, env).notice
    return Runtime(engine, exchange, store, trainer, notice)


def _ccxt_runtime(
    settings: Settings,
    trainer: Trainer,
    clock: Clock | None,
    on_snapshot: SnapshotFn | None,
    live: bool,
    env: Mapping[str, str],
) -> Runtime:
    from tui_bot import redact
    from tui_bot.exchange.ccxt_exchange import CcxtExchange, credentials_from_env, exchange_ids

    redact.register_env(env)
    redact.install()
    name = settings.exchange.name
    decision = decide_mode(settings, live, env)
    try:
        real = CcxtExchange(
            name,
            settings.exchange.ccxt_config,
            sandbox=settings.exchange.sandbox,
            credentials=credentials_from_env(env) if decision.mode == Mode.LIVE else None,
            max_in_flight=settings.scan.max_parallel_workers,
            weight_limit_per_minute=settings.exchange.weight_limit_per_minute,
        )
    except ValueError as e:
        raise ConfigError(_exchange_problem(settings, name, str(e), exchange_ids())) from None
    clock = clock or WallClock()
    storage = settings.storage_dir
    store = Store(storage / store_file(name, decision.mode))
    # scipy (and scikit-learn, unless a saved model spares the first training) import while the
    # start waits on the exchange; a saved model predicts without scikit-learn
    preload(FILTER_MODULES if store.latest_model() else HEAVY_MODULES)
    exchange: Exchange = real
    if decision.mode == Mode.PAPER:
        from tui_bot.exchange.paper import PaperExchange

        exchange = PaperExchange(
            real,
            storage / paper_state_file(name),
            clock=clock,
            starting_balance=settings.exchange.paper_balance,
            stake_currency=settings.bot.stake_currency,
        )
    model = model_file(name, decision.mode)
    engine = Engine(settings, exchange, clock, store, trainer, decision.mode, on_snapshot, model)
    real.alert = engine.alert
    if decision.notice:
        engine.alert(AlertLevel.WARNING, "mode", decision.notice)
    return Runtime(engine, exchange, store, trainer, decision.notice)


def _exchange_problem(settings: Settings, name: str, problem: str, known: list[str]) -> str:
    import difflib

    where = f"{settings.path}: " if settings.path is not None else ""
    if "not a ccxt exchange id" in problem:
        match = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean {match[0]!r}?" if match else 'e.g. "binance", "kraken", "okx"'
        return f'{where}[exchange] name = "{name}" is not "sim" or a ccxt exchange id; {hint}'
    return f"{where}[exchange] {problem}"


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
