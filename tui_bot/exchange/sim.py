"""The embedded simulated market: the default exchange. Offline, seeded, ccxt-shaped.

A venue over a candle source: prices come from a `GeneratedSource` (the seeded factor model of
`sim_prices`, with a weak, learnable mean reversion), asked at this venue's clock for everything
shown and filled (tickers, bid/ask, candles, limit crossings); the venue itself keeps the
balances and orders (the ledger), fees, latency and faults. Every call
behaves like a remote exchange seen through ccxt with enableRateLimit: it waits for the rate
limiter (wall time), sleeps `latency_ms`, and with probability `error_rate` fails with an
injected NetworkError, RequestTimeout or RateLimited. A create_order that times out may have
been executed anyway (the answer was lost), so callers must recover through clientOrderId.

Balances and orders are exchange state, not ours: with `state_path` they live in a SQLite file
and survive our process; every change is committed before the call returns (or times out).
"""

from __future__ import annotations

import asyncio
import copy
import math
import random
import time
from pathlib import Path
from typing import Any

import numpy as np

from tui_bot.clock import Clock
from tui_bot.exchange.base import (
    Candle,
    Market,
    Order,
    OrderStatus,
    Ticker,
    spot_market,
    timeframe_seconds,
)
from tui_bot.exchange.errors import (
    ExchangeError,
    InvalidOrder,
    NetworkError,
    OrderNotFound,
    RateLimited,
    RequestTimeout,
)
from tui_bot.exchange.ledger import Ledger, check_order_args, iso8601
from tui_bot.exchange.order_math import value_breach
from tui_bot.exchange.sim_prices import (
    CLOSE,
    HIGH,
    LOW,
    OPEN,
    SIM_EPOCH,
    SIM_GROUPS,
    VOLUME,
    Asset,
)
from tui_bot.market.source import GeneratedSource

__all__ = ["SIM_EPOCH", "SIM_GROUPS", "SimExchange", "sim_start_time"]

MIN_COST = 5.0  # limits.cost.min of every market, in the stake currency
DEFAULT_OHLCV_LIMIT = 500
MAX_OHLCV_LIMIT = 1000
HISTORY_CANDLES = 2000


def sim_start_time(timeframe: str, history_candles: int = HISTORY_CANDLES) -> float:
    """Where a fresh simulation clock starts: `history_candles` closed candles already exist."""
    return SIM_EPOCH + history_candles * timeframe_seconds(timeframe)


def _tick(value: float) -> float:
    """A power of ten: ~5 significant digits for prices."""
    return 10.0 ** (math.floor(math.log10(value)) - 4)


def _amount_step(price: float) -> float:
    """Amount precision worth at most ~1 USD, never coarser than 1 unit."""
    return min(1.0, 10.0 ** math.floor(math.log10(1.0 / price)))


class _RateLimiter:
    """Like ccxt's enableRateLimit: calls spaced 1/rate s apart (wall time); waits, never fails."""

    def __init__(self, rate_per_s: float) -> None:
        self.interval = 1.0 / rate_per_s if rate_per_s > 0 else 0.0
        self._next = 0.0

    async def wait(self) -> None:
        now = time.monotonic()
        slot = max(now, self._next)
        self._next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


