"""Output: the stdout table, results.json, BENCHMARKS.md and the README's table, all rendered
from the same results so that they cannot disagree."""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.rows import Row

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results.json"
BENCHMARKS_MD = ROOT / "BENCHMARKS.md"
README = ROOT / "README.md"
README_START = "<!-- benchmarks:start -->"
README_END = "<!-- benchmarks:end -->"
PACKAGES = ("numpy", "scipy", "scikit-learn", "textual", "cachetools", "ta-lib")

# What bounds each number, for BENCHMARKS.md ("Where a goal is missed ... say what limits it").
LIMITS: dict[str, str] = {
    "feature_prep_us_per_symbol": (
        "A few numpy calls over the whole (symbols, 4) matrix: their fixed cost (~1-2 us each) "
        "dominates, so the per-symbol cost falls as the universe grows."
    ),
    "prediction_cache_hit_us": (
        "Python work per row: one tuple key from the rounded row (`tolist`), one "
        "`cachetools.TTLCache` lookup (a Python `__getitem__` that checks expiry), one list "
        "append. The single lookup alone is `single_ttl_lookup_us` in results.json."
    ),
    "prediction_miss_us_per_row": (
        "scikit-learn's fixed cost per predict_proba call (input validation, thread-pool "
        "start-up: about one single-row prediction) spread over the batch, plus the tree "
        "traversal per row. Batching is what matters: one call for all misses."
    ),
    "prediction_single_row_us": (
        "Entirely scikit-learn's per-call overhead; this is why misses are batched and "
        "hits cached. No goal: the engine never predicts one row at a time."
    ),
    "symbol_lookup_cached_us": (
        "Two Python calls (SymbolGroups.group -> PermanentCache.get_or_compute), a dict lookup "
        "and a hit counter: the floor for an instrumented cache in pure Python."
    ),
    "symbol_lookup_uncached_us": (
        "classify(): split, upper-case and one dict lookup in a base -> group table built "
        "once at import, plus storing the answer."
    ),
    "indicators_ms_200x500": (
        "Five first-order recursions (EMA fast/slow as one second-order filter, the signal "
        "EMA, two Wilder averages in one call) run in scipy.signal.lfilter at a few ns per "
        "sample; the rest is element-wise numpy written into one preallocated output block."
    ),
    "indicators_talib_ms_200x500": (
        "TA-Lib fuses each indicator into one C loop per symbol; we pay separate numpy passes "
        "(differences, max, divides, rolling mean) on top of the recursions, but no Python "
        "loop over symbols."
    ),
    "scan_cached_ms": (
        "A TTL-cache lookup of the whole scan result: no request, independent of the number "
        "of symbols."
    ),
    "scan_uncached_s": (
        "The exchange: requests are spaced by the rate limit, and the ranking needs "
        "fetch_tickers' answer before the first OHLCV request can go out, so one round trip "
        "comes on top of the bound, plus the latency of the last request."
    ),
    "scan_bound_s": "Arithmetic: max(N x latency / workers, N / rate limit).",
    "scan_vs_bound": (
        "Above 1 by about (2 x latency) / bound: fetch_tickers first, then the last OHLCV "
        "answer's latency; the fetches themselves run at the rate limit."
    ),
    "cycle_cached_ms": (
        "The exchange round trips a cycle always needs (tickers to mark positions, the "
        "balance, orders when it trades): 50 ms each here. Our own work is `cpu_ms` in "
        "results.json and the scaling table."
    ),
    "cycle_uncached_s": (
        "The market scan (see scan_uncached_s) plus the cycle's other round trips; "
        "indicators, features and one batched prediction add tens of ms."
    ),
    "ml_state_mb": (
        "The caches at their configured maximum (4096 indicator rows, 1000 predictions) and "
        "the model; the 15,000 samples themselves take ~0.4 MB as float32/float64 arrays."
    ),
    "saved_samples_reduction_pct": (
        "The 5,000 kept samples as float32 features compress poorly (their mantissas are "
        "noise); keeping a third of the samples and binary arrays does most of the work."
    ),
    "train_s_15k": (
        "Two fits (validation on the oldest 80 %, then all rows) of 150 boosting iterations. "
        "HistGradientBoosting bins the features once and grows trees from histograms; below "
        "100,000 rows it runs on one OpenMP thread, which on this data is as fast as two on an "
        "idle machine and several times steadier on a busy one (see Profiles and fixes)."
    ),
    "ui_loop_lag_p99_ms": (
        "With the training in another process the UI loop only waits on a future; what is "
        "left is the OS scheduler (the worker trains on one core, leaving the other to the "
        "UI) and unpickling the trained model when it arrives. In a thread of the UI process "
        "the training holds the GIL between its compiled sections and the loop waits for it."
    ),
    "real_warm_cycle_ms_paper": (
        "A warm cycle sends one ticker request per open position (weight 2 each) and nothing "
        "else: the scan's candles, the all-symbols ticker and (live) the balance wait for the "
        "next closed candle or the scan cache's end. What is left is ccxt building and parsing "
        "those requests over loopback HTTP and the engine's own ~1-2 ms."
    ),
    "real_fresh_cycle_ms_paper": (
        "The all-symbols ticker (weight 80 on the fake, as Binance's /ticker/24hr without a "
        "symbol) once, shared by update_positions and the scan, then 30 kline requests of the "
        "new candles only (weight 2 each), concurrently within the limiter's rolling minute: "
        "the bound (30 x 2 weight at 6,000 a minute) is a budget the minute has, so the cycle "
        "runs well inside it. ccxt's parsing of the answers is most of the time."
    ),
    "real_after_order_weight_live": (
        "After a cycle that placed orders a live account is read again (GET /api/v3/account, "
        "weight 20): cash after a fill is confirmed by the exchange, not computed. It is "
        "reported apart from the warm rows, whose goal is a cycle without new data."
    ),
    "real_start_saved_s_paper": (
        "Not under the 3 s goal on this machine: importing ccxt (every exchange module, "
        "~1.2 s), unpickling the saved model (it imports scikit-learn and most of scipy, "
        "~1 s, before any network wait it could overlap) and the first scan's 30 x 200 "
        "candles through ccxt (~1 s). A model file that loads without scikit-learn (the "
        "compiled forest saved with it) would take the second away; not done."
    ),
    "real_start_first_s_paper": (
        "The first model trains in a worker thread of the bot (one OpenMP thread): a training "
        "process cost ~2 s to start and import, and ~200 MB while it lived. scipy and "
        "scikit-learn import in a background thread while the history downloads."
    ),
    "real_process_tree_mb": (
        "RSS summed over the process tree (shared pages counted in each process), so an upper "
        "bound; PSS per run is in the details. A first start is one process now; its peak is "
        "the bootstrap fit and its validation (the AUC interval's 200 resamples are scored 25 "
        "at a time: all at once held ~110 MB more)."
    ),
    "backtest_cycles_per_s": (
        "Retrains included: every 12 h of data time the model refits on up to 15,000 samples "
        "(resolved predictions join them every cycle), ~90-140 ms each, 33 in 20 days, almost "
        "all of it scikit-learn's own per-iteration overhead (150 trees; a fit on 1,000 rows "
        "takes ~80 ms); the bootstrap validates on 4 walk-forward folds. The live loop's cycle "
        "adds its sleep (check_interval / 3600) and the file store's commits."
    ),
    "backtest_engine_ms_per_cycle": (
        "By phase at 5 pairs (the scaling table): signal generation ~0.5 ms (indicators on "
        "200 candles x 5 pairs, the compiled forest, recording each prediction and resolving "
        "the due ones: each symbol's oldest pending only, one vectorised outcome call), "
        "update_positions ~0.25 ms, market_scan ~0.2 ms, risk ~0.05 ms (the live AUC interval "
        "is bootstrapped only when the edge gate needs a verdict), execute_trades ~0.08 ms; "
        "the rest is the in-memory store and the loop. The forest compiles in ~6 ms a retrain "
        "(32 ms before). Single runs on this shared machine vary by up to ~2x from one hour to "
        "the next (a fixed Python loop: 0.23-0.50 s): 1.6-2.2 ms a cycle was measured for "
        "the same code in a slow hour."
    ),
    "backtest_seconds_5x20d": (
        "The cycles x the engine's cost of one (backtest_engine_ms_per_cycle), plus the "
        "model's trainings (the bootstrap with its walk-forward validation, then one retrain "
        "per ml.training_interval_hours of data time on up to 15,000 samples: ~45 % of the "
        "run). In a slow hour of this machine the same run took 13.6-17 s."
    ),
}


