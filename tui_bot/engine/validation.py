"""Honest figures for a model: purged walk-forward folds, AUC with a block-bootstrap interval,
log loss next to a constant's, the entry rule's expectancy after fees, and a verdict.

Rows are time-ordered training samples whose labels look `horizon` candles ahead, so
neighbouring rows share most of their future: a test fold starts at least that long after the
last row its model trained on (the purge), and the interval resamples blocks of consecutive
rows instead of single rows (single rows would pretend to more independent evidence).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tui_bot.engine.words import Verdict

__all__ = [
    "EDGE",
    "MIN_ROWS",
    "NO_EDGE",
    "NOT_ENOUGH_DATA",
    "Validation",
    "Verdict",
    "auc",
    "auc_interval",
    "block_length",
    "constant_log_loss",
    "log_loss",
    "purged_folds",
    "verdict",
    "walk_forward",
]

EDGE, NO_EDGE, NOT_ENOUGH_DATA = Verdict.EDGE, Verdict.NO_EDGE, Verdict.NOT_ENOUGH_DATA
MIN_ROWS = 200  # scored rows below which no verdict is given
MIN_BOTH = 20  # of each class
BOOTSTRAP_RESAMPLES = 200
RESAMPLES_AT_ONCE = 25  # the bootstrap's resamples scored together (memory: ~n x 25 x 48 bytes)
LEVEL = 0.95
FitPredict = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]  # (X_fit, y_fit, X) -> p


@dataclass(frozen=True)
class Validation:
    folds: int
    rows: int  # held-out rows scored, all folds
    auc: float
    auc_low: float
    auc_high: float
    log_loss: float
    constant_log_loss: float  # each fold's training win rate as the prediction
    trades: int  # held-out rows the entry rule takes (probability >= threshold)
    expectancy_pct: float  # their mean net return after fees, %
    base_expectancy_pct: float  # every held-out row's mean: entering at random, same exits

    @property
    def verdict(self) -> Verdict:
        return verdict(self.rows, self.auc_low, self.expectancy_pct, self.trades)


def verdict(rows: int, auc_low: float, expectancy_pct: float, trades: int) -> Verdict:
    """EDGE only when the interval's low end is above 0.5 and the trades the rule takes net
    more than nothing; NOT ENOUGH DATA below MIN_ROWS scored rows; NO EDGE otherwise."""
    if rows < MIN_ROWS or not math.isfinite(auc_low):
        return NOT_ENOUGH_DATA
    if auc_low > 0.5 and trades > 0 and expectancy_pct > 0:
        return EDGE
    return NO_EDGE


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve (ties count half); NaN without both classes."""
    y = np.asarray(y).astype(bool)
    positives = int(y.sum())
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = _ranks(np.asarray(p, dtype=np.float64))
    return float((ranks[y].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def _ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties given their mean rank."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    first = np.concatenate([[True], sorted_values[1:] != sorted_values[:-1]])
    group = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    ends = np.append(starts[1:], len(values))
    mean_rank = (starts + ends + 1) / 2.0
    ranks = np.empty(len(values))
    ranks[order] = mean_rank[group]
    return ranks


def auc_interval(
    y: np.ndarray, p: np.ndarray, block: int, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0
) -> tuple[float, float]:
    """The LEVEL interval of the AUC from a moving-block bootstrap over time-ordered rows
    (blocks of `block` consecutive rows); NaNs when there are too few rows of either class."""
    y, p = np.asarray(y).astype(bool), np.asarray(p, dtype=np.float64)
    n = len(y)
    if n == 0 or min(int(y.sum()), n - int(y.sum())) < MIN_BOTH:
        return float("nan"), float("nan")
    block = max(1, min(int(block), n))
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, n - block + 1, size=(resamples, math.ceil(n / block)))
    # RESAMPLES_AT_ONCE at a time: all 200 at once held ~110 MB more at the peak of a fit
    values = np.concatenate(
        [
            _weighted_aucs(y, p, _rows_drawn(chunk, block, n))
            for chunk in np.array_split(starts, max(1, math.ceil(resamples / RESAMPLES_AT_ONCE)))
        ]
    )
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return float("nan"), float("nan")
    tail = (1 - LEVEL) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def _rows_drawn(starts: np.ndarray, block: int, n: int) -> np.ndarray:
    """The rows each resample drew: its blocks' consecutive rows, the first n of them."""
    return (starts[:, :, None] + np.arange(block)).reshape(len(starts), -1)[:, :n]


def _weighted_aucs(y: np.ndarray, p: np.ndarray, index: np.ndarray) -> np.ndarray:
    """The AUC of every resample (a row of `index`) at once: each resample is the original rows
    with how often it drew them as weights, so one sort of `p` serves them all. Ties count
    half, as in `auc`."""
    resamples, n = index.shape
    values, group = np.unique(p, return_inverse=True)  # tie groups in order of p
    groups = len(values)
    # one count per (resample, tie group, class): how many of the group's negatives (0) and
    # positives (1) the resample drew
    code = group.astype(np.int64) * 2 + y
    flat = (np.arange(resamples)[:, None] * (2 * groups) + code[index]).ravel()
    counts = np.bincount(flat, minlength=resamples * groups * 2).reshape(resamples, groups, 2)
    neg, pos = counts[:, :, 0].astype(np.float64), counts[:, :, 1].astype(np.float64)
    below = np.cumsum(neg, axis=1) - neg
    total = pos.sum(axis=1) * neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        aucs: np.ndarray = (pos * (below + 0.5 * neg)).sum(axis=1) / total
    return aucs


def block_length(times: np.ndarray, horizon: int) -> int:
    """Rows that share a label's future: the horizon in distinct times x rows per time."""
    times = np.asarray(times)
    if len(times) == 0:
        return 1
    per_time = len(times) / max(1, len(np.unique(times)))
    return max(1, round(horizon * per_time))


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-15, 1 - 1e-15)
    y = np.asarray(y, dtype=np.float64)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))) if len(y) else float("nan")


