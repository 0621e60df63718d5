"""Honest model figures: purged walk-forward folds, the AUC and its interval, the verdict."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from tui_bot.engine.validation import (
    EDGE,
    MIN_ROWS,
    NO_EDGE,
    NOT_ENOUGH_DATA,
    _weighted_aucs,
    auc,
    auc_interval,
    block_length,
    constant_log_loss,
    purged_folds,
    verdict,
    walk_forward,
)


def test_auc_matches_scikit_learn_with_ties() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 500)
    p = np.round(rng.random(500) + 0.3 * y, 1)  # many ties
    assert auc(y, p) == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert np.isnan(auc(np.ones(5), np.arange(5)))


def test_folds_train_only_on_rows_older_than_the_test_block_by_the_gap() -> None:
    times = np.repeat(np.arange(1000.0), 3)  # three pairs a time
    folds = purged_folds(times, 4, gap_seconds=10)
    assert len(folds) == 4
    tested = np.concatenate([test for _, test in folds])
    assert len(np.unique(tested)) == len(tested)  # each row tested once at most
    for train, test in folds:
        assert times[train].max() < times[test].min() - 10
    assert times[folds[-1][1]].max() == 999  # the newest row is tested


def test_the_interval_holds_the_auc_and_blocks_see_through_overlapping_rows() -> None:
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 300)
    p = rng.random(300) + 0.2 * y
    # each row 10 times in a row, as overlapping labels repeat one future: no more evidence
    y10, p10 = np.repeat(y, 10), np.repeat(p, 10)
    low, high = auc_interval(y10, p10, block=1)
    assert low < auc(y10, p10) < high
    block_low, block_high = auc_interval(y10, p10, block=10)
    assert block_high - block_low > 2 * (high - low)  # about sqrt(10) wider
    assert block_length(np.repeat(np.arange(10.0), 5), horizon=7) == 35


@pytest.mark.parametrize("decimals", [1, 3, 8])
def test_every_resample_s_auc_is_the_auc_of_the_rows_it_drew(decimals: int) -> None:
    rng = np.random.default_rng(decimals)
    y = rng.integers(0, 2, 400).astype(bool)
    p = np.round(rng.random(400) + 0.2 * y, decimals)  # few decimals: many ties
    drawn = rng.integers(0, 400, size=(30, 400))
    expected = [auc(y[rows], p[rows]) for rows in drawn]
    assert _weighted_aucs(y, p, drawn) == pytest.approx(expected, abs=1e-12)


def test_walk_forward_finds_a_real_signal_and_none_in_noise() -> None:
    rng = np.random.default_rng(3)
    n = 4000
    times = np.arange(n, dtype=np.float64) * 300
    X = rng.normal(size=(n, 2))
    signal = (X[:, 0] + rng.normal(0, 1, n) > 0).astype(int)
    noise = rng.integers(0, 2, n)

    def fit_predict(Xf: np.ndarray, yf: np.ndarray, Xt: np.ndarray) -> np.ndarray:
        return LogisticRegression().fit(Xf, yf).predict_proba(Xt)[:, 1]

    for y, expected in ((signal, EDGE), (noise, NO_EDGE)):
        net = np.where(y == 1, 0.01, -0.01)
        v = walk_forward(X, y, net, times, fit_predict, 1800, 6, threshold=0.55, folds=4)
        assert v.folds == 4 and v.rows > MIN_ROWS
        assert v.auc_low <= v.auc <= v.auc_high
        assert v.verdict == expected
        assert v.constant_log_loss == pytest.approx(constant_log_loss(y[-v.rows :], y.mean()), 0.05)
    assert v.auc_low < 0.5 < v.auc_high  # the noise's interval holds 0.5


def test_verdict_needs_rows_an_interval_above_half_and_a_positive_expectancy() -> None:
    assert verdict(MIN_ROWS - 1, 0.6, 1.0, 10) == NOT_ENOUGH_DATA
    assert verdict(MIN_ROWS, float("nan"), 1.0, 10) == NOT_ENOUGH_DATA
    assert verdict(MIN_ROWS, 0.51, 0.1, 10) == EDGE
    assert verdict(MIN_ROWS, 0.49, 0.1, 10) == NO_EDGE
    assert verdict(MIN_ROWS, 0.6, -0.1, 10) == NO_EDGE
    assert verdict(MIN_ROWS, 0.6, float("nan"), 0) == NO_EDGE
