"""The model measured honestly on real candles: the tradeable label, candidate features in purged
walk-forward folds, simple baselines, and the backtest's expectancy against random entries.

    python -m benchmarks.model [--data DIR] [--quick] [--out FILE.json]

Data: the team's shared 20 days (../shared/data/candles) when that folder is there, else the
10-day sample shipped in tui_bot/market; --quick always takes the sample, with fewer folds and
resamples and a shorter backtest (seconds, for the test). Prints markdown tables; --out writes
every number as JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import expit, logit

from benchmarks.report import ROOT
from tui_bot.backtest.run import END_OF_DATA, BacktestRun, run_backtest
from tui_bot.config import ConfigError, Settings, key_spec, load_settings
from tui_bot.engine.features import FEATURE_NAMES, history_features
from tui_bot.engine.indicators import compute_indicators
from tui_bot.engine.model import VALIDATION_FRACTION, labels, prior_shift, train_model
from tui_bot.engine.outcome import EXIT_REASONS, ExitRules, exit_rules, trade_outcomes
from tui_bot.engine.validation import (
    auc,
    auc_interval,
    block_length,
    log_loss,
    purged_folds,
)
from tui_bot.market.files import CandleFile, load_candles, timeframe_ms

SHARED_DATA = ROOT.parent / "shared" / "data" / "candles"
TIMEFRAME_SECONDS = 300
WARMUP = 40  # first candles of each pair without rows, as features.bootstrap_dataset
OLD_HORIZON = 6  # the old label: close[t + 6] / close[t] - 1 > OLD_MIN_RETURN
OLD_MIN_RETURN = 0.002
RETURN_CANDLES = (1, 3, 12)
RELATIVE_CANDLES = 12
CANDIDATES = ("return_1", "return_3", "return_12", "range_position", "relative_return_12")
# The reference design's four, the base every candidate is measured against; the engine's
# FEATURE_NAMES are these plus the candidates this report kept.
REFERENCE_FEATURES = ("rsi", "macd", "momentum", "volume_ratio")
ENGINE_SET = "the engine's (FEATURE_NAMES)"
AUC_GOAL = 0.55
SEED = 0
_HIGH, _LOW, _CLOSE, _VOLUME = 2, 3, 4, 5  # columns of a (..., 6) candle array

Scores = tuple[np.ndarray, np.ndarray | None]  # (probability as traded, calibrated or None)
FitPredict = Callable[[np.ndarray, np.ndarray, np.ndarray], Scores]


@dataclass(frozen=True)
class Sizes:
    folds: int
    resamples: int  # block-bootstrap resamples for intervals
    draws: int  # random-entry draws
    backtest_candles: int | None  # per pair (None: all)
    backtest_warmup: int | None  # backtest.warmup_candles (None: the default)


FULL = Sizes(folds=5, resamples=1000, draws=2000, backtest_candles=None, backtest_warmup=None)
QUICK = Sizes(folds=3, resamples=100, draws=2000, backtest_candles=500, backtest_warmup=300)


# -- candidate features ---------------------------------------------------------------------------


def candidate_features(candles: np.ndarray) -> dict[str, np.ndarray]:
    """The candidate features of `candles` (n_pairs, T, 6) `[open_ms, o, h, l, c, v]` on one time
    grid (a missing candle is NaN), each (n_pairs, T), NaN where not defined. The value at t reads
    only candles up to t."""
    candles = np.asarray(candles, dtype=np.float64)
    high, low, close = candles[..., _HIGH], candles[..., _LOW], candles[..., _CLOSE]
    features = {f"return_{k}": past_return(close, k) * 100.0 for k in RETURN_CANDLES}
    features["range_position"] = range_position(high, low, close)
    features["relative_return_12"] = relative_to_others(past_return(close, RELATIVE_CANDLES) * 100)
    return features


def past_return(close: np.ndarray, candles: int) -> np.ndarray:
    """close[t] / close[t - candles] - 1 along the last axis; NaN for the first `candles`."""
    out = np.full(close.shape, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[..., candles:] = close[..., candles:] / close[..., :-candles] - 1.0
    out[~np.isfinite(out)] = np.nan
    return out


def range_position(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    """Where the close sits in the candle's range: 0 at the low, 1 at the high, 0.5 if flat."""
    span = high - low
    with np.errstate(divide="ignore", invalid="ignore"):
        inside = (close - low) / span
    return np.where(span > 0, inside, np.where(span == 0, 0.5, np.nan))


