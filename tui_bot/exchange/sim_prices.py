"""Seeded price paths for the simulated market.

Log-return of symbol s in candle k:

    r[k, s] = beta_s * market[k] + load_s * group[k, g(s)] + walk[k, s] + (x[k, s] - x[k-1, s])

where x is a per-symbol mean-reverting deviation, x[k] = (1 - KAPPA) * x[k-1] + eps[k]. Its
difference is eps[k] - KAPPA * x[k-1]: a recent idiosyncratic move is partly taken back over the
next candles. That is the weak, learnable short-horizon structure (RSI / momentum see it).

Paths are generated in chunks of CHUNK candles, sequentially from candle 0, with
`np.random.default_rng([seed, chunk])`, vectorised over symbols and time (the AR recursion runs
through scipy.signal.lfilter with carried state, imported on first use). So a path depends only
on the seed and the timeframe, never on the order of calls or on how many symbols the exchange
lists.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from tui_bot.preload import wait_for_preload

SIM_EPOCH = 1_767_225_600.0  # 2026-01-01T00:00:00Z: the open of candle 0
CHUNK = 4096
KEPT_CHUNKS = 3  # chunks held in memory at once (~7 MB each)
KAPPA = 0.2  # mean-reversion speed of the idiosyncratic deviation, per candle
REVERTING_SHARE = 0.9  # share of idiosyncratic variance that reverts (the rest is a random walk)
JUMP_P = 0.02  # chance per candle of an idiosyncratic jump (it reverts like any deviation)
JUMP_SD = 4.0  # jump size in units of the asset's candle sd
MARKET_SD = 0.0025  # market factor log-return sd per 5m candle
WICK = 0.6  # high/low extend beyond max/min(open, close) by ~WICK * sd * |z|
VOLUME_SD = 0.35  # lognormal noise of candle volume
ACTIVITY = (0.3, 0.15, 1.0)  # volume multiplier: base + a * |return| / sd + b * |idio move| / sd

OPEN, HIGH, LOW, CLOSE, VOLUME = range(5)  # field order in a generated block


@dataclass(frozen=True)
class Asset:
    base: str
    group: str
    price: float  # starting price in USD
    volume: float  # typical 24h quote volume in USD
    vol: float  # log-return sd of one 5m candle
    spread_bps: float  # full bid/ask spread


def _assets(group: str, rows: list[tuple[str, float, float, float, float]]) -> list[Asset]:
    return [Asset(base, group, *row) for base, *row in rows]


_BY_GROUP: list[list[Asset]] = [
    _assets(
        "layer-1",
        [
            ("BTC", 90_000.0, 2.0e9, 0.0026, 1.0),
            ("ETH", 3_000.0, 1.0e9, 0.0032, 1.5),
            ("SOL", 140.0, 4.0e8, 0.0040, 2.0),
            ("ADA", 0.45, 8.0e7, 0.0042, 3.0),
            ("AVAX", 14.0, 6.0e7, 0.0045, 3.0),
            ("DOT", 2.5, 4.0e7, 0.0043, 4.0),
            ("ATOM", 2.8, 3.0e7, 0.0045, 4.0),
            ("NEAR", 2.0, 4.0e7, 0.0048, 4.0),
            ("APT", 2.2, 3.0e7, 0.0050, 5.0),
            ("SUI", 1.8, 1.2e8, 0.0052, 4.0),
        ],
    ),
    _assets(
        "layer-2",
        [
            ("ARB", 0.25, 5.0e7, 0.0050, 4.0),
            ("OP", 0.40, 4.0e7, 0.0050, 4.0),
            ("MATIC", 0.22, 3.0e7, 0.0048, 4.0),
            ("IMX", 0.35, 1.5e7, 0.0052, 6.0),
            ("STRK", 0.12, 2.0e7, 0.0055, 6.0),
        ],
    ),
    _assets(
        "defi",
        [
            ("UNI", 6.5, 6.0e7, 0.0045, 3.0),
            ("AAVE", 180.0, 8.0e7, 0.0045, 3.0),
            ("MKR", 1_500.0, 1.5e7, 0.0045, 5.0),
            ("COMP", 30.0, 1.0e7, 0.0048, 6.0),
            ("CRV", 0.40, 3.0e7, 0.0055, 5.0),
            ("SNX", 0.60, 8.0e6, 0.0055, 8.0),
            ("LDO", 0.80, 2.0e7, 0.0050, 5.0),
            ("SUSHI", 0.50, 8.0e6, 0.0058, 8.0),
        ],
    ),
    _assets(
        "meme",
        [
            ("DOGE", 0.15, 4.0e8, 0.0050, 2.0),
            ("SHIB", 0.00002, 8.0e7, 0.0055, 3.0),
            ("PEPE", 0.000006, 1.5e8, 0.0065, 4.0),
            ("FLOKI", 0.00007, 3.0e7, 0.0070, 6.0),
            ("BONK", 0.000012, 5.0e7, 0.0075, 6.0),
            ("WIF", 0.45, 8.0e7, 0.0080, 5.0),
        ],
    ),
    _assets(
        "exchange",
        [
            ("BNB", 850.0, 2.5e8, 0.0028, 2.0),
            ("OKB", 110.0, 1.0e7, 0.0035, 8.0),
            ("CRO", 0.10, 1.5e7, 0.0040, 6.0),
            ("KCS", 10.0, 3.0e6, 0.0035, 10.0),
        ],
    ),
    _assets(
        "oracle",
        [
            ("LINK", 13.0, 1.2e8, 0.0042, 3.0),
            ("PYTH", 0.08, 2.0e7, 0.0055, 6.0),
            ("BAND", 0.50, 3.0e6, 0.0055, 12.0),
        ],
    ),
    _assets(
        "payments",
        [
            ("XRP", 2.0, 4.0e8, 0.0038, 2.0),
            ("XLM", 0.25, 5.0e7, 0.0040, 3.0),
            ("LTC", 80.0, 6.0e7, 0.0035, 3.0),
            ("BCH", 500.0, 5.0e7, 0.0035, 4.0),
        ],
    ),
    _assets(
        "ai",
        [
            ("FET", 0.25, 6.0e7, 0.0055, 4.0),
            ("RNDR", 2.0, 3.0e7, 0.0055, 5.0),
            ("TAO", 280.0, 6.0e7, 0.0060, 5.0),
            ("AGIX", 0.25, 1.0e7, 0.0060, 8.0),
        ],
    ),
]


def _round_robin(groups: list[list[Asset]]) -> tuple[Asset, ...]:
    """BTC, ARB, UNI, DOGE, BNB, LINK, XRP, FET, ETH, OP, ...: any prefix spans several groups."""
    longest = max(len(g) for g in groups)
    return tuple(g[i] for i in range(longest) for g in groups if i < len(g))


ASSETS: tuple[Asset, ...] = _round_robin(_BY_GROUP)
GROUP_NAMES: tuple[str, ...] = tuple(g[0].group for g in _BY_GROUP)
SIM_GROUPS: dict[str, str] = {a.base: a.group for a in ASSETS}


def _shares(asset: Asset) -> tuple[float, float]:
    """(market, group) shares of the asset's return variance; the rest is idiosyncratic."""
    if asset.base == "BTC":
        return 0.85, 0.03
    if asset.group == "meme":
        return 0.20, 0.25
    return 0.25, 0.15