# Profiles taken while building the suite, and the engine changes they led to (static text: the
# numbers are from the day of the change, on the machine of the results above).
PROFILES = """\
- **Indicators** (`tui_bot/engine/indicators.py`). The first version took 7.7-8.8 ms for 200 x
  500 in a fresh process against TA-Lib's 1.2-1.9 ms (4-6x, goal 3x). Its five `lfilter` calls
  were only 2.2 ms of that; `resource.getrusage` showed ~2,460 minor page faults per call: every
  call wrote ~9.6 MB of fresh memory (a separate array per output, `np.full` + `where=` divides,
  `np.diff(prepend=)`, `np.cumsum`), glibc gave it back to the OS on free, and each 4 KiB page
  costs ~1.5 us to fault in on this VM. Now the six outputs share one (6, n, T) block written
  with `out=`; RSI's gains and losses live in the not-yet-written momentum/ratio slots and get
  their Wilder averages from one `lfilter` call; MACD's EMA12 - EMA26 is one second-order filter
  whose state is set from both seeds; the rolling volume mean is `uniform_filter1d` into the
  output; zero divisors are fixed after the divide. Result: 2.6-2.8 ms and no page faults, same
  values as before to 1e-13 and as TA-Lib to 1e-10 (tests/test_talib_agreement.py).
- **Training threads** (`tui_bot/engine/model.py`). 15,000 x 4 rows: HistGradientBoosting with
  two OpenMP threads took 0.66-4.5 s (median 1.56 s over 6 runs) on this shared 2-core VM, one
  thread 0.59-0.77 s (median 0.66 s): with 4 features there is little to split, and each parallel
  region waits for a descheduled thread. With one thread in the worker process the UI loop lag
  p99 during 4 trainings fell from 6.1-7.4 ms to 3.5-5.6 ms, because a core stays free. Training
  now runs on one OpenMP thread below 100,000 rows (a per-thread limit through threadpoolctl,
  so other threads keep theirs). Prediction keeps the default: a 200-row batch takes 1.05 ms with
  two threads and 1.32 ms with one.
- **Cached symbol lookup**: 72-80 ns per lookup on an idle machine, 180 ns while other
  processes loaded both cores. Most of it is the two Python calls (SymbolGroups.group ->
  PermanentCache.get_or_compute); `__slots__` on the cache changed nothing measurable (74 vs
  75 ns). A busy machine can push it over 0.1 us.
- **UI loop lag spikes** (not fixed here: outside the engine). While measuring the UI lag, single
  ticks ran 170-210 ms late, each time during a full (generation 2) garbage collection of the
  UI process: it walks every tracked object, 40-60 ms on this VM with textual, scipy and
  scikit-learn imported (~90-120k objects) and ~120 ms with ccxt too (~290k). That shows in the
  max, rarely in the p99. `gc.freeze()` once the start-up imports are done takes them out of
  every later collection (0.0 ms afterwards): a one-line change for the dashboard's start-up.
"""