def relative_to_others(values: np.ndarray) -> np.ndarray:
    """Each pair's value (n_pairs, T) minus the mean of the other pairs' at the same time; NaN
    where the pair's value is missing or no other pair has one."""
    defined = np.isfinite(values)
    count = defined.sum(axis=0)
    total = np.where(defined, values, 0.0).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        others = (total - values) / (count - 1)
    return np.where(defined & (count >= 2), values - others, np.nan)


# -- data -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grid:
    """All pairs on one time grid; missing candles are NaN rows."""

    pairs: tuple[str, ...]
    times_ms: np.ndarray  # (T,) int64 candle open times
    candles: np.ndarray  # (n_pairs, T, 6) float64
    index: tuple[np.ndarray, ...]  # per pair: the grid index of each of its own candles


def aligned(files: Sequence[CandleFile]) -> Grid:
    tf = timeframe_ms(files[0].timeframe)
    start = min(int(f.times[0]) for f in files)
    end = max(int(f.times[-1]) for f in files)
    times = np.arange(start, end + tf, tf, dtype=np.int64)
    candles = np.full((len(files), len(times), 6), np.nan)
    candles[:, :, 0] = times
    index = []
    for p, f in enumerate(files):
        at = (f.times - start) // tf
        candles[p, at, 1:] = f.prices
        index.append(at)
    return Grid(tuple(f.symbol for f in files), times, candles, tuple(index))


def base_features(grid: Grid, files: Sequence[CandleFile]) -> np.ndarray:
    """The reference 4 features (n_pairs, T, 4), each pair's computed over its own candles in
    a row, as the engine sees them (a gap would break the EMAs on the grid)."""
    out = np.full((*grid.candles.shape[:2], len(REFERENCE_FEATURES)), np.nan)
    reference = [FEATURE_NAMES.index(n) for n in REFERENCE_FEATURES]
    for p, f in enumerate(files):
        close, volume = f.candles[None, :, _CLOSE], f.candles[None, :, _VOLUME]
        features = history_features(compute_indicators(close, volume), close)[0]
        out[p, grid.index[p]] = features[:, reference]
    return out


def tradeable_outcomes(
    grid: Grid, files: Sequence[CandleFile], rules: ExitRules
) -> tuple[np.ndarray, np.ndarray]:
    """(n_pairs, T) net return after fees of the trade after each candle (NaN unknown), and its
    exit reason (an index into EXIT_REASONS, -1 unknown)."""
    net = np.full(grid.candles.shape[:2], np.nan)
    reason = np.full(grid.candles.shape[:2], -1, dtype=np.int8)
    for p, f in enumerate(files):
        outcome = trade_outcomes(f.candles, rules)
        net[p, grid.index[p]] = outcome.net_return
        reason[p, grid.index[p]] = outcome.reason
    return net, reason


def old_outcomes(grid: Grid) -> np.ndarray:
    """(n_pairs, T) close[t + 6] / close[t] - 1 on the grid; NaN where either is missing."""
    close = grid.candles[..., _CLOSE]
    forward = np.full(close.shape, np.nan)
    forward[:, :-OLD_HORIZON] = close[:, OLD_HORIZON:] / close[:, :-OLD_HORIZON] - 1.0
    return forward


@dataclass(frozen=True)
class Dataset:
    """Rows pooled over pairs, time-ordered (then pair), as bootstrap_dataset orders them; only
    rows where every feature, the tradeable outcome and the old label are defined."""

    names: tuple[str, ...]
    X: np.ndarray  # (m, len(names)) float32
    net: np.ndarray  # (m,) tradeable net return, fraction
    win: np.ndarray  # (m,) int8 tradeable label
    old: np.ndarray  # (m,) int8 old label
    times: np.ndarray  # (m,) float64 seconds
    pair: np.ndarray  # (m,) int64

    def columns(self, names: Sequence[str]) -> np.ndarray:
        return self.X[:, [self.names.index(n) for n in names]]


