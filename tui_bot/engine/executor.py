"""Trade execution that never loses or doubles an order.

Each intent gets a deterministic client order id. The order is written to SQLite as pending
before it is sent; a lost answer is resolved by looking the order up by that id before any
retry; a restart resolves whatever is still pending the same way (reconcile).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tui_bot.clock import Clock
from tui_bot.engine.monitor import Monitor
from tui_bot.exchange.base import Exchange
from tui_bot.exchange.errors import (
    AuthenticationError,
    ExchangeError,
    InsufficientFunds,
    InvalidOrder,
    NetworkError,
    OrderNotFound,
    RateLimited,
)
from tui_bot.store import OrderRow, PositionRow, Store, TradeRow

AlertFn = Callable[[str, str, str], None]  # level, source, message
CLIENT_ID_PREFIX = "tb"  # every order this bot sends carries a client order id starting so


class _FoundUnfilled(Exception):
    """The exchange has the order but nothing of it filled (status: open, expired, ...)."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


def client_order_id(cycle: int, symbol: str, side: str) -> str:
    """Same (cycle, symbol, side) -> same id; fits every exchange's id rules (<= 32 chars)."""
    digest = hashlib.sha1(f"{cycle}|{symbol}|{side}".encode()).hexdigest()[:22]
    return f"{CLIENT_ID_PREFIX}{cycle % 100000:05d}{digest}"


@dataclass(frozen=True)
class Fill:
    id: str
    filled: float
    average: float
    cost: float
    fee: float  # in quote currency
    fee_base: float  # fee taken from the base currency (reduces the amount held)


@dataclass(frozen=True)
class ExecutionResult:
    client_order_id: str
    status: str  # filled | failed | skipped | unknown
    trade: TradeRow | None = None
    position: PositionRow | None = None


