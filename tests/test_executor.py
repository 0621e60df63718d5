"""Executor: never loses or doubles an order, whatever the exchange answers."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tui_bot.clock import FakeClock
from tui_bot.engine.executor import CLIENT_ID_PREFIX, Executor, client_order_id, round_amount
from tui_bot.engine.monitor import Monitor
from tui_bot.exchange.errors import (
    AuthenticationError,
    DuplicateClientOrderId,
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

    def __init__(
        self,
        faults: list[str] | None = None,
        markets: dict[str, Any] | None = None,
        fee_currency: str = "USDT",
        lookups: list[str] | None = None,
    ) -> None:
        self.faults = list(faults or [])
        self.lookups = list(lookups or [])  # what the next fetch_order calls answer
        self.markets = markets or {}
        self.fee_currency = fee_currency
        self.orders: dict[str, dict[str, Any]] = {}
        self.sent: list[float] = []  # the amount of every order that reached the exchange
        self.create_calls = 0
        self._ids = itertools.count(1)

    async def load_markets(self) -> dict[str, Any]:
        return self.markets

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
        if fault == "exists":  # an exchange's own words for a duplicate client order id
            raise DuplicateClientOrderId("order already exists (code -4015)")
        if coid in self.orders:
            raise DuplicateClientOrderId("duplicate clientOrderId")
        limit = ((self.markets.get(symbol) or {}).get("limits") or {}).get("amount") or {}
        if limit.get("max") and amount > limit["max"]:
            raise InvalidOrder(f"amount {amount} above the maximum {limit['max']}")
        self.sent.append(amount)
        fee = amount * 0.001 if self.fee_currency != "USDT" else amount * PRICE * 0.001
        order = {
            "id": str(next(self._ids)),
            "clientOrderId": coid,
            "symbol": symbol,
            "side": side,
            "amount": amount,
            "filled": amount,
            "average": PRICE,
            "cost": amount * PRICE,
            "fee": {"cost": fee, "currency": self.fee_currency},
            "status": "closed",
        }
        self.orders[coid] = order
        if fault == "lost":
            raise RequestTimeout("timed out")
        if fault in GARBLED:  # executed, and the answer is unusable
            return GARBLED[fault](order)
        if fault == "id_only":
            return {"id": order["id"], "clientOrderId": coid, "symbol": symbol, "filled": None}
        return dict(order)

    async def fetch_order(self, id, symbol=None, params=None):  # noqa: A002
        coid = (params or {}).get("clientOrderId")
        answer = self.lookups.pop(0) if self.lookups else "ok"
        if answer == "lost":
            raise NetworkError("connection reset")
        if coid not in self.orders:
            raise OrderNotFound(coid)
        if answer in GARBLED:
            return GARBLED[answer](self.orders[coid])
        return dict(self.orders[coid])


# What a create_order / fetch_order answer looks like when the body was HTML, garbage or empty
# (ccxt raises nothing: it parses nothing into an order), or carries impossible numbers.
GARBLED: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "ccxt_empty": lambda o: {
        "id": None, "clientOrderId": None, "symbol": o["symbol"], "filled": 0.0,
        "average": None, "price": None, "cost": None, "status": None, "amount": None,
        "fee": None, "side": None, "timestamp": None,
    },
    "no_dict": lambda o: None,  # type: ignore[dict-item,return-value]
    "nan_filled": lambda o: {**o, "filled": math.nan},
    "negative_filled": lambda o: {**o, "filled": -o["filled"]},
    "no_price": lambda o: {**o, "average": None, "price": None, "cost": None},
    "nan_price": lambda o: {**o, "average": math.nan, "price": None},
    "no_id": lambda o: {**o, "id": None},
}  # fmt: skip


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


async def test_a_sell_rejected_cycle_after_cycle_is_said_once_then_when_it_goes_through(
    store: Store,
) -> None:
    """A market that cannot fill a sell for a while (a halt, a gap in the data) must not warn
    every cycle: once when it starts, once when the sell goes through."""
    exchange = FakeOrders()
    alerts: list[str] = []
    executor = make_executor(exchange, store, alerts)
    await executor.open_position(1, "BTC/USDT", 2.0, CONTEXT)
    [position] = store.positions()
    exchange.faults = ["invalid"] * 4
    for cycle in range(2, 6):
        assert (await executor.close_position(cycle, position, "max_hold")).status == "failed"
    result = await executor.close_position(6, position, "max_hold")
    assert result.status == "filled"
    rejected = [a for a in alerts if "sell BTC/USDT skipped" in a]
    assert len(rejected) == 1 and "below minimum notional" in rejected[0]
    assert [a for a in alerts if "went through" in a] == [
        "sell BTC/USDT went through after 4 rejected attempts"
    ]


class CountingLookups(FakeOrders):
    def __init__(self, faults: list[str]) -> None:
        super().__init__(faults)
        self.lookup_calls = 0

    async def fetch_order(self, id, symbol=None, params=None):  # noqa: A002
        self.lookup_calls += 1
        return await super().fetch_order(id, symbol, params)


@pytest.mark.parametrize("fault", ["invalid", "funds", "auth"])
async def test_a_rejected_order_ends_the_send_never_looked_up_or_sent_again(
    store: Store, fault: str
) -> None:
    """What _fail returned was always None: the `return` after it is what matters, ending the
    send. Without it a rejected order would be looked up, then sent again (and here filled)."""
    exchange = CountingLookups([fault])
    alerts: list[str] = []
    result = await make_executor(exchange, store, alerts).open_position(5, "ADA/USDT", 1, CONTEXT)
    assert result.status == "failed" and store.positions() == []
    assert (exchange.create_calls, exchange.lookup_calls, exchange.orders) == (1, 0, {})
    assert not any("unresolved" in a for a in alerts), alerts


async def test_a_duplicate_client_order_id_is_known_by_its_type_and_the_order_adopted(
    store: Store,
) -> None:
    """An earlier send went through (its answer lost before the store knew): the exchange
    refuses the resend as a duplicate, in words without "duplicate" in them; the executor
    looks the order up by its client order id and adopts it instead of giving up."""
    exchange = FakeOrders()
    executor = make_executor(exchange, store, [])
    coid = executor.client_order_id(3, "ETH/USDT", "buy")
    await exchange.create_order("ETH/USDT", "market", "buy", 1.0, None, {"clientOrderId": coid})
    exchange.faults = ["exists"]
    result = await executor.open_position(3, "ETH/USDT", 1.0, CONTEXT)
    assert result.status == "filled"
    assert [p.amount for p in store.positions()] == [pytest.approx(1.0)]
    assert exchange.create_calls == 2 and len(exchange.orders) == 1


def test_round_amount_to_market_step() -> None:
    assert round_amount(1.23456, {"precision": {"amount": 0.01}}) == pytest.approx(1.23)
    assert round_amount(1.23456, None) == 1.23456


# ---------------------------------------------------------------------------- garbled answers


@pytest.mark.parametrize("garbled", sorted(GARBLED))
async def test_a_garbled_buy_answer_is_looked_up_never_stored_as_a_zero_fill(
    store: Store, garbled: str
) -> None:
    exchange = FakeOrders([garbled])
    alerts: list[str] = []
    result = await make_executor(exchange, store, alerts).open_position(3, "ETH/USDT", 2.0, CONTEXT)
    assert result.status == "filled"
    [position] = store.positions()
    assert position.amount == pytest.approx(2.0)  # what the exchange really bought
    assert position.entry_price == pytest.approx(PRICE) and position.stop_loss > 0
    assert exchange.create_calls == 1 and len(exchange.orders) == 1  # looked up, not resent
    assert any("unreadable" in a for a in alerts), alerts


@pytest.mark.parametrize("garbled", sorted(GARBLED))
async def test_a_garbled_sell_answer_records_the_real_trade_not_minus_100(
    store: Store, garbled: str
) -> None:
    exchange = FakeOrders(["ok", garbled])
    executor = make_executor(exchange, store, [])
    await executor.open_position(1, "BTC/USDT", 2.0, CONTEXT)
    [position] = store.positions()
    result = await executor.close_position(2, position, "take_profit")
    assert result.status == "filled" and result.trade is not None
    assert result.trade.pnl == pytest.approx(-0.4)  # the two fees, as for a clean answer
    assert store.positions() == []
    assert [t.pnl for t in store.trades()] == [pytest.approx(-0.4)]
    assert exchange.create_calls == 2


@pytest.mark.parametrize("garbled", ["ccxt_empty", "no_price", "nan_filled", "no_id"])
async def test_a_garbled_lookup_is_an_unknown_outcome_looked_up_again(
    store: Store, garbled: str
) -> None:
    exchange = FakeOrders(["lost"], lookups=[garbled, garbled])
    result = await make_executor(exchange, store, []).open_position(3, "ETH/USDT", 1.0, CONTEXT)
    assert result.status == "filled"
    [position] = store.positions()
    assert (position.amount, position.entry_price) == (pytest.approx(1.0), pytest.approx(PRICE))
    assert exchange.create_calls == 1


@pytest.mark.parametrize("garbled", ["no_price", "ccxt_empty"])
async def test_lookups_that_stay_garbled_leave_the_order_pending_until_reconciled(
    store: Store, garbled: str
) -> None:
    exchange = FakeOrders(["lost"], lookups=[garbled] * 50)
    alerts: list[str] = []
    executor = make_executor(exchange, store, alerts)
    result = await executor.open_position(3, "ETH/USDT", 1.0, CONTEXT)
    assert result.status == "pending" and store.positions() == []
    assert store.order(result.client_order_id).status == "pending"  # type: ignore[union-attr]
    assert any("unresolved" in a for a in alerts)
    exchange.lookups = []  # the exchange answers properly again
    assert [r.status for r in await executor.reconcile()] == ["filled"]
    [position] = store.positions()
    assert (position.amount, position.entry_price) == (pytest.approx(1.0), pytest.approx(PRICE))
    assert exchange.create_calls == 1


# ---------------------------------------------------------------------------- client order ids


def test_client_order_ids_differ_per_data_folder_and_survive_a_restart(tmp_path: Path) -> None:
    first, second = Store(tmp_path / "a.sqlite"), Store(tmp_path / "b.sqlite")
    ids = [make_executor(FakeOrders(), s, []).client_order_id(1, "BTC/USDT", "buy")
           for s in (first, second)]  # fmt: skip
    assert ids[0] != ids[1]  # two fresh installations on one account
    first.close()
    reopened = Store(tmp_path / "a.sqlite")
    again = make_executor(FakeOrders(), reopened, [])
    assert again.client_order_id(1, "BTC/USDT", "buy") == ids[0]  # a retry after a restart
    assert again.client_order_id(2, "BTC/USDT", "buy") != ids[0]
    assert again.client_order_id(1, "BTC/USDT", "sell") != ids[0]
    for made in ids:
        assert made.startswith(CLIENT_ID_PREFIX) and len(made) <= 32
        assert made[2:7] == "00001"  # the cycle, where the restart tests read it
        assert re.fullmatch(r"[.A-Z:/a-z0-9_-]{1,36}", made)


async def test_orders_carry_the_data_folders_client_order_id(store: Store) -> None:
    exchange = FakeOrders()
    executor = make_executor(exchange, store, [])
    result = await executor.open_position(5, "SOL/USDT", 1.0, CONTEXT)
    assert result.client_order_id == executor.client_order_id(5, "SOL/USDT", "buy")
    assert list(exchange.orders) == [result.client_order_id]


FOREIGN = {
    "amount": {"amount": 5.0, "filled": 5.0, "cost": 500.0},
    "side": {"side": "sell"},
    "symbol": {"symbol": "ETH/BTC"},
    "time": {"timestamp": -3_600_000},  # an hour before this bot wrote its order (clock at 0)
}


def foreign_order(coid: str, **changes: Any) -> dict[str, Any]:
    order = {
        "id": "other-1", "clientOrderId": coid, "symbol": "ETH/USDT", "side": "buy",
        "amount": 1.0, "filled": 1.0, "average": PRICE, "cost": PRICE, "status": "closed",
        "fee": {"cost": 0.1, "currency": "USDT"}, "timestamp": 0,
    }  # fmt: skip
    return {**order, **changes}


@pytest.mark.parametrize("differs", sorted(FOREIGN))
async def test_an_order_found_by_client_id_that_is_not_this_intent_is_not_adopted(
    store: Store, differs: str
) -> None:
    exchange = FakeOrders()
    alerts: list[str] = []
    executor = make_executor(exchange, store, alerts)
    coid = executor.client_order_id(3, "ETH/USDT", "buy")
    exchange.orders[coid] = foreign_order(coid, **FOREIGN[differs])  # another run's order
    result = await executor.open_position(3, "ETH/USDT", 1.0, CONTEXT)
    assert result.status == "failed"
    assert store.positions() == []
    assert store.order(coid).status == "failed"  # type: ignore[union-attr]
    assert any("not adopted" in a and coid in a for a in alerts), alerts


async def test_reconcile_does_not_adopt_another_runs_order(store: Store) -> None:
    from tui_bot.store import OrderRow

    exchange = FakeOrders()
    alerts: list[str] = []
    executor = make_executor(exchange, store, alerts)
    coid = executor.client_order_id(9, "ETH/USDT", "buy")
    store.add_pending_order(
        OrderRow(coid, 9, "open", "ETH/USDT", "buy", 1.0, "pending", "signal", CONTEXT), 0.0
    )
    exchange.orders[coid] = foreign_order(coid, **FOREIGN["amount"])
    assert [r.status for r in await executor.reconcile()] == ["failed"]
    assert store.positions() == [] and store.pending_orders() == []
    assert any("not adopted" in a for a in alerts)


# ---------------------------------------------------------------------------- limits and dust


def market(step: float, **limits: dict[str, float]) -> dict[str, Any]:
    return {"precision": {"amount": step}, "limits": limits}


async def test_a_buy_above_the_market_maximum_amount_is_capped_not_rejected(store: Store) -> None:
    exchange = FakeOrders(markets={"ETH/USDT": market(0.01, amount={"max": 3.0})})
    alerts: list[str] = []
    result = await make_executor(exchange, store, alerts).open_position(
        3, "ETH/USDT", 10.0, CONTEXT
    )
    assert result.status == "filled"
    assert exchange.sent == [3.0]
    assert store.positions()[0].amount == pytest.approx(3.0)
    assert any("capped" in a for a in alerts)


async def test_a_buy_above_the_market_maximum_cost_is_capped(store: Store) -> None:
    markets = {"ETH/USDT": market(0.01, amount={"max": 3.0}, cost={"max": 250.0})}
    exchange = FakeOrders(markets=markets)
    executor = make_executor(exchange, store, [])
    result = await executor.open_position(3, "ETH/USDT", 10.0, CONTEXT, price=PRICE)
    assert result.status == "filled" and exchange.sent == [2.5]  # 250 USDT at 100


async def test_a_fee_in_the_base_currency_leaves_dust_tracked_and_named_at_the_close(
    store: Store,
) -> None:
    markets = {"AVAX/USDT": market(0.01, amount={"min": 0.01})}
    exchange = FakeOrders(markets=markets, fee_currency="AVAX")
    executor = make_executor(exchange, store, [])
    await executor.open_position(1, "AVAX/USDT", 1.0, CONTEXT)  # 0.001 AVAX of it is the fee
    [position] = store.positions()
    assert position.amount == pytest.approx(0.99)  # what can be sold: whole lot steps
    assert store.dust() == {"AVAX": pytest.approx(0.009)}
    result = await executor.close_position(2, position, "take_profit")
    assert exchange.sent == [1.0, pytest.approx(0.99)]
    assert result.trade is not None and store.positions() == []
    assert "left 0.009 AVAX dust, below the lot step" in result.note


async def test_a_sell_rounded_down_to_the_lot_step_records_the_rest_as_dust(store: Store) -> None:
    from tui_bot.store import PositionRow

    exchange = FakeOrders(markets={"AVAX/USDT": market(0.01, amount={"min": 0.01})})
    executor = make_executor(exchange, store, [])
    held = PositionRow("AVAX/USDT", "layer-1", "long", 2.0009, PRICE, 200.09, 98.0, 103.0, 0.0,
                       0.6, (0.0,), "older-version")  # fmt: skip
    with store.transaction() as db:
        store.insert_position(db, held)  # an amount off the lot step (an older version's)
    result = await executor.close_position(2, held, "stop_loss")
    assert exchange.sent == [pytest.approx(2.0)]
    assert store.dust() == {"AVAX": pytest.approx(0.0009)}
    assert "left 0.0009 AVAX dust, below the lot step" in result.note


async def test_an_answer_with_only_the_order_id_is_looked_up_without_a_warning(
    store: Store,
) -> None:
    """Some exchanges answer an order with its id alone: not garbled, just not a fill yet."""
    exchange = FakeOrders(["id_only"])
    alerts: list[str] = []
    result = await make_executor(exchange, store, alerts).open_position(3, "ETH/USDT", 2.0, CONTEXT)
    assert result.status == "filled"
    assert store.positions()[0].amount == pytest.approx(2.0)
    assert exchange.create_calls == 1 and alerts == []
