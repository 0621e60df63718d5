"""Real exchanges through ccxt.async_support: one client per process, retries, backoff, no leaks.

- Configuration: our defaults (rate limiter on, spot markets) deep-merged with
  `[exchange.ccxt_config]` untouched (nested tables included: options, urls, timeout, ...); API
  credentials only from the environment, and only when trading live.
- Errors: every ccxt exception becomes one of `tui_bot.exchange.errors`, its text scrubbed of
  secrets and signatures (ccxt puts request URLs and bodies in its messages). A malformed answer
  (truncated JSON, wrong shape) is a NetworkError, never a half-parsed order; so is an order
  answer without an order in it (an HTTP 200 with HTML, garbage or nothing, which ccxt turns
  into an "order" with no id and filled 0): after a send its outcome is unknown, as if lost.
- Reads are retried with jittered exponential backoff, a bounded number of times. Orders are not:
  after a doubtful create_order the caller looks the order up by its client order id first.
  A request that got no answer at all may still be on its way, so "not found" is only believed
  once it can no longer execute: `settle_seconds` after it was sent (the exchange's recvWindow,
  10 s on Binance, plus a second), and likewise for orders a crashed process may have sent just
  before this one started.
- Rate budget: ccxt's limiter in its rolling-window form, sized to the exchange's weight limit
  a minute (request_budget.py): requests go out at once while the minute's budget lasts and
  wait only once it is spent (ccxt's default leaky bucket spaces every request by its cost, so
  the all-symbols ticker alone waited 0.8 s on Binance). Each request's weight and wait, and the
  exchange's own count of the minute's weight (Binance's X-MBX-USED-WEIGHT-1M), go to `budget`.
- Rate limits (429 / 418 / DDoSProtection / RateLimitExceeded): every request waits out
  Retry-After (or a growing pause), and for a while fewer requests may be in flight at once.
  A pause longer than `max_wait_seconds` fails calls at once instead of sending anything.
"""

from __future__ import annotations

import asyncio
import contextvars
import copy
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from tui_bot.exchange.base import AlertFn, AlertLevel, Candle, Market, Order, Ticker
from tui_bot.exchange.errors import (
    AuthenticationError,
    ClockSkew,
    DuplicateClientOrderId,
    ExchangeError,
    InsufficientFunds,
    InvalidOrder,
    NetworkError,
    OrderNotFound,
    RateLimited,
    RequestTimeout,
)
from tui_bot.exchange.order_math import amount_breach, backoff_delay, value_breach
from tui_bot.exchange.request_budget import (
    MINUTE,
    WEIGHT_PER_COST,
    RequestBudget,
    stated_weight_limit,
    used_weight,
)
from tui_bot.redact import redact, register

_log = logging.getLogger("tui_bot.ccxt")
DEFAULT_CONFIG: dict[str, Any] = {
    "enableRateLimit": True,
    "rateLimiterAlgorithm": "rollingWindow",  # spend the minute's budget, don't queue behind it
    "rollingWindowSize": MINUTE * 1000,
    "options": {"defaultType": "spot"},
}
# A spot bot needs spot markets only: fewer requests to load them, none of them signed.
SPOT_DEFAULTS: dict[str, dict[str, Any]] = {
    "binance": {
        "options": {"fetchMarkets": {"types": ["spot"]}, "fetchMargins": False,
                    "fetchCurrencies": False},
    },
}  # fmt: skip
ENV_CREDENTIALS = {
    "apiKey": "TUI_BOT_API_KEY",
    "secret": "TUI_BOT_API_SECRET",
    "password": "TUI_BOT_API_PASSWORD",
}
MAX_MESSAGE = 300
LOAD_MARKETS_ATTEMPTS = 6
_response: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "tui_bot_ccxt_response", default=None
)


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `base` with `override` merged in; nested mappings merge, everything else wins."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def credentials_from_env(env: Mapping[str, str]) -> dict[str, str]:
    """apiKey / secret / password from TUI_BOT_API_*; only those that are set."""
    found = {name: env.get(var, "").strip() for name, var in ENV_CREDENTIALS.items()}
    return {name: value for name, value in found.items() if value}


