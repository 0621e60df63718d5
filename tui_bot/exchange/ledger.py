"""The account of a simulated exchange: balances and orders, ccxt-shaped, kept in SQLite.

Shared by the embedded simulator and paper trading; each decides how and when orders fill and
uses the ledger for the bookkeeping. Balances are {currency: [free, used]}. With a path the
state lives in a SQLite file (WAL mode) and every `save` is committed before it returns.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tui_bot.clock import Clock
from tui_bot.exchange.base import Market, Order, OrderStatus
from tui_bot.exchange.errors import DuplicateClientOrderId, InsufficientFunds, InvalidOrder
from tui_bot.storage import Database

__all__ = ["Ledger", "check_order_args", "iso8601"]


def iso8601(ms: int) -> str:
    """ccxt's datetime format: 2026-01-01T00:00:00.000Z."""
    moment = datetime.fromtimestamp(ms // 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def check_order_args(
    name: str, type: str, side: str, amount: float | None, price: float | None
) -> None:
    """Refuse an unknown type or side, an amount <= 0 (None: not checked) or a limit order
    without a positive price. `name` prefixes the messages."""
    if type not in ("market", "limit") or side not in ("buy", "sell"):
        raise InvalidOrder(f"{name}: unsupported order {type!r} {side!r}")
    if amount is not None and not amount > 0:
        raise InvalidOrder(f"{name}: amount must be positive, got {amount}")
    if type == "limit" and not (price is not None and price > 0):
        raise InvalidOrder(f"{name}: a limit order needs a positive price")


_STATE_SCHEMA = """
CREATE TABLE IF NOT EXISTS balances
    (currency TEXT PRIMARY KEY, free REAL NOT NULL, used REAL NOT NULL);
CREATE TABLE IF NOT EXISTS orders
    (id TEXT PRIMARY KEY, client_order_id TEXT UNIQUE NOT NULL, json TEXT NOT NULL);
"""
# (version, sql) steps, see tui_bot/storage.py; v1: the unversioned v0 tables, now versioned
_STATE_MIGRATIONS: list[tuple[int, str]] = [(1, "")]
_STATE_LOST = "the simulated account will start again from its starting balance"


class _StateStore:
    """Balances and orders in SQLite (a file in WAL mode, or memory).

    Faults are StorageErrors (tui_bot.errors). Orders a failed save could not write (a full
    disk) are kept and written with the next save that succeeds.
    """

    def __init__(self, path: Path | None) -> None:
        self._db = Database(path, _STATE_SCHEMA, _STATE_MIGRATIONS, _STATE_LOST)
        self._unsaved: dict[str, Order] = {}

    def load(self) -> tuple[dict[str, list[float]], dict[str, Order]]:
        rows = self._db.execute("SELECT currency, free, used FROM balances").fetchall()
        balances = {currency: [free, used] for currency, free, used in rows}
        stored = self._db.execute("SELECT id, json FROM orders ORDER BY rowid").fetchall()
        return balances, {order_id: json.loads(text) for order_id, text in stored}

    def save(self, balances: dict[str, list[float]], orders: list[Order]) -> None:
        """One transaction: committed when this returns."""
        self._unsaved.update((o["id"], o) for o in orders)
        with self._db.transaction() as db:
            db.executemany(
                "INSERT INTO balances (currency, free, used) VALUES (?, ?, ?)"
                " ON CONFLICT(currency) DO UPDATE SET free = excluded.free, used = excluded.used",
                [(cur, free, used) for cur, (free, used) in balances.items()],
            )
            db.executemany(
                "INSERT INTO orders (id, client_order_id, json) VALUES (?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET json = excluded.json",
                [(o["id"], o["clientOrderId"], json.dumps(o)) for o in self._unsaved.values()],
            )
        self._unsaved.clear()

    def close(self) -> None:
        self._db.close()