def dataset(grid: Grid, files: Sequence[CandleFile], rules: ExitRules) -> Dataset:
    candidates = candidate_features(grid.candles)
    stacked = np.concatenate(
        [base_features(grid, files), np.stack([candidates[n] for n in CANDIDATES], axis=-1)],
        axis=-1,
    )
    net, _ = tradeable_outcomes(grid, files, rules)
    old = old_outcomes(grid)
    times = np.broadcast_to(grid.times_ms / 1000.0, net.shape)
    pair = np.broadcast_to(np.arange(len(files))[:, None], net.shape)

    def rows(a: np.ndarray) -> np.ndarray:  # (n_pairs, T, ...) -> time-major rows after warm-up
        a = np.swapaxes(a[:, WARMUP:], 0, 1)
        return a.reshape(-1, *a.shape[2:])

    X, net_rows, old_rows = rows(stacked), rows(net), rows(old)
    keep = np.isfinite(X).all(axis=1) & np.isfinite(net_rows) & np.isfinite(old_rows)
    return Dataset(
        names=REFERENCE_FEATURES + CANDIDATES,
        X=X[keep].astype(np.float32),
        net=net_rows[keep],
        win=(net_rows[keep] > 0).astype(np.int8),
        old=labels(old_rows[keep], OLD_MIN_RETURN),
        times=rows(times)[keep],
        pair=rows(pair)[keep],
    )


# -- table 1: the label ---------------------------------------------------------------------------


def label_table(grid: Grid, files: Sequence[CandleFile], rules: ExitRules) -> list[dict[str, Any]]:
    net, reason = tradeable_outcomes(grid, files, rules)
    old = old_outcomes(grid)
    rows = [
        _label_row(grid.pairs[p], len(files[p]), net[p], reason[p], old[p])
        for p in range(len(files))
    ]
    candles = sum(len(f) for f in files)
    rows.append(_label_row("all", candles, net.ravel(), reason.ravel(), old.ravel()))
    return rows


def _label_row(
    name: str, candles: int, net: np.ndarray, reason: np.ndarray, old: np.ndarray
) -> dict[str, Any]:
    known = np.isfinite(net)
    row: dict[str, Any] = {
        "pair": name,
        "candles": candles,
        "known": int(known.sum()),
        "win_pct": float(np.mean(net[known] > 0) * 100),
        "mean_net_pct": float(np.mean(net[known]) * 100),
    }
    for code, why in enumerate(EXIT_REASONS):
        row[f"{why}_pct"] = float(np.mean(reason[known] == code) * 100)
    defined = np.isfinite(old)
    row["old_known"] = int(defined.sum())
    row["old_positive_pct"] = float(np.mean(old[defined] > OLD_MIN_RETURN) * 100)
    return row


# -- tables 2 and 3: features and baselines -------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """How rows are scored: folds, the purge, the bootstrap blocks, the entry threshold."""

    folds: int
    horizon_candles: int
    resamples: int
    threshold: float

    @property
    def gap_seconds(self) -> float:
        return self.horizon_candles * TIMEFRAME_SECONDS


@dataclass(frozen=True)
class Heldout:
    """Every held-out prediction of one feature set, in row order, and each row's fold."""

    fold: np.ndarray
    y: np.ndarray
    p: np.ndarray  # as the bot trades on it (prior-corrected)
    p_calibrated: np.ndarray | None  # the same without the prior correction; None for a rule
    constant: np.ndarray  # the fold's training win rate
    net: np.ndarray
    times: np.ndarray


def model_fit(names: tuple[str, ...]) -> FitPredict:
    def fit_predict(X_fit: np.ndarray, y_fit: np.ndarray, X: np.ndarray) -> Scores:
        model = train_model(X_fit, y_fit, validate=False, feature_names=names)
        p = model.predict_proba(X)
        calibrated = expit(logit(np.clip(p, 1e-12, 1 - 1e-12)) - model.logit_shift)
        return p, calibrated

    return fit_predict