def build_config(
    ccxt_config: Mapping[str, Any],
    credentials: Mapping[str, str] | None = None,
    exchange: str = "",
) -> dict[str, Any]:
    defaults = deep_merge(DEFAULT_CONFIG, SPOT_DEFAULTS.get(exchange, {}))
    config = deep_merge(defaults, ccxt_config)
    for name in ENV_CREDENTIALS:  # never from the config file (config.py refuses them anyway)
        config.pop(name, None)
    config.update(credentials or {})
    return config


def exchange_ids() -> list[str]:
    import ccxt.async_support as ccxt_async  # type: ignore[import-untyped]  # ccxt has no types

    return list(ccxt_async.exchanges)


class _NotAnOrder(NetworkError):
    """An answer to an order request that carries no order: whether it executed is unknown."""


class _Gate:
    """How many requests may be in flight, and until when nothing may be sent at all."""

    def __init__(self, limit: int) -> None:
        self.normal = max(1, limit)
        self.limit = self.normal
        self.in_flight = 0
        self.paused_until = 0.0  # time.monotonic()
        self.reduced_until = 0.0
        self._waiters: list[asyncio.Future[None]] = []

    def pause_left(self) -> float:
        return max(0.0, self.paused_until - time.monotonic())

    async def acquire(self, max_wait: float) -> None:
        while True:
            left = self.pause_left()
            if left > max_wait:
                raise RateLimited(f"rate limited: cooling down for {left:.0f} s", retry_after=left)
            if left > 0:
                await asyncio.sleep(left)
                continue
            if time.monotonic() >= self.reduced_until:
                self.limit = self.normal
            if self.in_flight < self.limit:
                self.in_flight += 1
                return
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)

    def release(self) -> None:
        """Wake every waiter; each checks again (a woken one may have been cancelled since)."""
        self.in_flight -= 1
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def penalize(self, pause: float, cooldown: float) -> None:
        now = time.monotonic()
        self.paused_until = max(self.paused_until, now + pause)
        self.limit = max(1, self.limit // 2)
        self.reduced_until = now + cooldown


def _instrumented(cls: Any) -> Any:
    """The ccxt class, plus: response headers kept for the caller (Retry-After), and a body
    that starts like JSON but does not parse raised as BadResponse instead of passed on."""
    import ccxt

    class Instrumented(cls):  # type: ignore[misc]  # ccxt's exchange classes have no types
        tui_budget: RequestBudget | None = None
        tui_weight_per_cost = 1.0
        tokenBucket: dict[str, Any] | None  # ccxt's limiter settings (None while resized)

        async def throttle(self, cost: float | None = None) -> None:
            """ccxt's limiter, timed: what each request weighs and how long it waited."""
            started = time.monotonic()
            await super().throttle(cost)
            if self.tui_budget is not None:
                units = (self.tokenBucket or {}).get("cost", 1) if cost is None else cost
                weight = float(units) * self.tui_weight_per_cost
                self.tui_budget.spent(weight, time.monotonic() - started)

        def on_rest_response(
            self,
            code: int,
            reason: str,
            url: str,
            method: str,
            response_headers: Mapping[str, str] | None,
            *args: Any,
        ) -> str:
            holder = _response.get()
            if holder is not None:
                holder["status"] = code
                holder["headers"] = dict(response_headers or {})
            budget = self.tui_budget
            used = used_weight(response_headers)
            if used is not None and budget is not None:
                budget.reported(used)
            if budget is not None and budget.limit_from_exchange and "exchangeInfo" in str(url):
                stated = stated_weight_limit(args[0] if args else None)
                if stated is not None:
                    self.tui_size_window(stated)
            body: str = super().on_rest_response(code, reason, url, method, response_headers, *args)
            return body

        def tui_size_window(self, limit: float) -> None:
            """ccxt's rolling window holds MINUTE * 1000 / rateLimit cost units: `limit`."""
            self.rateLimit = MINUTE * 1000 * self.tui_weight_per_cost / limit
            self.tokenBucket = None
            self.init_rest_rate_limiter()
            if self.tui_budget is not None:
                self.tui_budget.limit = limit

        def log(self, *args: object) -> None:
            """ccxt's verbose output (request headers included) goes through the log, scrubbed,
            never straight to stdout."""
            _log.debug(redact(" ".join(str(a) for a in args)))

        def parse_json(self, http_response: object) -> Any:  # JSON: any shape
            result = super().parse_json(http_response)
            if result is None and isinstance(http_response, str):
                text = http_response.strip()
                if text and text[0] in "{[":
                    raise ccxt.BadResponse(f"{self.id} malformed JSON in the answer")
            return result

    Instrumented.__name__ = cls.__name__
    Instrumented.__qualname__ = cls.__qualname__
    return Instrumented


class CcxtExchange:
    """The Exchange protocol over one `ccxt.async_support.<name>` client."""

    def __init__(
        self,
        name: str,
        ccxt_config: Mapping[str, Any] | None = None,
        *,
        sandbox: bool = False,
        credentials: Mapping[str, str] | None = None,
        max_in_flight: int = 10,
        retries: int = 3,
        backoff_seconds: float = 0.25,
        cooldown_seconds: float = 60.0,
        max_wait_seconds: float = 30.0,
        settle_seconds: float | None = None,
        alert: AlertFn | None = None,
        weight_limit_per_minute: float = 0.0,
    ) -> None:
        import ccxt.async_support as ccxt_async

        if name not in ccxt_async.exchanges:
            raise ValueError(f"{name!r} is not a ccxt exchange id")
        register((credentials or {}).values())
        self.id = name
        self.retries = max(1, retries)
        self.backoff_seconds = backoff_seconds
        self.cooldown_seconds = cooldown_seconds
        self.max_wait_seconds = max_wait_seconds
        self.alert = alert
        self.has_credentials = bool(credentials)
        self._gate = _Gate(max_in_flight)
        self._rate_limit_streak = 0
        self._alerted: dict[str, float] = {}
        self._failing_since: float | None = None
        self._markets: dict[str, Market] | None = None
        self._markets_lock = asyncio.Lock()
        self._started = time.monotonic()
        self._in_doubt: dict[str, float] = {}  # client id -> when an unanswered send is settled
        self.last_prices: dict[str, float] = {}
        cls = _instrumented(getattr(ccxt_async, name))
        self.client = cls(build_config(ccxt_config or {}, credentials, name))
        self.budget = self._size_budget(weight_limit_per_minute)
        options = self.client.options
        window = options.get("recvWindow")
        if settle_seconds is None:
            settle_seconds = (float(window) / 1000 if window else 10.0) + 1.0
        self.settle_seconds = settle_seconds
        options["warnOnFetchOpenOrdersWithoutSymbol"] = False
        if isinstance(options.get("fetchOpenOrders"), dict):
            options["fetchOpenOrders"]["warnWithoutSymbol"] = False
        if sandbox:
            try:
                self.client.set_sandbox_mode(True)
            except Exception as e:
                raise ValueError(f"{name} has no sandbox/testnet in ccxt ({_text(e)})") from None

    def _size_budget(self, weight_limit_per_minute: float) -> RequestBudget:
        """The budget in the exchange's weight, and ccxt's rolling window sized to it: the
        given limit, or the one ccxt knows (60000 / rateLimit cost units a minute)."""
        client = self.client
        per_cost = WEIGHT_PER_COST.get(self.id, 1.0)
        client.tui_weight_per_cost = per_cost
        rate_limit = float(client.rateLimit or 0)
        known = MINUTE * 1000 / rate_limit * per_cost if rate_limit > 0 else math.inf
        budget = RequestBudget(weight_limit_per_minute or known)
        # not configured: an exchange that states its limit (Binance's exchangeInfo) is believed
        budget.limit_from_exchange = weight_limit_per_minute <= 0
        client.tui_budget = budget
        if weight_limit_per_minute > 0:
            client.tui_size_window(weight_limit_per_minute)
        return budget

    def ticker_weights(self) -> tuple[float, float]:
        """(one symbol's ticker, every symbol's tickers) in the exchange's weight, from ccxt's
        cost table where it has the endpoint; ccxt's default cost of one request otherwise."""
        per_cost = self.client.tui_weight_per_cost
        table = (self.client.api or {}).get("public", {}).get("get", {})
        entry = table.get("ticker/24hr") if isinstance(table, dict) else None
        if isinstance(entry, dict) and "cost" in entry:
            one = float(entry["cost"])
            return one * per_cost, float(entry.get("noSymbol", one)) * per_cost
        return per_cost, per_cost

    @property
    def rate_limited_for(self) -> float:
        """Seconds until requests may be sent again (0 when not cooling down)."""
        return self._gate.pause_left()

    @property
    def max_in_flight(self) -> int:
        return self._gate.limit

    # -- market data -----------------------------------------------------------------------
    async def load_markets(self) -> dict[str, Market]:
        if self._markets is None:
            async with self._markets_lock:
                if self._markets is None:
                    self._markets = await self._load_markets()
        return self._markets

    async def _load_markets(self) -> dict[str, Market]:
        attempts = max(self.retries, LOAD_MARKETS_ATTEMPTS)  # several requests at once
        try:
            markets: dict[str, Market] = await self._call(
                "load_markets", self.client.load_markets, attempts=attempts
            )
            return markets
        except AuthenticationError as e:
            if not self.has_credentials:
                raise
            # Some exchanges sign part of market loading (binance: currencies, margin pairs).
            # Market data must not depend on the key: load it without, and say so.
            self._notify(
                AlertLevel.ERROR, "auth", f"authentication failed: check your API key ({e})"
            )
            client = self.client
            saved = {name: getattr(client, name, None) for name in ENV_CREDENTIALS}
            for name in ENV_CREDENTIALS:
                setattr(client, name, "")
            try:
                markets = await self._call("load_markets", client.load_markets, attempts=attempts)
                return markets
            finally:
                for name, value in saved.items():
                    setattr(client, name, value)

    async def fetch_tickers(self, symbols: list[str] | None = None) -> dict[str, Ticker]:
        """Every symbol's ticker, or just `symbols`' the cheapest way: one request each, at once,
        when that weighs less than the all-symbols request (ticker_weights)."""
        await self.load_markets()
        if symbols is not None and not symbols:
            return {}
        one, every = self.ticker_weights()
        if symbols is not None and len(symbols) * one < every:
            answers = await asyncio.gather(
                *(self._call("fetch_ticker", self.client.fetch_ticker, s) for s in symbols)
            )
            tickers = dict(zip(symbols, answers, strict=True))
        else:
            tickers = await self._call("fetch_tickers", self.client.fetch_tickers)
            if symbols is not None:
                wanted = set(symbols)
                tickers = {s: t for s, t in tickers.items() if s in wanted}
        for symbol, ticker in tickers.items():
            last = ticker.get("last") or ticker.get("close")
            if last:
                self.last_prices[symbol] = float(last)
        return tickers

    async def fetch_ohlcv(
        self, symbol: str, timeframe: str = "5m", since: int | None = None, limit: int | None = None
    ) -> list[Candle]:
        await self.load_markets()
        candles: list[Candle] = await self._call(
            "fetch_ohlcv", self.client.fetch_ohlcv, symbol, timeframe, since, limit
        )
        return candles

    async def fetch_order_book(self, symbol: str, limit: int | None = None) -> dict[str, Any]:
        await self.load_markets()
        book: dict[str, Any] = await self._call(
            "fetch_order_book", self.client.fetch_order_book, symbol, limit
        )
        return book

    # -- account ---------------------------------------------------------------------------
    async def fetch_balance(self) -> dict[str, Any]:
        await self.load_markets()
        balance: dict[str, Any] = await self._call("fetch_balance", self._fetch_balance)
        return balance

    async def _fetch_balance(self) -> dict[str, Any]:
        import ccxt

        balance = await self.client.fetch_balance()
        # ccxt "parses" an HTTP 200 with an HTML page, garbage or nothing into an empty
        # balance (its `info` the raw text): that is an unreadable answer, not an empty account
        if not isinstance(balance, dict) or not isinstance(balance.get("info"), dict | list):
            raise ccxt.BadResponse(f"{self.id} answered with something that is not a balance")
        return balance

    async def fetch_open_orders(self, symbol: str | None = None) -> list[Order]:
        await self.load_markets()
        orders: list[Order] = await self._call(
            "fetch_open_orders", self.client.fetch_open_orders, symbol
        )
        return orders

    # -- orders ----------------------------------------------------------------------------
    async def create_order(
        self,
        symbol: str,
        type: str,
        side: str,
        amount: float,
        price: float | None = None,
        params: dict[str, Any] | None = None,
    ) -> Order:
        """Rounded to the market's precision and checked against its limits, then sent once."""
        markets = await self.load_markets()
        market = markets.get(symbol)
        if market is None:
            raise InvalidOrder(f"{self.id}: unknown market {symbol}")
        if market.get("active") is False:
            raise InvalidOrder(f"{self.id}: market {symbol} is not trading")
        amount, price = self._rounded(market, amount, price)
        self._check_limits(market, amount, price)
        client_id = (params or {}).get("clientOrderId")
        sent = time.monotonic()
        try:
            order: Order = await self._call(
                "create_order",
                self._orders_only(self.client.create_order),
                symbol,
                type,
                side,
                amount,
                price,
                dict(params or {}),
                retry=False,
            )
            return order
        except NetworkError as e:
            unanswered = isinstance(e, RequestTimeout | _NotAnOrder) or not e.answered
            if client_id and unanswered and not isinstance(e, RateLimited):
                self._in_doubt[str(client_id)] = sent + self.settle_seconds
            raise

    def _rounded(
        self, market: Market, amount: float, price: float | None
    ) -> tuple[float, float | None]:
        symbol = market["symbol"]
        try:
            amount = float(self.client.amount_to_precision(symbol, amount))
            if price is not None:
                price = float(self.client.price_to_precision(symbol, price))
        except Exception as e:  # ccxt raises InvalidOrder when the amount rounds to nothing
            raise InvalidOrder(
                f"{symbol}: amount {amount:.10g} is below the market's precision ({_text(e)})"
            ) from None
        return amount, price

    def _check_limits(self, market: Market, amount: float, price: float | None) -> None:
        """Refuse what the market's limits would; a market order's value at the last price."""
        symbol = market["symbol"]
        ref = price if price is not None else self.last_prices.get(symbol)
        breach = amount_breach(market, amount) or value_breach(market, amount, ref)
        if breach is not None:
            raise InvalidOrder(f"{symbol}: {breach}")

    async def fetch_order(
        self, id: str | None, symbol: str | None = None, params: dict[str, Any] | None = None
    ) -> Order:
        params = dict(params or {})
        client_id = params.get("clientOrderId")
        await self.load_markets()
        if id is not None or not client_id:
            fetch = self._orders_only(self.client.fetch_order)
            order = await self._call("fetch_order", fetch, id, symbol, params)
        else:
            order = await self._find_by_client_id(str(client_id), symbol)
        return await self._with_fees(order)

    async def _with_fees(self, order: Order) -> Order:
        """An order looked up later often comes without its fees (Binance's GET /order has
        none): take them from the account's trades of that order."""
        fee = order.get("fee") or {}
        if not float(order.get("filled") or 0) or fee.get("cost") is not None:
            return order
        if not self.client.has.get("fetchMyTrades") or not order.get("symbol"):
            return order
        trades = await self._call(
            "fetch_my_trades",
            self.client.fetch_my_trades,
            order["symbol"],
            None,
            None,
            {"orderId": order["id"]},
        )
        costs: dict[str, float] = {}
        for trade in trades:
            trade_fee = trade.get("fee") or {}
            if str(trade.get("order")) == str(order["id"]) and trade_fee.get("cost") is not None:
                currency = trade_fee.get("currency") or ""
                costs[currency] = costs.get(currency, 0.0) + float(trade_fee["cost"])
        if len(costs) == 1:
            [(currency, cost)] = costs.items()
            order = {**order, "fee": {"cost": cost, "currency": currency}}
        if costs:
            order["fees"] = [{"cost": c, "currency": k} for k, c in costs.items()]
        return order

    async def _find_by_client_id(self, client_id: str, symbol: str | None) -> Order:
        """By client order id; "not found" only once no unanswered send can still execute."""
        try:
            return await self._lookup_client_id(client_id, symbol)
        except OrderNotFound:
            settled = self._in_doubt.get(client_id, self._started + self.settle_seconds)
            wait = settled - time.monotonic()
            if wait <= 0:
                self._in_doubt.pop(client_id, None)
                raise
        await asyncio.sleep(wait)  # a send may still be on its way: look again once it cannot
        self._in_doubt.pop(client_id, None)
        return await self._lookup_client_id(client_id, symbol)

    async def _lookup_client_id(self, client_id: str, symbol: str | None) -> Order:
        """fetch_order by client order id if the exchange takes one, else search its orders."""
        has = self.client.has
        if has.get("fetchOrder"):
            try:
                order: Order = await self._call(
                    "fetch_order",
                    self._orders_only(self.client.fetch_order),
                    None,
                    symbol,
                    {"clientOrderId": client_id},
                )
                return order
            except (OrderNotFound, NetworkError, AuthenticationError):
                raise
            except ExchangeError:
                pass  # this exchange wants an exchange id: search instead
        searches: list[tuple[str, Callable[..., Awaitable[Any]]]] = []
        if has.get("fetchOpenOrders"):
            searches.append(("fetch_open_orders", self.client.fetch_open_orders))
        if has.get("fetchOrders"):
            searches.append(("fetch_orders", self.client.fetch_orders))
        elif has.get("fetchClosedOrders"):
            searches.append(("fetch_closed_orders", self.client.fetch_closed_orders))
        for what, method in searches:
            orders: list[Order] = await self._call(what, method, symbol)
            for found in orders:
                if found.get("clientOrderId") == client_id:
                    return found
        raise OrderNotFound(f"{self.id}: no order with client order id {client_id}")

    def _orders_only(self, method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        """`method`, refusing an answer that is not an order: ccxt turns an HTTP 200 with an
        HTML, garbage or empty body into an "order" with no id and filled 0, never an error."""

        async def call(*args: Any) -> Any:
            order = await method(*args)
            if not isinstance(order, dict) or not order.get("id"):
                raise _NotAnOrder(
                    f"{self.id} answered with something that is not an order (HTML, garbage or "
                    "empty): outcome unknown, look the order up"
                )
            return order

        return call

    async def cancel_order(self, id: str, symbol: str | None = None) -> Order:
        await self.load_markets()
        order: Order = await self._call(
            "cancel_order", self.client.cancel_order, id, symbol, retry=False
        )
        return order

    async def close(self) -> None:
        await self.client.close()

    # -- calls, errors, backoff ------------------------------------------------------------
    async def _call(
        self,
        what: str,
        method: Callable[..., Awaitable[Any]],
        *args: Any,
        retry: bool = True,
        attempts: int | None = None,
    ) -> Any:
        attempts = (attempts or self.retries) if retry else 1
        for attempt in range(attempts):
            await self._wait_for_reported_budget()
            await self._gate.acquire(self.max_wait_seconds)
            holder: dict[str, Any] = {}
            token = _response.set(holder)
            try:
                result = await method(*args)
            except Exception as e:
                error = self._map(e, holder, what)
            else:
                self._succeeded()
                return result
            finally:
                _response.reset(token)
                self._gate.release()
            if isinstance(error, RateLimited):
                self._rate_limited(error, what)
            last = not retry or attempt == attempts - 1
            if last or not isinstance(error, NetworkError):
                if isinstance(error, NetworkError) and self._failing_since is None:
                    self._failing_since = time.monotonic()
                if isinstance(error, ClockSkew):
                    error = await self._clock_skew(what)
                raise error
            if not isinstance(error, RateLimited):  # a rate limit waits in the gate instead
                await asyncio.sleep(backoff_delay(self.backoff_seconds, attempt))
        raise AssertionError("unreachable")

    async def _wait_for_reported_budget(self) -> None:
        """When the exchange says its minute is (nearly) spent, by us or by another process on
        the same IP, nothing more goes out until its next minute (Binance counts per calendar
        minute)."""
        if self.budget.reported_full():
            await asyncio.sleep(MINUTE - time.time() % MINUTE + 0.05)

    async def _clock_skew(self, what: str) -> ClockSkew:
        """Name how far our clock is off when the exchange's time can be had."""
        refused = f"{what}: {self.id} refused our request's timestamp"
        try:
            offset = (self.client.milliseconds() - float(await self.client.fetch_time())) / 1000
        except Exception:  # its time is not to be had either: say what we know
            error = ClockSkew(
                f"{refused} (outside its recvWindow): check this computer's clock and sync it "
                "(NTP, e.g. `sudo timedatectl set-ntp true`)"
            )
        else:
            if abs(offset) >= 1:
                side = "ahead of" if offset > 0 else "behind"
                error = ClockSkew(
                    f"{refused}: this computer's clock is {abs(offset):.0f} s {side} the "
                    "exchange's; sync it (NTP, e.g. `sudo timedatectl set-ntp true`)"
                )
            else:
                error = ClockSkew(
                    f"{refused} as outside its recvWindow, though the clocks agree within 1 s: "
                    "the request was slow; if this repeats, sync the clock (NTP) or raise "
                    "options.recvWindow in [exchange.ccxt_config]"
                )
        error.answered = True
        return error

    def _map(self, e: Exception, holder: dict[str, Any], what: str) -> ExchangeError:
        error = self._map_exception(e, what)
        error.answered = holder.get("status") is not None
        if isinstance(error, RateLimited):
            error.retry_after = _retry_after(holder.get("headers"))
        return error

    def _map_exception(self, e: Exception, what: str) -> ExchangeError:
        import ccxt

        text = f"{what}: {_text(e)}"
        if isinstance(e, ExchangeError):
            return e
        if isinstance(e, ccxt.DDoSProtection | ccxt.RateLimitExceeded):
            return RateLimited(text)
        if isinstance(e, ccxt.RequestTimeout):
            return RequestTimeout(text)
        if isinstance(e, ccxt.InvalidNonce):  # Binance -1021: timestamp outside the recvWindow
            return ClockSkew(text)
        if isinstance(e, ccxt.OperationFailed):  # NetworkError, ExchangeNotAvailable, BadResponse
            return NetworkError(text)
        if isinstance(e, ccxt.AuthenticationError):
            return AuthenticationError(text)
        if isinstance(e, ccxt.InsufficientFunds):
            return InsufficientFunds(text)
        if isinstance(e, ccxt.OrderNotFound):
            return OrderNotFound(text)
        if isinstance(e, ccxt.DuplicateOrderId) or "duplicate" in text.lower():
            return DuplicateClientOrderId(f"duplicate clientOrderId: {text}")
        if isinstance(e, ccxt.InvalidOrder):
            return InvalidOrder(text)
        if isinstance(e, ccxt.BadRequest) and what == "create_order":
            return InvalidOrder(text)
        if isinstance(e, ccxt.BaseError):
            return ExchangeError(text)
        if isinstance(e, TimeoutError):
            return RequestTimeout(text)
        if isinstance(e, OSError):
            return NetworkError(text)
        if isinstance(e, TypeError | ValueError | KeyError | AttributeError | IndexError):
            return NetworkError(f"{what}: malformed answer from {self.id} ({type(e).__name__})")
        raise e

    def _rate_limited(self, error: RateLimited, what: str) -> None:
        self._rate_limit_streak += 1
        pause = error.retry_after
        if pause is None:
            pause = min(60.0, 2.0 ** (self._rate_limit_streak - 1))
        pause = max(0.0, pause)
        error.retry_after = pause
        self._gate.penalize(pause, self.cooldown_seconds)
        self._notify(
            AlertLevel.WARNING,
            "rate_limit",
            f"{self.id} rate limit on {what}: pausing requests {pause:.1f} s, at most "
            f"{self._gate.limit} in flight for {self.cooldown_seconds:.0f} s",
        )

    def _succeeded(self) -> None:
        self._rate_limit_streak = 0
        if self._failing_since is not None:
            down = time.monotonic() - self._failing_since
            self._failing_since = None
            self._notify(
                AlertLevel.INFO, "recovered", f"{self.id} is answering again (after {down:.0f} s)"
            )

    def _notify(self, level: AlertLevel, kind: str, message: str, every: float = 30.0) -> None:
        """An alert, at most one of a kind every `every` seconds (a flood helps nobody)."""
        now = time.monotonic()
        if now - self._alerted.get(kind, -math.inf) < every:
            return
        self._alerted[kind] = now
        if self.alert is not None:
            self.alert(level, "exchange", message)


def _retry_after(headers: Mapping[str, Any] | None) -> float | None:
    for key, value in (headers or {}).items():
        if str(key).lower() == "retry-after":
            try:
                seconds = float(value)
            except (TypeError, ValueError):
                return None
            return seconds if math.isfinite(seconds) and seconds >= 0 else None
    return None


def _text(e: BaseException) -> str:
    """An exception's message, scrubbed of secrets and cut to a readable length."""
    text = redact(f"{e}" or type(e).__name__)
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."
