"""Model features: one matrix for all symbols, scaled to be comparable across prices."""

from __future__ import annotations

import numpy as np

from tui_bot.engine.indicators import Indicators

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
