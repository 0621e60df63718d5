from __future__ import annotations

import numpy as np

from tui_bot.clock import FakeClock
from tui_bot.engine.caches import BoundedCache, TimedCache
from tui_bot.engine.features import FEATURE_NAMES
from tui_bot.engine.monitor import Monitor
from tui_bot.engine.scanner import ScanResult
from tui_bot.engine.signals import SignalGenerator


class RecordingModel:
    """Predicts the first feature; records every batch it is asked for."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        self.batches.append(len(X))
        return X[:, 0].astype(float)


def scan(n: int, candles: int = 120, seed: int = 0, last_ts: float = 0.0) -> ScanResult:
    rng = np.random.default_rng(seed)
    data = {}
    for i in range(n):
        close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, candles)))
        ts = last_ts + 300_000 * (np.arange(candles) - candles + 1)
        data[f"S{i}/USDT"] = np.column_stack(
            [ts, close, close, close, close, rng.uniform(1, 2, candles)]
        )
    return ScanResult(0.0, {}, tuple(data), data)


def generator(clock: FakeClock) -> SignalGenerator:
    return SignalGenerator(BoundedCache(100), TimedCache(1000, 300, clock.now), Monitor(), 2)


def test_misses_are_predicted_in_one_batch_and_hits_are_not_predicted() -> None:
    clock = FakeClock(0.0)
    gen = generator(clock)
    model = RecordingModel()
    first = gen.generate(scan(10), model)  # type: ignore[arg-type]
    assert model.batches == [10]
    again = gen.generate(scan(10), model)  # type: ignore[arg-type]
    assert model.batches == [10]  # all from the prediction cache
    assert np.array_equal(first.probabilities, again.probabilities)
    assert gen.indicator_cache.hits == 10 and gen.prediction_cache.hits == 10


def test_cached_prediction_equals_an_uncached_one() -> None:
    clock = FakeClock(0.0)
    gen = generator(clock)
    model = RecordingModel()
    cached = gen.generate(scan(5), model)  # type: ignore[arg-type]
    fresh = generator(clock).generate(scan(5), RecordingModel())  # type: ignore[arg-type]
    assert np.array_equal(cached.features, fresh.features)
    assert np.array_equal(cached.probabilities, fresh.probabilities)


def test_features_are_rounded_to_the_key_precision() -> None:
    result = generator(FakeClock(0.0)).generate(scan(4), RecordingModel())  # type: ignore[arg-type]
    assert np.array_equal(result.features, np.round(result.features, 2))
    assert result.features.shape == (4, len(FEATURE_NAMES))


def test_a_new_candle_misses_the_indicator_cache() -> None:
    clock = FakeClock(0.0)
    gen = generator(clock)
    gen.generate(scan(3), RecordingModel())  # type: ignore[arg-type]
    gen.generate(scan(3, last_ts=300_000), RecordingModel())  # type: ignore[arg-type]
    assert gen.indicator_cache.misses == 6


def test_no_model_gives_nan_probabilities_and_short_history_is_skipped() -> None:
    data = scan(3)
    short = dict(data.candles)
    short["S0/USDT"] = short["S0/USDT"][-20:]
    result = generator(FakeClock(0.0)).generate(ScanResult(0.0, {}, data.ranked, short), None)
    assert result.symbols == ("S1/USDT", "S2/USDT")
    assert np.isnan(result.probabilities).all()
