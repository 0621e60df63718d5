"""Technical indicators for many symbols at once, vectorized along both axes.

Every input and output array is shaped (n_symbols, T). The conventions are TA-Lib's:

- EMA(p): the first value is the simple mean of the first p inputs, then alpha = 2 / (p + 1).
- MACD(12, 26, 9): both EMAs start at index 25 (the fast one seeded with the mean of the 12
  closes ending there, as TA-Lib does), the signal is EMA9 of MACD, and all three lines are
  reported from index 33, where the signal exists.
- RSI(14): Wilder's smoothing (alpha = 1/14) seeded with the mean of the first 14 gains/losses.
  Deviation: a price that has never moved gives RSI 50 (neutral) where TA-Lib gives 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

RSI_PERIOD = 14
MACD_FAST = 12
MACD_SLOW = 26
MACD_SIGNAL = 9
MOMENTUM_PERIOD = 10
VOLUME_PERIOD = 20


@dataclass(frozen=True)
class Indicators:
    """Indicator arrays, each shaped (n_symbols, T), float64, NaN during warm-up."""

    rsi: np.ndarray  # Wilder RSI(14), 0..100
    macd: np.ndarray  # EMA12 - EMA26 of close
    macd_signal: np.ndarray  # EMA9 of macd
    macd_hist: np.ndarray  # macd - macd_signal
    momentum: np.ndarray  # close / close[t-10] - 1
    volume_ratio: np.ndarray  # volume / mean(volume over the last 20 candles incl. current)


def compute_indicators(close: np.ndarray, volume: np.ndarray) -> Indicators:
    """All indicators for every symbol; `close` and `volume` are shaped (n_symbols, T)."""
    close = _as_matrix(close, "close")
    volume = _as_matrix(volume, "volume")
    if close.shape != volume.shape:
        raise ValueError(f"close {close.shape} and volume {volume.shape} must have the same shape")
    macd, signal = _macd(close)
    return Indicators(
        rsi=_rsi(close),
        macd=macd,
        macd_signal=signal,
        macd_hist=macd - signal,
        momentum=_momentum(close),
        volume_ratio=_volume_ratio(volume),
    )


def _as_matrix(values: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{name} must be shaped (n_symbols, T), got {array.shape}")
    return array


def _smooth(x: np.ndarray, alpha: float, start: int, seed: np.ndarray) -> np.ndarray:
    """out[:, start] = seed, then out[t] = out[t-1] + alpha * (x[t] - out[t-1]); NaN before."""
    out = np.full(x.shape, np.nan)
    out[:, start] = seed
    if start + 1 < x.shape[1]:
        state = ((1.0 - alpha) * seed)[:, np.newaxis]
        out[:, start + 1 :], _ = lfilter(
            [alpha], [1.0, alpha - 1.0], x[:, start + 1 :], axis=1, zi=state
        )
    return out


def _ema(x: np.ndarray, period: int, start: int) -> np.ndarray:
    """EMA whose first value, at `start`, is the mean of the `period` values ending there."""
    if start >= x.shape[1]:
        return np.full(x.shape, np.nan)
    seed = x[:, start - period + 1 : start + 1].mean(axis=1)
    return _smooth(x, 2.0 / (period + 1), start, seed)


def _macd(close: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    start = MACD_SLOW - 1
    macd = _ema(close, MACD_FAST, start) - _ema(close, MACD_SLOW, start)
    signal_start = start + MACD_SIGNAL - 1
    signal = _ema(macd, MACD_SIGNAL, signal_start)
    macd[:, :signal_start] = np.nan
    return macd, signal


def _wilder(x: np.ndarray) -> np.ndarray:
    """Wilder's average of x[:, 1:]: seeded at index 14 with the mean of x[:, 1:15]."""
    if x.shape[1] <= RSI_PERIOD:
        return np.full(x.shape, np.nan)
    seed = x[:, 1 : RSI_PERIOD + 1].mean(axis=1)
    return _smooth(x, 1.0 / RSI_PERIOD, RSI_PERIOD, seed)


def _rsi(close: np.ndarray) -> np.ndarray:
    change = np.diff(close, axis=1, prepend=np.nan)
    avg_gain = _wilder(np.maximum(change, 0.0))
    avg_loss = _wilder(np.maximum(-change, 0.0))
    total = avg_gain + avg_loss
    rsi = np.divide(100.0 * avg_gain, total, out=np.full(total.shape, 50.0), where=total > 0)
    rsi[np.isnan(total)] = np.nan
    return rsi


def _momentum(close: np.ndarray) -> np.ndarray:
    out = np.full(close.shape, np.nan)
    before = close[:, :-MOMENTUM_PERIOD]
    now = close[:, MOMENTUM_PERIOD:]
    np.divide(now, before, out=out[:, MOMENTUM_PERIOD:], where=before != 0)
    return out - 1.0


def _volume_ratio(volume: np.ndarray) -> np.ndarray:
    """volume / rolling mean of the 20 volumes ending at t; 1.0 when that mean is zero."""
    n, length = volume.shape
    out = np.full(volume.shape, np.nan)
    if length < VOLUME_PERIOD:
        return out
    cumulative = np.concatenate([np.zeros((n, 1)), np.cumsum(volume, axis=1)], axis=1)
    mean = (cumulative[:, VOLUME_PERIOD:] - cumulative[:, :-VOLUME_PERIOD]) / VOLUME_PERIOD
    current = volume[:, VOLUME_PERIOD - 1 :]
    ratio = np.divide(current, mean, out=np.ones(mean.shape), where=mean > 0)
    ratio[np.isnan(mean)] = np.nan
    out[:, VOLUME_PERIOD - 1 :] = ratio
    return out
