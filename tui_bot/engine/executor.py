"""Trade execution that never loses, doubles or misreads an order.

Each intent gets a client order id, deterministic per data folder: a random instance part made
once and kept in the store, then the cycle, symbol and side. A retry or a restart sends the same
id; two installations on one account never do. The order is written to SQLite as pending before
it is sent. An answer that is lost, or unreadable (no id, no amount, no price, NaN: what ccxt
makes of an HTML or empty body), is an unknown outcome: the order is looked up by that id before
any retry, and a restart resolves whatever is still pending the same way (reconcile). An order
found by that id is adopted only if it is this intent (symbol, side, amount, time).

Amounts are what the market takes: a buy is capped at the market's maximum and rounded down to
its lot step; what a fee in the base currency or a rounded sell leaves below one step is kept
per asset as dust (Store.dust), never silently lost.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import string
from dataclasses import dataclass
from typing import Any

from tui_bot.clock import Clock
from tui_bot.engine.monitor import Monitor
from tui_bot.engine.words import AlertFn, AlertLevel
from tui_bot.exchange.base import Exchange, Market, OrderStatus
from tui_bot.exchange.errors import (
    AuthenticationError,
    DuplicateClientOrderId,
    ExchangeError,
    InsufficientFunds,
    InvalidOrder,
    NetworkError,
    OrderNotFound,
    RateLimited,
)
from tui_bot.exchange.order_math import (
    amount_step,
    backoff_delay,
    dust_reason,
    max_amount,
    round_amount,
)
from tui_bot.store import OrderRow, PositionRow, Store, TradeRow

__all__ = ["CLIENT_ID_PREFIX", "ExecutionResult", "Executor", "client_order_id", "round_amount"]

CLIENT_ID_PREFIX = "tb"  # every order this bot sends carries a client order id starting so
ID_LENGTH = 32  # the shortest limit among exchanges' client order ids
INSTANCE_KEY = "instance_id"  # the store's state key of this data folder's id part
INSTANCE_LENGTH = 8
_INSTANCE_CHARS = string.ascii_lowercase + string.digits
ADOPT_TOLERANCE_SECONDS = 120.0  # how far the exchange's clock may be behind ours


class _FoundUnfilled(Exception):
    """The exchange has the order but nothing of it filled (status: open, expired, ...)."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


class _NotOurs(Exception):
    """The exchange has an order with this client order id, but it is not this intent."""


def client_order_id(cycle: int, symbol: str, side: str, instance: str = "") -> str:
    """Same (instance, cycle, symbol, side) -> same id: 32 letters and digits, the prefix, the
    cycle (5 digits), then `instance`, the data folder's part (instance_id); the executor always
    passes it, so fresh data folders on one account never send the same ids."""
    head = f"{CLIENT_ID_PREFIX}{cycle % 100000:05d}{instance}"
    digest = hashlib.sha1(f"{instance}|{cycle}|{symbol}|{side}".encode()).hexdigest()
    return head + digest[: ID_LENGTH - len(head)]


