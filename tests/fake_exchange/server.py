"""A Binance-compatible spot exchange on 127.0.0.1, for the real ccxt client to talk to.

It serves what `ccxt.binance` calls for spot trading (exchangeInfo, ticker/24hr, klines, depth,
account, order POST/GET/DELETE, openOrders, myTrades, time, ping), checks HMAC-SHA256 signatures
and API keys like Binance does (-1022 / -2015), and fills market orders by walking its own order
book. Its state (orders, trades, balances) lives in this process, so it outlives a bot process
that is SIGKILLed.

Faults are injected per request, either queued (`inject`) or at random (`random_faults`):
"429"/"418" (with Retry-After), "500"/"502"/"503", "timeout" (the request is handled, the answer
held past the client's timeout), "drop" (connection closed without an answer; an order is executed
first), "malformed" (a truncated JSON body; an order is executed first), "html" / "garbage" /
"empty" (HTTP 200 whose body is an HTML page, non-JSON text or nothing; an order is executed first),
"clock_skew" (Binance's -1021 "outside of the recvWindow", nothing handled). `hold_orders` keeps a
POST /order open for a while (before or after executing it) and sets an Event, so a test can kill
the client exactly while an order is in flight.

Request weight is counted as Binance counts it (`WEIGHTS`): fixed one-minute windows of the
server's clock, `X-MBX-USED-WEIGHT-1M` on every answer, and a request that would take the minute
past `weight_limit` is refused with HTTP 429 (-1003, Retry-After: the seconds to the next minute)
without being executed. `mark()`, `usage()`, `usage_between()` and `peak_minute_weight()` say
what was spent, so a test can count what one engine step cost. The server's clock is `clock`
(time.time unless given: a test shares its engine's clock with it); `frozen` only stops prices.
`pairs=N` lists N trading USDT pairs (the ten below, then generated ones) instead of ten.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import numpy as np

TF_SECONDS = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "4h": 14400, "1d": 86400}
FEE_RATE = 0.001
HISTORY = 3000  # candles before the server's start
FUTURE = 3000  # candles after it
SIGNED = {"/api/v3/account", "/api/v3/order", "/api/v3/openOrders", "/api/v3/myTrades"}
FAULT_KINDS = (
    "429", "418", "500", "502", "503", "timeout", "drop", "malformed", "html", "garbage", "empty",
    "clock_skew",
)  # fmt: skip
GARBLED = {
    "html": "<html><head><title>Just a moment...</title></head><body>checking</body></html>",
    "garbage": "\x00\x13 ok ok }{ not json",
    "empty": "",
}


@dataclass(frozen=True)
class Pair:
    base: str
    quote: str
    price: float
    step: float  # LOT_SIZE stepSize
    tick: float  # PRICE_FILTER tickSize
    status: str = "TRADING"

    @property
    def id(self) -> str:
        return self.base + self.quote

    @property
    def symbol(self) -> str:
        return f"{self.base}/{self.quote}"


PAIRS = (
    Pair("BTC", "USDT", 60000.0, 0.00001, 0.01),
    Pair("ETH", "USDT", 3000.0, 0.0001, 0.01),
    Pair("SOL", "USDT", 150.0, 0.001, 0.01),
    Pair("BNB", "USDT", 550.0, 0.001, 0.01),
    Pair("XRP", "USDT", 0.6, 1.0, 0.0001),
    Pair("ADA", "USDT", 0.45, 0.1, 0.0001),
    Pair("DOGE", "USDT", 0.15, 1.0, 0.00001),
    Pair("LINK", "USDT", 15.0, 0.01, 0.001),
    Pair("AVAX", "USDT", 35.0, 0.01, 0.01),
    Pair("LTC", "USDT", 80.0, 0.001, 0.01),
    Pair("ETH", "BTC", 0.05, 0.0001, 0.00001),  # another quote currency
    Pair("LUNA", "USDT", 0.5, 0.01, 0.0001, status="BREAK"),  # not trading
)
USDT_PAIRS = sum(1 for p in PAIRS if p.quote == "USDT" and p.status == "TRADING")
GENERATED_PRICES = (2.5, 0.8, 12.0, 45.0, 0.03, 180.0, 7.5, 0.0025, 1.2, 320.0)


def generated_pairs(count: int) -> tuple[Pair, ...]:
    """`count` more trading USDT pairs, named G011/USDT, G012/USDT, ... (after the ten above)."""
    out = []
    for i in range(USDT_PAIRS + 1, USDT_PAIRS + count + 1):
        price = GENERATED_PRICES[i % len(GENERATED_PRICES)] * (1 + i / 100)
        tick = 10.0 ** (math.floor(math.log10(price)) - 4)
        step = min(1.0, max(1e-5, 10.0 ** math.floor(math.log10(0.05 / price))))
        out.append(Pair(f"G{i:03d}", "USDT", price, step, tick))
    return tuple(out)


def pair_list(usdt_pairs: int | None) -> tuple[Pair, ...]:
    """PAIRS, or with `usdt_pairs` trading USDT pairs: PAIRS' first ones, then generated ones;
    the other-quote and the inactive pair stay either way."""
    if usdt_pairs is None:
        return PAIRS
    if usdt_pairs < 1:
        raise ValueError(f"pairs={usdt_pairs}: at least one trading USDT pair")
    usdt = [p for p in PAIRS if p.quote == "USDT" and p.status == "TRADING"][:usdt_pairs]
    others = [p for p in PAIRS if p.quote != "USDT" or p.status != "TRADING"]
    return (*usdt, *others, *generated_pairs(usdt_pairs - len(usdt)))


# Binance spot REQUEST_WEIGHT per endpoint, from the published REST API documentation
# (github.com/binance/binance-spot-api-docs, rest-api.md, each endpoint's "Weight:"; read at its
# commit of 2026-07-21). An int, or a function of the request's parameters where the docs give
# conditions. Paths outside /api/ (sapi, fapi, dapi) have limits of their own: 0 here.
def _ticker_24hr_weight(p: dict[str, str]) -> int:
    if "symbol" in p:
        return 2
    if "symbols" not in p:
        return 80
    count = len(_symbol_list(p["symbols"]))
    return 2 if count <= 20 else 40 if count <= 100 else 80


def _depth_weight(p: dict[str, str]) -> int:
    limit = int(p.get("limit", 100))
    return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250


WEIGHTS: dict[tuple[str, str], int | Callable[[dict[str, str]], int]] = {
    ("GET", "/api/v3/ping"): 1,
    ("GET", "/api/v3/time"): 1,
    ("GET", "/api/v3/exchangeInfo"): 20,
    ("GET", "/api/v3/depth"): _depth_weight,
    ("GET", "/api/v3/klines"): 2,
    ("GET", "/api/v3/ticker/24hr"): _ticker_24hr_weight,
    ("GET", "/api/v3/ticker/price"): lambda p: 2 if "symbol" in p else 4,
    ("GET", "/api/v3/ticker/bookTicker"): lambda p: 2 if "symbol" in p else 4,
    ("GET", "/api/v3/account"): 20,
    ("POST", "/api/v3/order"): 1,
    ("GET", "/api/v3/order"): 4,
    ("DELETE", "/api/v3/order"): 1,
    ("GET", "/api/v3/openOrders"): lambda p: 6 if "symbol" in p else 80,
    ("DELETE", "/api/v3/openOrders"): 1,
    ("GET", "/api/v3/allOrders"): 20,
    ("GET", "/api/v3/myTrades"): lambda p: 5 if "orderId" in p else 20,
}
DEFAULT_WEIGHT_LIMIT = 6000  # REQUEST_WEIGHT a minute, as Binance publishes it in exchangeInfo


def request_weight(method: str, path: str, params: dict[str, str]) -> int:
    """What Binance charges this request against REQUEST_WEIGHT."""
    weight = WEIGHTS.get((method, path))
    if weight is None:
        return 1 if path.startswith("/api/") else 0
    try:
        return weight(params) if callable(weight) else weight
    except ValueError:  # a malformed limit or symbols list: Binance refuses it, we charge 1
        return 1


def _symbol_list(text: str) -> list[str]:
    """Binance's `symbols` parameter: a JSON array of ids, e.g. ["BTCUSDT","ETHUSDT"]."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise ValueError(f"symbols: not a JSON array: {text!r}") from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"symbols: not a JSON array of strings: {text!r}")
    return value


