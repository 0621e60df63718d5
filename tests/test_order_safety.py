"""Orders over HTTP to the fake Binance: garbled answers, foreign client order ids, limits, dust.

The real ccxt.binance client answers an HTTP 200 whose body is HTML, garbage or empty with an
"order" that has no id, no price and filled 0 (it raises nothing); these tests make sure the bot
treats that as an unknown outcome and ends with exactly what the exchange holds.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_exchange import FakeBinance, bot_config

from tui_bot.clock import WallClock
from tui_bot.config import load_settings
from tui_bot.engine.executor import Executor
from tui_bot.engine.model import InlineTrainer
from tui_bot.engine.monitor import Monitor
from tui_bot.exchange.ccxt_exchange import CcxtExchange
from tui_bot.exchange.errors import NetworkError
from tui_bot.runtime import Runtime, build_runtime
from tui_bot.store import PositionRow, Store

KEY, SECRET = "order-key-41aa", "order-secret-9e0c"
KEYS = {"TUI_BOT_API_KEY": KEY, "TUI_BOT_API_SECRET": SECRET}
GARBLED = ("html", "garbage", "empty")
FEATURES = [0.5, 0.1, 1.0, 1.2, 0.1, -0.2]  # one value per FEATURE_NAMES


@pytest.fixture
def server() -> Iterator[FakeBinance]:
    with FakeBinance(KEY, SECRET) as fake:
        yield fake


@pytest.fixture
async def exchange(server: FakeBinance) -> AsyncIterator[CcxtExchange]:
    ex = CcxtExchange(
        "binance",
        server.ccxt_config(timeout_ms=800),
        credentials={"apiKey": KEY, "secret": SECRET},
        backoff_seconds=0.01,
        settle_seconds=0.3,
    )
    await ex.load_markets()
    yield ex
    await ex.close()


def executor_for(exchange: Any, tmp_path: Path, alerts: list[str]) -> Executor:
    store = Store(tmp_path / "store.sqlite")
    return Executor(exchange, store, WallClock(), Monitor(), lambda *a: alerts.append(a[2]),
                    backoff_seconds=0.01)  # fmt: skip


def real_fill(server: FakeBinance, client_id: str) -> tuple[float, float]:
    """(filled, average price) of the order the exchange executed for `client_id`."""
    [order] = server.orders_by_client_id()[client_id]
    filled = float(order["executedQty"])
    return filled, float(order["cummulativeQuoteQty"]) / filled


def market_buy(pair: str, quantity: str, client_id: str) -> dict[str, str]:
    """The parameters of a POST /api/v3/order, for placing an order on the server directly."""
    return {"symbol": pair, "side": "BUY", "type": "MARKET", "quantity": quantity,
            "newClientOrderId": client_id}  # fmt: skip


# ---------------------------------------------------------------------------- garbled answers


async def test_ccxt_parses_a_garbled_order_answer_into_an_order_without_id(
    server: FakeBinance,
) -> None:
    """What the fix is about: ccxt itself raises nothing for these bodies."""
    import ccxt.async_support as ccxt_async

    client = ccxt_async.binance({**server.ccxt_config(800), "apiKey": KEY, "secret": SECRET})
    client.options["fetchMarkets"] = {"types": ["spot"]}
    client.options["fetchCurrencies"] = client.options["fetchMargins"] = False
    try:
        await client.load_markets()
        for kind in GARBLED:
            server.inject(kind, path="/api/v3/order", method="POST")
            order = await client.create_order("ETH/USDT", "market", "buy", 0.01)
            assert order["id"] is None and not order["filled"] and order["average"] is None
    finally:
        await client.close()
    assert len(server.orders) == len(GARBLED)  # and yet every one of them was executed


@pytest.mark.parametrize("kind", GARBLED)
async def test_a_garbled_order_answer_is_an_unknown_outcome_not_a_fill(
    server: FakeBinance, exchange: CcxtExchange, kind: str
) -> None:
    server.inject(kind, path="/api/v3/order", method="POST")
    with pytest.raises(NetworkError, match="not an order"):
        await exchange.create_order(
            "ETH/USDT", "market", "buy", 0.01, None, {"clientOrderId": "g1"}
        )
    server.inject(kind, path="/api/v3/order", method="GET", count=2)  # retried, then readable
    found = await exchange.fetch_order(None, "ETH/USDT", {"clientOrderId": "g1"})
    assert found["filled"] == pytest.approx(0.01) and found["status"] == "closed"
    server.inject(kind, path="/api/v3/order", method="GET", count=10)
    with pytest.raises(NetworkError, match="not an order"):  # never a "filled 0"
        await exchange.fetch_order(None, "ETH/USDT", {"clientOrderId": "g1"})


@pytest.mark.parametrize("kind", GARBLED)
async def test_a_garbled_buy_answer_ends_in_the_position_the_exchange_holds(
    server: FakeBinance, exchange: CcxtExchange, tmp_path: Path, kind: str
) -> None:
    alerts: list[str] = []
    executor = executor_for(exchange, tmp_path, alerts)
    server.inject(kind, path="/api/v3/order", method="POST")
    result = await executor.open_position(3, "ETH/USDT", 0.05, {"group": "layer-1"})
    assert result.status == "filled"
    assert list(server.orders_by_client_id()) == [result.client_order_id]  # sent once
    filled, average = real_fill(server, result.client_order_id)
    [held] = executor.store.positions()
    assert held.amount == pytest.approx(server.totals()["ETH"]) == pytest.approx(filled)
    assert held.entry_price == pytest.approx(average) and held.stop_loss > 0
    assert held.entry_cost == pytest.approx(filled * average * 1.001)  # cost and fee
    assert any("not an order" in a for a in alerts), alerts


@pytest.mark.parametrize("kind", GARBLED)
async def test_a_garbled_lookup_after_a_lost_answer_is_looked_up_again(
    server: FakeBinance, exchange: CcxtExchange, tmp_path: Path, kind: str
) -> None:
    executor = executor_for(exchange, tmp_path, [])
    server.inject("drop", path="/api/v3/order", method="POST")  # executed, no answer
    server.inject(kind, path="/api/v3/order", method="GET", count=4)
    result = await executor.open_position(3, "ETH/USDT", 0.05, {"group": "layer-1"})
    assert result.status == "filled"
    [held] = executor.store.positions()
    filled, average = real_fill(server, result.client_order_id)
    assert held.amount == pytest.approx(filled) and held.entry_price == pytest.approx(average)


async def test_lookups_that_stay_garbled_leave_the_order_pending_then_reconcile(
    server: FakeBinance, exchange: CcxtExchange, tmp_path: Path
) -> None:
    executor = executor_for(exchange, tmp_path, [])
    server.inject("html", path="/api/v3/order", method="POST")
    server.inject("garbage", path="/api/v3/order", method="GET", count=1000)
    result = await executor.open_position(3, "ETH/USDT", 0.05, {"group": "layer-1"})
    assert result.status == "pending" and executor.store.positions() == []
    server.clear_faults()
    assert [r.status for r in await executor.reconcile()] == ["filled"]
    [held] = executor.store.positions()
    assert held.amount == pytest.approx(server.totals()["ETH"])
    assert len(server.orders) == 1


@pytest.fixture
def trained(tmp_path: Path, trained_storage: Callable[[Path], None]) -> None:
    trained_storage(tmp_path / "data")


@pytest.fixture
async def live(server: FakeBinance, tmp_path: Path, trained: None) -> AsyncIterator[Runtime]:
    path = tmp_path / "config.toml"
    path.write_text(bot_config(server, "live", scan={"top_n": 4, "candles": 60}))
    runtime = build_runtime(load_settings(path, env={}), trainer=InlineTrainer(), live=True,
                            env=KEYS)  # fmt: skip
    try:
        yield runtime
    finally:
        await runtime.close()


@pytest.mark.parametrize("kind", GARBLED)
async def test_a_garbled_sell_answer_is_the_real_trade_and_sample_not_minus_100(
    server: FakeBinance, live: Runtime, kind: str
) -> None:
    engine = live.engine
    context = {"group": "layer-1", "probability": 0.6, "features": FEATURES}
    opened = await engine.executor.open_position(1, "ETH/USDT", 0.05, context)
    assert opened.status == "filled"
    [position] = engine.store.positions()
    samples = len(engine.models.samples)
    server.inject(kind, path="/api/v3/order", method="POST")
    await engine._close(position, "manual")
    assert engine.store.positions() == []
    assert server.totals().get("ETH", 0.0) == pytest.approx(0.0, abs=1e-9)  # sold, once
    [trade] = engine.store.trades(10)
    assert -1.0 < trade.pnl_pct < 1.0  # a round trip's fees and spread, not -100 %
    assert len(engine.models.samples) == samples + 1
    assert engine.models.samples.outcome[-1] == pytest.approx(trade.pnl_pct / 100, abs=1e-6)


# ---------------------------------------------------------------------------- client order ids


async def test_a_foreign_order_with_our_client_id_is_not_adopted(
    server: FakeBinance, exchange: CcxtExchange, tmp_path: Path
) -> None:
    """Another run on the same account placed an order with the id this one is about to use;
    our send fails without an answer, and the lookup by client id finds theirs."""
    alerts: list[str] = []
    executor = executor_for(exchange, tmp_path, alerts)
    coid = executor.client_order_id(3, "ETH/USDT", "buy")
    server.route("POST", "/api/v3/order", market_buy("ETHUSDT", "0.05", coid))
    server.orders[-1]["time"] = int((time.time() - 3600) * 1000)  # an hour ago
    server.inject("503", path="/api/v3/order", method="POST")  # ours never executes
    result = await executor.open_position(3, "ETH/USDT", 0.05, {"group": "layer-1"})
    assert result.status == "failed"
    assert executor.store.positions() == []  # their coins are not ours to sell
    assert any("not adopted" in a and coid in a for a in alerts), alerts


# ---------------------------------------------------------------------------- limits and dust


async def test_a_buy_above_the_market_maximum_is_capped_before_sending(
    server: FakeBinance, exchange: CcxtExchange, tmp_path: Path
) -> None:
    (await exchange.load_markets())["ETH/USDT"]["limits"]["amount"]["max"] = 0.02
    executor = executor_for(exchange, tmp_path, [])
    result = await executor.open_position(3, "ETH/USDT", 0.05, {"group": "layer-1"})
    assert result.status == "filled"
    [sent] = [r for r in server.requests if r.path == "/api/v3/order" and r.method == "POST"]
    assert float(sent.params["quantity"]) == pytest.approx(0.02)
    assert executor.store.positions()[0].amount == pytest.approx(server.totals()["ETH"])


async def test_a_sell_rounded_to_the_lot_step_tracks_the_dust_it_leaves(
    server: FakeBinance, exchange: CcxtExchange, tmp_path: Path
) -> None:
    server.route("POST", "/api/v3/order", market_buy("AVAXUSDT", "2.01", "x1"))
    executor = executor_for(exchange, tmp_path, [])
    store = executor.store
    # 2.0049 AVAX by an older version (a fee taken in AVAX): the lot step is 0.01
    held = PositionRow("AVAX/USDT", "layer-1", "long", 2.0049, 35.0, 70.2, 30.0, 40.0,
                       time.time(), 0.6, tuple(FEATURES), "older")  # fmt: skip
    with store.transaction() as db:
        store.insert_position(db, held)
    result = await executor.close_position(5, held, "take_profit")
    assert result.trade is not None and store.positions() == []
    [sell] = [o for o in server.orders if o["side"] == "SELL"]
    assert sell["executedQty"] == "2.00000000"
    assert store.dust() == {"AVAX": pytest.approx(0.0049)}
    assert "left 0.0049 AVAX dust, below the lot step" in result.note