def logistic_fit(X_fit: np.ndarray, y_fit: np.ndarray, X: np.ndarray) -> Scores:
    """Logistic regression on standardised features, prior-corrected as the model is."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    fitted = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X_fit, y_fit)
    raw = fitted.decision_function(X)
    return expit(raw + prior_shift(y_fit)), expit(raw)


def low_rsi_rule(X_fit: np.ndarray, y_fit: np.ndarray, X: np.ndarray) -> Scores:
    """Low RSI -> up: score = 1 - rsi/100 (the first base column); no probability."""
    return 1.0 - X[:, 0].astype(np.float64), None


def heldout(data: Dataset, X: np.ndarray, y: np.ndarray, fit: FitPredict, plan: Plan) -> Heldout:
    """`fit` trained and scored on each purged walk-forward fold, the folds' rows joined."""
    folds = purged_folds(data.times, plan.folds, plan.gap_seconds)
    scores = [fit(X[train], y[train], X[test]) for train, test in folds]
    rows = np.concatenate([test for _, test in folds])
    fold = np.concatenate([np.full(len(test), k) for k, (_, test) in enumerate(folds)])
    constant = np.concatenate([np.full(len(test), np.mean(y[train])) for train, test in folds])
    p = np.concatenate([traded for traded, _ in scores])
    no_probability = any(calibrated is None for _, calibrated in scores)
    calibrated = None if no_probability else np.concatenate([c for _, c in scores])
    return Heldout(fold, y[rows], p, calibrated, constant, data.net[rows], data.times[rows])


def summary(h: Heldout, plan: Plan, probability: bool = True) -> dict[str, Any]:
    """The figures of one feature set's held-out predictions."""
    fold_aucs = [auc(h.y[h.fold == k], h.p[h.fold == k]) for k in np.unique(h.fold)]
    block = block_length(h.times, plan.horizon_candles)
    low, high = auc_interval(h.y, h.p, block, plan.resamples, SEED)
    taken = h.p >= plan.threshold if probability else np.zeros(len(h.p), dtype=bool)
    nan = float("nan")
    return {
        "rows": len(h.y),
        "folds": len(fold_aucs),
        "fold_auc": fold_aucs,
        "fold_auc_mean": float(np.mean(fold_aucs)),
        "fold_auc_sd": float(np.std(fold_aucs, ddof=1)) if len(fold_aucs) > 1 else nan,
        "auc": auc(h.y, h.p),
        "auc_low": low,
        "auc_high": high,
        "log_loss": log_loss(h.y, h.p) if probability else nan,
        "log_loss_calibrated": log_loss(h.y, h.p_calibrated) if h.p_calibrated is not None else nan,
        "constant_log_loss": log_loss(h.y, h.constant),
        "entries": int(taken.sum()),
        "entries_mean_net_pct": float(np.mean(h.net[taken]) * 100) if taken.any() else nan,
        "all_mean_net_pct": float(np.mean(h.net) * 100),
        "block": block,
    }


def paired_gain(base: Heldout, other: Heldout, plan: Plan) -> tuple[float, float, float]:
    """Pooled AUC of `other` minus `base` on the same held-out rows, and the 95 % interval of
    that difference from one moving-block bootstrap applied to both (paired)."""
    y, n = base.y.astype(bool), len(base.y)
    block = max(1, min(block_length(base.times, plan.horizon_candles), n))
    rng = np.random.default_rng(SEED)
    starts = rng.integers(0, n - block + 1, size=(plan.resamples, math.ceil(n / block)))
    index = (starts[:, :, None] + np.arange(block)).reshape(plan.resamples, -1)[:, :n]
    diffs = np.array([auc(y[i], other.p[i]) - auc(y[i], base.p[i]) for i in index])
    diffs = diffs[np.isfinite(diffs)]
    low, high = np.percentile(diffs, [2.5, 97.5])
    return auc(y, other.p) - auc(y, base.p), float(low), float(high)


def feature_table(data: Dataset, plan: Plan) -> dict[str, Any]:
    """Base, base + each candidate, base + the candidates that gained more than their noise."""
    base_names = REFERENCE_FEATURES
    base = heldout(data, data.columns(base_names), data.win, model_fit(base_names), plan)
    rows = [_feature_row("base", base_names, base, None, plan)]
    kept = []
    for name in CANDIDATES:
        names = (*base_names, name)
        scored = heldout(data, data.columns(names), data.win, model_fit(names), plan)
        row = _feature_row(f"base + {name}", names, scored, base, plan)
        if row["gain_low"] > 0:
            kept.append(name)
        rows.append(row)
    if kept:
        names = (*base_names, *kept)
        scored = heldout(data, data.columns(names), data.win, model_fit(names), plan)
        rows.append(_feature_row("base + kept", names, scored, base, plan))
    if set(FEATURE_NAMES) <= set(data.names):
        scored = heldout(
            data, data.columns(FEATURE_NAMES), data.win, model_fit(FEATURE_NAMES), plan
        )
        rows.append(_feature_row(ENGINE_SET, FEATURE_NAMES, scored, base, plan))
    return {"rows": rows, "kept": kept, "base_heldout": base}