def instance_id(store: Store) -> str:
    """This data folder's random id part: made once, then kept in the store."""
    stored = store.get_state(INSTANCE_KEY) or ""
    if len(stored) == INSTANCE_LENGTH and all(c in _INSTANCE_CHARS for c in stored):
        return stored
    made = "".join(secrets.choice(_INSTANCE_CHARS) for _ in range(INSTANCE_LENGTH))
    store.set_state(INSTANCE_KEY, made)
    return made


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
    status: str  # filled | failed | skipped | pending | not_sent | unknown
    trade: TradeRow | None = None
    position: PositionRow | None = None
    note: str = ""  # for the close's alert: "left 0.0009 AVAX dust, below the lot step"


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
        self.instance = instance_id(store)
        self._rejected_sells: dict[str, int] = {}  # symbol -> sells rejected in a row

    def client_order_id(self, cycle: int, symbol: str, side: str) -> str:
        return client_order_id(cycle, symbol, side, self.instance)

    async def open_position(
        self,
        cycle: int,
        symbol: str,
        amount: float,
        context: dict[str, Any],
        price: float | None = None,
    ) -> ExecutionResult:
        """Market buy of `amount` base, capped at the market's maximum (its cost limit at
        `price`) and rounded down to its lot step. context: group, probability, features,
        sl_pct, tp_pct."""
        market = await self._market(symbol)
        amount = self._capped(symbol, amount, market, price)
        coid = self.client_order_id(cycle, symbol, "buy")
        if amount <= 0:
            return ExecutionResult(coid, "skipped")
        order = OrderRow(coid, cycle, "open", symbol, "buy", amount, "pending", "signal", context)
        return await self._execute(order, market)

    async def close_position(
        self, cycle: int, position: PositionRow, reason: str
    ) -> ExecutionResult:
        market = await self._market(position.symbol)
        amount = round_amount(position.amount, market) or position.amount
        order = OrderRow(
            self.client_order_id(cycle, position.symbol, "sell"),
            cycle,
            "close",
            position.symbol,
            "sell",
            amount,
            "pending",
            reason,
            {},
        )
        result = await self._execute(order, market)
        if result.status == "filled":
            rejected = self._rejected_sells.pop(position.symbol, 0)
            if rejected:
                self.alert(
                    AlertLevel.INFO,
                    "executor",
                    f"sell {position.symbol} went through after {rejected} rejected attempts",
                )
        return result

    async def reconcile(self) -> list[ExecutionResult]:
        """Resolve every order the store still holds as pending (after a crash or lost answer)."""
        results = []
        for order in self.store.pending_orders():
            market = await self._market(order.symbol)
            try:
                fill = await self._lookup(order, market)
            except _FoundUnfilled as e:
                if e.status != OrderStatus.OPEN:  # still open: look again next time
                    self._fail(order, "not filled", ExchangeError(f"order {e.status}"))
                    results.append(ExecutionResult(order.client_order_id, "failed"))
                continue
            except _NotOurs as e:
                self._refuse(order, e)
                results.append(ExecutionResult(order.client_order_id, "failed"))
                continue
            except NetworkError:
                continue  # still unknown: looked up again next time
            if fill is None:
                self.store.mark_order(order.client_order_id, "not_sent", self.clock.now())
                results.append(ExecutionResult(order.client_order_id, "not_sent"))
            else:
                results.append(self._apply(order, fill, market))
        return results

    async def _market(self, symbol: str) -> Market:
        try:
            markets = await self.exchange.load_markets()
        except ExchangeError:  # no limits known: the exchange checks them
            return {}
        return markets.get(symbol) or {}

    def _capped(self, symbol: str, amount: float, market: Market, price: float | None) -> float:
        cap = max_amount(market, price)
        if cap is not None and amount > cap:
            self.alert(
                AlertLevel.INFO,
                "executor",
                f"buy {symbol} capped at the market maximum: {cap:.8g} instead of {amount:.8g}",
            )
            amount = cap
        return round_amount(amount, market)

    async def _execute(self, order: OrderRow, market: Market) -> ExecutionResult:
        existing = self.store.order(order.client_order_id)
        if existing is not None and existing.status != "pending":
            return ExecutionResult(order.client_order_id, "skipped")
        if existing is None:
            self.store.add_pending_order(order, self.clock.now())
        else:
            order = existing
        with self.monitor.time("executor.place_order"):
            fill = await self._send(order, market)
        if fill is None:
            status = self.store.order(order.client_order_id)
            return ExecutionResult(order.client_order_id, status.status if status else "unknown")
        return self._apply(order, fill, market)

    async def _send(self, order: OrderRow, market: Market) -> Fill | None:
        """Send once per attempt; after any doubtful answer, look the order up before resending."""
        params = {"clientOrderId": order.client_order_id}
        for attempt in range(self.attempts):
            try:
                raw = await self.exchange.create_order(
                    order.symbol, "market", order.side, order.amount, None, params
                )
                fill = _fill(raw, order.symbol)
                if fill is not None:
                    return fill
                if _garbled(raw):  # an answer, but not one to believe: look it up
                    self.alert(
                        AlertLevel.WARNING,
                        "exchange",
                        f"order {order.symbol} answer unreadable (no id, amount or price): "
                        "looking it up",
                    )
            except RateLimited as e:
                self.alert(
                    AlertLevel.WARNING, "exchange", f"rate limited placing {order.symbol}: {e}"
                )
                await self.clock.sleep(e.retry_after or self._delay(attempt))
            except NetworkError as e:
                self.alert(AlertLevel.WARNING, "exchange", f"order {order.symbol} answer lost: {e}")
                await self.clock.sleep(self._delay(attempt))
            except DuplicateClientOrderId:
                pass  # an earlier attempt went through: look it up
            except InvalidOrder as e:
                self._fail(order, "order rejected", e)
                return None
            except InsufficientFunds as e:
                self._fail(order, "insufficient funds", e)
                return None
            except AuthenticationError as e:
                self.trading_blocked = "check your API key"
                self._fail(order, "authentication failed: check your API key", e)
                return None
            try:
                found = await self._lookup(order, market)
            except _FoundUnfilled as e:  # it exists: sending again would make a second order
                if e.status == OrderStatus.OPEN:
                    break
                self._fail(order, "not filled", ExchangeError(f"order {e.status}"))
                return None
            except _NotOurs as e:
                self._refuse(order, e)
                return None
            except NetworkError:
                break  # the outcome stays unknown
            if found is not None:
                return found
        self.alert(
            AlertLevel.ERROR,
            "executor",
            f"order {order.client_order_id} unresolved; will reconcile",
        )
        return None

    async def _lookup(self, order: OrderRow, market: Market) -> Fill | None:
        """The order's fill by client order id; None if the exchange has no such order.
        Raises _FoundUnfilled, _NotOurs, or NetworkError when no readable answer came."""
        params = {"clientOrderId": order.client_order_id}
        for attempt in range(self.attempts):
            try:
                raw = await self.exchange.fetch_order(None, order.symbol, params)
            except OrderNotFound:
                return None
            except NetworkError:
                await self.clock.sleep(self._delay(attempt))
                continue
            if _garbled(raw) or not (raw.get("filled") or raw.get("status")):
                await self.clock.sleep(self._delay(attempt))  # unknown, never "nothing filled"
                continue
            created = self.store.order_created_at(order.client_order_id)
            mismatch = _mismatch(order, raw, amount_step(market), created)
            if mismatch is not None:
                raise _NotOurs(mismatch)
            fill = _fill(raw, order.symbol)
            if fill is not None:
                return fill
            raise _FoundUnfilled(str(raw["status"]))
        raise NetworkError(f"could not look up order {order.client_order_id}")

    def _delay(self, attempt: int) -> float:
        return backoff_delay(self.backoff_seconds, attempt)

    def _fail(self, order: OrderRow, what: str, error: ExchangeError) -> None:
        self.store.mark_order(order.client_order_id, "failed", self.clock.now(), str(error))
        message = f"{order.side} {order.symbol} skipped: {what}: {error}"
        if order.intent == "close":  # tried again every cycle: said once, and when it sells
            rejected = self._rejected_sells.get(order.symbol, 0) + 1
            self._rejected_sells[order.symbol] = rejected
            if rejected > 1:
                return
            message += "; trying again each cycle (said again when it sells)"
        self.alert(AlertLevel.WARNING, "executor", message)

    def _refuse(self, order: OrderRow, reason: _NotOurs) -> None:
        """An order with our client order id that is not this intent: never adopt it."""
        self.store.mark_order(order.client_order_id, "failed", self.clock.now(), str(reason))
        self.alert(
            AlertLevel.ERROR,
            "executor",
            f"order {order.client_order_id} on the exchange is not this {order.side} of "
            f"{order.amount:.8g} {order.symbol} ({reason}): not adopted; check the exchange's "
            "order history for another bot or installation using this account",
        )

    def _apply(self, order: OrderRow, fill: Fill, market: Market) -> ExecutionResult:
        now = self.clock.now()
        coid = order.client_order_id
        with self.store.transaction() as db:
            self.store.record_fill(db, coid, vars(fill), now)
            if order.intent == "open":
                return self._opened(db, order, fill, market, now)
            held = {p.symbol: p for p in self.store.positions()}.get(order.symbol)
            if held is None:
                return ExecutionResult(coid, "filled")
            note = self._sold(order.symbol, held.amount - fill.filled, fill, market)
            trade = self.store.close_position(
                db,
                held,
                fill.average,
                fill.cost - fill.fee,
                now,
                order.reason or "exit",
                coid,
            )
            return ExecutionResult(coid, "filled", trade=trade, note=note)

    def _opened(
        self, db: Any, order: OrderRow, fill: Fill, market: Market, now: float
    ) -> ExecutionResult:
        """The position holds what can be sold (whole lot steps); the rest is dust."""
        base = order.symbol.split("/")[0]
        received = fill.filled - fill.fee_base
        amount = round_amount(received, market)
        self._add_dust(base, received - amount)
        if amount <= 0:
            self.alert(
                AlertLevel.WARNING, "executor", f"bought {received:.8g} {base}: all of it dust"
            )
            return ExecutionResult(order.client_order_id, "filled")
        position = _position(order, fill, amount, now)
        self.store.insert_position(db, position)
        return ExecutionResult(order.client_order_id, "filled", position=position)

    def _sold(self, symbol: str, left: float, fill: Fill, market: Market) -> str:
        """Book what a sell left of the position; the close's note about the asset's dust."""
        base = symbol.split("/")[0]
        if left > 1e-12:
            if dust_reason(left, market, fill.average) is None:
                self.alert(
                    AlertLevel.WARNING,
                    "executor",
                    f"sold {fill.filled:.8g} of {fill.filled + left:.8g} {base}: {left:.8g} "
                    f"{base} is still on the exchange, not managed; sell it there",
                )
            else:
                self._add_dust(base, left)
        dust = self.store.dust().get(base, 0.0)
        if dust <= 0:
            return ""
        why = dust_reason(dust, market, fill.average)
        return f"left {dust:.8g} {base} dust" + (f", {why}" if why else "")

    def _add_dust(self, asset: str, amount: float) -> None:
        if amount > 1e-12:
            dust = self.store.dust()
            dust[asset] = dust.get(asset, 0.0) + amount
            self.store.set_dust(dust)


