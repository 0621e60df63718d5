"""Executor: never loses or doubles an order, whatever the exchange answers."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from tui_bot.clock import FakeClock
from tui_bot.engine.executor import Executor, client_order_id, round_amount
from tui_bot.engine.monitor import Monitor
from tui_bot.exchange.errors import (
    AuthenticationError,
    InsufficientFunds,
    InvalidOrder,
    NetworkError,
    OrderNotFound,
    RateLimited,
    RequestTimeout,
)
from tui_bot.store import Store

PRICE = 100.0


class FakeOrders:
    """Just enough exchange for orders; `faults` is a list of what the next calls do."""

    id = "fake"

    def __init__(self, faults: list[str] | None = None) -> None:
        self.faults = list(faults or [])
        self.orders: dict[str, dict[str, Any]] = {}
        self.create_calls = 0
        self._ids = itertools.count(1)

    async def create_order(self, symbol, type, side, amount, price=None, params=None):  # noqa: A002
        self.create_calls += 1
        coid = (params or {})["clientOrderId"]
        fault = self.faults.pop(0) if self.faults else "ok"
        if fault == "before":
            raise NetworkError("connection reset")
        if fault == "ratelimit":
            raise RateLimited("429", retry_after=0.0)
        if fault == "funds":
            raise InsufficientFunds("not enough USDT")
        if fault == "invalid":
            raise InvalidOrder("below minimum notional")
        if fault == "auth":
            raise AuthenticationError("invalid signature")
        if coid in self.orders:
            raise InvalidOrder("duplicate clientOrderId")
        order = {
            "id": str(next(self._ids)),
            "clientOrderId": coid,
            "symbol": symbol,
            "side": side,
            "amount": amount,
            "filled": amount,
            "average": PRICE,
            "cost": amount * PRICE,
            "fee": {"cost": amount * PRICE * 0.001, "currency": "USDT"},
            "status": "closed",
        }
        self.orders[coid] = order
        if fault == "lost":
            raise RequestTimeout("timed out")
        return dict(order)

    async def fetch_order(self, id, symbol=None, params=None):  # noqa: A002
        coid = (params or {}).get("clientOrderId")
        if coid not in self.orders:
            raise OrderNotFound(coid)
        return dict(self.orders[coid])


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "store.sqlite")


def make_executor(exchange: FakeOrders, store: Store, alerts: list[str]) -> Executor:
    return Executor(
        exchange,  # type: ignore[arg-type]
        store,
        FakeClock(0.0),
        Monitor(),
        lambda level, source, msg: alerts.append(msg),
        backoff_seconds=0.0,
    )


CONTEXT = {"group": "layer-1", "probability": 0.7, "features": [0.5, 0.1, 1.0, 1.2]}


def test_client_order_id_is_deterministic_and_short() -> None:
    a = client_order_id(7, "BTC/USDT", "buy")
    assert a == client_order_id(7, "BTC/USDT", "buy")
    assert a != client_order_id(8, "BTC/USDT", "buy")
    assert a != client_order_id(7, "BTC/USDT", "sell")
    assert len(a) <= 32 and a.isalnum()


async def test_fill_opens_a_position_with_stops(store: Store) -> None:
    exchange = FakeOrders()
    executor = make_executor(exchange, store, [])
    ctx = {**CONTEXT, "sl_pct": 2.0, "tp_pct": 3.0}
    result = await executor.open_position(1, "BTC/USDT", 0.5, ctx)
    assert result.status == "filled"
    [position] = store.positions()
    assert position.amount == 0.5
    assert position.stop_loss == pytest.approx(98.0)
    assert position.take_profit == pytest.approx(103.0)
    assert position.entry_cost == pytest.approx(50.0 + 0.05)
    assert store.order(result.client_order_id).status == "filled"


@pytest.mark.parametrize("faults", [["lost"], ["before"], ["before", "lost"], ["ratelimit"]])
async def test_lost_answers_never_double_an_order(store: Store, faults: list[str]) -> None:
    exchange = FakeOrders(faults)
    alerts: list[str] = []
    result = await make_executor(exchange, store, alerts).open_position(3, "ETH/USDT", 1, CONTEXT)
    assert result.status == "filled"
    assert len(exchange.orders) == 1
    assert len(store.positions()) == 1
    assert alerts  # the user is told


async def test_same_intent_twice_is_sent_once(store: Store) -> None:
    exchange = FakeOrders()
    executor = make_executor(exchange, store, [])
    first = await executor.open_position(4, "SOL/USDT", 1, CONTEXT)
    second = await executor.open_position(4, "SOL/USDT", 1, CONTEXT)
    assert (first.status, second.status) == ("filled", "skipped")
    assert exchange.create_calls == 1


@pytest.mark.parametrize("fault", ["funds", "invalid"])
async def test_rejected_orders_are_skipped_with_an_alert(store: Store, fault: str) -> None:
    alerts: list[str] = []
    result = await make_executor(FakeOrders([fault]), store, alerts).open_position(
        5, "ADA/USDT", 1, CONTEXT
    )
    assert result.status == "failed"
    assert store.positions() == []
    assert any("skipped" in a for a in alerts)


async def test_authentication_error_blocks_trading(store: Store) -> None:
    alerts: list[str] = []
    executor = make_executor(FakeOrders(["auth"]), store, alerts)
    await executor.open_position(6, "ADA/USDT", 1, CONTEXT)
    assert executor.trading_blocked == "check your API key"
    assert any("check your API key" in a for a in alerts)


async def test_reconcile_adopts_orders_sent_before_a_crash(store: Store) -> None:
    exchange = FakeOrders()
    executor = make_executor(exchange, store, [])
    # A crash after the pending row was written: one order reached the exchange, one did not.
    from tui_bot.store import OrderRow

    sent = OrderRow(
        client_order_id(9, "BTC/USDT", "buy"),
        9,
        "open",
        "BTC/USDT",
        "buy",
        1.0,
        "pending",
        "signal",
        CONTEXT,
    )
    unsent = OrderRow(
        client_order_id(9, "ETH/USDT", "buy"),
        9,
        "open",
        "ETH/USDT",
        "buy",
        1.0,
        "pending",
        "signal",
        CONTEXT,
    )
    store.add_pending_order(sent, 0.0)
    store.add_pending_order(unsent, 0.0)
    await exchange.create_order(
        "BTC/USDT", "market", "buy", 1.0, None, {"clientOrderId": sent.client_order_id}
    )
    results = {r.client_order_id: r.status for r in await executor.reconcile()}
    assert results == {sent.client_order_id: "filled", unsent.client_order_id: "not_sent"}
    assert [p.symbol for p in store.positions()] == ["BTC/USDT"]
    assert store.pending_orders() == []
    assert exchange.create_calls == 1


async def test_close_records_a_trade(store: Store) -> None:
    exchange = FakeOrders()
    executor = make_executor(exchange, store, [])
    await executor.open_position(1, "BTC/USDT", 2.0, CONTEXT)
    [position] = store.positions()
    result = await executor.close_position(2, position, "take_profit")
    assert result.trade is not None
    assert result.trade.reason == "take_profit"
    # bought and sold at the same price: the loss is the two fees
    assert result.trade.pnl == pytest.approx(-0.4)
    assert store.positions() == []


def test_round_amount_to_market_step() -> None:
    assert round_amount(1.23456, {"precision": {"amount": 0.01}}) == pytest.approx(1.23)
    assert round_amount(1.23456, None) == 1.23456