def _feature_row(
    name: str, names: tuple[str, ...], h: Heldout, base: Heldout | None, plan: Plan
) -> dict[str, Any]:
    row = {"set": name, "features": list(names), **summary(h, plan)}
    gain, low, high = paired_gain(base, h, plan) if base is not None else (0.0, 0.0, 0.0)
    row.update(gain=gain, gain_low=low, gain_high=high)
    return row


def baseline_table(data: Dataset, plan: Plan, base: Heldout) -> list[dict[str, Any]]:
    X = data.columns(REFERENCE_FEATURES)
    old_plan = Plan(plan.folds, OLD_HORIZON, plan.resamples, plan.threshold)
    logistic = heldout(data, X, data.win, logistic_fit, plan)
    rule = heldout(data, X, data.win, low_rsi_rule, plan)
    old = heldout(data, X, data.old, model_fit(REFERENCE_FEATURES), old_plan)
    return [
        {"baseline": "model, base features (as in table 2)", **summary(base, plan)},
        {"baseline": "logistic regression, standardised base features", **summary(logistic, plan)},
        {"baseline": "rule: low RSI -> up (score 1 - rsi)", **summary(rule, plan, False)},
        {"baseline": "model, base features, OLD label, purged folds", **summary(old, old_plan)},
        _old_unpurged(data),
    ]


def _old_unpurged(data: Dataset) -> dict[str, Any]:
    """The old validation: train_model's own holdout (the newest 20 % of rows, no gap) on the old
    label, all rows: what the model reported before."""
    model = train_model(
        data.columns(REFERENCE_FEATURES),
        data.old,
        validate=True,
        feature_names=REFERENCE_FEATURES,
    )
    nan = float("nan")
    return {
        "baseline": "model, base features, OLD label, train_model's last-20 % holdout, no gap",
        "rows": len(data.old) - int(len(data.old) * (1.0 - VALIDATION_FRACTION)),
        "folds": 1,
        "fold_auc": [model.metrics.auc],
        "fold_auc_mean": model.metrics.auc,
        "fold_auc_sd": nan,
        "auc": model.metrics.auc,
        "auc_low": nan,
        "auc_high": nan,
        "log_loss": model.metrics.log_loss,
        "log_loss_calibrated": nan,
        "constant_log_loss": nan,
        "entries": 0,
        "entries_mean_net_pct": nan,
        "all_mean_net_pct": nan,
        "block": 0,
    }


# -- table 4: trading -----------------------------------------------------------------------------


def trading_settings(settings: Settings) -> tuple[Settings, bool]:
    """`settings` with ml.require_edge off when the config has that key (so the bot trades)."""
    try:
        key_spec("ml.require_edge")
    except ConfigError:
        return settings, False
    return settings.with_values({"ml.require_edge": False}), True


def random_entry_pool(run: BacktestRun, rules: ExitRules) -> np.ndarray:
    """Net return % of the trade after every (pair, candle) the bot could have entered on: the
    signal candles whose next open lies inside the traded range, outcome known."""
    pool = []
    tf = timeframe_ms(run.timeframe)
    for f in run.closes.values():
        signals = np.flatnonzero((f.times >= run.start_ms - tf) & (f.times < run.end_ms - tf))
        outcome = trade_outcomes(f.candles, rules, signals)
        pool.append(outcome.net_return[outcome.known] * 100)
    return np.concatenate(pool)


