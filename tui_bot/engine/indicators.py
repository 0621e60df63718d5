"""Technical indicators for many symbols at once, vectorized along both axes.

Every input and output array is shaped (n_symbols, T). The conventions are TA-Lib's:

- EMA(p): the first value is the simple mean of the first p inputs, then alpha = 2 / (p + 1).
- MACD(12, 26, 9): both EMAs start at index 25 (the fast one seeded with the mean of the 12
  closes ending there, as TA-Lib does), the signal is EMA9 of MACD, and all three lines are
  reported from index 33, where the signal exists.
- RSI(14): Wilder's smoothing (alpha = 1/14) seeded with the mean of the first 14 gains/losses.
  Deviation: a price that has never moved gives RSI 50 (neutral) where TA-Lib gives 0.

Speed: the six outputs share one (6, n_symbols, T) block and the work is written into it with
`out=` wherever numpy allows, so a call allocates few large temporaries (fresh memory costs a
page fault per 4 KiB, which on small VMs is as slow as the arithmetic). The recursions run in
`scipy.signal.lfilter`: RSI's two Wilder averages in one call, MACD's two EMAs as one
second-order filter (their difference is all MACD needs), then the signal EMA. scipy is imported
on first use (tui_bot.preload), so importing the engine does not cost its ~1 s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tui_bot.preload import wait_for_preload

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
    block = np.empty((6, *close.shape))
    rsi, macd, signal, hist, momentum, ratio = block
    with np.errstate(divide="ignore", invalid="ignore"):  # zero divisors are handled below
        _rsi(close, rsi, scratch=block[4:])  # momentum and ratio are written after it
        _macd(close, macd, signal, hist)
        _momentum(close, momentum)
        _volume_ratio(volume, ratio)
    return Indicators(rsi, macd, signal, hist, momentum, ratio)


_filters: tuple[Callable[..., Any], Callable[..., Any]] | None = None


def _scipy_filters() -> tuple[Callable[..., Any], Callable[..., Any]]:
    """(scipy.signal.lfilter, scipy.ndimage.uniform_filter1d), imported on first use."""
    global _filters
    if _filters is None:
        wait_for_preload("scipy.ndimage", "scipy.signal")
        from scipy.ndimage import uniform_filter1d
        from scipy.signal import lfilter

        _filters = (lfilter, uniform_filter1d)
    return _filters


def _as_matrix(values: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{name} must be shaped (n_symbols, T), got {array.shape}")
    return array


def _smooth(x: np.ndarray, alpha: float, seed: np.ndarray) -> np.ndarray:
    """out[..., 0] = seed, then out[t] = out[t-1] + alpha * (x[t] - out[t-1]), on the last axis.

    x[..., 0] is not used: the filter state is set so that the first output is the seed.
    """
    state = (seed - alpha * x[..., 0])[..., np.newaxis]
    lfilter, _ = _scipy_filters()
    out: np.ndarray = lfilter([alpha], [1.0, alpha - 1.0], x, axis=-1, zi=state)[0]
    return out


def _rsi(close: np.ndarray, out: np.ndarray, scratch: np.ndarray) -> None:
    """Wilder RSI into `out`; `scratch` is a (2, n, T) buffer it may overwrite."""
    length = close.shape[1]
    period = RSI_PERIOD
    out[:, : min(period, length)] = np.nan
    if length <= period:
        return
    moves = scratch[:, :, : length - 1]  # gains and losses of the changes at t = 1 .. T-1
    gain, loss = moves
    np.subtract(close[:, 1:], close[:, :-1], out=loss)
    np.maximum(loss, 0.0, out=gain)
    np.subtract(gain, loss, out=loss)  # max(change, 0) - change = max(-change, 0)
    seed = moves[:, :, :period].mean(axis=2)  # Wilder's seed: the mean of the first 14
    avg_gain, avg_loss = _smooth(moves[:, :, period - 1 :], 1.0 / period, seed)
    total = avg_gain + avg_loss
    rsi = out[:, period:]
    np.divide(avg_gain, total, out=rsi)
    rsi *= 100.0
    flat = total == 0.0
    if flat.any():
        rsi[flat] = 50.0


def _macd(close: np.ndarray, macd: np.ndarray, signal: np.ndarray, hist: np.ndarray) -> None:
    """MACD(12, 26, 9) lines into `macd`, `signal` and `hist`, NaN before index 33."""
    length = close.shape[1]
    start = MACD_SLOW - 1  # both EMAs start here
    first = start + MACD_SIGNAL - 1  # the first index where all three lines exist
    for line in (macd, signal, hist):
        line[:, : min(first, length)] = np.nan
    if length <= first:
        return
    # EMA_fast - EMA_slow is one second-order filter: b / a below are the difference of the
    # two first-order transfer functions, and the state makes its first output seed_fast -
    # seed_slow at `start` and carries both EMAs on from there exactly.
    a_fast, a_slow = 2.0 / (MACD_FAST + 1), 2.0 / (MACD_SLOW + 1)
    p_fast, p_slow = 1.0 - a_fast, 1.0 - a_slow
    seed_fast = close[:, start - MACD_FAST + 1 : start + 1].mean(axis=1)
    seed_slow = close[:, : start + 1].mean(axis=1)
    b = (a_fast - a_slow, a_slow * p_fast - a_fast * p_slow)
    a = (1.0, -(p_fast + p_slow), p_fast * p_slow)
    x = close[:, start:]
    state = np.stack(
        [
            seed_fast - seed_slow - b[0] * x[:, 0],
            p_fast * seed_slow - p_slow * seed_fast - b[1] * x[:, 0],
        ],
        axis=1,
    )
    lfilter, _ = _scipy_filters()
    line, _ = lfilter(b, a, x, axis=-1, zi=state)
    k = MACD_SIGNAL - 1
    signal[:, first:] = _smooth(line[:, k:], 2.0 / (MACD_SIGNAL + 1), line[:, : k + 1].mean(axis=1))
    macd[:, first:] = line[:, k:]
    np.subtract(macd[:, first:], signal[:, first:], out=hist[:, first:])


def _momentum(close: np.ndarray, out: np.ndarray) -> None:
    period = MOMENTUM_PERIOD
    out[:, :period] = np.nan
    before = close[:, :-period]
    now = out[:, period:]
    np.divide(close[:, period:], before, out=now)
    now -= 1.0
    zero = before == 0.0
    if zero.any():
        now[zero] = np.nan


def _volume_ratio(volume: np.ndarray, out: np.ndarray) -> None:
    """volume / rolling mean of the 20 volumes ending at t; 1.0 when that mean is zero."""
    period = VOLUME_PERIOD
    if volume.shape[1] < period:
        out.fill(np.nan)
        return
    _, uniform_filter1d = _scipy_filters()
    # origin shifts the centred window of uniform_filter1d to the trailing one [t - 19, t]
    uniform_filter1d(volume, period, axis=1, output=out, origin=period // 2 - 1)
    empty = out <= 0.0  # a NaN mean stays NaN
    np.divide(volume, out, out=out)
    if empty.any():
        out[empty] = 1.0
    out[:, : period - 1] = np.nan