class PricePaths:
    """Candles of every asset on the grid SIM_EPOCH + k * timeframe, generated lazily."""

    def __init__(self, seed: int, timeframe_s: int) -> None:
        self.seed = seed
        self.tf = float(timeframe_s)
        scale = math.sqrt(timeframe_s / 300.0)
        # jumps add JUMP_P * JUMP_SD**2 of variance: scale down so `Asset.vol` stays the total
        sd = np.array([a.vol for a in ASSETS]) * scale / math.sqrt(1.0 + JUMP_P * JUMP_SD**2)
        shares = np.array([_shares(a) for a in ASSETS])
        idio_var = sd**2 * (1.0 - shares[:, 0] - shares[:, 1])
        self.sd = sd
        self.beta = np.sqrt(shares[:, 0]) * sd / (MARKET_SD * scale)
        self.market_sd = MARKET_SD * scale
        self.group_load = np.sqrt(shares[:, 1]) * sd
        self.group_index = np.array([GROUP_NAMES.index(a.group) for a in ASSETS])
        self.walk_sd = np.sqrt(idio_var * (1.0 - REVERTING_SHARE))
        self.eps_sd = np.sqrt(idio_var * REVERTING_SHARE)
        self.candle_volume = np.array([a.volume for a in ASSETS]) * timeframe_s / 86_400.0
        # Only the newest chunks are kept (each is ~7 MB); any other is regenerated on demand
        # from the small state saved at its start, so memory stays bounded however long we run.
        self._chunks: OrderedDict[int, np.ndarray] = OrderedDict()  # (5, n_assets, CHUNK) OHLCV
        self._starts: list[tuple[np.ndarray, np.ndarray]] = [
            (np.log([a.price for a in ASSETS]), np.zeros(len(ASSETS)))
        ]  # (log close, deviation) entering each chunk
        self._lock = threading.Lock()

    # -- time <-> candle index -------------------------------------------------------------

    def index_at(self, t: float) -> int:
        """Index of the candle in progress at time t (negative before SIM_EPOCH)."""
        return math.floor((t - SIM_EPOCH) / self.tf)

    def open_time(self, k: int) -> float:
        return SIM_EPOCH + k * self.tf

    # -- reading ---------------------------------------------------------------------------

    def block(self, start_k: int, end_k: int) -> np.ndarray:
        """Candles [start_k, end_k) of every asset: shape (5, n_assets, end_k - start_k)."""
        start_k = max(0, start_k)
        if end_k <= start_k:
            return np.empty((5, len(ASSETS), 0))
        first, last = max(start_k, 0) // CHUNK, (end_k - 1) // CHUNK
        parts = []
        for c in range(first, last + 1):
            lo = max(start_k - c * CHUNK, 0)
            hi = min(end_k - c * CHUNK, CHUNK)
            parts.append(self._chunk(c)[:, :, lo:hi])
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=2)

    def candles(self, asset: int, start_k: int, end_k: int) -> np.ndarray:
        """Rows [ts_ms, open, high, low, close, volume] for candles [start_k, end_k)."""
        data = self.block(start_k, end_k)[:, asset, :]
        first = max(0, start_k)
        ts = (SIM_EPOCH + np.arange(first, first + data.shape[1]) * self.tf) * 1000.0
        return np.column_stack([ts, data.T])

    def prices_at(self, t: float) -> np.ndarray:
        """Mid price of every asset at time t: open -> close of the candle in progress, linear."""
        k = max(self.index_at(t), 0)
        frac = min(max((t - self.open_time(k)) / self.tf, 0.0), 1.0)
        cur = self.block(k, k + 1)[:, :, 0]
        prices: np.ndarray = cur[OPEN] + frac * (cur[CLOSE] - cur[OPEN])
        return prices

    def price_range(self, asset: int, t0: float, t1: float) -> tuple[float, float]:
        """(min, max) of the piecewise-linear open -> close path over [t0, t1]."""
        k0, k1 = max(self.index_at(t0), 0), max(self.index_at(t1), 0)
        points = [self.prices_at(t0)[asset], self.prices_at(t1)[asset]]
        if k1 > k0:
            closes = self.block(k0, k1)[CLOSE, asset, :]
            points += [float(closes.min()), float(closes.max())]
        return float(min(points)), float(max(points))

    # -- generation ------------------------------------------------------------------------

    def _chunk(self, chunk: int) -> np.ndarray:
        with self._lock:
            block = self._chunks.get(chunk)
            if block is not None:
                self._chunks.move_to_end(chunk)
                return block
            while len(self._starts) <= chunk:  # walk forward, keeping only the boundary states
                c = len(self._starts) - 1
                block, end_state = self._generate(c, self._starts[c])
                self._starts.append(end_state)
                self._keep(c, block)
            block, _ = self._generate(chunk, self._starts[chunk])
            self._keep(chunk, block)
            return block

    def _keep(self, chunk: int, block: np.ndarray) -> None:
        self._chunks[chunk] = block
        self._chunks.move_to_end(chunk)
        while len(self._chunks) > KEPT_CHUNKS:
            self._chunks.popitem(last=False)

    def _generate(
        self, chunk: int, start: tuple[np.ndarray, np.ndarray]
    ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """Candles of `chunk` from the state entering it; also the state leaving it."""
        start_log_close, start_deviation = start
        rng = np.random.default_rng([self.seed, chunk])
        n_assets = len(ASSETS)
        market = rng.standard_normal(CHUNK) * self.market_sd
        groups = rng.standard_normal((len(GROUP_NAMES), CHUNK))
        walk = rng.standard_normal((n_assets, CHUNK)) * self.walk_sd[:, None]
        eps = rng.standard_normal((n_assets, CHUNK)) * self.eps_sd[:, None]
        wicks = np.abs(rng.standard_normal((2, n_assets, CHUNK))) * WICK * self.sd[:, None]
        volume_noise = rng.standard_normal((n_assets, CHUNK)) * VOLUME_SD
        jumps = (rng.random((n_assets, CHUNK)) < JUMP_P) * rng.standard_normal((n_assets, CHUNK))
        eps = eps + jumps * JUMP_SD * self.sd[:, None]

        phi = 1.0 - KAPPA
        zi = (phi * start_deviation)[:, None]
        wait_for_preload("scipy.signal")
        from scipy.signal import lfilter

        deviation, _ = lfilter([1.0], [1.0, -phi], eps, axis=1, zi=zi)
        reverting = np.diff(deviation, axis=1, prepend=start_deviation[:, None])
        returns = (
            self.beta[:, None] * market[None, :]
            + self.group_load[:, None] * groups[self.group_index]
            + walk
            + reverting
        )
        log_close = start_log_close[:, None] + np.cumsum(returns, axis=1)
        log_open = np.concatenate([start_log_close[:, None], log_close[:, :-1]], axis=1)
        end_state = (log_close[:, -1].copy(), deviation[:, -1].copy())
        activity = ACTIVITY[0] + ACTIVITY[1] * np.abs(returns) / self.sd[:, None]
        activity += ACTIVITY[2] * np.abs(eps) / self.sd[:, None]
        return self._assemble(log_open, log_close, activity, wicks, volume_noise), end_state

    def _assemble(
        self,
        log_open: np.ndarray,
        log_close: np.ndarray,
        activity: np.ndarray,
        wicks: np.ndarray,
        volume_noise: np.ndarray,
    ) -> np.ndarray:
        out = np.empty((5, len(ASSETS), CHUNK))
        out[OPEN] = np.exp(log_open)
        out[CLOSE] = np.exp(log_close)
        out[HIGH] = np.exp(np.maximum(log_open, log_close) + wicks[0])
        out[LOW] = np.exp(np.minimum(log_open, log_close) - wicks[1])
        noise = np.exp(volume_noise - 0.5 * VOLUME_SD**2)
        quote = self.candle_volume[:, None] * activity * noise
        out[VOLUME] = quote / (0.5 * (out[OPEN] + out[CLOSE]))
        return out
