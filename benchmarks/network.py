"""Rows on the simulated network: market scans and whole cycles, plus the scaling table."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks import fixtures
from benchmarks.fixtures import LATENCY_MS, RATE_LIMIT_PER_S, WORKERS
from benchmarks.rows import Goal, Row, require
from benchmarks.timing import measure_async, median_of
from tui_bot.engine.scanner import ScanResult
from tui_bot.engine.snapshot import Snapshot

CACHE_TTL = 300.0  # scan.cache_duration default: advancing this far expires the scan cache
CHECK_INTERVAL = 60.0  # bot.check_interval default: the next cycle, inside the scan cache TTL

Progress = Callable[[str], None]


def bound_s(n: int, workers: int) -> float:
    """Fastest possible fetch of n symbols: max(n x latency / workers, n / rate)."""
    return max(n * LATENCY_MS / 1000.0 / workers, n / RATE_LIMIT_PER_S)


def _same_scan(a: ScanResult, b: ScanResult) -> bool:
    same = (np.array_equal(a.candles[s], b.candles[s]) for s in a.ranked)
    return a.ranked == b.ranked and all(same)


async def scans(n: int, repeat: int, progress: Progress) -> list[Row]:
    clock = fixtures.new_clock()
    ours = fixtures.scanner(fixtures.exchange(clock, n, LATENCY_MS, RATE_LIMIT_PER_S), clock, n)
    base = fixtures.scanner(
        fixtures.exchange(clock, n, LATENCY_MS, RATE_LIMIT_PER_S), clock, n, sequential=True
    )
    progress(f"scan: {n} symbols, {LATENCY_MS:g} ms latency, {RATE_LIMIT_PER_S:g}/s")
    first = await ours.scan(force=True)  # loads markets too: both scanners keep them
    require(len(first.ranked) == n, f"scan: {len(first.ranked)} of {n} symbols fetched")
    require(_same_scan(first, await base.scan()), "scan: sequential and parallel scans differ")
    t_ours = await measure_async(lambda: ours.scan(force=True), repeat=repeat, warmup=0)
    t_base = await measure_async(base.scan, repeat=repeat, warmup=0)
    cached = await ours.scan()
    require(cached is ours.cache.lookup("scan"), "scan: a cached scan is not the stored one")
    require(_same_scan(cached, first), "scan: cached and fresh scans differ")
    t_hit = await measure_async(ours.scan, number=1000, repeat=7)
    bound, bound_1 = bound_s(n, WORKERS), bound_s(n, 1)
    net = f"{LATENCY_MS:g} ms latency, {RATE_LIMIT_PER_S:g} requests/s"
    seq_label = f"sequential scan, no cache: {n} fetch_ohlcv one at a time ({net})"
    ours_label = f"MarketScanner.scan(force=True): at most {WORKERS} in flight ({net})"
    details = {
        "symbols": n,
        "latency_ms": LATENCY_MS,
        "rate_limit_per_s": RATE_LIMIT_PER_S,
        "workers": WORKERS,
        "max_in_flight": ours.max_in_flight,
        "requests_per_scan": n + 1,
    }
    return [
        Row(
            "scan_cached_ms",
            "ms",
            t_base.median * 1e3,
            t_hit.median * 1e3,
            seed_before=(25_000.0, 35_000.0),
            seed_after=100.0,
            goal=Goal("<=", 5.0),
            baseline_label=seq_label,
            ours_label="MarketScanner.scan() inside the cache TTL (no request)",
            check="the cached result is the stored scan, equal to a fresh one",
            details=details,
        ),
        Row(
            "scan_uncached_s",
            "s",
            t_base.median,
            t_ours.median,
            seed_before=(25.0, 35.0),
            goal=Goal("<=", 1.25, "scan_bound_s"),
            baseline_label=seq_label,
            ours_label=ours_label,
            check="same ranked symbols and identical candles",
            details=details,
        ),
        Row(
            "scan_bound_s",
            "s",
            bound_1,
            bound,
            baseline_label=f"max({n} x latency / 1 worker, {n} / rate)",
            ours_label=f"max({n} x latency / {WORKERS} workers, {n} / rate)",
            check="arithmetic",
        ),
        Row(
            "scan_vs_bound",
            "x",
            t_base.median / bound,
            t_ours.median / bound,
            goal=Goal("<=", 1.25),
            baseline_label="sequential scan time / scan_bound_s (ours)",
            ours_label="our scan time / scan_bound_s",
            check="arithmetic",
        ),
    ]


@dataclass
class CycleTimes:
    cached_s: list[float]
    uncached_s: list[float]
    cached_cpu_s: list[float]
    uncached_cpu_s: list[float]
    decisions: list[list[tuple[Any, ...]]]


def _decisions(snapshot: Snapshot) -> list[tuple[Any, ...]]:
    return [
        (o.symbol, o.group, o.action, round(o.size_quote, 6), round(o.probability, 12))
        for o in snapshot.opportunities
    ]


async def _timed_cycle(bench: fixtures.BenchEngine, times: CycleTimes, kind: str) -> None:
    # CPU of the event-loop thread: the engine's work (and the in-process simulator's), not
    # OpenMP helper threads spinning after a prediction
    wall, cpu = time.perf_counter_ns(), time.thread_time_ns()
    snapshot = await bench.engine.run_cycle()
    wall, cpu = time.perf_counter_ns() - wall, time.thread_time_ns() - cpu
    getattr(times, f"{kind}_s").append(wall / 1e9)
    getattr(times, f"{kind}_cpu_s").append(cpu / 1e9)
    times.decisions.append(_decisions(snapshot))


async def run_rounds(
    benches: list[fixtures.BenchEngine], clock: Any, rounds: int
) -> list[CycleTimes]:
    """A warm-up round, then `rounds` of (uncached cycle, cached cycle) for every engine, in
    lockstep on one clock so that all of them see the same market."""
    times = [CycleTimes([], [], [], [], []) for _ in benches]
    for r in range(rounds + 1):
        for kind, step in (("uncached", CACHE_TTL), ("cached", CHECK_INTERVAL)):
            clock.advance(step)
            for bench, t in zip(benches, times, strict=True):
                await _timed_cycle(bench, t, kind)
        if r == 0:  # warm-up: drop it
            for t in times:
                for name in ("cached_s", "uncached_s", "cached_cpu_s", "uncached_cpu_s"):
                    getattr(t, name).clear()
    return times


async def cycles(n: int, rounds: int, progress: Progress) -> tuple[list[Row], dict[str, Any]]:
    clock = fixtures.new_clock()
    ours = await fixtures.engine(clock, n, progress=progress)
    base = await fixtures.engine(clock, n, naive=True, progress=progress)
    try:
        progress(f"cycles: {rounds} rounds of (uncached, cached) on {n} symbols, naive and ours")
        t_ours, t_base = await run_rounds([ours, base], clock, rounds)
    finally:
        await ours.close()
        await base.close()
    require(
        t_ours.decisions == t_base.decisions,
        "cycle: the naive and our engine made different decisions",
    )
    decided = sum(len(d) for d in t_ours.decisions)
    require(decided > 0, "cycle: no opportunities were evaluated")
    net = f"{LATENCY_MS:g} ms latency, {RATE_LIMIT_PER_S:g} requests/s"
    base_label = (
        "the same Engine with the naive parts swapped in: sequential uncached scan, per-symbol "
        f"Python indicators, one-row predicts, uncached groups ({n} symbols, {net})"
    )
    check = (
        f"identical decisions (symbol, group, action, size, probability) in all "
        f"{len(t_ours.decisions)} cycles"
    )
    row_c = Row(
        "cycle_cached_ms",
        "ms",
        median_of(t_base.cached_s) * 1e3,
        median_of(t_ours.cached_s) * 1e3,
        baseline_label=base_label,
        ours_label=f"Engine.run_cycle() inside the scan cache TTL ({n} symbols, {net})",
        check=check,
        details={"cpu_ms": median_of(t_ours.cached_cpu_s) * 1e3, "symbols": n},
    )
    row_u = Row(
        "cycle_uncached_s",
        "s",
        median_of(t_base.uncached_s),
        median_of(t_ours.uncached_s),
        baseline_label=base_label,
        ours_label=f"Engine.run_cycle() after the scan cache expired ({n} symbols, {net})",
        check=check,
        details={"cpu_ms": median_of(t_ours.uncached_cpu_s) * 1e3, "symbols": n},
    )
    return [row_c, row_u], scaling_entry(n, t_ours)


def scaling_entry(n: int, t: CycleTimes) -> dict[str, Any]:
    uncached = median_of(t.uncached_s)
    bound = bound_s(n, WORKERS)
    return {
        "symbols": n,
        "cached_ms": median_of(t.cached_s) * 1e3,
        "cached_cpu_ms": median_of(t.cached_cpu_s) * 1e3,
        "uncached_s": uncached,
        "uncached_cpu_ms": median_of(t.uncached_cpu_s) * 1e3,
        "scan_bound_s": bound,
        "uncached_vs_bound": uncached / bound,
        "rounds": len(t.cached_s),
    }


async def scaling(sizes: list[int], rounds: int, progress: Progress) -> list[dict[str, Any]]:
    entries = []
    for n in sizes:
        clock = fixtures.new_clock()
        bench = await fixtures.engine(clock, n, progress=progress)
        try:
            progress(f"scaling: {rounds} rounds on {n} symbols")
            (t,) = await run_rounds([bench], clock, rounds)
        finally:
            await bench.close()
        entries.append(scaling_entry(n, t))
    return entries