# -- numbers ------------------------------------------------------------------------------------


def fmt(value: Any) -> str:
    """Three significant digits; thousands separated; "-" for nothing."""
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return "-".join(fmt(v) for v in value)
    value = float(value)
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    if magnitude >= 3:
        return f"{value:,.0f}"
    decimals = max(0, 2 - magnitude)
    return f"{value:.{decimals}f}"


def fmt_ratio(value: Any) -> str:
    return "-" if value is None else f"{fmt(value)}x"


def _met(goal: dict[str, Any] | None) -> str:
    if goal is None:
        return ""
    return {True: "yes", False: "NO", None: "?"}[goal["met"]]


def _goal_text(row: dict[str, Any]) -> str:
    goal = row["goal"]
    if goal is None:
        return ""
    of = goal["of"]
    text = f"{goal['op']} {fmt(goal['value'])}"
    if of is not None:
        text += f" x {of}"
    return text


def _seed(row: dict[str, Any]) -> str:
    before, after = row["seed_before"], row["seed_after"]
    if before is None and after is None:
        return ""
    return f"{fmt(before)} -> {fmt(after)}"


TEXT_COLUMNS = ("row", "unit", "goal", "met")  # left-aligned; every other column is a number
HEADERS = ("row", "unit", "baseline", "ours", "ratio", "seed before -> after", "goal", "met")


