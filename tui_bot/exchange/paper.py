"""Paper trading: real market data from the exchange's public endpoints, simulated fills.

An order fills against the exchange's current order book: a buy takes the asks level by level, a
sell the bids, so no fill is ever better than the book; a limit order takes only levels at or
better than its price and rests for the rest (re-checked against the book later). The fee is
the market's taker fee. Balances and orders live in their own SQLite file, committed before a
call returns, so they survive restarts and a SIGKILL; a client order id is accepted once.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from tui_bot.clock import Clock
from tui_bot.exchange.base import AlertFn, Candle, Market, Order, OrderStatus, Ticker
from tui_bot.exchange.ccxt_exchange import CcxtExchange
from tui_bot.exchange.errors import ExchangeError, InvalidOrder, OrderNotFound
from tui_bot.exchange.ledger import Ledger, check_order_args
from tui_bot.exchange.order_math import amount_breach, round_amount, value_breach
from tui_bot.exchange.request_budget import RequestBudget

BOOK_DEPTH = 100
DEFAULT_FEE = 0.001


class PaperExchange:
    def __init__(
        self,
        real: CcxtExchange,
        state_path: Path,
        *,
        clock: Clock,
        starting_balance: float,
        stake_currency: str,
    ) -> None:
        self.real = real
        self.id = real.id
        self.clock = clock
        self._ledger = Ledger(
            name="paper",
            info={"paper": True},
            clock=clock,
            path=state_path,
            starting_balance=starting_balance,
            stake_currency=stake_currency,
        )

    @property
    def ledger(self) -> Ledger:
        """The simulated account, for reading only (the engine's start check)."""
        return self._ledger

    @property
    def budget(self) -> RequestBudget:
        """The real exchange's rate budget: paper trading reads its market data there."""
        return self.real.budget

    @property
    def alert(self) -> AlertFn | None:
        return self.real.alert

    @alert.setter
    def alert(self, value: AlertFn | None) -> None:
        self.real.alert = value

    # -- public data: the real exchange ----------------------------------------------------
    async def load_markets(self) -> dict[str, Market]:
        return await self.real.load_markets()

    async def fetch_tickers(self, symbols: list[str] | None = None) -> dict[str, Ticker]:
        return await self.real.fetch_tickers(symbols)

    async def fetch_ohlcv(
        self, symbol: str, timeframe: str = "5m", since: int | None = None, limit: int | None = None
    ) -> list[Candle]:
        return await self.real.fetch_ohlcv(symbol, timeframe, since, limit)

    async def fetch_order_book(self, symbol: str, limit: int | None = None) -> dict[str, Any]:
        return await self.real.fetch_order_book(symbol, limit)

    # -- simulated account -----------------------------------------------------------------
    async def create_order(
        self,
        symbol: str,
        type: str,
        side: str,
        amount: float,
        price: float | None = None,
        params: dict[str, Any] | None = None,
    ) -> Order:
        client_id = (params or {}).get("clientOrderId")
        check_order_args("paper", type, side, None, price)
        self._ledger.refuse_duplicate(client_id)
        markets = await self.real.load_markets()
        market = markets.get(symbol)
        if market is None or market.get("active") is False:
            raise InvalidOrder(f"paper: market {symbol} is not trading")
        amount = round_amount(float(amount), market)
        limit = float(price) if type == "limit" and price is not None else None
        # Everything that can fail on the network happens before any state changes.
        book = await self.real.fetch_order_book(symbol, BOOK_DEPTH)
        await self._settle(skip=symbol, book=book)
        levels = book["asks"] if side == "buy" else book["bids"]
        fills = walk_book(levels, amount, limit, side)
        ref = fills[0][0] if fills else (limit or _touch(levels))
        breach = amount_breach(market, amount) or value_breach(market, amount, ref)
        if breach is not None:
            raise InvalidOrder(f"paper: {market['symbol']} {breach.short()}")
        fee_rate = _fee_rate(market)
        cost = sum(p * q for p, q in fills)
        if limit is not None:  # the rest rests at the limit, holding funds for it
            cost += (amount - sum(q for _, q in fills)) * limit
        self._ledger.require_funds(market, side, amount, cost, fee_rate)
        order = self._ledger.new_order(market, type, side, amount, limit, client_id)
        self._apply_fills(order, market, fills, fee_rate)
        if order["remaining"] > 0:
            if type == "limit":
                self._ledger.reserve(order, fee_rate, to_used=True)
            else:  # the book ran out: the rest of a market order is not filled
                order["status"] = OrderStatus.CANCELED if order["filled"] else OrderStatus.EXPIRED
        self._ledger.add(order)
        return copy.deepcopy(order)

    def _apply_fills(
        self, order: Order, market: Market, fills: list[tuple[float, float]], fee_rate: float
    ) -> None:
        if not fills:
            return
        quote = market["quote"]
        qty = sum(q for _, q in fills)
        cost = sum(p * q for p, q in fills)
        fee = cost * fee_rate
        self._ledger.trade(market, order["side"], qty, cost, fee)
        filled = order["filled"] + qty
        done = filled >= order["amount"] - 1e-12
        total_cost = order["cost"] + cost
        order.update(
            filled=filled,
            remaining=0.0 if done else order["amount"] - filled,
            cost=total_cost,
            average=total_cost / filled,
            lastTradeTimestamp=int(self.clock.now() * 1000),
            fee={"cost": order["fee"]["cost"] + fee, "currency": quote},
            status=OrderStatus.CLOSED if done else OrderStatus.OPEN,
        )
        order["trades"] = order["trades"] + [
            {
                "price": p,
                "amount": q,
                "cost": p * q,
                "fee": {"cost": p * q * fee_rate, "currency": quote},
            }
            for p, q in fills
        ]

    async def _settle(self, skip: str | None = None, book: dict[str, Any] | None = None) -> None:
        """Fill resting limit orders against the current book."""
        open_orders = self._ledger.open_orders()
        if not open_orders:
            return
        markets = await self.real.load_markets()
        changed = []
        books: dict[str, dict[str, Any]] = {skip: book} if skip and book else {}
        for order in open_orders:
            symbol = order["symbol"]
            market = markets.get(symbol)
            if market is None:
                continue
            if symbol not in books:
                books[symbol] = await self.real.fetch_order_book(symbol, BOOK_DEPTH)
            levels = books[symbol]["asks" if order["side"] == "buy" else "bids"]
            fills = walk_book(levels, order["remaining"], order["price"], order["side"])
            if not fills:
                continue
            fee_rate = _fee_rate(market)
            self._ledger.reserve(order, fee_rate, to_used=False)
            self._apply_fills(order, market, fills, fee_rate)
            if order["status"] == OrderStatus.OPEN:
                self._ledger.reserve(order, fee_rate, to_used=True)
            changed.append(order)
        if changed:
            self._ledger.save(changed)

    async def fetch_order(
        self, id: str | None, symbol: str | None = None, params: dict[str, Any] | None = None
    ) -> Order:
        await self._settle()
        order = self._ledger.find(id, symbol, params)
        if order is None:
            raise OrderNotFound(f"paper: order not found (id={id!r})")
        return copy.deepcopy(order)

    async def fetch_open_orders(self, symbol: str | None = None) -> list[Order]:
        await self._settle()
        return [copy.deepcopy(o) for o in self._ledger.open_orders(symbol)]

    async def cancel_order(self, id: str, symbol: str | None = None) -> Order:
        await self._settle()
        order = self._ledger.open_order(id, symbol)
        if order is None:
            raise OrderNotFound(f"paper: no open order {id!r}")
        markets = await self.real.load_markets()
        self._ledger.cancel(order, _fee_rate(markets.get(order["symbol"]) or {}))
        return copy.deepcopy(order)

    async def fetch_balance(self) -> dict[str, Any]:
        await self._settle()
        return self._ledger.balance()

    async def close(self) -> None:
        try:
            await self.real.close()
        finally:
            self._ledger.close()


def walk_book(
    levels: list[list[float]], amount: float, limit: float | None, side: str
) -> list[tuple[float, float]]:
    """(price, qty) fills taking `amount` from `levels` (best first), never past `limit`."""
    fills: list[tuple[float, float]] = []
    left = amount
    for level in levels:
        price, available = float(level[0]), float(level[1])
        if left <= 1e-12:
            break
        if limit is not None and (price > limit if side == "buy" else price < limit):
            break
        take = min(left, available)
        if take > 0:
            fills.append((price, take))
            left -= take
    return fills


def _fee_rate(market: Market) -> float:
    """The market's taker fee: every paper fill takes liquidity."""
    return float(market.get("taker") or DEFAULT_FEE)


def _touch(levels: list[list[float]]) -> float:
    if not levels:
        raise ExchangeError("paper: the order book is empty")
    return float(levels[0][0])
