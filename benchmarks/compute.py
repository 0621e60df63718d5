"""In-process rows: feature prep, predictions, symbol lookups, indicators."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks import fixtures, naive
from benchmarks.rows import Goal, Row, require
from benchmarks.timing import Case, measure_interleaved
from tui_bot.clock import FakeClock
from tui_bot.engine.caches import BoundedCache, TimedCache
from tui_bot.engine.features import feature_matrix, round_features
from tui_bot.engine.indicators import Indicators, compute_indicators
from tui_bot.engine.model import TrainedModel
from tui_bot.engine.monitor import Monitor
from tui_bot.engine.risk import SymbolGroups
from tui_bot.engine.signals import SignalGenerator

PRECISION = 2  # ml.cache_key_precision default
WARMUP_CANDLES = 100  # compare indicators after this many candles


@dataclass(frozen=True)
class Sizes:
    symbols: int = 200  # feature prep, predictions, indicators
    candles: int = 500  # indicators
    lookups: int = 200  # symbols looked up per batch
    repeat: int = 9
    slow_repeat: int = 5  # for the Python-loop baselines


def _minor_faults() -> int:
    try:
        import resource
    except ImportError:  # not on Windows
        return 0
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _us(seconds: float) -> float:
    return seconds * 1e6


def _ms(seconds: float) -> float:
    return seconds * 1e3


def market(sizes: Sizes) -> tuple[np.ndarray, np.ndarray]:
    """close and volume, (symbols, candles), from the simulator."""
    candles = fixtures.history(sizes.symbols, sizes.candles)
    return candles[:, :, 4].copy(), candles[:, :, 5].copy()


def feature_prep(sizes: Sizes, close: np.ndarray, ind: Indicators) -> Row:
    n = len(close)

    def ours() -> np.ndarray:
        return round_features(feature_matrix(ind, close), PRECISION)

    def baseline() -> np.ndarray:
        return naive.feature_rows(ind, close, PRECISION)

    # np.round and round() may differ by one unit in the last decimal on exact ties
    require(
        naive.isclose_rows(ours(), baseline(), 1.01 * 10**-PRECISION),
        "feature prep: the per-symbol loop and the feature matrix disagree",
    )
    t = measure_interleaved(
        {"ours": Case(ours, 200), "baseline": Case(baseline, 5)}, repeat=sizes.repeat
    )
    t_ours, t_base = t["ours"], t["baseline"]
    return Row(
        "feature_prep_us_per_symbol",
        "us",
        _us(t_base.median) / n,
        _us(t_ours.median) / n,
        seed_before=100.0,
        seed_after=60.0,
        goal=Goal("<=", 10.0),
        baseline_label=f"loop over {n} symbols: Python floats, round() per value",
        ours_label=f"feature_matrix + round_features for {n} symbols at once (numpy)",
        check="same rounded feature matrix (to the last decimal)",
        details={"symbols": n},
    )


def _generator(clock: FakeClock) -> SignalGenerator:
    return SignalGenerator(
        BoundedCache(4096), TimedCache(1000, 300, clock.now), Monitor(5.0), PRECISION
    )


def predictions(sizes: Sizes, rounded: np.ndarray, model: TrainedModel) -> list[Row]:
    """Cache hit, batched miss and single-row predictions through the engine's SignalGenerator."""
    n = len(rounded)
    clock = fixtures.new_clock()
    generator = _generator(clock)
    one = rounded[:1]
    expected = naive.predict_one_by_one(model, rounded)
    require(
        np.allclose(generator.predict(rounded, model), expected, rtol=0, atol=1e-12),
        "prediction: batched and one-row predictions disagree",
    )
    require(
        np.allclose(generator.predict(rounded, model), expected, rtol=0, atol=1e-12),
        "prediction: cached and one-row predictions disagree",
    )
    require(generator.prediction_cache.hits >= n, "prediction: the second call did not hit")

    single_lookup_key = tuple(rounded[0].tolist())
    cache = generator.prediction_cache

    def fill() -> None:
        generator.predict(rounded, model)

    t = measure_interleaved(
        {
            # misses: the cache is emptied before each batch
            "miss": Case(lambda: generator.predict(rounded, model), 1, cache.clear),
            "single": Case(lambda: generator.predict(one, model), 1, cache.clear),
            # hits: the cache is full of these rows
            "hit": Case(lambda: generator.predict(rounded, model), 50, fill),
            "lookup": Case(lambda: cache.lookup(single_lookup_key), 10_000, fill),
            "sklearn_one_row": Case(lambda: model.estimator.predict_proba(one), 20),
            "loop": Case(lambda: naive.predict_one_by_one(model, rounded), 1),
        },
        repeat=sizes.repeat,
    )
    hit, lookup, miss, single = t["hit"], t["lookup"], t["miss"], t["single"]
    one_row_sklearn, loop = t["sklearn_one_row"], t["loop"]
    seed_uncached = (5000.0, 10000.0)
    base_label = "scikit-learn predict_proba on one row (no cache)"
    return [
        Row(
            "prediction_cache_hit_us",
            "us",
            _us(one_row_sklearn.median),
            _us(hit.median) / n,
            seed_before=seed_uncached,
            seed_after=10.0,
            goal=Goal("<=", 2.0),
            baseline_label=base_label,
            ours_label=f"SignalGenerator.predict, {n} rows all cached: per row "
            "(cache keys + TTL-cache lookup + result array)",
            check="cached probabilities == one-row predictions",
            details={
                "rows": n,
                "single_ttl_lookup_us": _us(lookup.median),
            },
        ),
        Row(
            "prediction_miss_us_per_row",
            "us",
            _us(loop.median) / n,
            _us(miss.median) / n,
            seed_before=seed_uncached,
            goal=Goal("<=", 20.0),
            baseline_label=f"one-row predict_proba in a loop over {n} rows, per row",
            ours_label=f"SignalGenerator.predict, {n} rows, empty cache: one batched "
            "predict_proba + cache fill, per row",
            check="batched probabilities == one-row predictions (to 1e-12)",
            details={"rows": n},
        ),
        Row(
            "prediction_single_row_us",
            "us",
            _us(one_row_sklearn.median),
            _us(single.median),
            seed_before=seed_uncached,
            baseline_label=base_label,
            ours_label="SignalGenerator.predict on one row, empty cache",
            check="same probability",
        ),
    ]


