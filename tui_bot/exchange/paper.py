"""Paper trading: real market data from the exchange's public endpoints, simulated fills.

An order fills against the exchange's current order book: a buy takes the asks level by level, a
sell the bids, so no fill is ever better than the book; a limit order takes only levels at or
better than its price and rests for the rest (re-checked against the book later). The fee is
the market's taker fee. Balances and orders live in their own SQLite file, committed before a
call returns, so they survive restarts and a SIGKILL; a client order id is accepted once.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

from tui_bot.clock import Clock
from tui_bot.exchange.base import Candle, Market, Order, Ticker
from tui_bot.exchange.ccxt_exchange import CcxtExchange
from tui_bot.exchange.errors import (
    ExchangeError,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
)
from tui_bot.exchange.sim import _StateStore, iso8601

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
        self._store = _StateStore(state_path)
        self._balances, self._orders = self._store.load()
        if not self._balances:
            self._balances = {stake_currency: [starting_balance, 0.0]}
            self._store.save(self._balances, [])
        self._by_client = {o["clientOrderId"]: oid for oid, o in self._orders.items()}
        self._next_id = 1 + max((int(oid) for oid in self._orders), default=0)

    @property
    def alert(self) -> Any:
        return self.real.alert

    @alert.setter
    def alert(self, value: Any) -> None:
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
        if type not in ("market", "limit") or side not in ("buy", "sell"):
            raise InvalidOrder(f"paper: unsupported order {type!r} {side!r}")
        if type == "limit" and not (price and price > 0):
            raise InvalidOrder("paper: a limit order needs a positive price")
        if client_id is not None and client_id in self._by_client:
            raise InvalidOrder(f"paper: duplicate clientOrderId {client_id!r}")
        markets = await self.real.load_markets()
        market = markets.get(symbol)
        if market is None or market.get("active") is False:
            raise InvalidOrder(f"paper: market {symbol} is not trading")
        amount = _floor_to(float(amount), (market.get("precision") or {}).get("amount"))
        limit = float(price) if type == "limit" and price is not None else None
        # Everything that can fail on the network happens before any state changes.
        book = await self.real.fetch_order_book(symbol, BOOK_DEPTH)
        await self._settle(skip=symbol, book=book)
        levels = book["asks"] if side == "buy" else book["bids"]
        fills = walk_book(levels, amount, limit, side)
        ref = fills[0][0] if fills else (limit or _touch(levels))
        _check_limits(market, amount, ref)
        order = self._new_order(market, type, side, amount, limit, client_id)
        fee_rate = float(market.get("taker") or DEFAULT_FEE)
        self._check_funds(market, side, amount, fills, limit, fee_rate)
        self._apply_fills(order, market, fills, fee_rate)
        if order["remaining"] > 0:
            if type == "limit":
                self._reserve(order, fee_rate, to_used=True)
            else:  # the book ran out: the rest of a market order is not filled
                order["status"] = "canceled" if order["filled"] else "expired"
        self._orders[order["id"]] = order
        self._by_client[order["clientOrderId"]] = order["id"]
        self._store.save(self._balances, [order])
        return copy.deepcopy(order)

    def _new_order(
        self,
        market: Market,
        type: str,
        side: str,
        amount: float,
        price: float | None,
        client_id: str | None,
    ) -> Order:
        order_id = str(self._next_id)
        self._next_id += 1
        ms = int(self.clock.now() * 1000)
        return {
            "info": {"paper": True},
            "id": order_id,
            "clientOrderId": client_id or f"paper-{order_id}",
            "timestamp": ms,
            "datetime": iso8601(ms),
            "lastTradeTimestamp": None,
            "symbol": market["symbol"],
            "type": type,
            "timeInForce": "GTC",
            "side": side,
            "price": price,
            "average": None,
            "amount": amount,
            "filled": 0.0,
            "remaining": amount,
            "cost": 0.0,
            "status": "open",
            "fee": {"cost": 0.0, "currency": market["quote"]},
            "trades": [],
        }

    def _check_funds(
        self,
        market: Market,
        side: str,
        amount: float,
        fills: list[tuple[float, float]],
        limit: float | None,
        fee_rate: float,
    ) -> None:
        if side == "buy":
            cost = sum(p * q for p, q in fills)
            rest = amount - sum(q for _, q in fills)
            if limit is not None:
                cost += rest * limit
            currency, needed = market["quote"], cost * (1.0 + fee_rate)
        else:
            currency, needed = market["base"], amount
        free = self._balances.get(currency, [0.0, 0.0])[0]
        if needed > free * (1.0 + 1e-9) + 1e-12:
            raise InsufficientFunds(f"paper: need {needed:.8g} {currency}, free {free:.8g}")

    def _apply_fills(
        self, order: Order, market: Market, fills: list[tuple[float, float]], fee_rate: float
    ) -> None:
        if not fills:
            return
        base, quote = market["base"], market["quote"]
        qty = sum(q for _, q in fills)
        cost = sum(p * q for p, q in fills)
        fee = cost * fee_rate
        if order["side"] == "buy":
            self._add(quote, -(cost + fee))
            self._add(base, qty)
        else:
            self._add(base, -qty)
            self._add(quote, cost - fee)
        filled = order["filled"] + qty
        total_cost = order["cost"] + cost
        order.update(
            filled=filled,
            remaining=max(0.0, order["amount"] - filled)
            if filled < order["amount"] - 1e-12
            else 0.0,
            cost=total_cost,
            average=total_cost / filled,
            lastTradeTimestamp=int(self.clock.now() * 1000),
            fee={"cost": order["fee"]["cost"] + fee, "currency": quote},
            status="closed" if filled >= order["amount"] - 1e-12 else "open",
        )
        order["trades"] = order["trades"] + [
            {"price": p, "amount": q, "cost": p * q, "fee": {"cost": p * q * fee_rate,
                                                              "currency": quote}}
            for p, q in fills
        ]  # fmt: skip

    def _reserve(self, order: Order, fee_rate: float, to_used: bool) -> None:
        base, quote = order["symbol"].split("/")
        if order["side"] == "buy":
            currency, amount = quote, order["remaining"] * order["price"] * (1.0 + fee_rate)
        else:
            currency, amount = base, order["remaining"]
        row = self._balances.setdefault(currency, [0.0, 0.0])
        sign = 1.0 if to_used else -1.0
        row[0] -= sign * amount
        row[1] = max(0.0, row[1] + sign * amount)

    def _add(self, currency: str, delta: float) -> None:
        row = self._balances.setdefault(currency, [0.0, 0.0])
        row[0] += delta
        if -1e-9 < row[0] < 0.0:
            row[0] = 0.0

    async def _settle(self, skip: str | None = None, book: dict[str, Any] | None = None) -> None:
        """Fill resting limit orders against the current book."""
        open_orders = [o for o in self._orders.values() if o["status"] == "open"]
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
            fee_rate = float(market.get("taker") or DEFAULT_FEE)
            self._reserve(order, fee_rate, to_used=False)
            self._apply_fills(order, market, fills, fee_rate)
            if order["status"] == "open":
                self._reserve(order, fee_rate, to_used=True)
            changed.append(order)
        if changed:
            self._store.save(self._balances, changed)

    async def fetch_order(
        self, id: str | None, symbol: str | None = None, params: dict[str, Any] | None = None
    ) -> Order:
        await self._settle()
        order_id = id
        if order_id is None:
            order_id = self._by_client.get((params or {}).get("clientOrderId", ""))
        order = self._orders.get(order_id or "")
        if order is None or (symbol is not None and order["symbol"] != symbol):
            raise OrderNotFound(f"paper: order not found (id={id!r})")
        return copy.deepcopy(order)

    async def fetch_open_orders(self, symbol: str | None = None) -> list[Order]:
        await self._settle()
        return [
            copy.deepcopy(o)
            for o in self._orders.values()
            if o["status"] == "open" and symbol in (None, o["symbol"])
        ]

    async def cancel_order(self, id: str, symbol: str | None = None) -> Order:
        await self._settle()
        order = self._orders.get(id)
        if order is None or order["status"] != "open" or symbol not in (None, order["symbol"]):
            raise OrderNotFound(f"paper: no open order {id!r}")
        markets = await self.real.load_markets()
        fee_rate = float((markets.get(order["symbol"]) or {}).get("taker") or DEFAULT_FEE)
        self._reserve(order, fee_rate, to_used=False)
        order["status"] = "canceled"
        self._store.save(self._balances, [order])
        return copy.deepcopy(order)

    async def fetch_balance(self) -> dict[str, Any]:
        await self._settle()
        balance: dict[str, Any] = {"info": {"paper": True}, "free": {}, "used": {}, "total": {}}
        for currency, (free, used) in self._balances.items():
            balance["free"][currency] = free
            balance["used"][currency] = used
            balance["total"][currency] = free + used
            balance[currency] = {"free": free, "used": used, "total": free + used}
        return balance

    async def close(self) -> None:
        try:
            await self.real.close()
        finally:
            self._store.close()


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


def _touch(levels: list[list[float]]) -> float:
    if not levels:
        raise ExchangeError("paper: the order book is empty")
    return float(levels[0][0])


def _floor_to(amount: float, step: Any) -> float:
    if not step:
        return amount
    step = float(step)
    return round(math.floor(amount / step + 1e-9) * step, 12)


def _check_limits(market: Market, amount: float, price: float) -> None:
    limits = market.get("limits") or {}
    low = (limits.get("amount") or {}).get("min")
    if amount <= 0 or (low and amount < float(low)):
        raise InvalidOrder(f"paper: {market['symbol']} amount {amount:.10g} below minimum {low}")
    min_cost = (limits.get("cost") or {}).get("min")
    if min_cost and amount * price < float(min_cost):
        raise InvalidOrder(
            f"paper: {market['symbol']} order value {amount * price:.4f} below minimum {min_cost}"
        )
