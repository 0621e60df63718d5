"""Paper trading: real data from the (fake) exchange over HTTP, fills that walk its order book."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_exchange import FakeBinance

from tui_bot.clock import WallClock
from tui_bot.exchange.ccxt_exchange import CcxtExchange
from tui_bot.exchange.errors import (
    DuplicateClientOrderId,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
)
from tui_bot.exchange.paper import PaperExchange, walk_book


@pytest.fixture
def server() -> Iterator[FakeBinance]:
    with FakeBinance() as fake:
        yield fake


def paper(server: FakeBinance, path: Path, balance: float = 10_000.0) -> PaperExchange:
    real = CcxtExchange("binance", server.ccxt_config(), backoff_seconds=0.01)
    return PaperExchange(
        real, path, clock=WallClock(), starting_balance=balance, stake_currency="USDT"
    )


def test_walk_book_takes_levels_in_order_and_respects_the_limit() -> None:
    asks = [[100.0, 1.0], [101.0, 2.0], [102.0, 5.0]]
    assert walk_book(asks, 2.5, None, "buy") == [(100.0, 1.0), (101.0, 1.5)]
    assert walk_book(asks, 5.0, 101.0, "buy") == [(100.0, 1.0), (101.0, 2.0)]
    bids = [[99.0, 1.0], [98.0, 1.0]]
    assert walk_book(bids, 3.0, 98.5, "sell") == [(99.0, 1.0)]


async def test_a_market_buy_walks_the_book_pays_the_taker_fee_and_sends_nothing(
    server: FakeBinance, tmp_path: Path
) -> None:
    ex = paper(server, tmp_path / "paper.sqlite", balance=100_000.0)
    server.frozen = server.k0 * 300 + 100.0  # the book stands still
    try:
        book = await ex.fetch_order_book("ETH/USDT", 100)
        asks = book["asks"]
        amount = round(asks[0][1] + asks[1][1] + asks[2][1] / 2, 4)  # three levels
        order = await ex.create_order(
            "ETH/USDT", "market", "buy", amount, None, {"clientOrderId": "p1"}
        )
        balance = await ex.fetch_balance()
    finally:
        await ex.close()
    best = book["asks"][0][0]
    assert order["status"] == "closed" and order["filled"] == pytest.approx(amount)
    assert order["average"] > best  # never better than the book
    assert [t["price"] for t in order["trades"]] == [level[0] for level in asks[:3]]
    assert [t["amount"] for t in order["trades"]][:2] == [asks[0][1], asks[1][1]]
    assert order["fee"]["cost"] == pytest.approx(order["cost"] * 0.001)  # the market's taker fee
    assert balance["ETH"]["total"] == pytest.approx(amount)
    assert balance["USDT"]["total"] == pytest.approx(100_000 - order["cost"] * 1.001)
    assert server.count("/api/v3/order", "POST") == 0


async def test_paper_balance_and_orders_survive_a_restart(
    server: FakeBinance, tmp_path: Path
) -> None:
    path = tmp_path / "paper.sqlite"
    ex = paper(server, path)
    try:
        bought = await ex.create_order(
            "SOL/USDT", "market", "buy", 2.0, None, {"clientOrderId": "p2"}
        )
        sold = await ex.create_order(
            "SOL/USDT", "market", "sell", 1.0, None, {"clientOrderId": "p3"}
        )
        before = await ex.fetch_balance()
    finally:
        await ex.close()
    assert sold["average"] < bought["average"]  # sold at the bid, bought at the ask
    again = paper(server, path, balance=1.0)  # the starting balance only applies once
    try:
        after = await again.fetch_balance()
        found = await again.fetch_order(None, "SOL/USDT", {"clientOrderId": "p2"})
        with pytest.raises(InvalidOrder, match="duplicate"):
            await again.create_order(
                "SOL/USDT", "market", "buy", 1.0, None, {"clientOrderId": "p2"}
            )
    finally:
        await again.close()
    assert after["total"] == pytest.approx(before["total"])
    assert after["SOL"]["total"] == pytest.approx(1.0)
    assert found["id"] == bought["id"]


async def test_paper_refuses_what_the_exchange_would(server: FakeBinance, tmp_path: Path) -> None:
    ex = paper(server, tmp_path / "paper.sqlite", balance=100.0)
    try:
        with pytest.raises(InsufficientFunds):
            await ex.create_order("ETH/USDT", "market", "buy", 1.0, None, {})
        with pytest.raises(InvalidOrder, match="below minimum"):
            await ex.create_order("ETH/USDT", "market", "buy", 0.0001, None, {})
        with pytest.raises(InvalidOrder, match="not trading"):
            await ex.create_order("LUNA/USDT", "market", "buy", 10.0, None, {})
        with pytest.raises(OrderNotFound):
            await ex.fetch_order(None, "ETH/USDT", {"clientOrderId": "nope"})
    finally:
        await ex.close()


async def test_a_limit_order_rests_reserves_funds_and_cancels(
    server: FakeBinance, tmp_path: Path
) -> None:
    ex = paper(server, tmp_path / "paper.sqlite")
    try:
        order = await ex.create_order("ETH/USDT", "limit", "buy", 0.5, 100.0, {})
        assert order["status"] == "open" and order["filled"] == 0
        held = await ex.fetch_balance()
        assert held["USDT"]["used"] == pytest.approx(0.5 * 100.0 * 1.001)
        assert [o["id"] for o in await ex.fetch_open_orders()] == [order["id"]]
        await ex.cancel_order(order["id"])
        freed = await ex.fetch_balance()
    finally:
        await ex.close()
    assert freed["USDT"]["free"] == pytest.approx(10_000.0) and freed["USDT"]["used"] == 0


async def test_a_duplicate_client_order_id_is_its_own_error_the_executor_catches(
    server: FakeBinance, tmp_path: Path
) -> None:
    ex = paper(server, tmp_path / "paper.sqlite")
    try:
        params = {"clientOrderId": "p9"}
        await ex.create_order("SOL/USDT", "market", "buy", 1.0, None, params)
        with pytest.raises(DuplicateClientOrderId):
            await ex.create_order("SOL/USDT", "market", "buy", 1.0, None, params)
    finally:
        await ex.close()
    assert server.count("/api/v3/order", "POST") == 0  # paper: nothing reached the exchange