def _position(order: OrderRow, fill: Fill, amount: float, now: float) -> PositionRow:
    ctx = order.context
    price = fill.average
    return PositionRow(
        symbol=order.symbol,
        group=ctx.get("group", "other"),
        side="long",
        amount=amount,
        entry_price=price,
        entry_cost=fill.cost + fill.fee,
        stop_loss=price * (1 - ctx.get("sl_pct", 2.0) / 100),
        take_profit=price * (1 + ctx.get("tp_pct", 3.0) / 100),
        opened_at=now,
        probability=float(ctx.get("probability", 0.0)),
        features=tuple(ctx.get("features", ())),
        entry_order=order.client_order_id,
    )


def _number(value: Any) -> float | None:
    """A finite float, or None (missing, NaN, infinite, not a number)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _valid(value: Any) -> bool:
    """Missing, or a finite number >= 0."""
    if value is None:
        return True
    number = _number(value)
    return number is not None and number >= 0


def _fill_price(raw: dict[str, Any], filled: float) -> float | None:
    cost = _number(raw.get("cost"))
    prices = (_number(raw.get("average")), _number(raw.get("price")), cost and cost / filled)
    return next((p for p in prices if p is not None and p > 0), None)


def _garbled(raw: Any) -> bool:
    """An order answer not to believe: no id; a filled, price, cost or fee that is not a finite
    number >= 0; something filled but no price for it. (A missing filled is not garbled: some
    exchanges answer an order with its id only.)"""
    if not isinstance(raw, dict) or not raw.get("id"):
        return True
    fee = raw.get("fee") or {}
    numbers = (raw.get("filled"), raw.get("average"), raw.get("price"), raw.get("cost"))
    if not all(_valid(n) for n in (*numbers, fee.get("cost"))):
        return True
    filled = _number(raw.get("filled")) or 0.0
    return filled > 0 and _fill_price(raw, filled) is None


def _fill(raw: Any, symbol: str) -> Fill | None:
    """The fill an order answer reports; None if it is unreadable or nothing filled."""
    if _garbled(raw) or not _number(raw.get("filled")):
        return None
    filled = float(raw["filled"])
    average = _fill_price(raw, filled) or 0.0
    cost = _number(raw.get("cost")) or filled * average
    fee = raw.get("fee") or {}
    fee_cost = _number(fee.get("cost")) or 0.0
    base = symbol.split("/")[0]
    fee_base = fee_cost if fee.get("currency") == base else 0.0
    fee_quote = fee_cost * average if fee_base else fee_cost
    return Fill(str(raw["id"]), filled, average, cost, fee_quote, fee_base)


def _mismatch(
    order: OrderRow, raw: dict[str, Any], step: float | None, created_at: float | None
) -> str | None:
    """Why an order found by our client order id is not this intent; None if it is."""
    symbol, side = raw.get("symbol"), raw.get("side")
    if symbol and symbol != order.symbol:
        return f"it is on {symbol}"
    if side and str(side).lower() != order.side:
        return f"it is a {side}"
    slack = order.amount * 1e-9 + 1e-12
    amount = _number(raw.get("amount"))
    lowest = order.amount - (step or 0.0) - slack  # the exchange may round down one step
    if amount is not None and not lowest <= amount <= order.amount + slack:
        return f"its amount is {amount:.8g}"
    filled = _number(raw.get("filled")) or 0.0
    if filled > order.amount + slack:
        return f"{filled:.8g} of it filled"
    placed = _number(raw.get("timestamp"))
    if placed is not None and created_at is not None:
        early = created_at - placed / 1000
        if early > ADOPT_TOLERANCE_SECONDS:
            return f"it was placed {early:.0f} s before this bot wrote its order"
    return None