def table_cells(results: dict[str, Any]) -> list[tuple[str, ...]]:
    return [
        (
            row["name"],
            row["unit"],
            fmt(row["baseline"]),
            fmt(row["ours"]),
            fmt_ratio(row["ratio"]),
            _seed(row),
            _goal_text(row),
            _met(row["goal"]),
        )
        for row in results["rows"]
    ]


def _numeric_columns(headers: tuple[str, ...]) -> set[int]:
    return {i for i, h in enumerate(headers) if h not in TEXT_COLUMNS}


def text_table(headers: tuple[str, ...], cells: list[tuple[str, ...]]) -> str:
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    numeric = _numeric_columns(headers)

    def line(values: tuple[str, ...]) -> str:
        parts = [
            v.rjust(w) if i in numeric else v.ljust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(c) for c in cells)])


def markdown_table(
    headers: tuple[str, ...], cells: list[tuple[str, ...]], code_first: bool = True
) -> str:
    numeric = _numeric_columns(headers)
    align = ["---:" if i in numeric else "---" for i in range(len(headers))]
    lines = [f"| {' | '.join(headers)} |", f"|{'|'.join(align)}|"]
    for c in cells:
        row = (f"`{c[0]}`", *c[1:]) if code_first else c
        lines.append(f"| {' | '.join(row)} |")
    return "\n".join(lines)


SCALING_HEADERS = (
    "symbols",
    "cached ms",
    "cached CPU ms",
    "uncached s",
    "uncached CPU ms",
    "scan bound s",
    "uncached / bound",
)


def scaling_cells(results: dict[str, Any]) -> list[tuple[str, ...]]:
    return [
        (
            str(e["symbols"]),
            fmt(e["cached_ms"]),
            fmt(e["cached_cpu_ms"]),
            fmt(e["uncached_s"]),
            fmt(e["uncached_cpu_ms"]),
            fmt(e["scan_bound_s"]),
            fmt_ratio(e["uncached_vs_bound"]),
        )
        for e in results["scaling"]
    ]


BACKTEST_SCALING_HEADERS = (
    "pairs",
    "cycles",
    "ms a cycle",
    "update_positions",
    "market_scan",
    "signal_generation",
    "risk_management",
    "execute_trades",
    "ms a training",
)
_EVERY_CYCLE = BACKTEST_SCALING_HEADERS[3:8]


def backtest_scaling_cells(results: dict[str, Any]) -> list[tuple[str, ...]]:
    return [
        (
            str(e["pairs"]),
            f"{e['cycles']:,}",
            fmt(e["ms_per_cycle"]),
            *(fmt(e["phase_ms"].get(phase)) for phase in _EVERY_CYCLE),
            fmt(e["phase_ms"].get("ml_training")),
        )
        for e in results.get("backtest_scaling", [])
    ]


def stdout_report(results: dict[str, Any]) -> str:
    meta = results["meta"]
    parts = [
        f"tui-bot benchmarks ({meta['mode']}) - {meta['date']} - {meta['machine']['cpu']}, "
        f"{meta['machine']['cores']} cores",
        "",
        text_table(HEADERS, table_cells(results)),
        "",
        "ratio = baseline / ours (saved samples: bytes of the naive save / ours)",
    ]
    if results["scaling"]:
        parts += [
            "",
            "cycle time vs universe size "
            f"({meta['network']['latency_ms']:g} ms latency, "
            f"{meta['network']['rate_limit_per_s']:g} requests/s, "
            f"{meta['network']['workers']} workers):",
            text_table(SCALING_HEADERS, scaling_cells(results)),
        ]
    if results.get("backtest_scaling"):
        parts += [
            "",
            "backtest cycle vs pairs (ms; phases a cycle, training a retrain):",
            text_table(BACKTEST_SCALING_HEADERS, backtest_scaling_cells(results)),
        ]
    parts += [f"skipped: {s}" for s in results["skipped"]]
    return "\n".join(parts)


