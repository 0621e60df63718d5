"""Signal generation: cached indicators -> one feature matrix -> cached, batched predictions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np

from tui_bot.engine.caches import BoundedCache, TimedCache
from tui_bot.engine.features import FEATURE_NAMES, feature_keys, feature_matrix, round_features
from tui_bot.engine.indicators import compute_indicators
from tui_bot.engine.model import TrainedModel
from tui_bot.engine.monitor import Monitor
from tui_bot.engine.scanner import ScanResult

MIN_CANDLES = 60
IndicatorCache = BoundedCache[tuple[str, float], np.ndarray]  # (symbol, candle ms) -> features
PredictionCache = TimedCache[tuple[float, ...], float]  # rounded features -> probability


@dataclass(frozen=True)
class Signals:
    symbols: tuple[str, ...]
    features: np.ndarray  # (n, len(FEATURE_NAMES)), rounded: exactly what the model saw
    probabilities: np.ndarray  # (n,), NaN when no model is loaded
    prices: np.ndarray  # (n,) last close


class SignalGenerator:
    def __init__(
        self,
        indicator_cache: IndicatorCache,
        prediction_cache: PredictionCache,
        monitor: Monitor,
        precision: int,
    ) -> None:
        self.indicator_cache = indicator_cache
        self.prediction_cache = prediction_cache
        self.monitor = monitor
        self.precision = precision

    def generate(self, scan: ScanResult, model: TrainedModel | None) -> Signals:
        symbols = tuple(s for s in scan.ranked if len(scan.candles[s]) >= MIN_CANDLES)
        if not symbols:
            empty = np.empty((0, len(FEATURE_NAMES)))
            return Signals((), empty, np.empty(0), np.empty(0))
        with self.monitor.time("signals.features"):
            features = self._features(symbols, scan)
            rounded = round_features(features, self.precision)
        prices = np.array([scan.candles[s][-1, 4] for s in symbols])
        with self.monitor.time("signals.predict"):
            probabilities = self.predict(rounded, model)
        return Signals(symbols, rounded, probabilities, prices)

    def _features(self, symbols: tuple[str, ...], scan: ScanResult) -> np.ndarray:
        keys = [(s, float(scan.candles[s][-1, 0])) for s in symbols]
        rows, missing = self.indicator_cache.lookup_many(keys)
        if missing:
            fresh = self._compute([symbols[i] for i in missing], scan)
            for i, row in zip(missing, fresh, strict=True):
                rows[i] = row
                self.indicator_cache.put(keys[i], row)
        return np.vstack(cast(list[np.ndarray], rows))  # every miss was filled above

    def _compute(self, symbols: list[str], scan: ScanResult) -> np.ndarray:
        """Indicators for every missed symbol at once, on their common most recent window."""
        with self.monitor.time("signals.indicators"):
            length = min(len(scan.candles[s]) for s in symbols)
            stacked = np.stack([scan.candles[s][-length:] for s in symbols])
            close, volume = stacked[:, :, 4], stacked[:, :, 5]
            return feature_matrix(compute_indicators(close, volume), close)

    def predict(self, rounded: np.ndarray, model: TrainedModel | None) -> np.ndarray:
        """Probabilities for rounded feature rows: cache hits, then every miss in one batch."""
        if model is None:
            return np.full(len(rounded), np.nan)
        keys = feature_keys(rounded)
        values, missing = self.prediction_cache.lookup_many(keys)
        if missing:
            predicted = model.predict_proba(rounded[missing])
            for i, p in zip(missing, predicted.tolist(), strict=True):
                values[i] = p
                self.prediction_cache.put(keys[i], p)
        return np.array(values, dtype=np.float64)
