"""Rows on a real exchange's protocol: the bot against the fake Binance (tests/fake_exchange) over
real HTTP through ccxt, 30 USDT pairs of 5m candles, paper and live, next to a naive ccxt loop.

- Cycles in process: the engine as `tui-bot run` builds it, on a clock that runs with the wall
  but can jump (shared with the fake, whose candles follow it), so a new candle closes when the
  benchmark says: warm = the same candle 25 s and 50 s after a scan (the scan cache valid), fresh
  = a candle later (a new closed candle for every pair, the scan cache expired), cold = the
  first cycle after start with a saved model. Waits (ccxt's limiter, the network) are real.
- Start: `tui-bot run --headless --json --cycles 1` as a process of its own with its own
  TUI_BOT_STORAGE_DIR, from Popen to its first cycle's JSON line: a first start (no model: it
  trains) and a restart with the saved model; the peak memory of its process tree meanwhile.
- Request weight per cycle: the fake's own count, Binance's published weights. The limiter's
  wait: the `requests` object of the cycle's JSON when the bot reports one.
- ccxt's own rate limiter as configured by default for binance (rateLimit 50 ms): the fake's
  test setting of 10 ms is taken out, so waits are those real Binance would impose.
- Naive baseline: a plain ccxt loop a straightforward bot runs each cycle: fetch_tickers() for
  all, fetch_ohlcv for each of the 30 pairs (asyncio.gather), fetch_balance; ccxt's default
  rate limiter.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.report import ROOT
from benchmarks.rows import Goal, Row, require

sys.path.insert(0, str(ROOT / "tests"))  # the fake exchange lives with the tests that use it
from fake_exchange import FakeBinance, bot_config  # noqa: E402

import tui_bot  # noqa: E402
from tui_bot.config import load_settings  # noqa: E402
from tui_bot.engine.model import InlineTrainer  # noqa: E402
from tui_bot.runtime import build_runtime  # noqa: E402

Progress = Callable[[str], None]
PAIRS = 30
TF = 300  # 5m candles
KEY, SECRET = "bench-key", "bench-secret-4e1b"
KEYS = {"TUI_BOT_API_KEY": KEY, "TUI_BOT_API_SECRET": SECRET}
BINANCE_WEIGHT_PER_MINUTE = 6000
KLINE_WEIGHT = 2
FRESH_BOUND_S = PAIRS * KLINE_WEIGHT / (BINANCE_WEIGHT_PER_MINUTE / 60)  # 30 klines at the budget
START_TIMEOUT_S = 180.0
POLL_S = 0.05


@dataclass(frozen=True)
class Sizes:
    rounds: int  # (warm, warm, fresh) rounds after the cold cycle, per mode
    start_modes: tuple[str, ...]  # the modes whose process start is measured
    naive_cycles: int


FULL = Sizes(rounds=4, start_modes=("paper", "live"), naive_cycles=4)
QUICK = Sizes(rounds=1, start_modes=("paper",), naive_cycles=2)


class SteppedClock:
    """The wall clock plus jumps: time flows as it does, and `jump_to` moves it on at once."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def jump_to(self, t: float) -> None:
        self.offset += max(0.0, t - self.now())


def ccxt_config(server: FakeBinance) -> dict[str, Any]:
    """The fake's ccxt settings with ccxt's own rate limit for binance (not the tests' 10 ms)."""
    config = server.ccxt_config()
    config.pop("rateLimit")
    return config


def config_text(server: FakeBinance, mode: str) -> str:
    return bot_config(
        server,
        mode,
        exchange={"ccxt_config": ccxt_config(server)},
        scan={"top_n": PAIRS, "candles": 200},  # every pair, the default history
    )


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _wait_ms(line: dict[str, Any]) -> float | None:
    """The limiter's wait a cycle reports (the `requests` object of its JSON), if it does."""
    requests = line.get("requests")
    if not isinstance(requests, dict) or requests.get("limiter_wait_ms") is None:
        return None
    return float(requests["limiter_wait_ms"])