def trading_table(
    settings: Settings, files: Sequence[CandleFile], rules: ExitRules, draws: int
) -> dict[str, Any]:
    traded_settings, edge_key = trading_settings(settings)
    started = time.perf_counter()
    run = run_backtest(traded_settings, files)
    seconds = time.perf_counter() - started
    closed = [t for t in run.trades if t.exit_reason != END_OF_DATA]
    profits = np.array([t.profit_pct for t in closed])
    pool = random_entry_pool(run, rules)
    nan = float("nan")
    result: dict[str, Any] = {
        "require_edge_key": edge_key,
        "backtest_seconds": seconds,
        "pairs": list(run.pairs),
        "start_ms": run.start_ms,
        "end_ms": run.end_ms,
        "cycles": run.cycles,
        "cycle_ms": run.cycle_ms,
        "retrains": run.retrains,
        "training_seconds": run.training_seconds,
        "bootstrap_validation_auc": nan if run.validation_auc is None else run.validation_auc,
        "trades": len(run.trades),
        "closed_trades": len(closed),
        "end_of_data_trades": len(run.trades) - len(closed),
        "exit_reasons": {r: sum(t.exit_reason == r for t in closed) for r in _reasons(closed)},
        "win_pct": float(np.mean(profits > 0) * 100) if len(closed) else nan,
        "expectancy_pct": float(profits.mean()) if len(closed) else nan,
        "pool": len(pool),
        "pool_mean_pct": float(pool.mean()),
        "draws": draws,
    }
    result.update(_random_entries(profits, pool, draws))
    return result


def _reasons(trades: Sequence[Any]) -> list[str]:
    return sorted({t.exit_reason for t in trades})


def _random_entries(profits: np.ndarray, pool: np.ndarray, draws: int) -> dict[str, Any]:
    """`draws` means of len(profits) random entries from `pool`; where the bot's mean falls."""
    nan = float("nan")
    if len(profits) == 0:
        return {"random_mean_pct": nan, "random_low_pct": nan, "random_high_pct": nan,
                "percentile": nan}  # fmt: skip
    rng = np.random.default_rng(SEED)
    means = pool[rng.integers(0, len(pool), size=(draws, len(profits)))].mean(axis=1)
    expectancy = profits.mean()
    low, high = np.percentile(means, [2.5, 97.5])
    below = np.mean(means < expectancy) + 0.5 * np.mean(means == expectancy)
    return {
        "random_mean_pct": float(means.mean()),
        "random_low_pct": float(low),
        "random_high_pct": float(high),
        "percentile": float(below * 100),
    }


# -- the report -----------------------------------------------------------------------------------


def load(data_dir: Path | None, quick: bool) -> tuple[list[CandleFile], str]:
    if not quick and data_dir is not None and data_dir.is_dir():
        return load_candles(data_dir), f"real candles from {data_dir}"
    return load_candles(), "the bundled 10-day sample (tui_bot/market/sample)"


def backtest_files(files: list[CandleFile], sizes: Sizes) -> list[CandleFile]:
    if sizes.backtest_candles is None:
        return files
    cut = []
    for f in files:
        end = f.times[0] + sizes.backtest_candles * timeframe_ms(f.timeframe)
        cut.append(f.with_rows(f.candles[f.times < end]))
    return cut


def settings_for(files: Sequence[CandleFile], sizes: Sizes) -> Settings:
    """The shipped defaults, trading in the data's quote currency."""
    values: dict[str, object] = {"bot.stake_currency": files[0].symbol.partition("/")[2]}
    if sizes.backtest_warmup is not None:
        values["backtest.warmup_candles"] = sizes.backtest_warmup
    return load_settings(None, env={}).with_values(values)


def measure(data_dir: Path | None, quick: bool) -> dict[str, Any]:
    sizes = QUICK if quick else FULL
    started = time.perf_counter()
    files, origin = load(data_dir, quick)
    settings = settings_for(files, sizes)
    rules = exit_rules(settings, TIMEFRAME_SECONDS)
    grid = aligned(files)
    data = dataset(grid, files, rules)
    plan = Plan(sizes.folds, rules.horizon, sizes.resamples, settings.risk.min_probability)
    features = feature_table(data, plan)
    baselines = baseline_table(data, plan, features.pop("base_heldout"))
    trading = trading_table(settings, backtest_files(files, sizes), rules, sizes.draws)
    report = {
        "data": origin,
        "quick": quick,
        "rules": rules.describe(),
        "horizon_candles": rules.horizon,
        "folds": sizes.folds,
        "resamples": sizes.resamples,
        "threshold": plan.threshold,
        "rows": len(data.win),
        "label": label_table(grid, files, rules),
        "features": features,
        "baselines": baselines,
        "trading": trading,
    }
    report["goals"] = goals(report)
    report["seconds"] = time.perf_counter() - started
    return report


