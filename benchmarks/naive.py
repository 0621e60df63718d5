"""Naive baselines: how the same work looks without vectorization, batching, caching or parallelism.

They live here, never in the engine. Each computes the same result as the engine code it is
compared with, and the suite checks that it does (see checks in the row modules).
"""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

import numpy as np

from tui_bot.engine.features import FEATURE_NAMES, RETURN_CANDLES
from tui_bot.engine.indicators import (
    MACD_FAST,
    MACD_SIGNAL,
    MACD_SLOW,
    MOMENTUM_PERIOD,
    RSI_PERIOD,
    VOLUME_PERIOD,
    Indicators,
)
from tui_bot.engine.model import TrainedModel
from tui_bot.engine.risk import GROUP_RULES, SymbolGroups
from tui_bot.engine.scanner import MarketScanner, ScanResult, closed_candles
from tui_bot.engine.signals import MIN_CANDLES, SignalGenerator, Signals
from tui_bot.exchange.errors import ExchangeError

NAN = float("nan")
INDICATOR_FIELDS = tuple(f.name for f in fields(Indicators))

# -- indicators: a straightforward Python loop per symbol and per candle ---------------------


def _ema(values: list[float], period: int, start: int) -> list[float]:
    """EMA whose first value, at `start`, is the mean of the `period` values ending there."""
    out = [NAN] * len(values)
    if start >= len(values):
        return out
    alpha = 2.0 / (period + 1)
    prev = sum(values[start - period + 1 : start + 1]) / period
    out[start] = prev
    for t in range(start + 1, len(values)):
        prev = prev + alpha * (values[t] - prev)
        out[t] = prev
    return out


def _rsi(close: list[float]) -> list[float]:
    out = [NAN] * len(close)
    if len(close) <= RSI_PERIOD:
        return out
    gain = loss = 0.0
    for t in range(1, RSI_PERIOD + 1):
        change = close[t] - close[t - 1]
        gain += max(change, 0.0)
        loss += max(-change, 0.0)
    gain /= RSI_PERIOD
    loss /= RSI_PERIOD
    alpha = 1.0 / RSI_PERIOD
    for t in range(RSI_PERIOD, len(close)):
        if t > RSI_PERIOD:
            change = close[t] - close[t - 1]
            gain = gain + alpha * (max(change, 0.0) - gain)
            loss = loss + alpha * (max(-change, 0.0) - loss)
        total = gain + loss
        out[t] = 100.0 * gain / total if total > 0 else 50.0
    return out


def indicators_one(close: list[float], volume: list[float]) -> dict[str, list[float]]:
    """All indicators of one symbol, as lists, with the engine's conventions."""
    start = MACD_SLOW - 1
    fast, slow = _ema(close, MACD_FAST, start), _ema(close, MACD_SLOW, start)
    line = [f - s for f, s in zip(fast, slow, strict=True)]
    signal_start = start + MACD_SIGNAL - 1
    signal = _ema(line, MACD_SIGNAL, signal_start)
    macd = [NAN] * min(signal_start, len(line)) + line[signal_start:]
    momentum = [NAN] * len(close)
    for t in range(MOMENTUM_PERIOD, len(close)):
        before = close[t - MOMENTUM_PERIOD]
        momentum[t] = close[t] / before - 1.0 if before != 0 else NAN
    ratio = [NAN] * len(volume)
    for t in range(VOLUME_PERIOD - 1, len(volume)):
        mean = sum(volume[t - VOLUME_PERIOD + 1 : t + 1]) / VOLUME_PERIOD
        ratio[t] = volume[t] / mean if mean > 0 else 1.0
    return {
        "rsi": _rsi(close),
        "macd": macd,
        "macd_signal": signal,
        "macd_hist": [m - s for m, s in zip(macd, signal, strict=True)],
        "momentum": momentum,
        "volume_ratio": ratio,
    }


def indicators_loop(close: np.ndarray, volume: np.ndarray) -> Indicators:
    """`indicators_one` for every symbol; the result stacked like the engine's, for checking."""
    per_symbol = [
        indicators_one(c, v) for c, v in zip(close.tolist(), volume.tolist(), strict=True)
    ]
    return Indicators(*(np.array([one[f] for one in per_symbol]) for f in INDICATOR_FIELDS))


def indicators_talib(close: np.ndarray, volume: np.ndarray, talib: Any) -> Indicators:
    """TA-Lib called once per symbol and indicator (the fast C reference)."""
    out: dict[str, list[np.ndarray]] = {k: [] for k in INDICATOR_FIELDS}
    for c, v in zip(close, volume, strict=True):
        out["rsi"].append(talib.RSI(c, RSI_PERIOD))
        macd, signal, hist = talib.MACD(c, MACD_FAST, MACD_SLOW, MACD_SIGNAL)
        out["macd"].append(macd)
        out["macd_signal"].append(signal)
        out["macd_hist"].append(hist)
        out["momentum"].append(talib.ROCR(c, MOMENTUM_PERIOD) - 1.0)
        out["volume_ratio"].append(v / talib.SMA(v, VOLUME_PERIOD))
    return Indicators(**{k: np.array(v) for k, v in out.items()})


# -- features: a loop over symbols with Python floats -----------------------------------------


