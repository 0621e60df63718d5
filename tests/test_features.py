from __future__ import annotations

import numpy as np
import pytest

from tui_bot.engine.features import (
    FEATURE_NAMES,
    feature_keys,
    feature_matrix,
    history_features,
    round_features,
)
from tui_bot.engine.indicators import compute_indicators
from tui_bot.engine.outcome import ExitRules, trade_outcomes
from tui_bot.engine.training import history_samples


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
    np.testing.assert_allclose(features[:, 4], (close[:, -1] / close[:, -2] - 1) * 100)
    np.testing.assert_allclose(features[:, 5], (close[:, -1] / close[:, -4] - 1) * 100)
    assert FEATURE_NAMES[4:] == ("return_1", "return_3")
    assert ((features[:, 0] >= 0) & (features[:, 0] <= 1)).all()
    early = feature_matrix(ind, close, 2)  # 2 candles before: no 3-candle return yet
    assert np.isfinite(early[:, 4]).all() and np.isnan(early[:, 5]).all()


def test_macd_feature_is_scale_free() -> None:
    close, volume = candles(3, 100)
    small = feature_matrix(compute_indicators(close, volume), close)
    big = feature_matrix(compute_indicators(close * 1000, volume), close * 1000)
    np.testing.assert_allclose(small, big, rtol=1e-9)


def test_history_features_match_feature_matrix_at_every_t() -> None:
    close, volume = candles(4, 80)
    ind = compute_indicators(close, volume)
    history = history_features(ind, close)
    assert history.shape == (4, 80, len(FEATURE_NAMES))
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


RULES = ExitRules(2.0, 3.0, 1800, 300, fee_pct=0.1, slippage_bps=5.0)  # the shipped defaults
TF_MS = 300_000


def ohlcv(n: int, length: int, seed: int = 0) -> np.ndarray:
    """(n, length, 6) candles around the random closes: open = the previous close."""
    close, volume = candles(n, length, seed)
    opens = np.concatenate([close[:, :1], close[:, :-1]], axis=1)
    high, low = np.maximum(opens, close) * 1.002, np.minimum(opens, close) * 0.998
    times = np.broadcast_to(np.arange(length, dtype=np.float64) * TF_MS, close.shape)
    return np.stack([times, opens, high, low, close, volume], axis=-1)


def test_history_samples_shapes_types_and_time_order() -> None:
    data = ohlcv(5, 200)
    X, outcome, time = history_samples(data, RULES, warmup=40)
    rows_per_pair = 200 - RULES.horizon - 40
    assert X.shape == (5 * rows_per_pair, len(FEATURE_NAMES))
    assert X.dtype == np.float32 and outcome.dtype == np.float32 and time.dtype == np.float64
    assert np.isfinite(X).all() and np.isfinite(outcome).all()
    # time = the signal candle's close, in seconds
    assert time.min() == (40 * TF_MS + TF_MS) / 1000
    assert (np.diff(time) >= 0).all()  # time-ordered: later rows are more recent


def test_history_samples_hold_the_features_and_the_tradeable_outcome() -> None:
    data = ohlcv(3, 100, seed=4)
    X, outcome, time = history_samples(data, RULES, warmup=40)
    row = 3 * 10 + 2  # time-major: row 3 * k + s is pair s at candle 40 + k
    assert time[row] == (50 * TF_MS + TF_MS) / 1000
    expected = trade_outcomes(data[2], RULES, np.array([50])).net_return[0]
    assert outcome[row] == pytest.approx(expected, rel=1e-6)
    close, volume = data[:, :, 4], data[:, :, 5]
    features = feature_matrix(compute_indicators(close, volume), close, 50)[2]
    np.testing.assert_allclose(X[row], features, rtol=1e-6)


def test_history_samples_drop_rows_with_nan_and_unknown_outcomes() -> None:
    data = ohlcv(2, 100)
    data[1, 70, 4] = np.nan  # poisons that pair's EMAs from candle 70
    X, outcome, _ = history_samples(data, RULES, warmup=20)
    assert np.isfinite(X).all() and np.isfinite(outcome).all()
    assert len(X) < 2 * (100 - RULES.horizon - 20)
    assert history_samples(ohlcv(3, 45), RULES, warmup=40)[0].shape == (0, len(FEATURE_NAMES))


def test_history_samples_cut_at_t_change_nothing_before_t_minus_the_horizon() -> None:
    data = ohlcv(3, 300, seed=9)
    full = history_samples(data, RULES)
    cut = history_samples(data[:, :220], RULES)
    before = full[2] <= (220 - RULES.horizon) * TF_MS / 1000  # signals whose horizon ends by 220
    assert before.sum() == len(cut[2])
    for a, b in zip(full, cut, strict=True):
        np.testing.assert_array_equal(a[before], b)