def lookups(sizes: Sizes) -> list[Row]:
    names = fixtures.symbols(sizes.lookups)
    groups = SymbolGroups()
    expected = [naive.group_of(s) for s in names]
    require([groups.group(s) for s in names] == expected, "lookup: cached groups differ")
    require([groups.group(s) for s in names] == expected, "lookup: cached groups differ")
    require([SymbolGroups().group(s) for s in names] == expected, "lookup: groups differ")
    group = groups.group
    uncached = naive.group_of

    def ours_cached() -> None:
        for s in names:
            group(s)

    def baseline() -> None:
        for s in names:
            uncached(s)

    fresh: list[Any] = []

    def ours_uncached() -> None:
        g = fresh[0].group
        for s in names:
            g(s)

    def new_cache() -> None:
        fresh[:] = [SymbolGroups()]

    n = len(names)
    t = measure_interleaved(
        {
            "cached": Case(ours_cached, 200),
            "baseline": Case(baseline, 20),
            "uncached": Case(ours_uncached, 1, new_cache),
        },
        repeat=sizes.repeat,
    )
    t_cached, t_base, t_miss = t["cached"], t["baseline"], t["uncached"]
    share_other = sum(g == "other" for g in expected) / n
    label = (
        f"group_of(): a scan through the rule table, no cache ({n} symbols, "
        f"{share_other:.0%} unknown -> 'other')"
    )
    return [
        Row(
            "symbol_lookup_cached_us",
            "us",
            _us(t_base.median) / n,
            _us(t_cached.median) / n,
            seed_before=50.0,
            seed_after=0.1,
            goal=Goal("<=", 0.1),
            baseline_label=label,
            ours_label="SymbolGroups.group, warm PermanentCache",
            check="same group for every symbol",
        ),
        Row(
            "symbol_lookup_uncached_us",
            "us",
            _us(t_base.median) / n,
            _us(t_miss.median) / n,
            seed_before=50.0,
            baseline_label=label,
            ours_label="SymbolGroups.group on an empty cache: classify() + store",
            check="same group for every symbol",
        ),
    ]


def _agree(a: Indicators, b: Indicators, tolerance: float, start: int) -> float:
    """Largest difference after `start` candles; CheckFailed if NaNs differ there."""
    worst = 0.0
    for name in naive.INDICATOR_FIELDS:
        x, y = getattr(a, name)[:, start:], getattr(b, name)[:, start:]
        require(
            naive.isclose_rows(x, y, tolerance),
            f"indicators: {name} differs by more than {tolerance:g}",
        )
        worst = max(worst, float(np.nanmax(np.abs(x - y))))
    return worst


def indicators(sizes: Sizes, close: np.ndarray, volume: np.ndarray, talib: Any) -> list[Row]:
    shape = f"{close.shape[0]}x{close.shape[1]}"
    ours = compute_indicators(close, volume)
    loop = naive.indicators_loop(close, volume)
    for name in naive.INDICATOR_FIELDS:  # warm-up NaNs exactly where the loop has them
        require(
            np.array_equal(np.isnan(getattr(ours, name)), np.isnan(getattr(loop, name))),
            f"indicators: {name} warm-up differs from the loop's",
        )
    loop_diff = _agree(ours, loop, 1e-6, 0)
    cases = {
        "ours": Case(lambda: compute_indicators(close, volume), 5),
        "loop": Case(lambda: naive.indicators_loop(close, volume), 1),
    }
    if talib is not None:
        ta = naive.indicators_talib(close, volume, talib)
        ta_diff = _agree(ours, ta, 1e-6, WARMUP_CANDLES)
        cases["talib"] = Case(lambda: naive.indicators_talib(close, volume, talib), 5)
    faults_before = _minor_faults()
    t = measure_interleaved(cases, repeat=sizes.slow_repeat)
    calls = 5 * (sizes.slow_repeat + 1)
    t_ours, t_loop = t["ours"], t["loop"]
    rows = [
        Row(
            f"indicators_ms_{shape}",
            "ms",
            _ms(t_loop.median),
            _ms(t_ours.median),
            baseline_label="Python loop per symbol and candle (RSI, MACD, momentum, volume ratio)",
            ours_label="compute_indicators: numpy + scipy lfilter, all symbols at once",
            check=f"same values (max difference {loop_diff:.1e})",
            details={"page_faults_per_call_all_three": (_minor_faults() - faults_before) / calls},
        )
    ]
    if talib is not None:
        t_ta = t["talib"]
        rows.append(
            Row(
                f"indicators_talib_ms_{shape}",
                "ms",
                _ms(t_ta.median),
                _ms(t_ours.median),
                goal=Goal("<=", 3.0, "baseline"),
                baseline_label=f"TA-Lib {talib.__version__} called per symbol (C)",
                ours_label="compute_indicators (same measurement as the row above)",
                check=f"agree after {WARMUP_CANDLES} candles (max difference {ta_diff:.1e})",
            )
        )
    return rows