def feature_rows(ind: Indicators, close: np.ndarray, precision: int) -> np.ndarray:
    """The rounded feature matrix, one symbol at a time, with round() on every value."""
    rows = []
    for i in range(len(close)):
        rsi = float(ind.rsi[i, -1])
        hist = float(ind.macd_hist[i, -1])
        momentum = float(ind.momentum[i, -1])
        ratio = float(ind.volume_ratio[i, -1])
        price = float(close[i, -1])
        returns = tuple((price / float(close[i, -1 - k]) - 1.0) * 100.0 for k in RETURN_CANDLES)
        values = (rsi / 100.0, hist / price * 100.0, momentum * 100.0, ratio, *returns)
        rows.append(tuple(round(v, precision) for v in values))
    return np.array(rows, dtype=np.float64).reshape(-1, len(FEATURE_NAMES))


# -- predictions: one row at a time --------------------------------------------------------------


def predict_one_by_one(model: TrainedModel, rows: np.ndarray) -> np.ndarray:
    """scikit-learn called once per row, the way a per-symbol loop does it (its log-odds with the
    model's prior correction, as TrainedModel.predict_proba)."""
    from scipy.special import expit

    estimator = model.estimator
    raw = [float(estimator.decision_function(row[np.newaxis])[0]) for row in rows]
    return np.asarray(expit(np.asarray(raw) + model.logit_shift), dtype=np.float64)


# -- symbol -> group: no cache, a scan through the rule table ------------------------------------


def group_of(symbol: str) -> str:
    base = symbol.split("/", 1)[0].upper()
    for group, bases in GROUP_RULES.items():
        for candidate in bases:
            if candidate == base:
                return group
    return "other"


class UncachedGroups(SymbolGroups):
    """The engine's SymbolGroups interface without the cache."""

    def group(self, symbol: str) -> str:
        return group_of(symbol)


# -- market scan: one request at a time, never cached -----------------------------------------


class SequentialScanner(MarketScanner):
    """The engine's ranking, then every symbol's candles fetched one request at a time, in
    full, every scan: no scan cache, no parallel fetch, no incremental fetch, and its own
    all-symbols ticker request (not the one update_positions made)."""

    async def scan(self, force: bool = False, tickers: Any = None) -> ScanResult:
        self.cache.misses += 1
        tickers, top = await self.top_markets()
        timeframe, limit = self.options.timeframe, self.options.candles
        candles: dict[str, np.ndarray] = {}
        failed: dict[str, str] = {}
        self.max_in_flight = 1
        for symbol in top:
            try:
                rows = await self.exchange.fetch_ohlcv(symbol, timeframe, limit=limit)
            except ExchangeError as e:
                failed[symbol] = str(e)
                continue
            candles[symbol] = closed_candles(rows, timeframe, self.clock.now())
        ranked = tuple(s for s in top if s in candles)
        return ScanResult(self.clock.now(), tickers, ranked, candles, failed)


# -- signals: per symbol indicators, features and a one-row predict, no caches ------------------


class LoopSignals(SignalGenerator):
    """Signal generation the straightforward way: everything per symbol, nothing cached."""

    def generate(self, scan: ScanResult, model: TrainedModel | None) -> Signals:
        symbols = tuple(s for s in scan.ranked if len(scan.candles[s]) >= MIN_CANDLES)
        length = min((len(scan.candles[s]) for s in symbols), default=0)
        rows, probabilities, prices = [], [], []
        for symbol in symbols:
            candles = scan.candles[symbol][-length:]
            close, volume = candles[:, 4].tolist(), candles[:, 5].tolist()
            ind = indicators_one(close, volume)
            values = (
                ind["rsi"][-1] / 100.0,
                ind["macd_hist"][-1] / close[-1] * 100.0,
                ind["momentum"][-1] * 100.0,
                ind["volume_ratio"][-1],
                *((close[-1] / close[-1 - k] - 1.0) * 100.0 for k in RETURN_CANDLES),
            )
            row = tuple(round(v, self.precision) for v in values)
            rows.append(row)
            if model is None:
                probabilities.append(NAN)
            else:
                x = np.array([row])
                probabilities.append(float(predict_one_by_one(model, x)[0]))
            prices.append(close[-1])
        features = np.array(rows, dtype=np.float64).reshape(-1, len(FEATURE_NAMES))
        return Signals(symbols, features, np.array(probabilities), np.array(prices))


# -- samples: a list of dicts, saved whole ------------------------------------------------------


def samples_as_dicts(X: np.ndarray, outcome: np.ndarray, time: np.ndarray) -> list[dict[str, Any]]:
    """Training samples the way a first version keeps them: one dict per sample."""
    return [
        {**dict(zip(FEATURE_NAMES, x, strict=True)), "outcome": o, "time": t}
        for x, o, t in zip(X.tolist(), outcome.tolist(), time.tolist(), strict=True)
    ]


def save_all_as_json(samples: list[dict[str, Any]]) -> bytes:
    """Every sample, as JSON (what `json.dump(samples, f)` writes)."""
    return json.dumps(samples).encode()


def dicts_to_arrays(samples: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X = np.array([[s[name] for name in FEATURE_NAMES] for s in samples], dtype=np.float32)
    outcome = np.array([s["outcome"] for s in samples], dtype=np.float32)
    time = np.array([s["time"] for s in samples], dtype=np.float64)
    return X, outcome, time


def isclose_rows(a: np.ndarray, b: np.ndarray, tolerance: float) -> bool:
    """Same shape, NaN in the same places, finite values within `tolerance`."""
    if a.shape != b.shape:
        return False
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    if not np.array_equal(nan_a, nan_b):
        return False
    diff = np.abs(a[~nan_a] - b[~nan_b])
    return bool(diff.size == 0 or diff.max() <= tolerance)
