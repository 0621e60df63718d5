"""python -m benchmarks [--quick] [--out DIR] [--skip-ui] [--render]"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks import backtest, compute, fixtures, ml, network, real_exchange, report, ui
from benchmarks.rows import CheckFailed, Row


@dataclass(frozen=True)
class Plan:
    mode: str
    compute: compute.Sizes
    scan_symbols: int
    scan_repeat: int
    cycle_symbols: int
    cycle_rounds: int
    scaling: tuple[int, ...]  # besides cycle_symbols, which the cycle rows measure
    scaling_rounds: int
    train_repeat: int
    ui_runs: int


FULL = Plan(
    mode="full",
    compute=compute.Sizes(repeat=9, slow_repeat=5),
    scan_symbols=100,
    scan_repeat=3,
    cycle_symbols=100,
    cycle_rounds=3,
    scaling=(50, 200, 500),
    scaling_rounds=2,
    train_repeat=3,
    ui_runs=5,
)
QUICK = Plan(
    mode="quick",
    compute=compute.Sizes(repeat=3, slow_repeat=1),
    scan_symbols=20,
    scan_repeat=1,
    cycle_symbols=20,
    cycle_rounds=1,
    scaling=(10,),
    scaling_rounds=1,
    train_repeat=1,
    ui_runs=1,
)


def _progress(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)


def _talib() -> Any:
    try:
        import talib
    except ImportError:
        return None
    return talib


@dataclass(frozen=True)
class Measured:
    rows: list[Row]
    scaling: list[dict[str, Any]]  # the cycle on the simulator at more and more symbols
    backtest_scaling: list[dict[str, Any]]  # the backtest's cycle at more and more pairs
    skipped: list[str]


async def run(plan: Plan, skip_ui: bool) -> Measured:
    rows: list[Row] = []
    skipped: list[str] = []
    sizes = plan.compute
    _progress(f"indicators and features: {sizes.symbols} symbols x {sizes.candles} candles")
    close, volume = compute.market(sizes)
    ind = compute.compute_indicators(close, volume)
    talib = _talib()
    if talib is None:
        skipped.append("indicators_talib_ms_200x500: TA-Lib is not installed (pip install ta-lib)")
    indicator_rows = compute.indicators(sizes, close, volume, talib)
    rows.append(compute.feature_prep(sizes, close, ind))
    _progress("training the model used by the prediction rows")
    data = fixtures.dataset()
    train_row, model = ml.training(data, plan.train_repeat)
    _progress("predictions and symbol lookups")
    rounded = compute.round_features(compute.feature_matrix(ind, close), compute.PRECISION)
    rows += compute.predictions(sizes, rounded, model)
    rows += compute.lookups(sizes)
    rows += indicator_rows
    rows += await network.scans(plan.scan_symbols, plan.scan_repeat, _progress)
    cycle_rows, entry = await network.cycles(plan.cycle_symbols, plan.cycle_rounds, _progress)
    rows += cycle_rows
    _progress("ML state and saved samples")
    rows.append(await ml.ml_state(data, model, plan.mode == "quick"))
    rows.append(ml.saved_samples(data))
    rows.append(train_row)
    if skip_ui:
        skipped.append("ui_loop_lag_p99_ms: --skip-ui")
    else:
        _progress(f"UI loop lag: {plan.ui_runs} training(s) in a process, then in a thread")
        rows.append(await ui.ui_lag(data, plan.ui_runs))
    # run_backtest runs its own event loop: in a thread of its own
    backtest_rows, backtest_scaling = await asyncio.to_thread(
        backtest.rows, plan.mode == "quick", _progress
    )
    rows += backtest_rows
    rows += await real_exchange.rows(plan.mode == "quick", _progress)
    scaling = await network.scaling(list(plan.scaling), plan.scaling_rounds, _progress)
    scaling = sorted([*scaling, entry], key=lambda e: e["symbols"])
    return Measured(rows, scaling, backtest_scaling, skipped)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Measure every row of the performance table: a naive baseline and ours.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes and repeats (seconds, for CI); writes to a temp dir unless --out",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="write results.json and BENCHMARKS.md here instead of into the repository",
    )
    parser.add_argument("--skip-ui", action="store_true", help="skip the UI loop lag row")
    parser.add_argument(
        "--render",
        action="store_true",
        help="measure nothing: rewrite BENCHMARKS.md and README's table from results.json",
    )
    args = parser.parse_args(argv)
    if args.render:
        results = json.loads(report.RESULTS.read_text())
        for path in report.write(results, None):
            print(f"wrote {path}")
        return 0
    plan = QUICK if args.quick else FULL
    started = time.perf_counter()
    try:
        measured = asyncio.run(run(plan, args.skip_ui))
    except CheckFailed as e:
        print(f"benchmark check failed: {e}", file=sys.stderr)
        return 1
    network_meta = {
        "latency_ms": fixtures.LATENCY_MS,
        "rate_limit_per_s": fixtures.RATE_LIMIT_PER_S,
        "workers": fixtures.WORKERS,
    }
    sizes = {k: v for k, v in asdict(plan).items() if k != "mode"}
    meta = report.meta(plan.mode, network_meta, sizes)
    results = report.results_dict(
        measured.rows, measured.scaling, measured.skipped, meta, measured.backtest_scaling
    )
    print(report.stdout_report(results))
    out = args.out
    if out is None and args.quick:
        out = Path(tempfile.mkdtemp(prefix="tui-bot-bench-quick-"))
    for path in report.write(results, out):
        print(f"wrote {path}")
    print(f"({time.perf_counter() - started:.0f} s)")
    if args.quick:
        problems = report.committed_docs_problems()
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        if problems:
            return 1
    return 0
