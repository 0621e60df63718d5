"""The fake exchange counts request weight as Binance does: checked through ccxt over HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import ccxt
import ccxt.async_support as ccxt_async
import pytest
from fake_exchange import WEIGHTS, FakeBinance, request_weight

from tui_bot.clock import FakeClock
from tui_bot.exchange.ccxt_exchange import build_config

KEY, SECRET = "weights-key", "weights-secret-77a1"
MINUTE = 1_800_000_000.0  # a whole minute of the server's clock (divisible by 60)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(MINUTE + 5.0)


@pytest.fixture
def server(clock: FakeClock) -> Iterator[FakeBinance]:
    with FakeBinance(KEY, SECRET, pairs=30, clock=clock.now) as fake:
        yield fake


def client(server: FakeBinance) -> Any:
    config = build_config(server.ccxt_config(), {"apiKey": KEY, "secret": SECRET}, "binance")
    config["options"]["warnOnFetchOpenOrdersWithoutSymbol"] = False
    return ccxt_async.binance(config)


@pytest.fixture
async def binance(server: FakeBinance) -> AsyncIterator[Any]:
    ex = client(server)
    await ex.load_markets()
    yield ex
    await ex.close()


def used(ex: Any) -> int:
    return int(ex.last_response_headers["X-MBX-USED-WEIGHT-1M"])


async def charged(server: FakeBinance, ex: Any, call: Callable[[], Any]) -> tuple[int, int]:
    """(the weight the fake recorded for the requests `call` made, the header's increase)."""
    before, mark = server.used_weight(), server.mark()
    await call()
    requests = server.since(mark)
    assert len(requests) == 1, [(r.method, r.path) for r in requests]
    return requests[0].weight, used(ex) - before


# ---------------------------------------------------------------------------- the table


async def test_each_endpoint_costs_its_published_weight(server: FakeBinance, binance: Any) -> None:
    usdt = [s for s, m in binance.markets.items() if m["quote"] == "USDT" and m["active"]]
    order = await binance.create_order("BTC/USDT", "limit", "buy", 0.001, 50_000.0)
    cases: list[tuple[str, Callable[[], Any], int]] = [
        ("ping", lambda: binance.publicGetPing(), 1),
        ("time", lambda: binance.fetch_time(), 1),
        ("exchangeInfo", lambda: binance.publicGetExchangeInfo(), 20),
        ("24hr one symbol", lambda: binance.fetch_ticker("ETH/USDT"), 2),
        ("24hr all", lambda: binance.fetch_tickers(), 80),
        ("24hr 2 symbols", lambda: binance.fetch_tickers(usdt[:2]), 2),
        ("24hr 20 symbols", lambda: binance.fetch_tickers(usdt[:20]), 2),
        ("24hr 21 symbols", lambda: binance.fetch_tickers(usdt[:21]), 40),
        ("price one", lambda: binance.publicGetTickerPrice({"symbol": "ETHUSDT"}), 2),
        ("price all", lambda: binance.publicGetTickerPrice(), 4),
        ("bookTicker one", lambda: binance.publicGetTickerBookTicker({"symbol": "ETHUSDT"}), 2),
        ("bookTicker all", lambda: binance.fetch_bids_asks(), 4),
        ("klines", lambda: binance.fetch_ohlcv("ETH/USDT", "5m", limit=1000), 2),
        ("depth 5", lambda: binance.fetch_order_book("ETH/USDT", 5), 5),
        ("depth 100", lambda: binance.fetch_order_book("ETH/USDT", 100), 5),
        ("depth 500", lambda: binance.fetch_order_book("ETH/USDT", 500), 25),
        ("depth 1000", lambda: binance.fetch_order_book("ETH/USDT", 1000), 50),
        ("depth 5000", lambda: binance.fetch_order_book("ETH/USDT", 5000), 250),
        ("account", lambda: binance.fetch_balance(), 20),
        ("POST order", lambda: binance.create_order("ETH/USDT", "market", "buy", 0.01), 1),
        ("GET order", lambda: binance.fetch_order(order["id"], "BTC/USDT"), 4),
        ("openOrders symbol", lambda: binance.fetch_open_orders("BTC/USDT"), 6),
        ("openOrders all", lambda: binance.fetch_open_orders(), 80),
        ("DELETE order", lambda: binance.cancel_order(order["id"], "BTC/USDT"), 1),
        ("myTrades", lambda: binance.fetch_my_trades("ETH/USDT"), 20),
        (
            "myTrades orderId",
            lambda: binance.fetch_my_trades("ETH/USDT", params={"orderId": order["id"]}),
            5,
        ),
    ]
    for name, call, weight in cases:
        assert await charged(server, binance, call) == (weight, weight), name


def test_the_table_by_parameters_beyond_what_30_pairs_can_ask() -> None:
    many = json.dumps([f"S{i}USDT" for i in range(101)])
    hundred = json.dumps([f"S{i}USDT" for i in range(100)])
    assert request_weight("GET", "/api/v3/ticker/24hr", {"symbols": many}) == 80
    assert request_weight("GET", "/api/v3/ticker/24hr", {"symbols": hundred}) == 40
    assert request_weight("GET", "/api/v3/ticker/24hr", {}) == 80
    assert request_weight("GET", "/api/v3/depth", {}) == 5  # Binance's default limit is 100
    assert request_weight("GET", "/api/v3/depth", {"limit": "101"}) == 25
    assert request_weight("GET", "/api/v3/ticker/price", {"symbols": hundred}) == 4
    assert request_weight("GET", "/api/v3/unknown", {}) == 1
    assert request_weight("GET", "/sapi/v1/capital/config/getall", {}) == 0  # limits of its own
    assert all(path.startswith("/api/v3/") for _, path in WEIGHTS)


# ---------------------------------------------------------------------------- windows, limit


async def test_every_answer_carries_the_minute_weight_and_it_resets_each_minute(
    server: FakeBinance, binance: Any, clock: FakeClock
) -> None:
    assert used(binance) == 20  # exchangeInfo, the first request of this minute
    await binance.fetch_tickers()
    assert used(binance) == 100
    with pytest.raises(ccxt.BadSymbol):
        await binance.fetch_ticker("NOPE/USDT")  # refused by ccxt itself: nothing sent
    with pytest.raises(ccxt.BadRequest):
        await binance.publicGetTicker24hr({"symbol": "NOPEUSDT"})  # an error answer
    assert used(binance) == 102  # errors are charged and carry the header too
    clock.advance(54.0)  # MINUTE + 59 s: the same window
    await binance.fetch_ohlcv("BTC/USDT", "5m", limit=10)
    assert used(binance) == 104
    clock.advance(1.0)  # the next minute of the server's clock: a fresh count
    await binance.fetch_ohlcv("BTC/USDT", "5m", limit=10)
    assert used(binance) == 2
    assert server.minute_weights() == {MINUTE: 104, MINUTE + 60: 2}
    assert server.peak_minute_weight() == 104


async def test_a_request_over_the_limit_is_refused_with_retry_after_and_not_executed(
    clock: FakeClock,
) -> None:
    with FakeBinance(KEY, SECRET, weight_limit=100, clock=clock.now) as server:
        ex = client(server)
        try:
            await ex.load_markets()  # 20
            await ex.fetch_balance()  # 40
            await ex.fetch_ohlcv("BTC/USDT", "5m", limit=10)  # 42
            clock.advance(40.5)  # MINUTE + 45.5 s
            with pytest.raises(ccxt.DDoSProtection):
                await ex.fetch_tickers()  # 80 more would make 122
            assert ex.last_response_headers["Retry-After"] == "15"  # to MINUTE + 60, rounded up
            assert used(ex) == 42
            with pytest.raises(ccxt.DDoSProtection):
                await ex.fetch_open_orders()  # 80 as well: refused, never looked at
            await ex.create_order("BTC/USDT", "market", "buy", 0.001)  # 1 still fits: 43
            await ex.fetch_ohlcv("BTC/USDT", "5m", limit=10)  # 45
            await ex.fetch_ohlcv("BTC/USDT", "5m", limit=10)  # 47
            server.weight_limit = 47
            with pytest.raises(ccxt.DDoSProtection):
                await ex.create_order("ETH/USDT", "market", "buy", 0.01)  # 48 > 47
            server.weight_limit = 100
            clock.advance(15.0)  # the next minute: a new budget
            await ex.fetch_tickers()
            assert used(ex) == 80
        finally:
            await ex.close()
        refused = server.refused()
        assert [(r.method, r.path) for r in refused] == [
            ("GET", "/api/v3/ticker/24hr"),
            ("GET", "/api/v3/openOrders"),
            ("POST", "/api/v3/order"),
        ]
        assert all(r.status == 429 and r.weight == 0 for r in refused)
        assert [o["symbol"] for o in server.orders] == ["BTCUSDT"]  # the refused one never ran
        assert "ETH" not in server.totals()
        assert server.minute_weights() == {MINUTE: 47, MINUTE + 60: 80}


def test_a_refusal_is_binances_429_minus_1003_body(clock: FakeClock) -> None:
    with FakeBinance(weight_limit=1, clock=clock.now) as server:
        with urllib.request.urlopen(f"{server.url}/api/v3/ping") as answer:
            assert answer.headers["X-MBX-USED-WEIGHT-1M"] == "1"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{server.url}/api/v3/time")
    assert refused.value.code == 429
    assert refused.value.headers["Retry-After"] == "55"
    assert refused.value.headers["X-MBX-USED-WEIGHT-1M"] == "1"
    body = json.loads(refused.value.read())
    assert body["code"] == -1003 and "limit is 1 request weight per 1 MINUTE" in body["msg"]


async def test_exchange_info_publishes_the_limits_like_binance(binance: Any) -> None:
    info = await binance.publicGetExchangeInfo()
    limits = {
        (x["rateLimitType"], x["interval"], int(x["intervalNum"])): int(x["limit"])
        for x in info["rateLimits"]
    }
    assert limits == {
        ("REQUEST_WEIGHT", "MINUTE", 1): 6000,
        ("ORDERS", "SECOND", 10): 100,
        ("ORDERS", "DAY", 1): 200_000,
        ("RAW_REQUESTS", "MINUTE", 5): 61_000,
    }
    with FakeBinance(weight_limit=400) as small:
        [weight] = [x for x in small.exchange_info()["rateLimits"] if x["limit"] == 400]
    assert weight["rateLimitType"] == "REQUEST_WEIGHT"


# ---------------------------------------------------------------------------- accounting


async def test_usage_between_marks_and_between_times(
    server: FakeBinance, binance: Any, clock: FakeClock
) -> None:
    clock.advance(1.0)  # after the fixture's exchangeInfo
    start = clock.now()
    first = server.mark()
    await binance.fetch_tickers()
    for symbol in ("BTC/USDT", "ETH/USDT", "G030/USDT"):
        await binance.fetch_ohlcv(symbol, "5m", limit=5)
    second = server.mark()
    clock.advance(60.0)
    middle = clock.now()
    await binance.fetch_balance()
    await binance.fetch_ohlcv("BTC/USDT", "5m", limit=5)
    step = server.usage(first, second)
    assert {k: (u.calls, u.weight) for k, u in step.items()} == {
        "GET /api/v3/ticker/24hr": (1, 80),
        "GET /api/v3/klines": (3, 6),
    }
    assert {k: (u.calls, u.weight) for k, u in server.usage(second).items()} == {
        "GET /api/v3/account": (1, 20),
        "GET /api/v3/klines": (1, 2),
    }
    assert server.weight(first) == 108 and server.weight(first, second) == 86
    early = server.usage_between(start, middle)
    assert early.keys() == step.keys() and early["GET /api/v3/klines"].calls == 3
    assert server.usage_between(middle, middle + 60)["GET /api/v3/account"].weight == 20
    assert [r.params["symbol"] for r in server.since(first, second)[1:]] == [
        "BTCUSDT",
        "ETHUSDT",
        "G030USDT",
    ]
    assert server.peak_minute_weight() == 20 + 86  # exchangeInfo and the first step's minute


# ---------------------------------------------------------------------------- more pairs


async def test_pairs_30_lists_30_trading_usdt_pairs_with_candles_and_tickers(
    server: FakeBinance, binance: Any
) -> None:
    markets = binance.markets
    usdt = sorted(s for s, m in markets.items() if m["quote"] == "USDT" and m["active"])
    assert len(usdt) == 30 and {"BTC/USDT", "LTC/USDT", "G011/USDT", "G030/USDT"} <= set(usdt)
    assert markets["LUNA/USDT"]["active"] is False and "ETH/BTC" in markets
    tickers = await binance.fetch_tickers()
    assert set(usdt) <= set(tickers) and all(tickers[s]["last"] > 0 for s in usdt)
    for symbol in ("G011/USDT", "G025/USDT"):
        candles = await binance.fetch_ohlcv(symbol, "5m", limit=100)
        assert len(candles) == 100 and all(c[4] > 0 and c[5] > 0 for c in candles)
        step = markets[symbol]["precision"]["amount"]
        assert step * tickers[symbol]["last"] < 1.0  # an order of a few USDT can be rounded
    with FakeBinance() as default:
        assert len(default.pairs) == 12  # the ten USDT pairs, ETH/BTC and LUNA, as before
        assert default.pair_list[:10] == server.pair_list[:10]  # the same first pairs and paths
