"""A benchmark-only simulated exchange that lists more symbols than the simulator's 44.

`tui_bot.exchange.sim.SimExchange` caps its universe at the 44 assets of `sim_prices.ASSETS`.
Scans and cycles of 100-500 symbols need more, so `BenchExchange` adds replicas: replica r > 0
is the same 44-asset factor model run with another seed, listed as SYM045/USDT, SYM046/USDT, ...
in group "other". The first 44 symbols are exactly the simulator's. Everything else (rate limiter,
latency, fault injection, ccxt shapes, order handling) is the simulator's own code.

The engine never learns the difference: it sees a ccxt-shaped exchange with N markets.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from tui_bot.clock import Clock
from tui_bot.exchange.sim import SimExchange
from tui_bot.exchange.sim_prices import ASSETS, PricePaths
from tui_bot.market.source import GeneratedSource

SEED_STEP = 100_003  # replica r uses seed + r * SEED_STEP


class ReplicatedPaths:
    """`PricePaths` of `replicas` independent copies of the 44-asset market, side by side."""

    def __init__(self, seed: int, timeframe_s: int, replicas: int) -> None:
        self.per = len(ASSETS)
        self.replicas = [PricePaths(seed + r * SEED_STEP, timeframe_s) for r in range(replicas)]
        self.tf = self.replicas[0].tf

    def index_at(self, t: float) -> int:
        return self.replicas[0].index_at(t)

    def open_time(self, k: int) -> float:
        return self.replicas[0].open_time(k)

    def block(self, start_k: int, end_k: int) -> np.ndarray:
        return np.concatenate([p.block(start_k, end_k) for p in self.replicas], axis=1)

    def candles(self, asset: int, start_k: int, end_k: int) -> np.ndarray:
        replica, i = divmod(asset, self.per)
        return self.replicas[replica].candles(i, start_k, end_k)

    def prices_at(self, t: float) -> np.ndarray:
        return np.concatenate([p.prices_at(t) for p in self.replicas])

    def price_range(self, asset: int, t0: float, t1: float) -> tuple[float, float]:
        replica, i = divmod(asset, self.per)
        return self.replicas[replica].price_range(i, t0, t1)


class BenchExchange(SimExchange):
    """The simulator with `n_symbols` markets (any number); network settings changeable."""

    def __init__(self, *, clock: Clock, n_symbols: int, seed: int = 42, **kwargs: Any) -> None:
        super().__init__(clock=clock, seed=seed, n_symbols=min(n_symbols, len(ASSETS)), **kwargs)
        if n_symbols <= len(ASSETS):
            return
        replicas = math.ceil(n_symbols / len(ASSETS))
        extra = [
            replace(ASSETS[i % len(ASSETS)], base=f"SYM{i + 1:03d}", group="other")
            for i in range(len(ASSETS), n_symbols)
        ]
        paths = ReplicatedPaths(seed, self._tf, replicas)
        self.use_source(
            GeneratedSource(
                timeframe=self.timeframe,
                quote=self.stake_currency,
                paths=paths,  # type: ignore[arg-type]
                assets=(*ASSETS, *extra),
            )
        )

    def set_network(self, latency_ms: float, rate_limit_per_s: float) -> None:
        """Change the simulated latency and rate limit (e.g. none while setting up)."""
        self.latency_ms = latency_ms
        self._limiter = type(self._limiter)(rate_limit_per_s)
