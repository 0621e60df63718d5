"""The engine on a real exchange: ccxt.binance over HTTP to the fake exchange, in process."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from fake_exchange import FakeBinance, bot_config

from tui_bot.clock import FakeClock
from tui_bot.config import Settings, load_settings
from tui_bot.engine.caches import TimedCache
from tui_bot.engine.executor import client_order_id
from tui_bot.engine.model import InlineTrainer
from tui_bot.engine.monitor import Monitor
from tui_bot.engine.scanner import MarketScanner, ScanOptions
from tui_bot.exchange.ccxt_exchange import CcxtExchange
from tui_bot.runtime import Runtime, build_runtime, decide_mode
from tui_bot.store import OrderRow, PositionRow

KEY, SECRET = "engine-key", "engine-secret-5f0e"
KEYS = {"TUI_BOT_API_KEY": KEY, "TUI_BOT_API_SECRET": SECRET}


@pytest.fixture
def server() -> Iterator[FakeBinance]:
    with FakeBinance(KEY, SECRET) as fake:
        yield fake


def settings_for(tmp_path: Path, server: FakeBinance, mode: str = "paper", **sections) -> Settings:
    path = tmp_path / "config.toml"
    small = {"scan": {"top_n": 4, "candles": 60}, **sections}
    path.write_text(bot_config(server, mode, **small))
    return load_settings(path, env={})


@pytest.fixture
def trained(tmp_path: Path, trained_storage: Callable[[Path], None]) -> None:
    trained_storage(tmp_path / "data")  # a model already: no start-up training


@pytest.fixture
async def runtimes() -> AsyncIterator[list[Runtime]]:
    made: list[Runtime] = []
    yield made
    for runtime in made:
        await runtime.close()


def position(symbol: str, amount: float, price: float) -> PositionRow:
    return PositionRow(
        symbol, "other", "long", amount, price, amount * price, price * 0.5, price * 2,
        time.time(), 0.6, (0.0,) * 4, f"test-{symbol}",
    )  # fmt: skip


# ---------------------------------------------------------------------------- modes


def test_live_needs_mode_keys_and_the_flag_else_paper_with_a_reason(tmp_path: Path) -> None:
    with FakeBinance() as server:
        live = settings_for(tmp_path, server, "live")
        paper = settings_for(tmp_path, server, "paper")
    assert decide_mode(live, True, KEYS).mode == "LIVE"
    for settings, flag, env, missing in [
        (live, False, KEYS, "--live"),
        (live, True, {}, "TUI_BOT_API_KEY"),
        (live, True, {"TUI_BOT_API_KEY": KEY}, "TUI_BOT_API_SECRET"),
        (paper, True, KEYS, 'mode = "live"'),
    ]:
        decision = decide_mode(settings, flag, env)
        assert decision.mode == "PAPER"
        assert decision.notice is not None and missing in decision.notice
    assert decide_mode(paper, False, KEYS) == decide_mode(paper, False, {})  # paper, as asked
    assert decide_mode(paper, False, {}).notice is None


def test_the_simulator_path_never_imports_ccxt(tmp_path: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from tui_bot.config import load_settings;"
        "from tui_bot.runtime import build_runtime; from tui_bot.engine.model import InlineTrainer;"
        f"s = load_settings(None, env={{}}).with_values({{'storage.dir': {str(tmp_path)!r}}});"
        "r = build_runtime(s, trainer=InlineTrainer());"
        "import tui_bot.cli;"
        "sys.exit(1 if 'ccxt' in sys.modules else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------------------- the scan


async def test_scan_filters_markets_and_fetches_only_new_candles(server: FakeBinance) -> None:
    exchange = CcxtExchange("binance", server.ccxt_config(), backoff_seconds=0.01)
    clock = FakeClock(time.time())
    options = ScanOptions(top_n=20, candles=60, timeframe="5m", max_parallel_workers=3,
                          stake_currency="USDT", blacklist=("DOGE/*",))  # fmt: skip
    scanner = MarketScanner(exchange, options, TimedCache(1, 300, clock.now), clock, Monitor())
    try:
        first = await scanner.scan()
        before = len(server.requests)
        unchanged = await scanner.scan(force=True)  # no candle closed since: nothing to fetch
        assert [r.path for r in server.requests[before:]] == ["/api/v3/ticker/24hr"]
        assert all(np.array_equal(unchanged.candles[s], first.candles[s]) for s in first.ranked)
        # the scanner's clock just past the next candle boundary: one more closed candle each
        clock.advance(300 - clock.now() % 300 + 1)
        second = await scanner.scan(force=True)
        options.whitelist = ("BTC/USDT", "ETH/*", "SOL/USDT")
        options.min_quote_volume = float(first.tickers["SOL/USDT"]["quoteVolume"]) + 1
        third = await scanner.scan(force=True)
    finally:
        await exchange.close()
    usdt = {p.symbol for p in server.pairs.values() if p.quote == "USDT" and p.status == "TRADING"}
    assert set(first.ranked) == usdt - {"DOGE/USDT"}  # no ETH/BTC, no LUNA (inactive), no DOGE
    assert all(len(first.candles[s]) == 60 for s in first.ranked)
    assert scanner.max_in_flight <= 3
    klines = [r for r in server.requests[before:] if r.path == "/api/v3/klines"]
    assert len(klines) >= len(first.ranked)
    # one new closed candle: asked from it on, with the forming one and one spare (limit 4)
    assert all("startTime" in r.params and int(r.params["limit"]) <= 4 for r in klines)
    for symbol in first.ranked:  # the merged candles are the same window, moved on (if at all)
        assert len(second.candles[symbol]) == 60
        assert second.candles[symbol][-1, 0] >= first.candles[symbol][-1, 0]
    assert set(third.ranked) <= {"BTC/USDT", "ETH/USDT"} and "SOL/USDT" not in third.ranked


# ---------------------------------------------------------------------------- degraded, auth


async def test_an_outage_marks_prices_stale_then_recovers_by_itself(
    server: FakeBinance, tmp_path: Path, runtimes: list[Runtime], trained: None
) -> None:
    runtime = build_runtime(settings_for(tmp_path, server), trainer=InlineTrainer(), env={})
    runtimes.append(runtime)
    engine = runtime.engine
    await engine.start()
    price = server.price("ETHUSDT")
    with runtime.store.transaction() as db:
        runtime.store.insert_position(db, position("ETH/USDT", 0.1, price))
    fresh = await engine.run_cycle()
    assert fresh.positions and not any(p.stale for p in fresh.positions)
    server.random_faults(1.0, ("503", "502", "500"))
    down = await engine.run_cycle()
    assert down.positions and all(p.stale for p in down.positions)  # last known, marked stale
    last = {p.symbol: p.last_price for p in fresh.positions}
    assert all(p.last_price == last[p.symbol] for p in down.positions)
    assert any("exchange unavailable" in a.message for a in down.alerts)
    server.clear_faults()
    back = await engine.run_cycle()
    assert back.positions and not any(p.stale for p in back.positions)
    assert any("answering again" in a.message for a in back.alerts)


async def test_wrong_secret_says_check_your_api_key_and_trades_nothing(
    server: FakeBinance, tmp_path: Path, runtimes: list[Runtime], trained: None
) -> None:
    settings = settings_for(tmp_path, server, "live")
    env = {**KEYS, "TUI_BOT_API_SECRET": "wrong-secret-1d2c"}
    runtime = build_runtime(settings, trainer=InlineTrainer(), live=True, env=env)
    runtimes.append(runtime)
    assert runtime.engine.mode == "LIVE"
    await runtime.engine.start()
    snapshot = await runtime.engine.run_cycle()
    assert runtime.engine.executor.trading_blocked == "check your API key"
    assert any("check your API key" in a.message for a in snapshot.alerts)
    assert snapshot.opportunities and all(
        o.action == "blocked: check your API key" for o in snapshot.opportunities
    )
    assert server.count("/api/v3/order", "POST") == 0
    assert all("wrong-secret-1d2c" not in a.message for a in snapshot.alerts)


# ---------------------------------------------------------------------------- live start


async def test_live_start_reconciles_pending_orders_balances_and_open_orders(
    server: FakeBinance, tmp_path: Path, runtimes: list[Runtime], trained: None
) -> None:
    settings = settings_for(tmp_path, server, "live")
    runtime = build_runtime(settings, trainer=InlineTrainer(), live=True, env=KEYS)
    runtimes.append(runtime)
    store = runtime.store
    # A crash after this order was sent: pending here, executed on the exchange.
    sent = OrderRow(client_order_id(7, "SOL/USDT", "buy"), 7, "open", "SOL/USDT", "buy", 0.5,
                    "pending", "signal", {"group": "layer-1", "probability": 0.6})  # fmt: skip
    store.add_pending_order(sent, 0.0)
    buy = {"side": "BUY", "newClientOrderId": sent.client_order_id}
    server.route("POST", "/api/v3/order", {**buy, "symbol": "SOLUSDT", "type": "MARKET",
                                           "quantity": "0.5"})  # fmt: skip
    # A resting order of ours the store does not know, and a position the account does not hold.
    stray = {"side": "BUY", "newClientOrderId": "tb00003strayorder", "price": "1000"}
    server.route("POST", "/api/v3/order", {**stray, "symbol": "ETHUSDT", "type": "LIMIT",
                                           "quantity": "0.01"})  # fmt: skip
    with store.transaction() as db:
        store.insert_position(db, position("ADA/USDT", 100.0, 0.45))
    await runtime.engine.start()
    messages = [a.message for a in runtime.engine.alerts]
    held = {p.symbol: p.amount for p in store.positions()}
    assert held["SOL/USDT"] == pytest.approx(0.5)  # adopted, not resent
    assert store.order(sent.client_order_id).status == "filled"  # type: ignore[union-attr]
    assert server.count("/api/v3/order", "POST") == 0  # the engine sent nothing itself
    assert runtime.engine.unconfirmed == {"ADA/USDT"}
    assert any("ADA/USDT not confirmed" in m for m in messages)
    assert any("tb00003strayorder" in m for m in messages)
    snapshot = await runtime.engine.run_cycle()
    assert "ADA/USDT" in {p.symbol for p in snapshot.positions}  # flagged, not sold blindly
