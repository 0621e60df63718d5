"""Model features: one matrix for all symbols, scaled to be comparable across prices."""

from __future__ import annotations

import numpy as np

from tui_bot.engine.indicators import Indicators, compute_indicators

FEATURE_NAMES: tuple[str, ...] = ("rsi", "macd", "momentum", "volume_ratio")


def _scaled(
    rsi: np.ndarray,
    macd_hist: np.ndarray,
    momentum: np.ndarray,
    volume_ratio: np.ndarray,
    close: np.ndarray,
) -> np.ndarray:
    """Stack the scaled features on a new last axis: rsi/100, hist % of price, momentum %, ratio."""
    return np.stack(
        [rsi / 100.0, macd_hist / close * 100.0, momentum * 100.0, volume_ratio], axis=-1
    )


def feature_matrix(ind: Indicators, close: np.ndarray, t: int = -1) -> np.ndarray:
    """Features of every symbol at time index `t`, shaped (n_symbols, 4), float64."""
    return _scaled(
        ind.rsi[:, t], ind.macd_hist[:, t], ind.momentum[:, t], ind.volume_ratio[:, t], close[:, t]
    )


def history_features(ind: Indicators, close: np.ndarray) -> np.ndarray:
    """Features of every symbol at every time index, shaped (n_symbols, T, 4)."""
    return _scaled(ind.rsi, ind.macd_hist, ind.momentum, ind.volume_ratio, close)


def round_features(features: np.ndarray, precision: int) -> np.ndarray:
    """The whole matrix rounded to `precision` decimals in one call."""
    return np.round(features, precision)


def feature_keys(rounded: np.ndarray) -> list[tuple[float, ...]]:
    """One hashable tuple per row, for use as prediction-cache keys."""
    return list(map(tuple, rounded.tolist()))


def bootstrap_dataset(
    close: np.ndarray,
    volume: np.ndarray,
    horizon: int = 12,
    warmup: int = 40,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training rows from candle history shaped (n_symbols, T).

    Returns X (m, 4) float32 features at each t with warmup <= t < T - horizon, the forward
    return close[t + horizon] / close[t] - 1 as float32, and t as float64. Rows are ordered by
    time (then symbol), so later rows are more recent; rows with NaN are dropped. Labels come
    from `model.labels(outcome, ...)`.
    """
    if horizon < 1 or warmup < 0:
        raise ValueError(f"horizon must be >= 1 and warmup >= 0, got {horizon} and {warmup}")
    close = np.asarray(close, dtype=np.float64)
    stop = close.shape[1] - horizon
    if stop <= warmup:
        empty = np.empty((0, len(FEATURE_NAMES)), dtype=np.float32)
        return empty, np.empty(0, dtype=np.float32), np.empty(0, dtype=np.float64)
    features = history_features(compute_indicators(close, volume), close)[:, warmup:stop]
    outcome = close[:, warmup + horizon :] / close[:, warmup:stop] - 1.0
    time = np.broadcast_to(np.arange(warmup, stop, dtype=np.float64), outcome.shape)
    X = features.transpose(1, 0, 2).reshape(-1, len(FEATURE_NAMES))
    outcome = outcome.T.reshape(-1)
    time = time.T.reshape(-1)
    keep = np.isfinite(X).all(axis=1) & np.isfinite(outcome)
    return X[keep].astype(np.float32), outcome[keep].astype(np.float32), time[keep]
