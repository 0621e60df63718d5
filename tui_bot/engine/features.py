"""Model features: one matrix for all symbols, scaled to be comparable across prices."""

from __future__ import annotations

import numpy as np

from tui_bot.engine.indicators import Indicators

# The first four are the reference design's; the returns over 1 and 3 candles were kept because
# each raised the held-out AUC on the tradeable label by more than its noise, in purged
# walk-forward folds on real candles (python -m benchmarks.model: +0.012 and +0.009; returns
# over 12 candles, the close's place in the candle's range and the return against the other
# pairs did not).
FEATURE_NAMES: tuple[str, ...] = (
    "rsi",
    "macd",
    "momentum",
    "volume_ratio",
    "return_1",
    "return_3",
)
RETURN_CANDLES = (1, 3)


def _scaled(
    rsi: np.ndarray,
    macd_hist: np.ndarray,
    momentum: np.ndarray,
    volume_ratio: np.ndarray,
    close: np.ndarray,
    returns: list[np.ndarray],
) -> np.ndarray:
    """Stack the scaled features on a new last axis: rsi/100, hist % of price, momentum %, ratio,
    then the returns in %."""
    return np.stack(
        [
            rsi / 100.0,
            macd_hist / close * 100.0,
            momentum * 100.0,
            volume_ratio,
            *(r * 100.0 for r in returns),
        ],
        axis=-1,
    )


def feature_matrix(ind: Indicators, close: np.ndarray, t: int = -1) -> np.ndarray:
    """Features of every symbol at time index `t`, shaped (n_symbols, len(FEATURE_NAMES)),
    float64; the returns are NaN where `t` has too few candles before it."""
    t = t % close.shape[1]
    returns = [
        close[:, t] / close[:, t - k] - 1.0 if t >= k else np.full(len(close), np.nan)
        for k in RETURN_CANDLES
    ]
    return _scaled(
        ind.rsi[:, t],
        ind.macd_hist[:, t],
        ind.momentum[:, t],
        ind.volume_ratio[:, t],
        close[:, t],
        returns,
    )


def history_features(ind: Indicators, close: np.ndarray) -> np.ndarray:
    """Features of every symbol at every time index, shaped (n_symbols, T, len(FEATURE_NAMES))."""
    returns = [_past_return(close, k) for k in RETURN_CANDLES]
    return _scaled(ind.rsi, ind.macd_hist, ind.momentum, ind.volume_ratio, close, returns)


def _past_return(close: np.ndarray, candles: int) -> np.ndarray:
    """close[t] / close[t - candles] - 1 along the last axis; NaN for the first `candles`."""
    out = np.full(close.shape, np.nan)
    out[..., candles:] = close[..., candles:] / close[..., :-candles] - 1.0
    return out


def round_features(features: np.ndarray, precision: int) -> np.ndarray:
    """The whole matrix rounded to `precision` decimals in one call."""
    return np.round(features, precision)


def feature_keys(rounded: np.ndarray) -> list[tuple[float, ...]]:
    """One hashable tuple per row, for use as prediction-cache keys."""
    return list(map(tuple, rounded.tolist()))