class Ledger:
    """Balances and orders of one simulated account.

    `name` prefixes error messages and generated client order ids ("sim-7"); `info` is the
    `info` field of every order and balance this ledger hands out.
    """

    def __init__(
        self,
        *,
        name: str,
        info: dict[str, Any],
        clock: Clock,
        path: Path | None,
        starting_balance: float,
        stake_currency: str,
    ) -> None:
        self.name = name
        self.info = info
        self.clock = clock
        self.path = path  # None: in memory
        self._store = _StateStore(path)
        self.balances, self.orders = self._store.load()
        if not self.balances:
            self.balances = {stake_currency: [starting_balance, 0.0]}
            self._store.save(self.balances, [])
        self._by_client = {o["clientOrderId"]: oid for oid, o in self.orders.items()}
        self._next_id = 1 + max((int(oid) for oid in self.orders), default=0)

    # -- orders -------------------------------------------------------------------------------

    def refuse_duplicate(self, client_id: str | None) -> None:
        """Raise DuplicateClientOrderId if an order with this client order id exists already."""
        if client_id is not None and client_id in self._by_client:
            raise DuplicateClientOrderId(f"{self.name}: duplicate clientOrderId {client_id!r}")

    def new_order(
        self,
        market: Market,
        type: str,
        side: str,
        amount: float,
        price: float | None,
        client_id: str | None,
    ) -> Order:
        """A fresh open order with the next id; not stored until `add`."""
        order_id = str(self._next_id)
        self._next_id += 1
        ms = int(self.clock.now() * 1000)
        return {
            "info": copy.deepcopy(self.info),
            "id": order_id,
            "clientOrderId": client_id or f"{self.name}-{order_id}",
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
            "status": OrderStatus.OPEN,
            "fee": {"cost": 0.0, "currency": market["quote"]},
            "trades": [],
        }

    def add(self, order: Order) -> None:
        """Store a new order with the balances: committed when this returns."""
        self.orders[order["id"]] = order
        self._by_client[order["clientOrderId"]] = order["id"]
        self.save([order])

    def find(
        self, id: str | None, symbol: str | None, params: dict[str, Any] | None
    ) -> Order | None:
        """The order by id, or by params["clientOrderId"] when id is None; None if unknown or
        on another symbol."""
        order_id = id
        if order_id is None:
            order_id = self._by_client.get((params or {}).get("clientOrderId", ""))
        order = self.orders.get(order_id or "")
        if order is None or (symbol is not None and order["symbol"] != symbol):
            return None
        return order

    def open_order(self, id: str, symbol: str | None) -> Order | None:
        """The open order with this id (on `symbol` if given), else None."""
        order = self.orders.get(id)
        if (
            order is None
            or order["status"] != OrderStatus.OPEN
            or symbol not in (None, order["symbol"])
        ):
            return None
        return order

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """The open orders (on `symbol` if given), oldest first; not copies."""
        return [
            o
            for o in self.orders.values()
            if o["status"] == OrderStatus.OPEN and symbol in (None, o["symbol"])
        ]

    def cancel(self, order: Order, fee_rate: float) -> None:
        """Release what the open order holds and mark it canceled: committed when this returns."""
        self.reserve(order, fee_rate, to_used=False)
        order["status"] = OrderStatus.CANCELED
        self.save([order])

    def save(self, orders: list[Order]) -> None:
        """Commit the balances and these (changed) orders."""
        self._store.save(self.balances, orders)

    # -- balances -----------------------------------------------------------------------------

    def require_funds(
        self, market: Market, side: str, amount: float, cost: float, fee_rate: float
    ) -> None:
        """Raise InsufficientFunds unless an order can be paid for from the free balances:
        `cost` quote plus the fee for a buy, `amount` base for a sell."""
        if side == "buy":
            self._require_free(market["quote"], cost * (1.0 + fee_rate))
        else:
            self._require_free(market["base"], amount)

    def _require_free(self, currency: str, needed: float) -> None:
        free = self.balances.get(currency, [0.0, 0.0])[0]
        if needed > free * (1.0 + 1e-9) + 1e-12:
            raise InsufficientFunds(f"{self.name}: need {needed:.8g} {currency}, free {free:.8g}")

    def reserve(self, order: Order, fee_rate: float, to_used: bool) -> None:
        """Move what an open order holds between free and used (to_used=False releases it):
        the quote cost of the remaining amount plus fee for a buy, the remaining base for a
        sell."""
        base, quote = order["symbol"].split("/")
        if order["side"] == "buy":
            currency, amount = quote, order["remaining"] * order["price"] * (1.0 + fee_rate)
        else:
            currency, amount = base, order["remaining"]
        row = self.balances.setdefault(currency, [0.0, 0.0])
        sign = 1.0 if to_used else -1.0
        row[0] -= sign * amount
        row[1] = max(0.0, row[1] + sign * amount)

    def trade(self, market: Market, side: str, qty: float, cost: float, fee: float) -> None:
        """Book a fill in the free balances: `qty` base for `cost` quote, the fee in quote."""
        base, quote = market["base"], market["quote"]
        if side == "buy":
            self._add(quote, -(cost + fee))
            self._add(base, qty)
        else:
            self._add(base, -qty)
            self._add(quote, cost - fee)

    def _add(self, currency: str, delta: float) -> None:
        row = self.balances.setdefault(currency, [0.0, 0.0])
        row[0] += delta
        if -1e-9 < row[0] < 0.0:
            row[0] = 0.0

    def balance(self) -> dict[str, Any]:
        """ccxt's fetch_balance shape."""
        info = copy.deepcopy(self.info)
        balance: dict[str, Any] = {"info": info, "free": {}, "used": {}, "total": {}}
        for currency, (free, used) in self.balances.items():
            balance["free"][currency] = free
            balance["used"][currency] = used
            balance["total"][currency] = free + used
            balance[currency] = {"free": free, "used": used, "total": free + used}
        return balance

    def close(self) -> None:
        self._store.close()


def fill_price(open_price: Any, side: str, slippage: float) -> Any:
    """A market order's price at a candle's open: `slippage` (a fraction) worse for the taker.
    The backtest venue fills at it, and the model's labels (engine.outcome) assume it."""
    return open_price * (1.0 + slippage if side == "buy" else 1.0 - slippage)
