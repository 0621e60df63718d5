"""ML rows: memory of the ML state, saved-sample size, training time."""

from __future__ import annotations

import gc
import io
import pickle
import tracemalloc
from collections.abc import Callable
from typing import Any

import joblib
import numpy as np

from benchmarks import fixtures, naive
from benchmarks.fixtures import SAMPLES, SAVED_SAMPLES, Dataset
from benchmarks.rows import Goal, Row, require
from benchmarks.timing import measure
from tui_bot.engine.caches import BoundedCache, TimedCache
from tui_bot.engine.model import TrainedModel, train_model
from tui_bot.engine.monitor import Monitor
from tui_bot.engine.risk import SymbolGroups
from tui_bot.engine.samples import SampleBuffer
from tui_bot.engine.scanner import ScanResult
from tui_bot.engine.signals import SignalGenerator

MB = 1_000_000


def _traced(build: Callable[[], Any]) -> tuple[Any, int]:
    """What `build()` returns and the bytes it still holds (tracemalloc must be running)."""
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    result = build()
    gc.collect()
    return result, tracemalloc.get_traced_memory()[0] - before


def _scans(n_symbols: int, windows: int, clock: Any) -> list[ScanResult]:
    """`windows` scans of `n_symbols`, one candle apart, so each brings new cache keys."""
    candles = fixtures.history(n_symbols, fixtures.CANDLES + windows, clock)
    names = fixtures.symbols(n_symbols)
    scans = []
    for w in range(windows):
        window = candles[:, w : w + fixtures.CANDLES]
        by_symbol = {s: window[i] for i, s in enumerate(names)}
        scans.append(ScanResult(clock.now(), {}, tuple(names), by_symbol))
    return scans


def _filled_caches(model: TrainedModel, n_symbols: int, windows: int) -> dict[str, Any]:
    """The engine's caches filled through its own code: indicators and predictions for
    `n_symbols` over `windows` candles, symbol groups, and one market scan held."""
    clock = fixtures.new_clock()
    scans = _scans(n_symbols, windows, clock)
    prediction = TimedCache(1000, 300, clock.now)
    indicator = BoundedCache(4096)
    generator = SignalGenerator(indicator, prediction, Monitor(5.0), 2)
    groups = SymbolGroups()

    def fill() -> tuple[Any, ...]:
        for scan in scans:
            generator.generate(scan, model)
            for s in scan.ranked:
                groups.group(s)
        return indicator, prediction, groups

    caches, nbytes = _traced(fill)
    return {
        "objects": caches,
        "bytes": nbytes,
        "indicator": len(indicator),
        "pred": len(prediction),
    }


async def _scan_cache(n_symbols: int) -> tuple[Any, int]:
    """A scanner's cache holding one scan of `n_symbols` (the simulator's price paths, which
    are the exchange's memory, are generated before measuring)."""
    clock = fixtures.new_clock()
    ex = fixtures.exchange(clock, n_symbols)
    await fixtures.scanner(ex, clock, n_symbols).scan()  # generates the price paths
    scanner = fixtures.scanner(ex, clock, n_symbols)
    await scanner.markets()
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    await scanner.scan()
    gc.collect()
    return scanner, tracemalloc.get_traced_memory()[0] - before