# -- metadata -------------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def meta(mode: str, network: dict[str, Any], sizes: dict[str, Any]) -> dict[str, Any]:
    return {
        "mode": mode,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": _git_commit(),
        "machine": {
            "cpu": _cpu_model(),
            "cores": os.cpu_count(),
            "memory_gb": _memory_gb(),
            "os": platform.platform(),
        },
        "versions": {
            "python": sys.version.split()[0],
            "tui-bot": _version("tui-bot"),
            **{p: _version(p) for p in PACKAGES},
        },
        "network": network,
        "sizes": sizes,
        "timing": "median of repeats (time.perf_counter_ns) after warm-up calls",
    }


def results_dict(
    rows: list[Row],
    scaling: list[dict[str, Any]],
    skipped: list[str],
    meta: dict[str, Any],
    backtest_scaling: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    by_name = {r.name: r for r in rows}
    return {
        "meta": meta,
        "rows": [r.to_json(by_name) for r in rows],
        "scaling": scaling,
        "backtest_scaling": backtest_scaling or [],
        "skipped": skipped,
        "notes": {
            r.name: {
                "baseline": r.baseline_label,
                "ours": r.ours_label,
                "check": r.check,
                "details": r.details,
            }
            for r in rows
        },
    }


# -- documents ------------------------------------------------------------------------------------


def _versions_line(meta: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in meta["versions"].items())


def benchmarks_md(results: dict[str, Any]) -> str:
    meta = results["meta"]
    machine = meta["machine"]
    net = meta["network"]
    lines = [
        "# Benchmarks",
        "",
        "<!-- Generated by `python -m benchmarks` from benchmarks/results.json: do not edit; "
        "rerun the suite. -->",
        "",
        "Every row runs a naive baseline and our implementation in the same process, on the "
        "same data, and checks that both compute the same result; times are medians of "
        "repeats (`time.perf_counter_ns`) after warm-up. The seed's figures are the reference "
        "design's performance table; the goals are this project's.",
        "",
        f"- Date: {meta['date']}" + (f" (commit {meta['commit']})" if meta["commit"] else ""),
        f"- Machine: {machine['cpu']}, {machine['cores']} cores, "
        f"{machine['memory_gb']} GB, {machine['os']}",
        f"- Versions: {_versions_line(meta)}",
        f"- Simulated network for scans and cycles: {net['latency_ms']:g} ms per call, "
        f"{net['rate_limit_per_s']:g} requests/s, {net['workers']} parallel workers "
        "(the simulator's and scanner's defaults)",
        "",
        "## Results",
        "",
        markdown_table(HEADERS, table_cells(results)),
        "",
        "Ratio = baseline / ours: how many times faster (or smaller) ours is; for "
        "`saved_samples_reduction_pct` it is the naive save's bytes / ours. "
        "`indicators_talib_ms_200x500` compares ours with TA-Lib: there the baseline column "
        "is TA-Lib and the goal is to stay within 3x of it.",
    ]
    if results["scaling"]:
        lines += [
            "",
            "## How a cycle's cost grows with the universe",
            "",
            "Our engine, whole cycles (`Engine.run_cycle`), every symbol scanned: cached = "
            "inside the scan cache TTL (the next cycle 60 s later); uncached = after the cache "
            "expired, with a new candle for every symbol. CPU = CPU time of the event-loop "
            "thread during the cycle: the engine's work plus the in-process simulator's "
            "(building candles and tickers); the rest of the wall time is waiting for the "
            "simulated exchange's latency and rate limit.",
            "",
            markdown_table(SCALING_HEADERS, scaling_cells(results), code_first=False),
        ]
    if results.get("backtest_scaling"):
        lines += [
            "",
            "## How a backtest cycle's cost grows with pairs",
            "",
            "`run_backtest` on the real pairs, then on copies of them under new names (each "
            "copy's candles rolled by another offset: as costly to trade, other features), "
            "the same cycles at each size. ms a cycle = the engine's mean cycle with the "
            "model's trainings left out; the phase columns are each phase's mean a cycle; "
            "ms a training = one retrain (they come every ml.training_interval_hours of data "
            "time, more samples with more pairs).",
            "",
            markdown_table(
                BACKTEST_SCALING_HEADERS, backtest_scaling_cells(results), code_first=False
            ),
        ]
    lines += ["", "## What each row measures", ""]
    for row in results["rows"]:
        note = results["notes"][row["name"]]
        lines += [
            f"- `{row['name']}`: baseline: {note['baseline']}. Ours: {note['ours']}. "
            f"Checked: {note['check']}.",
        ]
    lines += ["", "## Goals, and what limits each number", ""]
    for row in results["rows"]:
        goal = row["goal"]
        status = ""
        if goal is not None:
            status = (
                f"goal {_goal_text(row)} ({fmt(goal['threshold'])} {row['unit']}): "
                f"{'met' if goal['met'] else 'MISSED'}. "
            )
        limit = LIMITS.get(row["name"], "")
        lines.append(f"- `{row['name']}`: {status}{limit}")
    if results["skipped"]:
        lines += ["", "Skipped: " + "; ".join(results["skipped"]) + "."]
    lines += ["", "## Profiles and fixes", "", PROFILES.rstrip()]
    lines += [
        "",
        "## Reproduce",
        "",
        "```",
        "make bench                               # or: .venv/bin/python -m benchmarks",
        ".venv/bin/python -m benchmarks --quick   # seconds; what CI runs; writes to a temp dir",
        ".venv/bin/python -m benchmarks --render  # only re-render the docs from results.json",
        "```",
        "",
        "A full run (a few minutes) rewrites benchmarks/results.json, this file and the table "
        "in README.md; `--quick` also checks that those three still agree. "
        "Timings on a shared 2-core VM vary by up to ~2x between runs; compare the columns "
        "of one run, not runs.",
        "",
    ]
    return "\n".join(lines)


def readme_block(results: dict[str, Any]) -> str:
    meta = results["meta"]
    return "\n".join(
        [
            README_START,
            f"Measured on {meta['machine']['cpu']} ({meta['machine']['cores']} cores), "
            f"{meta['date']}; details, the scaling table and what limits each number in "
            "[BENCHMARKS.md](BENCHMARKS.md).",
            "",
            markdown_table(HEADERS, table_cells(results)),
            README_END,
        ]
    )


def replace_readme_block(text: str, block: str) -> str | None:
    """README text with the block between the markers replaced; None if there are none."""
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        return None
    return text[:start] + block + text[end + len(README_END) :]


def write(results: dict[str, Any], out_dir: Path | None) -> list[Path]:
    """results.json + BENCHMARKS.md (+ the README block for a full run into the repo)."""
    json_path = RESULTS if out_dir is None else out_dir / "results.json"
    md_path = BENCHMARKS_MD if out_dir is None else out_dir / "BENCHMARKS.md"
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    md_path.write_text(benchmarks_md(results))
    written = [json_path, md_path]
    if out_dir is None and README.exists():
        updated = replace_readme_block(README.read_text(), readme_block(results))
        if updated is not None:
            README.write_text(updated)
            written.append(README)
    return written


def committed_docs_problems() -> list[str]:
    """Does the committed results.json render to the committed BENCHMARKS.md and README table?"""
    if not RESULTS.exists():
        return []
    results = json.loads(RESULTS.read_text())
    problems = []
    if not BENCHMARKS_MD.exists() or BENCHMARKS_MD.read_text() != benchmarks_md(results):
        problems.append(
            f"{BENCHMARKS_MD.name} does not match {RESULTS.name}: rerun the suite, or "
            "python -m benchmarks --render after changing only the text"
        )
    readme = README.read_text() if README.exists() else ""
    if replace_readme_block(readme, readme_block(results)) != readme:
        problems.append(
            f"README.md's benchmark table does not match {RESULTS.name}: "
            "python -m benchmarks --render"
        )
    return problems
