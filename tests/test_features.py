from __future__ import annotations

import numpy as np
import pytest

from tui_bot.engine.features import (
    FEATURE_NAMES,
    bootstrap_dataset,
    feature_keys,
    feature_matrix,
    history_features,
    round_features,
)
from tui_bot.engine.indicators import compute_indicators


def candles(n: int, length: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    close = rng.uniform(1, 1000, (n, 1)) * np.exp(np.cumsum(rng.normal(0, 0.01, (n, length)), 1))
    return close, rng.lognormal(5, 1, (n, length))


def test_feature_matrix_shape_and_scaling() -> None:
    close, volume = candles(7, 120)
    ind = compute_indicators(close, volume)
    features = feature_matrix(ind, close)
    assert features.shape == (7, len(FEATURE_NAMES))
    assert features.dtype == np.float64
    np.testing.assert_allclose(features[:, 0], ind.rsi[:, -1] / 100)
    np.testing.assert_allclose(features[:, 1], ind.macd_hist[:, -1] / close[:, -1] * 100)
    np.testing.assert_allclose(features[:, 2], ind.momentum[:, -1] * 100)
    np.testing.assert_allclose(features[:, 3], ind.volume_ratio[:, -1])
    assert ((features[:, 0] >= 0) & (features[:, 0] <= 1)).all()


def test_macd_feature_is_scale_free() -> None:
    close, volume = candles(3, 100)
    small = feature_matrix(compute_indicators(close, volume), close)
    big = feature_matrix(compute_indicators(close * 1000, volume), close * 1000)
    np.testing.assert_allclose(small, big, rtol=1e-9)


def test_history_features_match_feature_matrix_at_every_t() -> None:
    close, volume = candles(4, 80)
    ind = compute_indicators(close, volume)
    history = history_features(ind, close)
    assert history.shape == (4, 80, 4)
    for t in (0, 33, 50, 79):
        np.testing.assert_array_equal(history[:, t], feature_matrix(ind, close, t))


def test_round_features_and_keys() -> None:
    features = np.array([[0.123456, -1.98765, 2.5, 0.3333333]])
    rounded = round_features(features, 3)
    np.testing.assert_array_equal(rounded, [[0.123, -1.988, 2.5, 0.333]])
    keys = feature_keys(rounded)
    assert keys == [(0.123, -1.988, 2.5, 0.333)]
    assert all(type(v) is float for v in keys[0])
    assert hash(keys[0]) == hash(feature_keys(round_features(features, 3))[0])


def test_bootstrap_dataset_shapes_and_types() -> None:
    close, volume = candles(5, 200)
    X, outcome, time = bootstrap_dataset(close, volume, horizon=12, warmup=40)
    rows_per_symbol = 200 - 12 - 40
    assert X.shape == (5 * rows_per_symbol, 4)
    assert X.dtype == np.float32 and outcome.dtype == np.float32 and time.dtype == np.float64
    assert outcome.shape == time.shape == (len(X),)
    assert np.isfinite(X).all() and np.isfinite(outcome).all()
    assert time.min() == 40 and time.max() == 200 - 12 - 1
    assert (np.diff(time) >= 0).all()  # time-ordered: later rows are more recent


def test_bootstrap_outcome_is_the_forward_return_for_a_hand_checked_row() -> None:
    close, volume = candles(3, 100, seed=4)
    X, outcome, time = bootstrap_dataset(close, volume, horizon=5, warmup=40)
    # rows are time-major: row 3 * k + s is symbol s at t = 40 + k
    row = 3 * 10 + 2
    assert time[row] == 50.0
    assert outcome[row] == pytest.approx(close[2, 55] / close[2, 50] - 1, rel=1e-6)
    expected = feature_matrix(compute_indicators(close, volume), close, 50)[2]
    np.testing.assert_allclose(X[row], expected, rtol=1e-6)


def test_bootstrap_drops_rows_with_nan() -> None:
    close, volume = candles(2, 100)
    close[1, 70] = np.nan  # poisons that symbol's EMAs from t=70 and its outcomes around it
    X, outcome, time = bootstrap_dataset(close, volume, horizon=5, warmup=20)
    assert np.isfinite(X).all() and np.isfinite(outcome).all()
    assert len(X) < 2 * (100 - 5 - 20)
    assert 20.0 not in time  # MACD is NaN until t=33, even though warmup is 20


def test_bootstrap_too_short_history_is_empty() -> None:
    close, volume = candles(3, 45)
    X, outcome, time = bootstrap_dataset(close, volume, horizon=12, warmup=40)
    assert X.shape == (0, 4) and outcome.shape == (0,) and time.shape == (0,)
