"""SIGKILL a real `tui-bot run` at random moments; nothing filled is lost, nothing is doubled."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = [
    "--set", "sim.speed=600",  # a cycle every 0.1 s of wall time
    "--set", "sim.latency_ms=20",  # so a kill often lands while an order is in flight
    "--set", "sim.error_rate=0.1",  # lost answers, timeouts, rate limits
    "--set", "risk.max_hold_minutes=3",  # positions churn: many buys and sells
    "--set", "risk.min_probability=0.5",
    "--set", "scan.top_n=10",
    "--set", "scan.cache_duration=60",
    "--set", "ml.require_edge=false",  # orders are the subject; the edge gate has its own tests
]  # fmt: skip


def start(workdir: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tui_bot", "run", "--headless", "--json", *SETTINGS, *extra],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def wait_for_cycles(proc: subprocess.Popen[str], cycles: int, timeout: float = 120) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    seen = 0
    while seen < cycles and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        json.loads(line)
        seen += 1
    assert seen >= cycles, "the bot stopped printing cycles"


def exchange_state(workdir: Path) -> tuple[list[dict], dict[str, float]]:
    db = sqlite3.connect(workdir / "data" / "sim_exchange.sqlite")
    orders = [json.loads(row[0]) for row in db.execute("SELECT json FROM orders")]
    balances = {c: free + used for c, free, used in db.execute("SELECT * FROM balances")}
    db.close()
    return orders, balances


def bot_state(workdir: Path) -> tuple[dict[str, str], dict[str, float]]:
    db = sqlite3.connect(workdir / "data" / "tui_bot.sqlite")
    orders = dict(db.execute("SELECT client_order_id, status FROM orders").fetchall())
    held: dict[str, float] = Counter()
    for symbol, amount in db.execute("SELECT symbol, amount FROM positions"):
        held[symbol.split("/")[0]] += amount
    db.close()
    return orders, held


@pytest.mark.slow
def test_sigkill_mid_run_loses_and_doubles_nothing(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text((ROOT / "config.toml").read_text())
    rng = random.Random(7)
    for _ in range(4):
        proc = start(tmp_path)
        wait_for_cycles(proc, 2)
        time.sleep(rng.uniform(0.05, 0.6))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    # A clean final run reconciles whatever the kills left pending.
    final = start(tmp_path, "--cycles", "3")
    wait_for_cycles(final, 3)
    assert final.wait(timeout=60) == 0

    exchange_orders, balances = exchange_state(tmp_path)
    ours, held = bot_state(tmp_path)
    assert exchange_orders, "the run placed no orders: the test proves nothing"
    ids = [o["clientOrderId"] for o in exchange_orders]
    assert len(ids) == len(set(ids)), "an intent reached the exchange twice"
    intents = Counter((o["symbol"], o["side"], o["clientOrderId"][2:7]) for o in exchange_orders)
    assert max(intents.values()) == 1, "two orders for one (cycle, symbol, side)"
    for order in exchange_orders:  # every filled order is known to the bot, as filled
        if order["filled"] > 0:
            assert ours.get(order["clientOrderId"]) == "filled", order["clientOrderId"]
    assert "pending" not in ours.values()
    for currency, total in balances.items():  # positions match what the exchange holds
        if currency != "USDT":
            assert held.get(currency, 0.0) == pytest.approx(total, abs=1e-9), currency
    for currency, amount in held.items():
        assert balances.get(currency, 0.0) == pytest.approx(amount, abs=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["TERM", "HUP"])
def test_a_stop_signal_finishes_the_phase_and_exits_0(tmp_path: Path, sig: signal.Signals) -> None:
    (tmp_path / "config.toml").write_text((ROOT / "config.toml").read_text())
    proc = start(tmp_path)
    wait_for_cycles(proc, 2)
    proc.send_signal(sig)
    assert proc.wait(timeout=60) == 0
    db = sqlite3.connect(tmp_path / "data" / "tui_bot.sqlite")
    assert db.execute("SELECT value FROM state WHERE key = 'clock_time'").fetchone()
    assert db.execute("SELECT COUNT(*) FROM samples").fetchone()[0] == 1