def constant_log_loss(y: np.ndarray, rate: float) -> float:
    """The log loss of predicting `rate` for every row."""
    return log_loss(y, np.full(len(y), rate))


def purged_folds(
    times: np.ndarray, folds: int, gap_seconds: float, first_train: float = 0.4
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Walk-forward (train, test) index arrays over time-ordered rows: the span after the first
    `first_train` of the time range is cut into `folds` equal test blocks; each fold trains on
    every row older than its test block by more than `gap_seconds`. Folds without training or
    test rows are left out."""
    times = np.asarray(times, dtype=np.float64)
    if len(times) == 0 or folds < 1:
        return []
    start, end = float(times.min()), float(times.max())
    edges = np.linspace(start + (end - start) * first_train, end, folds + 1)
    edges[-1] = np.inf  # the last block takes the newest row too
    result = []
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        test = np.flatnonzero((times >= low) & (times < high))
        train = np.flatnonzero(times < low - gap_seconds)
        if len(test) and len(train):
            result.append((train, test))
    return result


def walk_forward(
    X: np.ndarray,
    y: np.ndarray,
    net_return: np.ndarray,
    times: np.ndarray,
    fit_predict: FitPredict,
    horizon_seconds: float,
    horizon_candles: int,
    threshold: float,
    folds: int = 4,
) -> Validation:
    """Score `fit_predict` out of sample on purged walk-forward folds (a gap of the label's
    horizon); `net_return` is each row's tradeable outcome (a fraction, after fees)."""
    X, y = np.asarray(X), np.asarray(y)
    scored_y, scored_p, constant, scored_net, scored_t = [], [], [], [], []
    splits = purged_folds(times, folds, horizon_seconds)
    for train, test in splits:
        if np.unique(y[train]).size < 2:
            continue
        scored_p.append(fit_predict(X[train], y[train], X[test]))
        scored_y.append(y[test])
        constant.append(np.full(len(test), float(np.mean(y[train]))))
        scored_net.append(np.asarray(net_return)[test])
        scored_t.append(np.asarray(times)[test])
    if not scored_y:
        nan = float("nan")
        return Validation(0, 0, nan, nan, nan, nan, nan, 0, nan, nan)
    yy, pp = np.concatenate(scored_y), np.concatenate(scored_p)
    net, tt = np.concatenate(scored_net), np.concatenate(scored_t)
    low, high = auc_interval(yy, pp, block_length(tt, horizon_candles))
    taken = pp >= threshold
    return Validation(
        folds=len(scored_y),
        rows=len(yy),
        auc=auc(yy, pp),
        auc_low=low,
        auc_high=high,
        log_loss=log_loss(yy, pp),
        constant_log_loss=log_loss(yy, np.concatenate(constant)),
        trades=int(taken.sum()),
        expectancy_pct=float(np.mean(net[taken]) * 100) if taken.any() else float("nan"),
        base_expectancy_pct=float(np.mean(net) * 100),
    )