async def ml_state(data: Dataset, model: TrainedModel, quick: bool) -> Row:
    buffer_model = io.BytesIO()
    joblib.dump(model, buffer_model)
    model_bytes = buffer_model.getvalue()
    X, outcome, time = data.buffer.X, data.buffer.outcome, data.buffer.time
    tracemalloc.start()
    try:

        def ours_samples() -> SampleBuffer:
            buffer = SampleBuffer(X.shape[1], SAMPLES)
            buffer.add(X, outcome, time)
            return buffer

        samples, samples_bytes = _traced(ours_samples)
        dicts, dicts_bytes = _traced(lambda: naive.samples_as_dicts(X, outcome, time))
        loaded, loaded_bytes = _traced(lambda: joblib.load(io.BytesIO(model_bytes)))
        caches = _filled_caches(loaded, 100 if quick else 200, 6 if quick else 21)
        scan_cache, scan_bytes = await _scan_cache(100)
    finally:
        tracemalloc.stop()
    back = naive.dicts_to_arrays(dicts)
    require(
        all(
            np.array_equal(a, b)
            for a, b in zip(back, (samples.X, samples.outcome, samples.time), strict=True)
        ),
        "ml state: the list of dicts and the sample buffer hold different samples",
    )
    require(len(samples) == SAMPLES, f"ml state: {len(samples)} samples, not {SAMPLES}")
    shared = loaded_bytes + caches["bytes"] + scan_bytes
    del scan_cache
    return Row(
        "ml_state_mb",
        "MB",
        (dicts_bytes + shared) / MB,
        (samples_bytes + shared) / MB,
        seed_before=(50.0, 100.0),
        seed_after=(10.0, 15.0),
        goal=Goal("<=", 10.0),
        baseline_label="15,000 samples as a list of dicts (+ the same model and caches)",
        ours_label="SampleBuffer (float32/float64 arrays) + model + the engine's caches, full",
        check="the dicts and the buffer hold the same 15,000 samples",
        details={
            "samples_ours_mb": samples_bytes / MB,
            "samples_dicts_mb": dicts_bytes / MB,
            "model_mb": loaded_bytes / MB,
            "indicator_and_prediction_and_group_caches_mb": caches["bytes"] / MB,
            "indicator_cache_entries": caches["indicator"],
            "prediction_cache_entries": caches["pred"],
            "scan_cache_100_symbols_mb": scan_bytes / MB,
        },
    )


def saved_samples(data: Dataset) -> Row:
    buffer = data.buffer
    ours = buffer.to_bytes(SAVED_SAMPLES)
    dicts = naive.samples_as_dicts(buffer.X, buffer.outcome, buffer.time)
    as_pickle = pickle.dumps(dicts, protocol=pickle.HIGHEST_PROTOCOL)
    as_json = naive.save_all_as_json(dicts)
    back = SampleBuffer.from_bytes(ours, SAMPLES)
    kept = buffer.most_important(SAVED_SAMPLES)
    require(
        all(
            np.array_equal(a, b)
            for a, b in zip((back.X, back.outcome, back.time), kept, strict=True)
        ),
        "saved samples: what loads back is not the 5,000 most important samples",
    )
    require(pickle.loads(as_pickle) == dicts, "saved samples: the pickle does not load back")
    reduction = 100.0 * (1.0 - len(ours) / len(as_pickle))
    return Row(
        "saved_samples_reduction_pct",
        "%",
        0.0,
        reduction,
        goal=Goal(">=", 90.0),
        ratio=len(as_pickle) / len(ours),
        baseline_label=f"all {SAMPLES:,} samples as a pickled list of dicts "
        f"({len(as_pickle):,} bytes; as JSON {len(as_json):,})",
        ours_label=f"the {SAVED_SAMPLES:,} most important samples, compressed .npz "
        f"({len(ours):,} bytes)",
        check="each loads back to exactly what it saved",
        details={
            "ours_bytes": len(ours),
            "pickle_bytes": len(as_pickle),
            "json_bytes": len(as_json),
            "ratio_is": "pickle bytes / our bytes",
        },
    )


def training(data: Dataset, repeat: int) -> tuple[Row, TrainedModel]:
    holder: dict[str, TrainedModel] = {}

    def ours() -> None:
        holder["ours"] = train_model(data.X, data.y, kind="hist_gradient_boosting")

    def baseline() -> None:
        holder["base"] = train_model(data.X, data.y, kind="gradient_boosting")

    t_ours = measure(ours, repeat=repeat, warmup=1)
    t_base = measure(baseline, repeat=repeat, warmup=0)
    a, b = holder["ours"].metrics.auc, holder["base"].metrics.auc
    require(abs(a - b) <= 0.03, f"training: validation AUC {a:.3f} vs {b:.3f}")
    return (
        Row(
            "train_s_15k",
            "s",
            t_base.median,
            t_ours.median,
            baseline_label="GradientBoostingClassifier (100 trees, depth 3): validation fit + "
            "final fit",
            ours_label="HistGradientBoostingClassifier (150 iterations): validation fit + "
            "final fit",
            check=f"same validation quality (AUC {a:.3f} vs {b:.3f}, within 0.03)",
            details={"samples": len(data.y), "auc_ours": a, "auc_baseline": b},
        ),
        holder["ours"],
    )
