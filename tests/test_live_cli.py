"""`tui-bot run` as a user runs it, against the fake Binance on 127.0.0.1 over real HTTP.

Paper on the exchange's data; live under 30 % injected 429s and 5xx; a wrong secret; a secret
planted in the environment that must appear in no output and no file; and SIGKILLs while an
order is in flight, after which the exchange holds exactly one order per intent and the bot's
positions match the exchange's balances.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fake_exchange import FakeBinance, bot_config

RUN = [sys.executable, "-m", "tui_bot", "run", "--headless", "--json"]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUI_BOT_")}
    return {**env, **extra}


def run(workdir: Path, *args: str, env: dict[str, str], timeout: float = 120):
    return subprocess.run(
        [*RUN, *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout
    )


def cycles(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def alerts(lines: list[dict[str, Any]]) -> list[str]:
    return [a["message"] for line in lines for a in line["alerts"]]


@pytest.fixture
def workdir(tmp_path: Path, trained_storage: Callable[[Path], None]) -> Path:
    trained_storage(tmp_path / "data")
    return tmp_path


@pytest.mark.slow
def test_paper_run_scans_and_trades_on_the_exchanges_data(workdir: Path) -> None:
    with FakeBinance() as server:
        (workdir / "config.toml").write_text(bot_config(server, "live"))
        keys = clean_env(TUI_BOT_API_KEY="k", TUI_BOT_API_SECRET="s")
        result = run(workdir, "--cycles", "5", env=keys)  # mode = "live" but no --live
    assert result.returncode == 0, result.stderr
    assert "paper trading, not live: missing --live" in result.stderr
    lines = cycles(result.stdout)
    assert [c["cycle"] for c in lines][-5:] == sorted(c["cycle"] for c in lines)[-5:]
    assert len(lines) == 5 and {c["mode"] for c in lines} == {"PAPER"}
    assert {c["exchange"] for c in lines} == {"binance"}
    assert sum(c["orders_placed"] for c in lines) > 0 and lines[-1]["positions"]
    assert server.count("/api/v3/order", "POST") == 0  # paper: nothing reaches the exchange
    assert server.count("/api/v3/klines") > 0 and server.count("/api/v3/depth") > 0
    assert (workdir / "data" / "paper_binance.sqlite").exists()
    assert (workdir / "data" / "tui_bot_binance_paper.sqlite").exists()


@pytest.mark.slow
def test_live_under_faults_then_a_wrong_secret_and_no_secret_anywhere(workdir: Path) -> None:
    key = f"planted-key-{uuid.uuid4().hex}"
    secret = f"planted-secret-{uuid.uuid4().hex}"
    wrong = f"planted-wrong-{uuid.uuid4().hex}"
    with FakeBinance(key, secret) as server:
        (workdir / "config.toml").write_text(bot_config(server, "live"))
        server.random_faults(0.3, ("429", "500", "502", "503"))
        server.inject("429", path="/api/v3/ticker/24hr", retry_after=0.5)  # at least one
        faulty = run(
            workdir, "--live", "--cycles", "5",
            env=clean_env(TUI_BOT_API_KEY=key, TUI_BOT_API_SECRET=secret),
        )  # fmt: skip
        server.clear_faults()
        injected = Counter(r.fault for r in server.requests if r.fault)
        sent = server.count("/api/v3/order", "POST")
        denied = run(
            workdir, "--live", "--cycles", "2",
            env=clean_env(TUI_BOT_API_KEY=key, TUI_BOT_API_SECRET=wrong),
        )  # fmt: skip
        orders = server.orders_by_client_id()
        after_wrong = server.count("/api/v3/order", "POST") - sent

    # Under 30 % faults: every cycle completes, with alerts, and nothing is doubled.
    assert faulty.returncode == 0, faulty.stderr[-3000:]
    lines = cycles(faulty.stdout)
    assert len(lines) == 5 and {c["mode"] for c in lines} == {"LIVE"}
    assert sum(injected.values()) >= 8, injected
    messages = alerts(lines)
    assert any("rate limit" in m for m in messages) or "rate limit" in faulty.stderr
    assert orders, "no order reached the exchange: the test proves nothing"
    assert all(len(o) == 1 and cid.startswith("tb") for cid, o in orders.items())
    ours = sqlite3.connect(workdir / "data" / "tui_bot_binance_live.sqlite")
    status = dict(ours.execute("SELECT client_order_id, status FROM orders").fetchall())
    ours.close()
    assert all(status.get(cid) == "filled" for cid in orders)

    # A wrong secret: a clear message, and no trades.
    assert denied.returncode == 0, denied.stderr[-3000:]
    assert "check your API key" in denied.stderr
    assert "check your API key" in " ".join(alerts(cycles(denied.stdout)))
    assert after_wrong == 0

    # The planted strings: in no output and no file, SQLite bytes included.
    outputs = {
        "stdout": faulty.stdout + denied.stdout,
        "stderr": faulty.stderr + denied.stderr,
    }
    for path in workdir.rglob("*"):
        if path.is_file():
            outputs[str(path)] = path.read_bytes().decode("latin-1")
    assert (workdir / "data" / "tui_bot_binance_live.sqlite").exists() and len(outputs) > 3
    for planted in (key, secret, wrong):
        leaks = [where for where, text in outputs.items() if planted in text]
        assert leaks == [], f"{planted[:14]}... leaked into {leaks}"


# ---------------------------------------------------------------------------- SIGKILL


def start(workdir: Path, env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*RUN, "--live", *extra],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def kill_when_an_order_is_in_flight(
    server: FakeBinance, workdir: Path, env: dict[str, str], execute: str
) -> None:
    server.hold_orders(1.0, execute=execute)
    proc = start(workdir, env)
    try:
        assert server.order_arrived.wait(90), "the bot placed no order"
        os.kill(proc.pid, signal.SIGKILL)  # the order is on the wire, its answer is not
    finally:
        proc.kill()
        proc.wait()
    time.sleep(1.2)  # the held request finishes on the exchange side


@pytest.mark.slow
def test_sigkill_while_an_order_is_in_flight_leaves_one_order_per_intent(workdir: Path) -> None:
    env = clean_env(TUI_BOT_API_KEY="fake-api-key", TUI_BOT_API_SECRET="fake-api-secret")
    # A fast price swing makes stops and targets fire: buys and sells every few seconds.
    with FakeBinance(wiggle=(0.004, 6.0)) as server:
        (workdir / "config.toml").write_text(
            bot_config(server, "live", risk={"stop_loss_pct": 0.2, "take_profit_pct": 0.2,
                                             "min_probability": 0.5, "max_per_group": 5})
        )  # fmt: skip
        kill_when_an_order_is_in_flight(server, workdir, env, execute="before")  # answer lost
        kill_when_an_order_is_in_flight(server, workdir, env, execute="after")  # still queued
        server.inject("drop", path="/api/v3/order", method="POST")  # and a dropped answer
        final = start(workdir, env, "--cycles", "4")
        assert final.wait(timeout=120) == 0
        orders = server.orders_by_client_id()
        totals = server.totals()
        dropped = [r for r in server.requests if r.fault == "drop"]

    assert len(dropped) == 1 and dropped[0].status == 200  # executed, its answer dropped
    assert len(orders) >= 2, "too few orders reached the exchange to prove anything"
    assert all(len(o) == 1 for o in orders.values()), "an intent reached the exchange twice"
    intents = Counter((o[0]["symbol"], o[0]["side"], cid[2:7]) for cid, o in orders.items())
    assert max(intents.values()) == 1, "two orders for one (cycle, symbol, side)"
    db = sqlite3.connect(workdir / "data" / "tui_bot_binance_live.sqlite")
    status = dict(db.execute("SELECT client_order_id, status FROM orders").fetchall())
    held: Counter[str] = Counter()
    for symbol, amount in db.execute("SELECT symbol, amount FROM positions"):
        held[symbol.split("/")[0]] += amount
    flows = db.execute("SELECT side, cost, fee FROM orders WHERE status = 'filled'").fetchall()
    adopted = db.execute("SELECT COUNT(*) FROM alerts WHERE message LIKE 'reconciled %'").fetchone()
    db.close()
    assert adopted[0] >= 2  # both killed orders were found on the exchange after the restart
    assert "pending" not in status.values()
    for cid, [order] in orders.items():  # every executed order is known, as filled
        if float(order["executedQty"]) > 0:
            assert status.get(cid) == "filled", cid
    for asset, total in totals.items():  # positions match the exchange's balances
        if asset != "USDT":
            assert held.get(asset, 0.0) == pytest.approx(total, abs=1e-9), asset
    spent = sum(cost + fee if side == "buy" else fee - cost for side, cost, fee in flows)
    assert totals["USDT"] == pytest.approx(10_000.0 - spent, abs=1e-6)  # and so does the cash