class SimExchange:
    """A seeded market of up to len(ASSETS) (44) symbols; n_symbols is capped at that."""

    id = "sim"

    def __init__(
        self,
        *,
        clock: Clock,
        seed: int = 42,
        n_symbols: int = 40,
        timeframe: str = "5m",
        latency_ms: float = 0.0,
        rate_limit_per_s: float = 1000.0,
        error_rate: float = 0.0,
        starting_balance: float = 10_000.0,
        stake_currency: str = "USDT",
        fee_rate: float = 0.001,
        state_path: Path | None = None,
    ) -> None:
        self.clock = clock
        self.seed = seed
        self.timeframe = timeframe
        self.latency_ms = latency_ms
        self.error_rate = error_rate
        self.stake_currency = stake_currency
        self.fee_rate = fee_rate
        self._tf = timeframe_seconds(timeframe)
        self.use_source(GeneratedSource(seed, timeframe, n_symbols, stake_currency))
        self._limiter = _RateLimiter(rate_limit_per_s)
        self._faults = random.Random(f"sim-faults:{seed}")  # separate: prices stay deterministic
        self._ledger = Ledger(
            name="sim",
            info={},
            clock=clock,
            path=state_path,
            starting_balance=starting_balance,
            stake_currency=stake_currency,
        )
        # open order id -> time its fill was last checked
        self._open = {o["id"]: o["timestamp"] / 1000.0 for o in self._ledger.open_orders()}

    def use_source(self, source: GeneratedSource) -> None:
        """Take prices and the listed markets from `source` (its quote: the stake currency)."""
        self._source = source
        self._markets = {s: self._market(source.assets[source.index(s)]) for s in source.symbols()}

    # -- plain helpers (no latency, no faults) ----------------------------------------------

    @property
    def ledger(self) -> Ledger:
        """The simulated account, for reading only (the engine's start check)."""
        return self._ledger

    @property
    def source(self) -> GeneratedSource:
        return self._source

    @property
    def symbols(self) -> list[str]:
        return self._source.symbols()

    def price_now(self, symbol: str) -> float:
        """Mid price: linear from open to close of the candle in progress."""
        self._asset_index(symbol)
        return self._source.mid_price(symbol, self.clock.now())

    def candles(self, symbol: str, start_k: int, end_k: int) -> np.ndarray:
        """Candles [start_k, end_k) as rows [ts_ms, o, h, l, c, v]; candle k opens at
        SIM_EPOCH + k * timeframe. Includes unclosed/future candles: for tests and bootstrap."""
        self._asset_index(symbol)
        return self._source.candles(symbol, start_k, end_k)

    def _asset_index(self, symbol: str) -> int:
        try:
            return self._source.index(symbol)
        except KeyError:
            raise ExchangeError(f"sim: unknown symbol {symbol!r}") from None

    def _quote(self, symbol: str) -> tuple[float, float]:
        """(bid, ask) around the mid price."""
        return self._bid_ask(self._asset_index(symbol), self.price_now(symbol))

    def _bid_ask(self, i: int, mid: float) -> tuple[float, float]:
        half = self._source.assets[i].spread_bps / 20_000.0
        return mid * (1.0 - half), mid * (1.0 + half)

    def _market(self, asset: Asset) -> Market:
        step, tick = _amount_step(asset.price), _tick(asset.price)
        return spot_market(
            asset.base, self.stake_currency, self.fee_rate, step, tick, step, tick, MIN_COST,
            {"group": asset.group},
        )  # fmt: skip

    # -- the network, simulated ---------------------------------------------------------------

    async def _request(self, may_lose_answer: bool = False) -> bool:
        """Rate limit, latency, fault injection. True: execute, then raise RequestTimeout."""
        await self._limiter.wait()
        if self.latency_ms > 0:
            await asyncio.sleep(self.latency_ms / 1000.0)
        if self._faults.random() >= self.error_rate:
            return False
        kind = self._faults.choice(("network", "timeout", "rate_limit"))
        if kind == "network":
            raise NetworkError("sim: injected network error")
        if kind == "rate_limit":
            retry_after = round(self._faults.uniform(0.1, 1.0), 3)
            raise RateLimited("sim: injected rate limit", retry_after=retry_after)
        if may_lose_answer and self._faults.random() < 0.5:
            return True
        raise RequestTimeout("sim: injected request timeout")

    # -- market data ------------------------------------------------------------------------

    async def load_markets(self) -> dict[str, Market]:
        await self._request()
        return copy.deepcopy(self._markets)

    async def fetch_tickers(self, symbols: list[str] | None = None) -> dict[str, Ticker]:
        await self._request()
        wanted = self.symbols if symbols is None else symbols
        indexes = [self._asset_index(s) for s in wanted]
        now = self.clock.now()
        k = self._source.index_at(now)
        window = self._source.window(k - int(86_400 // self._tf), k)  # the last 24h, closed
        mids = self._source.mid_prices(now)
        ms = int(now * 1000)
        return {
            s: self._ticker(s, i, window, float(mids[i]), ms)
            for s, i in zip(wanted, indexes, strict=True)
        }

    def _ticker(self, symbol: str, i: int, window: np.ndarray, last: float, ms: int) -> Ticker:
        bid, ask = self._bid_ask(i, last)
        empty = window.shape[2] == 0
        open_ = last if empty else float(window[OPEN, i, 0])
        base_volume = 0.0 if empty else float(window[VOLUME, i].sum())
        quote_volume = 0.0 if empty else float((window[VOLUME, i] * window[CLOSE, i]).sum())
        return {
            "symbol": symbol,
            "timestamp": ms,
            "datetime": iso8601(ms),
            "last": last,
            "close": last,
            "bid": bid,
            "ask": ask,
            "open": open_,
            "high": last if empty else max(last, float(window[HIGH, i].max())),
            "low": last if empty else min(last, float(window[LOW, i].min())),
            "change": last - open_,
            "percentage": (last / open_ - 1.0) * 100.0,
            "vwap": quote_volume / base_volume if base_volume else None,
            "baseVolume": base_volume,
            "quoteVolume": quote_volume,
            "info": {},
        }

    async def fetch_ohlcv(
        self, symbol: str, timeframe: str = "5m", since: int | None = None, limit: int | None = None
    ) -> list[Candle]:
        await self._request()
        if timeframe != self.timeframe:
            raise ExchangeError(
                f"sim: timeframe {timeframe!r} not supported; this market runs {self.timeframe!r}"
            )
        self._asset_index(symbol)
        limit = min(limit or DEFAULT_OHLCV_LIMIT, MAX_OHLCV_LIMIT)
        now_ms = math.floor(self.clock.now() * 1000)
        rows = self._source.closed(symbol, now_ms, limit, None if since is None else int(since))
        return [[int(r[0]), r[1], r[2], r[3], r[4], r[5]] for r in rows.tolist()]

    # -- trading ----------------------------------------------------------------------------

    async def create_order(
        self,
        symbol: str,
        type: str,
        side: str,
        amount: float,
        price: float | None = None,
        params: dict[str, Any] | None = None,
    ) -> Order:
        lose_answer = await self._request(may_lose_answer=True)
        self._settle()
        order = self._place(symbol, type, side, amount, price, (params or {}).get("clientOrderId"))
        if lose_answer:
            raise RequestTimeout("sim: injected request timeout")
        return copy.deepcopy(order)

    def _place(
        self,
        symbol: str,
        type: str,
        side: str,
        amount: float,
        price: float | None,
        client_id: str | None,
    ) -> Order:
        market = self._markets.get(symbol)
        if market is None:
            raise ExchangeError(f"sim: unknown symbol {symbol!r}")
        amount, price = float(amount), None if price is None else float(price)
        check_order_args("sim", type, side, amount, price)
        self._ledger.refuse_duplicate(client_id)
        bid, ask = self._quote(symbol)
        touch = ask if side == "buy" else bid
        marketable = (
            price is None or type == "market" or (ask <= price if side == "buy" else bid >= price)
        )
        ref = touch if marketable or price is None else price
        breach = value_breach(market, amount, ref)
        if breach is not None:
            raise InvalidOrder(f"sim: order cost {breach.value:.4f} below minimum {breach.bound}")
        self._ledger.require_funds(market, side, amount, amount * ref, self.fee_rate)
        limit = price if type == "limit" else None
        order = self._ledger.new_order(market, type, side, amount, limit, client_id)
        if marketable:
            self._fill(order, touch, reserved=False)
        else:
            self._ledger.reserve(order, self.fee_rate, to_used=True)
            self._open[order["id"]] = self.clock.now()
        self._ledger.add(order)
        return order

    def _fill(self, order: Order, fill_price: float, reserved: bool) -> None:
        """Fill the whole order at `fill_price`; `reserved`: it was resting, holding funds."""
        if reserved:
            self._ledger.reserve(order, self.fee_rate, to_used=False)
        market = self._markets[order["symbol"]]
        amount = order["amount"]
        cost = amount * fill_price
        fee = cost * self.fee_rate
        self._ledger.trade(market, order["side"], amount, cost, fee)
        ms = int(self.clock.now() * 1000)
        order.update(
            price=order["price"] if order["price"] is not None else fill_price,
            average=fill_price,
            filled=amount,
            remaining=0.0,
            cost=cost,
            status=OrderStatus.CLOSED,
            lastTradeTimestamp=ms,
            fee={"cost": fee, "currency": market["quote"]},
        )

    def _settle(self) -> None:
        """Fill open limit orders the price has crossed since they were last checked."""
        now = self.clock.now()
        filled = []
        for order_id, since in list(self._open.items()):
            self._open[order_id] = now
            order = self._ledger.orders[order_id]
            if order["symbol"] not in self._markets:  # listed by an earlier, other instance
                continue
            low, high = self._source.price_range(order["symbol"], since, now)
            limit = order["price"]
            if (order["side"] == "buy" and low <= limit) or (
                order["side"] == "sell" and high >= limit
            ):
                self._fill(order, limit, reserved=True)
                del self._open[order_id]
                filled.append(order)
        if filled:
            self._ledger.save(filled)

    async def fetch_order(
        self, id: str | None, symbol: str | None = None, params: dict[str, Any] | None = None
    ) -> Order:
        await self._request()
        self._settle()
        order = self._ledger.find(id, symbol, params)
        if order is None:
            raise OrderNotFound(f"sim: order not found (id={id!r}, params={params!r})")
        return copy.deepcopy(order)

    async def fetch_open_orders(self, symbol: str | None = None) -> list[Order]:
        await self._request()
        self._settle()
        return [copy.deepcopy(o) for o in self._ledger.open_orders(symbol)]

    async def cancel_order(self, id: str, symbol: str | None = None) -> Order:
        await self._request()
        self._settle()
        order = self._ledger.open_order(id, symbol)
        if order is None:
            raise OrderNotFound(f"sim: no open order {id!r}")
        self._ledger.cancel(order, self.fee_rate)
        del self._open[id]
        return copy.deepcopy(order)

    async def fetch_balance(self) -> dict[str, Any]:
        await self._request()
        self._settle()
        return self._ledger.balance()

    async def close(self) -> None:
        self._ledger.close()