MIN_NOTIONAL = 5.0
INSUFFICIENT = "Account has insufficient balance for requested action."
ANSWER_KEYS = (
    "symbol", "orderId", "orderListId", "clientOrderId", "price", "origQty", "executedQty",
    "cummulativeQuoteQty", "status", "timeInForce", "type", "side", "workingTime",
    "selfTradePreventionMode",
)  # fmt: skip


@dataclass
class Request:
    time: float
    method: str
    path: str
    status: int
    fault: str | None
    params: dict[str, str] = field(default_factory=dict)
    weight: int = 0  # REQUEST_WEIGHT charged (0 when refused or faulted with 429/418)
    used: int = 0  # the minute window's weight after this request
    refused: bool = False  # answered 429 because it would have taken the minute over the limit


@dataclass
class Usage:
    calls: int = 0
    weight: int = 0


@dataclass
class _Queued:
    kind: str
    count: int
    path: str | None
    method: str | None
    retry_after: float


class FakeBinance:
    def __init__(
        self,
        api_key: str = "fake-api-key",
        secret: str = "fake-api-secret",
        balances: dict[str, float] | None = None,
        seed: int = 7,
        timeframe: str = "5m",
        hang_seconds: float = 3.0,
        wiggle: tuple[float, float] = (0.0, 1.0),
        pairs: int | None = None,
        weight_limit: int = DEFAULT_WEIGHT_LIMIT,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.api_key = api_key
        self.secret = secret
        self.hang_seconds = hang_seconds
        self.wiggle = wiggle  # (amplitude, period s): a fast swing so stops and targets trigger
        self.frozen: float | None = None  # prices and the book stand still at this time
        self.lock = threading.RLock()
        self.clock = clock or time.time
        self.weight_limit = weight_limit
        self.pair_list = pair_list(pairs)
        self.pairs = {p.id: p for p in self.pair_list}
        self.tf = TF_SECONDS[timeframe]
        self.k0 = int(self.now() // self.tf)
        self._paths = self._price_paths(seed)
        self.balances: dict[str, list[float]] = {
            a: [float(v), 0.0] for a, v in (balances or {"USDT": 10_000.0}).items()
        }
        self.orders: list[dict[str, Any]] = []
        self.trades: list[dict[str, Any]] = []
        self.requests: list[Request] = []
        self._queue: list[_Queued] = []
        self._random_rate = 0.0
        self._random_kinds: tuple[str, ...] = ()
        self._random_paths: tuple[str, ...] | None = None
        self._rng = random.Random(seed)
        self._window = -1  # the current minute window (server time // 60)
        self._used = 0  # weight spent in it
        self._minutes: dict[int, int] = {}  # minute window -> weight spent in it
        self._next_id = 1000
        self.hold: dict[str, Any] | None = None
        self.order_arrived = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> FakeBinance:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FakeBinance:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def now(self) -> float:
        """The server's clock: candles, tickers, order times and the weight windows follow it."""
        return self.clock()

    def ccxt_config(self, timeout_ms: int = 2000) -> dict[str, Any]:
        """What goes under [exchange.ccxt_config] to point ccxt.binance here."""
        base = self.url
        return {
            "timeout": timeout_ms,
            "rateLimit": 10,
            "timeout_on_exit": 0,  # ccxt waits 250 ms on close by default
            "options": {"recvWindow": 2000},  # an unanswered order is settled after 2 s
            "urls": {
                "api": {
                    "public": f"{base}/api/v3",
                    "private": f"{base}/api/v3",
                    "v1": f"{base}/api/v1",
                    "sapi": f"{base}/sapi/v1",
                    "sapiV2": f"{base}/sapi/v2",
                    "sapiV3": f"{base}/sapi/v3",
                    "sapiV4": f"{base}/sapi/v4",
                    "fapiPublic": f"{base}/fapi/v1",
                    "fapiPrivate": f"{base}/fapi/v1",
                    "dapiPublic": f"{base}/dapi/v1",
                    "dapiPrivate": f"{base}/dapi/v1",
                    "eapiPublic": f"{base}/eapi/v1",
                    "eapiPrivate": f"{base}/eapi/v1",
                    "papi": f"{base}/papi/v1",
                }
            },
        }

    # -- fault injection --------------------------------------------------------------------
    def inject(
        self,
        kind: str,
        count: int = 1,
        path: str | None = None,
        method: str | None = None,
        retry_after: float = 1.0,
    ) -> None:
        """The next `count` requests (matching path/method) answer with `kind`."""
        assert kind in FAULT_KINDS, kind
        with self.lock:
            self._queue.append(_Queued(kind, count, path, method, retry_after))

    def random_faults(
        self,
        rate: float,
        kinds: tuple[str, ...] = ("429", "500", "502", "503"),
        paths: tuple[str, ...] | None = None,
    ) -> None:
        with self.lock:
            self._random_rate, self._random_kinds, self._random_paths = rate, kinds, paths

    def clear_faults(self) -> None:
        with self.lock:
            self._queue.clear()
            self._random_rate = 0.0

    def hold_orders(self, seconds: float, execute: str = "before", count: int = 1) -> None:
        """Hold the next `count` POST /order `seconds` long; execute "before" or "after" it."""
        with self.lock:
            self.order_arrived.clear()
            self.hold = {"seconds": seconds, "execute": execute, "count": count}

    def _pick_fault(self, method: str, path: str) -> tuple[str | None, float]:
        with self.lock:
            for q in self._queue:
                if (q.path is None or q.path == path) and (q.method in (None, method)):
                    q.count -= 1
                    if q.count <= 0:
                        self._queue.remove(q)
                    return q.kind, q.retry_after
            paths = self._random_paths
            wanted = self._random_rate and (paths is None or path in paths)
            if wanted and self._rng.random() < self._random_rate:
                retry_after = round(self._rng.uniform(0.1, 0.5), 2)
                return self._rng.choice(self._random_kinds), retry_after
        return None, 0.0

    # -- market data ------------------------------------------------------------------------
    def _price_paths(self, seed: int) -> dict[str, np.ndarray]:
        """Per pair, candles [k0-HISTORY, k0+FUTURE) as rows (open, high, low, close, volume)."""
        n = HISTORY + FUTURE
        paths = {}
        for i, pair in enumerate(self.pair_list):
            rng = np.random.default_rng([seed, i])
            noise = rng.normal(0.0, 0.004, n)
            log_p = np.empty(n)
            x = 0.0
            for t in range(n):  # a little mean reversion, so there is something to learn
                x = 0.97 * x + noise[t]
                log_p[t] = x
            close = pair.price * np.exp(log_p + np.cumsum(rng.normal(0, 0.001, n)))
            open_ = np.concatenate([[pair.price], close[:-1]])
            wick = np.abs(rng.normal(0, 0.002, (2, n)))
            high = np.maximum(open_, close) * (1 + wick[0])
            low = np.minimum(open_, close) * (1 - wick[1])
            volume = rng.lognormal(3.0, 0.5, n) * (1e6 / pair.price) * (1 + i % 4)
            paths[pair.id] = np.stack([open_, high, low, close, volume], axis=1)
        return paths

    def _index(self, k: int) -> int:
        return max(0, min(HISTORY + FUTURE - 1, k - self.k0 + HISTORY))

    def price(self, pair_id: str, now: float | None = None) -> float:
        if now is None:
            now = self.now() if self.frozen is None else self.frozen
        k = int(now // self.tf)
        row = self._paths[pair_id][self._index(k)]
        frac = (now - k * self.tf) / self.tf
        amplitude, period = self.wiggle
        swing = 1.0 + amplitude * math.sin(2 * math.pi * now / period)
        return float(row[0] + (row[3] - row[0]) * frac) * swing

    def _klines(self, pair_id: str, interval: str, start: int | None, limit: int) -> list:
        if TF_SECONDS.get(interval) != self.tf:
            raise _ApiError(400, -1120, "Invalid interval.")
        now = self.now()
        now_k = int(now // self.tf)
        first = now_k - limit + 1 if start is None else math.ceil(start / 1000 / self.tf)
        last = min(now_k, first + limit - 1)
        rows = []
        for k in range(max(first, self.k0 - HISTORY), last + 1):
            o, h, lo, c, v = self._paths[pair_id][self._index(k)]
            if k == now_k:  # the forming candle, up to now
                c = self.price(pair_id)
                h, lo = max(o, c), min(o, c)
                v *= (now - k * self.tf) / self.tf
            open_ms = k * self.tf * 1000
            rows.append(
                [
                    open_ms,
                    _s(o),
                    _s(h),
                    _s(lo),
                    _s(c),
                    _s(v),
                    open_ms + self.tf * 1000 - 1,
                    _s(v * c),
                    100,
                    _s(v / 2),
                    _s(v * c / 2),
                    "0",
                ]
            )
        return rows

    def _ticker(self, pair: Pair) -> dict[str, Any]:
        now = self.now()
        k = int(now // self.tf)
        day = self._paths[pair.id][self._index(k - 86400 // self.tf) : self._index(k)]
        last = self.price(pair.id, now)
        open_ = float(day[0, 0]) if len(day) else last
        bid, ask = self._touch(pair, last)
        return {
            "symbol": pair.id,
            "priceChange": _s(last - open_),
            "priceChangePercent": _s((last / open_ - 1) * 100, 3),
            "weightedAvgPrice": _s(last),
            "prevClosePrice": _s(open_),
            "lastPrice": _s(last),
            "lastQty": "1.0",
            "bidPrice": _s(bid),
            "bidQty": "10.0",
            "askPrice": _s(ask),
            "askQty": "10.0",
            "openPrice": _s(open_),
            "highPrice": _s(float(day[:, 1].max()) if len(day) else last),
            "lowPrice": _s(float(day[:, 2].min()) if len(day) else last),
            "volume": _s(float(day[:, 4].sum())),
            "quoteVolume": _s(float((day[:, 4] * day[:, 3]).sum())),
            "openTime": int((now - 86400) * 1000),
            "closeTime": int(now * 1000),
            "firstId": 1,
            "lastId": 1000,
            "count": 1000,
        }

    def _book_ticker(self, pair: Pair) -> dict[str, Any]:
        bid, ask = self._touch(pair, self.price(pair.id))
        return {
            "symbol": pair.id,
            "bidPrice": _s(bid),
            "bidQty": "10",
            "askPrice": _s(ask),
            "askQty": "10",
        }

    def _per_symbol(self, p: dict[str, str], answer: Callable[[Pair], dict[str, Any]]) -> Any:
        """Binance's ticker endpoints: one object for `symbol`, a list for `symbols` or for all."""
        if "symbol" in p:
            return answer(self._pair(p["symbol"]))
        if "symbols" in p:
            try:
                ids = _symbol_list(p["symbols"])
            except ValueError as e:
                msg = f"Illegal characters found in parameter 'symbols'; {e}"
                raise _ApiError(400, -1100, msg) from None
            return [answer(self._pair(i)) for i in ids]
        return [answer(pair) for pair in self.pair_list]

    def _touch(self, pair: Pair, mid: float) -> tuple[float, float]:
        half = max(pair.tick, mid * 0.0002)
        return _round(mid - half, pair.tick), _round(mid + half, pair.tick)

    def book(self, pair: Pair, levels: int = 20) -> tuple[list[list[float]], list[list[float]]]:
        """(bids, asks): [price, qty], best first; deterministic in time."""
        bid, ask = self._touch(pair, self.price(pair.id))
        depth = 2000.0 / pair.price  # ~2000 USDT a level
        bids = [
            [_round(bid * (1 - 0.0005 * i), pair.tick), _floor(depth * (1 + i), pair.step)]
            for i in range(levels)
        ]
        asks = [
            [_round(ask * (1 + 0.0005 * i), pair.tick), _floor(depth * (1 + i), pair.step)]
            for i in range(levels)
        ]
        return bids, asks

    # -- trading ----------------------------------------------------------------------------
    def _new_order(self, p: dict[str, str]) -> dict[str, Any]:
        pair = self._pair(p.get("symbol"))
        if pair.status != "TRADING":
            raise _ApiError(400, -1013, "Market is closed.")
        side, type_ = p.get("side", ""), p.get("type", "")
        if side not in ("BUY", "SELL") or type_ not in ("MARKET", "LIMIT"):
            raise _ApiError(400, -1116, "Invalid orderType.")
        try:
            qty = float(p["quantity"])
        except (KeyError, ValueError):
            raise _ApiError(400, -1102, "Mandatory parameter 'quantity' was not sent.") from None
        steps = qty / pair.step
        if qty <= 0 or abs(steps - round(steps)) > 1e-6:
            raise _ApiError(400, -1013, "Filter failure: LOT_SIZE")
        limit = float(p["price"]) if type_ == "LIMIT" else None
        client_id = p.get("newClientOrderId") or f"x-{self._next_id}"
        with self.lock:
            if any(o["clientOrderId"] == client_id and o["status"] == "NEW" for o in self.orders):
                raise _ApiError(400, -2010, "Duplicate order sent.")
            bids, asks = self.book(pair)
            fills = _walk(asks if side == "BUY" else bids, qty, limit, side)
            filled = sum(q for _, q in fills)
            cost = sum(px * q for px, q in fills)
            ref = cost / filled if filled else (limit or self.price(pair.id))
            if qty * ref < MIN_NOTIONAL:
                raise _ApiError(400, -1013, "Filter failure: NOTIONAL")
            if side == "BUY":
                need, asset = qty * (limit or ref) * (1 + FEE_RATE), pair.quote
            else:
                need, asset = qty, pair.base
            if self.balances.get(asset, [0.0, 0.0])[0] + 1e-12 < need:
                raise _ApiError(400, -2010, INSUFFICIENT)
            now_ms = int(self.now() * 1000)
            order_id = self._next_id
            self._next_id += 1
            fee = cost * FEE_RATE
            if side == "BUY":
                self._add(pair.quote, -(cost + fee))
                self._add(pair.base, filled)
            else:
                self._add(pair.base, -filled)
                self._add(pair.quote, cost - fee)
            if filled >= qty - 1e-12:
                status = "FILLED"
            else:
                status = "EXPIRED" if type_ == "MARKET" else "NEW"
            if status == "NEW":  # the rest rests on the book: reserve it
                rest = qty - filled
                if side == "BUY":
                    self._reserve(pair.quote, rest * limit * (1 + FEE_RATE))
                else:
                    self._reserve(pair.base, rest)
            order = {
                "symbol": pair.id,
                "orderId": order_id,
                "orderListId": -1,
                "clientOrderId": client_id,
                "price": _s(limit or 0.0),
                "origQty": _s(qty),
                "executedQty": _s(filled),
                "cummulativeQuoteQty": _s(cost),
                "status": status,
                "timeInForce": "GTC",
                "type": type_,
                "side": side,
                "stopPrice": "0.00000000",
                "icebergQty": "0.00000000",
                "time": now_ms,
                "updateTime": now_ms,
                "isWorking": True,
                "workingTime": now_ms,
                "origQuoteOrderQty": "0.00000000",
                "selfTradePreventionMode": "EXPIRE_MAKER",
            }
            self.orders.append(order)
            order_fills = []
            for px, q in fills:
                trade = {
                    "symbol": pair.id,
                    "id": len(self.trades) + 1,
                    "orderId": order_id,
                    "orderListId": -1,
                    "price": _s(px),
                    "qty": _s(q),
                    "quoteQty": _s(px * q),
                    "commission": _s(px * q * FEE_RATE),
                    "commissionAsset": pair.quote,
                    "time": now_ms,
                    "isBuyer": side == "BUY",
                    "isMaker": False,
                    "isBestMatch": True,
                }
                self.trades.append(trade)
                order_fills.append(
                    {
                        "price": trade["price"],
                        "qty": trade["qty"],
                        "commission": trade["commission"],
                        "commissionAsset": pair.quote,
                        "tradeId": trade["id"],
                    }
                )
            answer = {k: order[k] for k in ANSWER_KEYS}
            answer["transactTime"] = now_ms
            answer["fills"] = order_fills
            return answer

    def _add(self, asset: str, delta: float) -> None:
        row = self.balances.setdefault(asset, [0.0, 0.0])
        row[0] += delta
        if -1e-9 < row[0] < 0:
            row[0] = 0.0

    def _reserve(self, asset: str, amount: float) -> None:
        row = self.balances.setdefault(asset, [0.0, 0.0])
        row[0] -= amount
        row[1] += amount

    def _pair(self, pair_id: str | None) -> Pair:
        pair = self.pairs.get(pair_id or "")
        if pair is None:
            raise _ApiError(400, -1121, "Invalid symbol.")
        return pair

    def _find_order(self, p: dict[str, str]) -> dict[str, Any]:
        pair = self._pair(p.get("symbol"))
        with self.lock:
            for o in reversed(self.orders):
                if o["symbol"] != pair.id:
                    continue
                if "orderId" in p and str(o["orderId"]) == p["orderId"]:
                    return o
                if "origClientOrderId" in p and o["clientOrderId"] == p["origClientOrderId"]:
                    return o
        raise _ApiError(400, -2013, "Order does not exist.")

    def _cancel(self, p: dict[str, str]) -> dict[str, Any]:
        with self.lock:
            order = self._find_order(p)
            if order["status"] != "NEW":
                raise _ApiError(400, -2011, "Unknown order sent.")
            pair = self.pairs[order["symbol"]]
            rest = float(order["origQty"]) - float(order["executedQty"])
            if order["side"] == "BUY":
                asset, amount = pair.quote, rest * float(order["price"]) * (1 + FEE_RATE)
            else:
                asset, amount = pair.base, rest
            row = self.balances[asset]
            row[0] += amount
            row[1] = max(0.0, row[1] - amount)
            order["status"] = "CANCELED"
            return dict(order)

    def account(self) -> dict[str, Any]:
        with self.lock:
            balances = [
                {"asset": a, "free": _s(free), "locked": _s(used)}
                for a, (free, used) in self.balances.items()
            ]
        return {
            "makerCommission": 10,
            "takerCommission": 10,
            "buyerCommission": 0,
            "sellerCommission": 0,
            "commissionRates": {
                "maker": "0.00100000",
                "taker": "0.00100000",
                "buyer": "0.00000000",
                "seller": "0.00000000",
            },
            "canTrade": True,
            "canWithdraw": True,
            "canDeposit": True,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "preventSor": False,
            "updateTime": int(self.now() * 1000),
            "accountType": "SPOT",
            "balances": balances,
            "permissions": ["SPOT"],
            "uid": 1,
        }

    def totals(self) -> dict[str, float]:
        """free + locked per asset: what a test compares the bot's view with."""
        with self.lock:
            return {a: free + used for a, (free, used) in self.balances.items()}

    def exchange_info(self) -> dict[str, Any]:
        symbols = []
        for pair in self.pair_list:
            symbols.append(
                {
                    "symbol": pair.id,
                    "status": pair.status,
                    "baseAsset": pair.base,
                    "baseAssetPrecision": 8,
                    "quoteAsset": pair.quote,
                    "quotePrecision": 8,
                    "quoteAssetPrecision": 8,
                    "baseCommissionPrecision": 8,
                    "quoteCommissionPrecision": 8,
                    "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
                    "icebergAllowed": True,
                    "ocoAllowed": True,
                    "quoteOrderQtyMarketAllowed": True,
                    "allowTrailingStop": False,
                    "cancelReplaceAllowed": True,
                    "isSpotTradingAllowed": True,
                    "isMarginTradingAllowed": False,
                    "filters": [
                        {
                            "filterType": "PRICE_FILTER",
                            "minPrice": _s(pair.tick),
                            "maxPrice": "1000000.00000000",
                            "tickSize": _s(pair.tick),
                        },
                        {
                            "filterType": "LOT_SIZE",
                            "minQty": _s(pair.step),
                            "maxQty": "9000000.00000000",
                            "stepSize": _s(pair.step),
                        },
                        {
                            "filterType": "NOTIONAL",
                            "minNotional": _s(MIN_NOTIONAL),
                            "applyMinToMarket": True,
                            "maxNotional": "9000000.00000000",
                            "applyMaxToMarket": False,
                            "avgPriceMins": 5,
                        },
                    ],
                    "permissions": [],
                    "permissionSets": [["SPOT"]],
                    "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
                    "allowedSelfTradePreventionModes": [
                        "EXPIRE_TAKER",
                        "EXPIRE_MAKER",
                        "EXPIRE_BOTH",
                    ],
                }
            )
        return {
            "timezone": "UTC",
            "serverTime": int(self.now() * 1000),
            "rateLimits": [  # Binance's, with our weight limit (only that one is enforced here)
                _rate_limit("REQUEST_WEIGHT", "MINUTE", 1, self.weight_limit),
                _rate_limit("ORDERS", "SECOND", 10, 100),
                _rate_limit("ORDERS", "DAY", 1, 200_000),
                _rate_limit("RAW_REQUESTS", "MINUTE", 5, 61_000),
            ],
            "exchangeFilters": [],
            "symbols": symbols,
        }

    # -- routing ----------------------------------------------------------------------------
    def route(self, method: str, path: str, p: dict[str, str]) -> Any:
        if path in ("/api/v3/ping", "/api/v1/ping"):
            return {}
        if path == "/api/v3/time":
            return {"serverTime": int(self.now() * 1000)}
        if path == "/api/v3/exchangeInfo":
            return self.exchange_info()
        if path in ("/fapi/v1/exchangeInfo", "/dapi/v1/exchangeInfo"):  # no futures here
            return {"timezone": "UTC", "serverTime": int(self.now() * 1000), "symbols": []}
        if path == "/api/v3/ticker/24hr":
            return self._per_symbol(p, self._ticker)
        if path == "/api/v3/ticker/price":
            return self._per_symbol(
                p, lambda pair: {"symbol": pair.id, "price": _s(self.price(pair.id))}
            )
        if path == "/api/v3/ticker/bookTicker":
            return self._per_symbol(p, self._book_ticker)
        if path == "/api/v3/klines":
            pair = self._pair(p.get("symbol"))
            start = int(p["startTime"]) if "startTime" in p else None
            limit = min(int(p.get("limit", 500)), 1000)
            return self._klines(pair.id, p.get("interval", ""), start, limit)
        if path == "/api/v3/depth":
            pair = self._pair(p.get("symbol"))
            bids, asks = self.book(pair, min(int(p.get("limit", 100)), 100))
            return {
                "lastUpdateId": int(self.now() * 1000),
                "bids": [[_s(a), _s(b)] for a, b in bids],
                "asks": [[_s(a), _s(b)] for a, b in asks],
            }
        if path == "/api/v3/account":
            return self.account()
        if path == "/api/v3/order":
            if method == "POST":
                return self._new_order(p)
            if method == "DELETE":
                return self._cancel(p)
            return dict(self._find_order(p))
        if path == "/api/v3/openOrders":
            with self.lock:
                return [
                    dict(o)
                    for o in self.orders
                    if o["status"] == "NEW" and p.get("symbol") in (None, o["symbol"])
                ]
        if path == "/api/v3/allOrders":
            with self.lock:
                return [dict(o) for o in self.orders if o["symbol"] == p.get("symbol")]
        if path == "/api/v3/myTrades":
            pair = self._pair(p.get("symbol"))
            with self.lock:
                return [
                    dict(t)
                    for t in self.trades
                    if t["symbol"] == pair.id
                    and ("orderId" not in p or str(t["orderId"]) == p["orderId"])
                ]
        if path in (
            "/sapi/v1/capital/config/getall",
            "/sapi/v1/margin/allPairs",
            "/sapi/v1/margin/isolated/allPairs",
        ):
            return []
        raise _ApiError(404, -1000, f"fake exchange: no route {method} {path}")

    def check_auth(self, path: str, headers: Any, query: str, body: str) -> None:
        signed = path in SIGNED or path.startswith("/sapi/")
        if not signed:
            return
        if headers.get("X-MBX-APIKEY") != self.api_key:
            raise _ApiError(401, -2015, "Invalid API-key, IP, or permissions for action.")
        payload = "&".join(s for s in (query, body) if s)
        unsigned, sep, signature = payload.rpartition("&signature=")
        if not sep:
            raise _ApiError(400, -1102, "Mandatory parameter 'signature' was not sent.")
        expected = hmac.new(self.secret.encode(), unsigned.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            raise _ApiError(400, -1022, "Signature for this request is not valid.")
        signed_params = dict(parse_qsl(unsigned))
        stamp = int(signed_params.get("timestamp", 0))
        window = int(signed_params.get("recvWindow", 5000))
        now_ms = time.time() * 1000
        if not stamp or stamp > now_ms + 1000 or now_ms - stamp > window:
            raise _ApiError(400, -1021, "Timestamp for this request is outside of the recvWindow.")

    def orders_by_client_id(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        with self.lock:
            for o in self.orders:
                out.setdefault(o["clientOrderId"], []).append(dict(o))
        return out

    def count(self, path: str, method: str | None = None) -> int:
        with self.lock:
            return sum(1 for r in self.requests if r.path == path and method in (None, r.method))

    # -- request weight -------------------------------------------------------------------
    def _charge(self, weight: int) -> tuple[bool, int, float]:
        """(accepted, the minute's weight after this request, seconds to the next minute)."""
        now = self.now()
        window = int(now // 60)
        with self.lock:
            if window != self._window:
                self._window, self._used = window, 0
            accepted = self._used + weight <= self.weight_limit
            if accepted:
                self._used += weight
                self._minutes[window] = self._used
            return accepted, self._used, (window + 1) * 60 - now

    def used_weight(self) -> int:
        """Weight spent in the current minute window, as X-MBX-USED-WEIGHT-1M says it."""
        with self.lock:
            return self._used if int(self.now() // 60) == self._window else 0

    def mark(self) -> int:
        """A position in `requests`: `since(mark)` / `usage(mark)` are what came after it."""
        with self.lock:
            return len(self.requests)

    def since(self, mark: int, until: int | None = None) -> list[Request]:
        with self.lock:
            return list(self.requests[mark:until])

    def usage(self, mark: int = 0, until: int | None = None) -> dict[str, Usage]:
        """Calls and weight per "METHOD /path" between two marks."""
        return _usage(self.since(mark, until))

    def usage_between(self, start: float, end: float) -> dict[str, Usage]:
        """Calls and weight per "METHOD /path" of the requests received in [start, end), server
        clock."""
        with self.lock:
            return _usage([r for r in self.requests if start <= r.time < end])

    def weight(self, mark: int = 0, until: int | None = None) -> int:
        return sum(r.weight for r in self.since(mark, until))

    def peak_minute_weight(self) -> int:
        """The most weight spent in any one minute window so far."""
        with self.lock:
            return max(self._minutes.values(), default=0)

    def minute_weights(self) -> dict[float, int]:
        """Weight spent per minute window, keyed by the window's start (server clock, s)."""
        with self.lock:
            return {w * 60.0: used for w, used in sorted(self._minutes.items())}

    def refused(self, mark: int = 0) -> list[Request]:
        """Requests answered 429 for going over the weight limit."""
        return [r for r in self.since(mark) if r.refused]


def _usage(requests: list[Request]) -> dict[str, Usage]:
    out: dict[str, Usage] = {}
    for r in requests:
        usage = out.setdefault(f"{r.method} {r.path}", Usage())
        usage.calls += 1
        usage.weight += r.weight
    return out


def _rate_limit(kind: str, interval: str, num: int, limit: int) -> dict[str, Any]:
    return {"rateLimitType": kind, "interval": interval, "intervalNum": num, "limit": limit}


class _ApiError(Exception):
    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg = status, code, msg


def _handler(server: FakeBinance) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # one request a connection: no stale keep-alive sockets
        wbufsize = 1 << 16  # headers and body in one write
        disable_nagle_algorithm = True
        used: int | None = None  # the minute's weight after this request, once charged

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

        def do_GET(self) -> None:  # noqa: N802
            self._handle("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._handle("POST")

        def do_DELETE(self) -> None:  # noqa: N802
            self._handle("DELETE")

        def do_PUT(self) -> None:  # noqa: N802
            self._handle("PUT")

        def _handle(self, method: str) -> None:
            parts = urlsplit(self.path)
            path, query = parts.path, parts.query
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            params = dict(parse_qsl(query))
            params.update(parse_qsl(body))
            params.pop("signature", None)
            fault, retry_after = server._pick_fault(method, path)
            record = Request(server.now(), method, path, 200, fault, params)
            with server.lock:
                server.requests.append(record)
            if fault in ("429", "418"):
                record.status = int(fault)
                record.used = server.used_weight()
                msg = (
                    "Way too much request weight used; IP banned until later."
                    if fault == "418"
                    else f"Too much request weight used; current limit is {server.weight_limit} "
                    "request weight per 1 MINUTE."
                )
                self._send(
                    record.status, {"code": -1003, "msg": msg}, {"Retry-After": _s(retry_after, 3)}
                )
                return
            weight = request_weight(method, path, params)
            accepted, record.used, next_minute = server._charge(weight)
            self.used = record.used
            if not accepted:
                record.status, record.refused = 429, True
                msg = (
                    f"Too much request weight used; current limit is {server.weight_limit} "
                    "request weight per 1 MINUTE. Please use WebSocket Streams for live "
                    "updates to avoid polling the API."
                )
                retry = str(max(1, math.ceil(next_minute)))
                self._send(429, {"code": -1003, "msg": msg}, {"Retry-After": retry})
                return
            record.weight = weight
            if fault in ("500", "502", "503"):
                record.status = int(fault)
                text = {
                    "500": "Internal Server Error",
                    "502": "Bad Gateway",
                    "503": "Service Unavailable",
                }[fault]
                self._send_raw(record.status, f"<html><body>{text}</body></html>", "text/html")
                return
            if fault == "clock_skew":
                record.status = 400
                msg = "Timestamp for this request is outside of the recvWindow."
                self._send(400, {"code": -1021, "msg": msg})
                return
            if fault == "drop" and not (method == "POST" and path == "/api/v3/order"):
                self._drop()
                return
            hold = self._take_hold(method, path)
            if hold and hold["execute"] == "after":
                server.order_arrived.set()
                time.sleep(hold["seconds"])
            try:
                server.check_auth(path, self.headers, query, body)
                result: Any = server.route(method, path, params)
                status = 200
            except _ApiError as e:
                status, result = e.status, {"code": e.code, "msg": e.msg}
            record.status = status
            if hold and hold["execute"] == "before":
                server.order_arrived.set()
                time.sleep(hold["seconds"])
            if fault == "drop":
                self._drop()
            elif fault == "timeout":
                time.sleep(server.hang_seconds)
                self._send(status, result)
            elif fault in GARBLED:
                self._send_raw(
                    200, GARBLED[fault], "text/html" if fault == "html" else "text/plain"
                )
            elif fault == "malformed":
                self._send_raw(status, json.dumps(result)[: max(1, len(json.dumps(result)) // 2)])
            else:
                self._send(status, result)

        def _take_hold(self, method: str, path: str) -> dict[str, Any] | None:
            if method != "POST" or path != "/api/v3/order":
                return None
            with server.lock:
                hold = server.hold
                if hold is None:
                    return None
                hold["count"] -= 1
                if hold["count"] <= 0:
                    server.hold = None
                return dict(hold)

        def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            self._send_raw(status, json.dumps(payload), "application/json", headers)

        def _send_raw(
            self,
            status: int,
            text: str,
            content_type: str = "application/json",
            headers: dict[str, str] | None = None,
        ) -> None:
            data = text.encode()
            used = str(server.used_weight() if self.used is None else self.used)
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type + ";charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("X-MBX-USED-WEIGHT", used)
                self.send_header("X-MBX-USED-WEIGHT-1M", used)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()
            except OSError:
                pass  # the client is gone (killed, or it gave up)

        def _drop(self) -> None:
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.close_connection = True

    return Handler


def _walk(levels: list[list[float]], qty: float, limit: float | None, side: str) -> list:
    """Fills taking `qty` from the book, best level first, never past `limit`."""
    fills, left = [], qty
    for price, available in levels:
        if left <= 1e-12:
            break
        if limit is not None and (price > limit if side == "BUY" else price < limit):
            break
        take = min(left, available)
        fills.append((price, take))
        left -= take
    return fills


def _s(value: float, digits: int = 8) -> str:
    return f"{value:.{digits}f}"


def _round(value: float, step: float) -> float:
    return round(round(value / step) * step, 10)


def _floor(value: float, step: float) -> float:
    return round(math.floor(value / step) * step, 10)


def main() -> None:
    """Serve a fake Binance on 127.0.0.1 until Ctrl-C (for trying the bot by hand)."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--key", default="fake-api-key")
    parser.add_argument("--secret", default="fake-api-secret")
    parser.add_argument("--pairs", type=int, default=None, help="trading USDT pairs (10)")
    parser.add_argument("--weight-limit", type=int, default=DEFAULT_WEIGHT_LIMIT)
    args = parser.parse_args()
    server = FakeBinance(args.key, args.secret, pairs=args.pairs, weight_limit=args.weight_limit)
    server._httpd.server_close()
    server._httpd = ThreadingHTTPServer(("127.0.0.1", args.port), _handler(server))
    server._httpd.daemon_threads = True
    print(f"fake binance on {server.url}; ccxt_config:\n{json.dumps(server.ccxt_config())}")
    try:
        server._httpd.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()


def bot_config(server: FakeBinance, mode: str = "paper", **sections: dict[str, Any]) -> str:
    """A tui-bot config.toml that points [exchange.ccxt_config.urls] at `server`."""
    import tomli_w

    table: dict[str, Any] = {
        "bot": {"check_interval": 1, "max_open_positions": 10},
        "exchange": {"name": "binance", "mode": mode, "ccxt_config": server.ccxt_config()},
        "scan": {"top_n": 8, "candles": 120},
        "risk": {"min_probability": 0.5},
        "ml": {"require_edge": False},  # these runs are about orders; the gate has its own tests
    }
    for section, values in sections.items():
        table[section] = {**table.get(section, {}), **values}
    return tomli_w.dumps(table)