def goals(report: dict[str, Any]) -> dict[str, Any]:
    """Met or not: the reference four's AUC, the AUC of the engine's features (the model that
    trades: the reference four plus the kept candidates), and the backtest against random
    entries."""

    def auc_met(row: dict[str, Any]) -> bool:
        return bool(row["auc"] >= AUC_GOAL and row["auc_low"] > 0.5)

    rows = report["features"]["rows"]
    engine = next((r for r in rows if r["set"] == ENGINE_SET), None)
    trading = report["trading"]
    edge = trading["expectancy_pct"] > trading["random_high_pct"]  # NaN compares False
    return {
        "auc_base_met": auc_met(rows[0]),
        "auc_engine_met": None if engine is None else auc_met(engine),
        "trading_met": bool(edge),
    }


# -- markdown -------------------------------------------------------------------------------------


def _f(value: float | None, digits: int = 3, sign: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def label_markdown(report: dict[str, Any]) -> str:
    header = ["pair", "candles", "outcomes known", "winners %", "mean net %", "stop-loss %",
              "take-profit %", "max-hold %", "old label: positives %"]  # fmt: skip
    rows = [
        [
            r["pair"],
            str(r["candles"]),
            str(r["known"]),
            _f(r["win_pct"], 1),
            _f(r["mean_net_pct"], 3, True),
            _f(r["stop_loss_pct"], 1),
            _f(r["take_profit_pct"], 1),
            _f(r["max_hold_pct"], 1),
            f"{_f(r['old_positive_pct'], 1)} (of {r['old_known']})",
        ]  # fmt: skip
        for r in report["label"]
    ]
    return (
        f"## 1. Label: the tradeable outcome of every candle\n\n{report['rules']}.\n"
        f"Old label for reference: close[t+6] / close[t] - 1 > 0.2 %.\n\n{_table(header, rows)}"
    )


def _score_cells(r: dict[str, Any]) -> list[str]:
    return [
        str(r["rows"]),
        f"{_f(r['fold_auc_mean'])} +- {_f(r['fold_auc_sd'])}",
        f"{_f(r['auc'])} [{_f(r['auc_low'])}, {_f(r['auc_high'])}]",
        f"{_f(r['log_loss'], 4)} / {_f(r['log_loss_calibrated'], 4)} "
        f"vs {_f(r['constant_log_loss'], 4)}",
        f"{r['entries']}: {_f(r['entries_mean_net_pct'], 3, True)}",
    ]  # fmt: skip


SCORE_HEADER = [
    "held-out rows",
    "AUC per fold (mean +- sd)",
    "pooled AUC [95 %]",
    "log loss traded / calibrated vs constant",
    "p >= threshold: rows, mean net %",
]


def feature_markdown(report: dict[str, Any]) -> str:
    header = ["set", *SCORE_HEADER, "gain over base [95 %]"]
    rows = [
        [r["set"], *_score_cells(r),
         "-" if r["set"] == "base" else
         f"{_f(r['gain'], 4, True)} [{_f(r['gain_low'], 4, True)}, {_f(r['gain_high'], 4, True)}]"]
        for r in report["features"]["rows"]
    ]  # fmt: skip
    kept = report["features"]["kept"]
    base = report["features"]["rows"][0]
    return (
        f"## 2. Features on the tradeable label\n\n{report['folds']} purged walk-forward folds "
        f"(gap {report['horizon_candles']} candles), rows pooled over pairs and time-ordered; "
        f"model = train_model(validate=False).predict_proba; intervals: moving-block bootstrap, "
        f"{report['resamples']} resamples, blocks of {base['block']} rows. Log loss 'traded' is "
        "predict_proba as the bot uses it (prior-corrected to 50/50), 'calibrated' the same with "
        "the prior correction taken off; the constant predicts each fold's training win rate. "
        f"Threshold = risk.min_probability {report['threshold']:g}; every held-out row's mean "
        f"net: {_f(base['all_mean_net_pct'], 3, True)} %.\n\n"
        "Kept rule: a candidate is kept when the 95 % interval of its gain (the same block "
        "bootstrap resamples applied to both sets' predictions, paired) lies above 0.\n"
        f"Kept: {', '.join(kept) if kept else 'none'}.\n\n{_table(header, rows)}"
    )


def baseline_markdown(report: dict[str, Any]) -> str:
    rows = [[r["baseline"], *_score_cells(r)] for r in report["baselines"]]
    return (
        "## 3. Baselines on the same folds (tradeable label unless it says OLD)\n\n"
        f"{_table(['baseline', *SCORE_HEADER], rows)}"
    )


def trading_markdown(report: dict[str, Any]) -> str:
    t = report["trading"]
    edge = "ml.require_edge set false" if t["require_edge_key"] else "no ml.require_edge key"
    rows = [
        ["backtest", f"{len(t['pairs'])} pairs, {t['cycles']} cycles, {edge}, "
                     f"{_f(t['backtest_seconds'], 1)} s"],
        ["its time", f"engine {_f(t['cycle_ms'], 2)} ms a cycle without training; "
                     f"{t['retrains']} retrains, {_f(t['training_seconds'], 1)} s training"],
        ["its bootstrap model's own validation AUC", _f(t["bootstrap_validation_auc"])],
        ["trades (closed / end_of_data)", f"{t['closed_trades']} / {t['end_of_data_trades']}"],
        ["exit reasons", ", ".join(f"{k} {v}" for k, v in t["exit_reasons"].items()) or "-"],
        ["winners", f"{_f(t['win_pct'], 1)} %"],
        ["bot expectancy a trade, after fees", f"{_f(t['expectancy_pct'], 3, True)} %"],
        ["random entries (pool)", f"{t['pool']} (pair, candle) entries, mean "
                                  f"{_f(t['pool_mean_pct'], 3, True)} %"],
        [f"random entries: {t['draws']} draws of {t['closed_trades']} trades",
         f"mean {_f(t['random_mean_pct'], 3, True)} %, 2.5-97.5 %: "
         f"[{_f(t['random_low_pct'], 3, True)}, {_f(t['random_high_pct'], 3, True)}] %"],
        ["bot's expectancy among them", f"percentile {_f(t['percentile'], 1)}"],
    ]  # fmt: skip
    return "## 4. Trading: the backtest against random entries\n\n" + _table(["", "value"], rows)


def goals_markdown(report: dict[str, Any]) -> str:
    g = report["goals"]
    rows = report["features"]["rows"]
    t = report["trading"]

    def said(met: bool) -> str:
        return "met" if met else "NOT met"

    def scored(row: dict[str, Any]) -> str:
        return f"{_f(row['auc'])} [{_f(row['auc_low'])}, {_f(row['auc_high'])}]"

    engine = next((r for r in rows if r["set"] == ENGINE_SET), None)
    if engine is None:
        traded = "the engine's features are not all among the measured ones"
    else:
        traded = (
            f"the engine's features (the model that trades; its extra features were chosen on "
            f"these folds, so this is optimistic) {scored(engine)}: "
            f"**{said(bool(g['auc_engine_met']))}**"
        )
    return (
        "## Goal\n\n"
        f"- Tradeable-label AUC >= {AUC_GOAL} with its interval above 0.5: the reference four "
        f"{scored(rows[0])}: **{said(g['auc_base_met'])}**; {traded}.\n"
        f"- Backtest expectancy above random entries by more than the noise (above their 97.5 % "
        f"point): {_f(t['expectancy_pct'], 3, True)} % vs [{_f(t['random_low_pct'], 3, True)}, "
        f"{_f(t['random_high_pct'], 3, True)}] %: **{said(g['trading_met'])}** (the draws are "
        "independent; the bot's trades cluster in time, so the real range is wider). After fees "
        f"the bot still loses {_f(t['expectancy_pct'], 3, True)} % a trade."
    )


def markdown(report: dict[str, Any]) -> str:
    head = (
        f"# The model on {report['data']}\n\n{report['rows']} rows; measured in "
        f"{_f(report['seconds'], 1)} s{' (--quick)' if report['quick'] else ''}."
    )
    parts = [head, label_markdown(report), feature_markdown(report), baseline_markdown(report)]
    parts += [trading_markdown(report), goals_markdown(report)]
    return "\n\n".join(parts) + "\n"


def plain(value: Any) -> Any:
    """JSON-ready: NaN and inf as null, numpy scalars as Python numbers."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.model", description=__doc__)
    parser.add_argument("--data", type=Path, default=SHARED_DATA, help="folder of candle files")
    parser.add_argument("--quick", action="store_true", help="the bundled sample, in seconds")
    parser.add_argument("--out", type=Path, help="write every number here as JSON")
    args = parser.parse_args(argv)
    report = measure(args.data, args.quick)
    sys.stdout.write(markdown(report))
    if args.out is not None:
        args.out.write_text(json.dumps(plain(report), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