class Executor:
    def __init__(
        self,
        exchange: Exchange,
        store: Store,
        clock: Clock,
        monitor: Monitor,
        alert: AlertFn,
        attempts: int = 4,
        backoff_seconds: float = 0.25,
    ) -> None:
        self.exchange = exchange
        self.store = store
        self.clock = clock
        self.monitor = monitor
        self.alert = alert
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self.trading_blocked: str | None = None  # set on authentication errors

    async def open_position(
        self,
        cycle: int,
        symbol: str,
        amount: float,
        context: dict[str, Any],
    ) -> ExecutionResult:
        """Market buy of `amount` base. context: group, probability, features, sl_pct, tp_pct."""
        order = OrderRow(
            client_order_id(cycle, symbol, "buy"),
            cycle,
            "open",
            symbol,
            "buy",
            amount,
            "pending",
            "signal",
            context,
        )
        return await self._execute(order)

    async def close_position(
        self, cycle: int, position: PositionRow, reason: str
    ) -> ExecutionResult:
        order = OrderRow(
            client_order_id(cycle, position.symbol, "sell"),
            cycle,
            "close",
            position.symbol,
            "sell",
            position.amount,
            "pending",
            reason,
            {},
        )
        return await self._execute(order)

    async def reconcile(self) -> list[ExecutionResult]:
        """Resolve every order the store still holds as pending (after a crash or lost answer)."""
        results = []
        for order in self.store.pending_orders():
            try:
                fill = await self._lookup(order)
            except _FoundUnfilled as e:
                if e.status != "open":  # still open: look again next time
                    self._fail(order, "not filled", ExchangeError(f"order {e.status}"))
                    results.append(ExecutionResult(order.client_order_id, "failed"))
                continue
            if fill is None:
                self.store.mark_order(order.client_order_id, "not_sent", self.clock.now())
                results.append(ExecutionResult(order.client_order_id, "not_sent"))
            else:
                results.append(self._apply(order, fill))
        return results

    async def _execute(self, order: OrderRow) -> ExecutionResult:
        existing = self.store.order(order.client_order_id)
        if existing is not None and existing.status != "pending":
            return ExecutionResult(order.client_order_id, "skipped")
        if existing is None:
            self.store.add_pending_order(order, self.clock.now())
        else:
            order = existing
        with self.monitor.time("executor.place_order"):
            fill = await self._send(order)
        if fill is None:
            status = self.store.order(order.client_order_id)
            return ExecutionResult(order.client_order_id, status.status if status else "unknown")
        return self._apply(order, fill)

    async def _send(self, order: OrderRow) -> Fill | None:
        """Send once per attempt; after any doubtful failure, look the order up before resending."""
        params = {"clientOrderId": order.client_order_id}
        for attempt in range(self.attempts):
            try:
                raw = await self.exchange.create_order(
                    order.symbol, "market", order.side, order.amount, None, params
                )
                return _fill(raw, order.symbol)
            except RateLimited as e:
                self.alert("warning", "exchange", f"rate limited placing {order.symbol}: {e}")
                await asyncio.sleep(e.retry_after or self._delay(attempt))
            except NetworkError as e:
                self.alert("warning", "exchange", f"order {order.symbol} answer lost: {e}")
                await asyncio.sleep(self._delay(attempt))
            except InvalidOrder as e:
                if "duplicate" not in str(e).lower():
                    return self._fail(order, "order rejected", e)
            except InsufficientFunds as e:
                return self._fail(order, "insufficient funds", e)
            except AuthenticationError as e:
                self.trading_blocked = "check your API key"
                return self._fail(order, "authentication failed: check your API key", e)
            try:
                found = await self._lookup(order)
            except _FoundUnfilled as e:  # it exists: sending again would make a second order
                if e.status == "open":
                    break
                return self._fail(order, "not filled", ExchangeError(f"order {e.status}"))
            if found is not None:
                return found
        self.alert("error", "executor", f"order {order.client_order_id} unresolved; will reconcile")
        return None

    async def _lookup(self, order: OrderRow) -> Fill | None:
        params = {"clientOrderId": order.client_order_id}
        for attempt in range(self.attempts):
            try:
                raw = await self.exchange.fetch_order(None, order.symbol, params)
                if float(raw.get("filled") or 0) > 0:
                    return _fill(raw, order.symbol)
                raise _FoundUnfilled(str(raw.get("status") or "open"))
            except OrderNotFound:
                return None
            except NetworkError:
                await asyncio.sleep(self._delay(attempt))
        raise NetworkError(f"could not look up order {order.client_order_id}")

    def _delay(self, attempt: int) -> float:
        return self.backoff_seconds * (2**attempt) * (0.5 + random.random())

    def _fail(self, order: OrderRow, what: str, error: ExchangeError) -> None:
        self.store.mark_order(order.client_order_id, "failed", self.clock.now(), str(error))
        self.alert("warning", "executor", f"{order.side} {order.symbol} skipped: {what}: {error}")
        return None

    def _apply(self, order: OrderRow, fill: Fill) -> ExecutionResult:
        now = self.clock.now()
        with self.store.transaction() as db:
            self.store.record_fill(db, order.client_order_id, vars(fill), now)
            if order.intent == "open":
                position = _position(order, fill, now)
                self.store.insert_position(db, position)
                return ExecutionResult(order.client_order_id, "filled", position=position)
            held = {p.symbol: p for p in self.store.positions()}.get(order.symbol)
            if held is None:
                return ExecutionResult(order.client_order_id, "filled")
            trade = self.store.close_position(
                db,
                held,
                fill.average,
                fill.cost - fill.fee,
                now,
                order.reason or "exit",
                order.client_order_id,
            )
            return ExecutionResult(order.client_order_id, "filled", trade=trade)


def _position(order: OrderRow, fill: Fill, now: float) -> PositionRow:
    ctx = order.context
    price = fill.average
    return PositionRow(
        symbol=order.symbol,
        group=ctx.get("group", "other"),
        side="long",
        amount=fill.filled - fill.fee_base,
        entry_price=price,
        entry_cost=fill.cost + fill.fee,
        stop_loss=price * (1 - ctx.get("sl_pct", 2.0) / 100),
        take_profit=price * (1 + ctx.get("tp_pct", 3.0) / 100),
        opened_at=now,
        probability=float(ctx.get("probability", 0.0)),
        features=tuple(ctx.get("features", ())),
        entry_order=order.client_order_id,
    )


def _fill(raw: dict[str, Any], symbol: str) -> Fill:
    filled = float(raw.get("filled") or 0.0)
    average = float(raw.get("average") or raw.get("price") or 0.0)
    cost = float(raw.get("cost") or filled * average)
    fee = raw.get("fee") or {}
    fee_cost = float(fee.get("cost") or 0.0)
    base = symbol.split("/")[0]
    fee_base = fee_cost if fee.get("currency") == base else 0.0
    fee_quote = fee_cost * average if fee_base else fee_cost
    return Fill(str(raw.get("id")), filled, average, cost, fee_quote, fee_base)


def round_amount(amount: float, market: dict[str, Any] | None) -> float:
    """Round down to the market's amount step (ccxt's TICK_SIZE precision)."""
    step = ((market or {}).get("precision") or {}).get("amount")
    if not step:
        return amount
    return math.floor(amount / float(step) + 1e-9) * float(step)
