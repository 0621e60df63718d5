"""Vectorized indicators against a plain-Python reference written the way TA-Lib's C code is."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tui_bot.engine.indicators import compute_indicators

NAN = float("nan")


def ref_ema(values: list[float], period: int, start: int) -> list[float]:
    """TA-Lib INT_EMA: first output at `start` = mean of the `period` values ending there."""
    k = 2.0 / (period + 1)
    out = [NAN] * len(values)
    prev = sum(values[start - period + 1 : start + 1]) / period
    out[start] = prev
    for t in range(start + 1, len(values)):
        prev = (values[t] - prev) * k + prev
        out[t] = prev
    return out


def ref_macd(close: list[float]) -> tuple[list[float], list[float], list[float]]:
    """TA-Lib MACD(12, 26, 9): both EMAs start at index 25; output from index 33."""
    fast = ref_ema(close, 12, 25)
    slow = ref_ema(close, 26, 25)
    macd = [f - s for f, s in zip(fast, slow, strict=True)]
    signal = ref_ema(macd, 9, 33)
    macd = [NAN] * 33 + macd[33:]
    hist = [m - s for m, s in zip(macd, signal, strict=True)]
    return macd, signal, hist


def ref_rsi(close: list[float], period: int = 14) -> list[float]:
    """TA-Lib RSI: Wilder averages seeded with the mean of the first `period` changes."""
    out = [NAN] * len(close)
    gain = loss = 0.0
    for t in range(1, period + 1):
        change = close[t] - close[t - 1]
        gain += max(change, 0.0)
        loss += max(-change, 0.0)
    gain /= period
    loss /= period
    out[period] = 100.0 * gain / (gain + loss)
    for t in range(period + 1, len(close)):
        change = close[t] - close[t - 1]
        gain = (gain * (period - 1) + max(change, 0.0)) / period
        loss = (loss * (period - 1) + max(-change, 0.0)) / period
        out[t] = 100.0 * gain / (gain + loss)
    return out


def random_walks(n: int, length: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    start = rng.uniform(0.01, 50_000, size=(n, 1))
    close = start * np.exp(np.cumsum(rng.normal(0, 0.02, size=(n, length)), axis=1))
    volume = rng.lognormal(10, 1, size=(n, length))
    return close, volume


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_talib_style_reference_after_warmup(seed: int) -> None:
    close, volume = random_walks(5, 300, seed)
    ind = compute_indicators(close, volume)
    for i, row in enumerate(close.tolist()):
        macd, signal, hist = ref_macd(row)
        np.testing.assert_allclose(ind.rsi[i, 100:], ref_rsi(row)[100:], rtol=0, atol=1e-6)
        for got, want in ((ind.macd, macd), (ind.macd_signal, signal), (ind.macd_hist, hist)):
            np.testing.assert_allclose(got[i, 100:], want[100:], rtol=0, atol=1e-6)


def test_warmup_is_nan_exactly_where_talib_has_no_output() -> None:
    close, volume = random_walks(3, 120, 7)
    ind = compute_indicators(close, volume)
    first_valid = {
        "rsi": 14,
        "macd": 33,
        "macd_signal": 33,
        "macd_hist": 33,
        "momentum": 10,
        "volume_ratio": 19,
    }
    for name, first in first_valid.items():
        values = getattr(ind, name)
        assert values.shape == (3, 120)
        assert values.dtype == np.float64
        assert np.isnan(values[:, :first]).all(), name
        assert np.isfinite(values[:, first:]).all(), name


def test_rsi_matches_reference_from_first_value() -> None:
    close, volume = random_walks(2, 60, 3)
    ind = compute_indicators(close, volume)
    for i, row in enumerate(close.tolist()):
        np.testing.assert_allclose(ind.rsi[i, 14:], ref_rsi(row)[14:], rtol=1e-10)


def test_rsi_stays_within_bounds() -> None:
    close, volume = random_walks(20, 400, 11)
    rsi = compute_indicators(close, volume).rsi[:, 14:]
    assert rsi.min() >= 0.0
    assert rsi.max() <= 100.0


def test_rsi_is_100_when_price_only_rises_and_0_when_it_only_falls() -> None:
    rising = np.arange(1.0, 41.0)
    close = np.vstack([rising, rising[::-1]])
    rsi = compute_indicators(close, np.ones_like(close)).rsi
    np.testing.assert_allclose(rsi[0, 14:], 100.0)
    np.testing.assert_allclose(rsi[1, 14:], 0.0)


def test_constant_price_and_zero_volume_give_finite_neutral_values() -> None:
    close = np.full((2, 80), 123.0)
    volume = np.vstack([np.zeros(80), np.full(80, 5.0)])
    with np.errstate(all="raise"):
        ind = compute_indicators(close, volume)
    for values in (ind.rsi, ind.macd, ind.macd_signal, ind.macd_hist, ind.momentum):
        assert not np.isinf(values).any()
    np.testing.assert_array_equal(ind.rsi[:, 14:], 50.0)
    np.testing.assert_allclose(ind.macd_hist[:, 33:], 0.0, atol=1e-12)
    np.testing.assert_array_equal(ind.momentum[:, 10:], 0.0)
    np.testing.assert_array_equal(ind.volume_ratio[:, 19:], 1.0)


def test_momentum_and_volume_ratio_on_a_hand_example() -> None:
    close = np.array([[10.0] * 10 + [11.0, 12.0, 9.0]])
    volume = np.array([[1.0] * 19 + [21.0, 2.0]])
    ind = compute_indicators(np.pad(close, ((0, 0), (0, 8)), mode="edge"), volume)
    assert ind.momentum[0, 10] == pytest.approx(0.1)
    assert ind.momentum[0, 11] == pytest.approx(0.2)
    assert ind.momentum[0, 12] == pytest.approx(-0.1)
    # window at t=19: nineteen 1s and 21 -> mean 2; at t=20: eighteen 1s, 21 and 2 -> mean 2.05
    assert ind.volume_ratio[0, 19] == pytest.approx(21.0 / 2.0, rel=1e-12)
    assert ind.volume_ratio[0, 20] == pytest.approx(2.0 / 2.05, rel=1e-12)


def test_short_history_is_all_nan_not_an_error() -> None:
    close, volume = random_walks(4, 12, 5)
    ind = compute_indicators(close, volume)
    assert np.isnan(ind.rsi).all()
    assert np.isnan(ind.macd_hist).all()
    assert np.isnan(ind.volume_ratio).all()
    assert np.isfinite(ind.momentum[:, 10:]).all()


def test_symbols_are_independent() -> None:
    close, volume = random_walks(6, 150, 9)
    together = compute_indicators(close, volume)
    alone = compute_indicators(close[3:4], volume[3:4])
    np.testing.assert_array_equal(together.rsi[3:4], alone.rsi)
    np.testing.assert_array_equal(together.macd_hist[3:4], alone.macd_hist)


def test_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="same shape"):
        compute_indicators(np.ones((2, 50)), np.ones((3, 50)))
    with pytest.raises(ValueError, match="n_symbols, T"):
        compute_indicators(np.ones(50), np.ones(50))


def test_reference_sanity_hand_computed_ema() -> None:
    values = [1.0, 2.0, 3.0, 4.0]
    ema = ref_ema(values, 3, 2)
    assert math.isnan(ema[1])
    assert ema[2] == 2.0
    assert ema[3] == pytest.approx(2.0 + 0.5 * (4.0 - 2.0))