# -- process start and memory ---------------------------------------------------------------------


def _tree(pid: int) -> list[int]:
    """pid and every living process below it."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo += parents.get(p, [])
    return tree


def _memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in kB; zeros when it is gone."""
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    except (OSError, ValueError):
        pass
    return rss, pss


@dataclass
class StartRun:
    mode: str
    first_start: bool
    seconds: float  # Popen -> the first cycle's JSON line
    peak_rss_mb: float  # the process tree's, summed
    peak_pss_mb: float
    processes: int  # the most processes the tree had at once
    first: dict[str, Any]  # the first cycle's JSON line
    weight: int  # at the fake, from start to the first cycle


def run_bot(workdir: Path, server: FakeBinance, mode: str, first_start: bool) -> StartRun:
    """`tui-bot run --headless --json --cycles 1` until it exits; its first cycle's time and the
    peak memory of its process tree, polled through /proc."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUI_BOT_")}
    env["TUI_BOT_STORAGE_DIR"] = str(workdir / "data")
    code = str(Path(tui_bot.__file__).resolve().parents[1])  # the tui_bot this process runs
    env["PYTHONPATH"] = os.pathsep.join(p for p in (code, env.get("PYTHONPATH")) if p)
    args = [sys.executable, "-m", "tui_bot", "run", "--headless", "--json", "--cycles", "1"]
    args += ["--config", str(workdir / "config.toml")]
    if mode == "live":
        env.update(KEYS)
        args.append("--live")
    lines: list[tuple[float, str]] = []
    mark = server.mark()
    started = time.perf_counter()
    with open(workdir / f"stderr-{mode}.log", "w") as stderr:
        proc = subprocess.Popen(
            args, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True
        )
        assert proc.stdout is not None
        reader = threading.Thread(
            target=lambda: lines.extend((time.perf_counter(), x) for x in proc.stdout),  # type: ignore[union-attr]
            daemon=True,
        )
        reader.start()
        peak_rss = peak_pss = processes = 0
        try:
            while proc.poll() is None:
                if time.perf_counter() - started > START_TIMEOUT_S:
                    raise RuntimeError(f"tui-bot run ({mode}) took over {START_TIMEOUT_S:.0f} s")
                tree = _tree(proc.pid)
                sizes = [_memory_kb(p) for p in tree]
                peak_rss = max(peak_rss, sum(r for r, _ in sizes))
                peak_pss = max(peak_pss, sum(p for _, p in sizes))
                processes = max(processes, len(tree))
                time.sleep(POLL_S)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            reader.join(5)
    log = (workdir / f"stderr-{mode}.log").read_text()[-2000:]
    require(proc.returncode == 0 and bool(lines), f"tui-bot run ({mode}) failed: {log}")
    at, first = lines[0]
    return StartRun(
        mode,
        first_start,
        at - started,
        peak_rss / 1024,
        peak_pss / 1024,
        processes,
        json.loads(first),
        server.weight(mark),
    )


def copy_trained(source: Path, target: Path) -> None:
    """The paper run's store and model into `target`, for both modes (as tests/conftest.py's
    trained_storage does): in-process engines start with a saved model and no positions (that
    run's paper account is not copied, so they would be positions no venue holds)."""
    target.mkdir(parents=True, exist_ok=True)
    for mode in ("paper", "live"):
        model = f"model_binance_{mode}.joblib"
        shutil.copy(source / "model_binance_paper.joblib", target / model)
        store = target / f"tui_bot_binance_{mode}.sqlite"
        shutil.copy(source / "tui_bot_binance_paper.sqlite", store)
        db = sqlite3.connect(store)
        with db:
            db.execute("UPDATE models SET path = ?", (model,))
            for table in ("positions", "orders", "trades", "equity", "alerts"):
                db.execute(f"DELETE FROM {table}")
        db.close()


# -- cycles in process ----------------------------------------------------------------------------


@dataclass
class Cycle:
    kind: str  # cold | warm | after_order (a warm one after a cycle that placed orders) | fresh
    ms: float
    weight: int
    positions: int  # open after the cycle
    orders: int
    wait_ms: float | None
    usage: dict[str, list[int]]  # "METHOD /path" -> [calls, weight]


@dataclass
class EngineRun:
    mode: str
    start_ms: float
    cycles: list[Cycle] = field(default_factory=list)

    def of(self, kind: str) -> list[Cycle]:
        return [c for c in self.cycles if c.kind == kind]


async def engine_run(mode: str, storage: Path, rounds: int, progress: Progress) -> EngineRun:
    clock = SteppedClock()
    with FakeBinance(KEY, SECRET, pairs=PAIRS, clock=clock.now) as server:
        workdir = storage.parent
        (workdir / "config.toml").write_text(config_text(server, mode))
        settings = load_settings(workdir / "config.toml", env={})
        settings = settings.with_values({"storage.dir": str(storage)})
        runtime = build_runtime(
            settings, trainer=InlineTrainer(), clock=clock, live=mode == "live", env=KEYS
        )
        require(
            runtime.engine.mode == mode.upper(), f"{mode}: the engine runs {runtime.engine.mode}"
        )
        engine = runtime.engine
        try:
            clock.jump_to(math.floor(clock.now() / TF + 1) * TF + 15)  # a candle open + 15 s
            started = time.perf_counter()
            await engine.start()
            run = EngineRun(mode, (time.perf_counter() - started) * 1000)
            require(not engine.bootstrapped, f"{mode}: the saved model was not used")

            async def cycle(kind: str) -> None:
                if kind == "warm" and _placed_orders(run.cycles):
                    kind = "after_order"  # a live account is read again: it changed
                mark = server.mark()
                t0 = time.perf_counter()
                snapshot = await engine.run_cycle()
                ms = (time.perf_counter() - t0) * 1000
                usage = {k: [u.calls, u.weight] for k, u in server.usage(mark).items()}
                run.cycles.append(
                    Cycle(kind, ms, server.weight(mark), len(snapshot.positions),
                          snapshot.orders_placed, _wait_ms(snapshot.to_json()), usage)
                )  # fmt: skip

            scanned = clock.now()
            await cycle("cold")
            for r in range(rounds):
                progress(f"real exchange ({mode}): round {r + 1} of {rounds}")
                for after in (25, 50):
                    clock.jump_to(scanned + after)
                    await cycle("warm")
                scanned += TF + 6  # a candle on, and past the scan cache's 300 s
                clock.jump_to(scanned)
                await cycle("fresh")
        finally:
            await runtime.close()
    return run


def _placed_orders(cycles: list[Cycle]) -> bool:
    """Whether the last of `cycles` placed an order (their counts are the engine's totals)."""
    if not cycles:
        return False
    before = cycles[-2].orders if len(cycles) > 1 else 0
    return cycles[-1].orders > before


# -- the naive loop -------------------------------------------------------------------------------


async def naive_run(cycles: int) -> tuple[list[float], list[int]]:
    """A straightforward bot's cycle with ccxt as it comes: (ms, weight) per cycle."""
    import ccxt.async_support as ccxt_async

    with FakeBinance(KEY, SECRET, pairs=PAIRS) as server:
        config = ccxt_config(server)
        client = ccxt_async.binance({**config, "apiKey": KEY, "secret": SECRET})
        times, weights = [], []
        try:
            await client.load_markets()
            usdt = [s for s, m in client.markets.items() if m["quote"] == "USDT" and m["active"]]
            require(len(usdt) == PAIRS, f"naive: {len(usdt)} USDT pairs, not {PAIRS}")
            for _ in range(cycles):
                mark = server.mark()
                t0 = time.perf_counter()
                tickers = await client.fetch_tickers()
                top = sorted(usdt, key=lambda s: -(tickers[s]["quoteVolume"] or 0))
                candles = await asyncio.gather(
                    *(client.fetch_ohlcv(s, "5m", limit=201) for s in top)
                )
                await client.fetch_balance()
                times.append((time.perf_counter() - t0) * 1000)
                weights.append(server.weight(mark))
                require(all(len(c) == 201 for c in candles), "naive: short candle answers")
        finally:
            await client.close()
    return times, weights


# -- rows -----------------------------------------------------------------------------------------


def _cycle_rows(run: EngineRun, naive_ms: float, naive_weight: float) -> list[Row]:
    m = run.mode
    warm, fresh, cold = run.of("warm"), run.of("fresh"), run.of("cold")
    net = f"fake Binance over HTTP through ccxt, {PAIRS} USDT pairs, {m}"
    naive = f"naive ccxt loop: fetch_tickers(), {PAIRS} x fetch_ohlcv, fetch_balance ({net})"
    per_position = [c.weight / max(1, c.positions) for c in warm]
    waits = [c.wait_ms for c in run.cycles if c.wait_ms is not None]
    details = {
        "engine_start_ms": run.start_ms,
        "cycles": [vars(c) for c in run.cycles],
    }
    check = "the fake's own request log: every cycle's calls and weight per endpoint"
    return [
        Row(f"real_warm_cycle_ms_{m}", "ms", naive_ms, _median([c.ms for c in warm]),
            goal=Goal("<=", 60.0), baseline_label=naive,
            ours_label=f"Engine.run_cycle() on the same candle, scan cache valid ({net})",
            check=check, details=details),
        Row(f"real_fresh_cycle_ms_{m}", "ms", naive_ms, _median([c.ms for c in fresh]),
            goal=Goal("<=", 1.2, "real_fresh_bound_ms"), baseline_label=naive,
            ours_label=f"Engine.run_cycle() a candle later, scan cache expired ({net})",
            check=check),
        Row(f"real_cold_cycle_ms_{m}", "ms", naive_ms, _median([c.ms for c in cold]),
            baseline_label=naive,
            ours_label=f"the first Engine.run_cycle() after start, saved model ({net})",
            check=check),
        Row(f"real_warm_weight_{m}", "weight", naive_weight, _median([c.weight for c in warm]),
            baseline_label=f"{naive}: Binance request weight a cycle",
            ours_label="Binance request weight of a warm cycle (the fake's count)", check=check),
        Row(f"real_warm_weight_per_position_{m}", "weight", None,
            max(per_position) if per_position else None, goal=Goal("<=", 2.0),
            ours_label="the most weight of a warm cycle / its open positions (at least 1)",
            check=check,
            details={"positions": [c.positions for c in warm]}),
        Row(f"real_after_order_weight_{m}", "weight", naive_weight,
            _median([c.weight for c in run.of("after_order")]),
            baseline_label=f"{naive}: Binance request weight a cycle",
            ours_label="Binance request weight of a warm cycle after one that placed orders "
            "(live: the account is read again, weight 20; - when no cycle placed any)",
            check=check),
        Row(f"real_fresh_weight_{m}", "weight", naive_weight,
            _median([c.weight for c in fresh]),
            baseline_label=f"{naive}: Binance request weight a cycle",
            ours_label="Binance request weight of a fresh-candle cycle (the fake's count)",
            check=check),
        Row(f"real_limiter_wait_ms_{m}", "ms", None, _median(waits),
            ours_label="the rate limiter's wait a cycle, as the cycle's JSON reports it "
            "(`requests.limiter_wait_ms`; - when it reports none)",
            check="the bot's own report"),
    ]  # fmt: skip


def _start_rows(starts: list[StartRun]) -> list[Row]:
    rows = []
    for run in starts:
        kind = "first" if run.first_start else "saved"
        what = "first start (no model: it trains)" if run.first_start else "restart, saved model"
        rows.append(
            Row(
                f"real_start_{kind}_s_{run.mode}",
                "s",
                None,
                run.seconds,
                goal=Goal("<", 6.0 if run.first_start else 3.0),
                ours_label=f"`tui-bot run --headless --json` ({run.mode}), {what}: process "
                f"start -> the first cycle's JSON line ({PAIRS} pairs on the fake Binance)",
                check="the first cycle's JSON line arrived and the process exited 0",
                details={
                    "peak_rss_mb": run.peak_rss_mb,
                    "peak_pss_mb": run.peak_pss_mb,
                    "processes": run.processes,
                    "weight_to_first_cycle": run.weight,
                    "first_cycle_phases": run.first["phases"],
                    "first_cycle_requests": run.first.get("requests"),
                },
            )
        )
    peak = max(starts, key=lambda r: r.peak_rss_mb)
    rows.append(
        Row(
            "real_process_tree_mb",
            "MB",
            None,
            peak.peak_rss_mb,
            goal=Goal("<", 300.0),
            ours_label="the most RSS of the `tui-bot run` process tree (the bot and any "
            "training process, summed) over the runs above, polled every 50 ms",
            check="/proc/<pid>/smaps_rollup of every process in the tree",
            details={
                r.mode + ("_first" if r.first_start else "_saved"): r.peak_pss_mb for r in starts
            }
            | {"of": "peak PSS per run, MB"},  # fmt: skip
        )
    )
    return rows


async def rows(quick: bool, progress: Progress) -> list[Row]:
    sizes = QUICK if quick else FULL
    with tempfile.TemporaryDirectory(prefix="tui-bot-bench-real-") as tmp:
        root = Path(tmp)
        starts: list[StartRun] = []
        with FakeBinance(KEY, SECRET, pairs=PAIRS) as server:
            for mode in sizes.start_modes:
                workdir = root / f"start-{mode}"
                workdir.mkdir()
                (workdir / "config.toml").write_text(config_text(server, mode))
                for first in (True, False):
                    progress(
                        f"real exchange: tui-bot run ({mode}, {'first' if first else 'saved'})"
                    )
                    starts.append(run_bot(workdir, server, mode, first))
        trained = root / "start-paper" / "data"
        runs = []
        for mode in ("paper", "live"):
            storage = root / f"engine-{mode}" / "data"
            copy_trained(trained, storage)
            runs.append(await engine_run(mode, storage, sizes.rounds, progress))
    progress(f"real exchange: the naive ccxt loop, {sizes.naive_cycles} cycles")
    naive_ms, naive_weights = await naive_run(sizes.naive_cycles)
    out = []
    for run in runs:
        out += _cycle_rows(run, statistics.median(naive_ms), statistics.median(naive_weights))
    out.append(
        Row(
            "real_fresh_bound_ms",
            "ms",
            None,
            FRESH_BOUND_S * 1000,
            ours_label=f"{PAIRS} klines x {KLINE_WEIGHT} weight at Binance's "
            f"{BINANCE_WEIGHT_PER_MINUTE} weight a minute",
            check="arithmetic",
        )
    )
    return out + _start_rows(starts)


def main(argv: list[str] | None = None) -> int:
    """python -m benchmarks.real_exchange [--quick]: only these rows, printed (nothing written)."""
    import argparse

    from benchmarks import report
    from benchmarks.rows import CheckFailed

    parser = argparse.ArgumentParser(prog="python -m benchmarks.real_exchange")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the rows and notes here")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        measured = asyncio.run(rows(args.quick, lambda m: print(f"  .. {m}", file=sys.stderr)))
    except CheckFailed as e:
        print(f"benchmark check failed: {e}", file=sys.stderr)
        return 1
    results = report.results_dict(measured, [], [], {})
    print(report.text_table(report.HEADERS, report.table_cells(results)))
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
