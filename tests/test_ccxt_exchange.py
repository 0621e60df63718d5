"""CcxtExchange: the real ccxt.binance client over real HTTP to the fake exchange on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import ccxt
import pytest
from fake_exchange import FakeBinance

from tui_bot.clock import WallClock
from tui_bot.engine.executor import Executor
from tui_bot.engine.monitor import Monitor
from tui_bot.exchange.ccxt_exchange import CcxtExchange, build_config, deep_merge
from tui_bot.exchange.errors import (
    AuthenticationError,
    DuplicateClientOrderId,
    ExchangeError,
    InsufficientFunds,
    InvalidOrder,
    NetworkError,
    OrderNotFound,
    RateLimited,
    RequestTimeout,
)
from tui_bot.store import Store

KEY, SECRET = "test-key-8c1f", "test-secret-3b9d27e4"
CREDENTIALS = {"apiKey": KEY, "secret": SECRET}


@pytest.fixture
def server() -> Iterator[FakeBinance]:
    with FakeBinance(KEY, SECRET, hang_seconds=1.5) as fake:
        yield fake


def make(
    server: FakeBinance,
    credentials: dict[str, str] | None = CREDENTIALS,
    config: dict[str, Any] | None = None,
    **kw: Any,
):
    alerts: list[tuple[str, str, str]] = []
    exchange = CcxtExchange(
        "binance",
        deep_merge(server.ccxt_config(timeout_ms=800), config or {}),
        credentials=credentials,
        backoff_seconds=0.01,
        alert=lambda *a: alerts.append(a),
        **kw,
    )
    exchange.alerts = alerts  # type: ignore[attr-defined]
    return exchange


@pytest.fixture
async def exchange(server: FakeBinance) -> AsyncIterator[CcxtExchange]:
    ex = make(server)
    await ex.load_markets()
    yield ex
    await ex.close()


# ---------------------------------------------------------------------------- configuration


def test_ccxt_config_is_deep_merged_over_our_defaults_and_never_carries_keys() -> None:
    user = {
        "options": {"recvWindow": 5000, "defaultType": "spot"},
        "urls": {"api": {"public": "http://127.0.0.1:1/api/v3"}},
        "timeout": 1234,
        "headers": {"X-Sub-Account": "desk-2"},
        "apiKey": "from-the-file",  # config.py refuses this; the adapter drops it as well
    }
    config = build_config(user, {"apiKey": "from-env", "secret": "s"})
    assert config["enableRateLimit"] is True
    assert config["options"] == {"defaultType": "spot", "recvWindow": 5000}
    assert config["urls"]["api"]["public"] == "http://127.0.0.1:1/api/v3"
    assert config["timeout"] == 1234 and config["headers"] == {"X-Sub-Account": "desk-2"}
    assert config["apiKey"] == "from-env"
    assert "apiKey" not in build_config(user, None)
    assert deep_merge({"a": {"b": 1, "c": 2}}, {"a": {"c": 3}, "d": 4}) == {
        "a": {"b": 1, "c": 3},
        "d": 4,
    }
    assert build_config({"enableRateLimit": False})["enableRateLimit"] is False
    spot = build_config({"options": {"fetchCurrencies": True}}, None, "binance")["options"]
    assert spot["fetchMarkets"] == {"types": ["spot"]} and spot["fetchCurrencies"] is True


async def test_urls_override_points_the_real_client_at_the_server(server: FakeBinance) -> None:
    ex = make(server, credentials=None)
    try:
        assert ex.client.urls["api"]["public"] == f"{server.url}/api/v3"
        assert ex.client.urls["api"]["fapiPublic"] == f"{server.url}/fapi/v1"  # deep-merged
        assert ex.client.urls["www"] == "https://www.binance.com"  # untouched
        assert ex.client.options["defaultType"] == "spot" and ex.client.enableRateLimit
        markets = await ex.load_markets()
    finally:
        await ex.close()
    assert markets["BTC/USDT"]["precision"]["amount"] == 0.00001
    assert markets["BTC/USDT"]["limits"]["cost"]["min"] == 5.0
    assert markets["LUNA/USDT"]["active"] is False
    assert server.count("/api/v3/exchangeInfo") == 1


def test_unknown_exchange_and_sandbox_without_testnet_are_value_errors() -> None:
    with pytest.raises(ValueError, match="not a ccxt exchange id"):
        CcxtExchange("binanse")


async def test_public_and_private_data_over_http(exchange: CcxtExchange) -> None:
    tickers = await exchange.fetch_tickers()
    assert tickers["ETH/USDT"]["last"] > 0 and tickers["ETH/USDT"]["quoteVolume"] > 0
    candles = await exchange.fetch_ohlcv("ETH/USDT", "5m", limit=50)
    assert len(candles) == 50 and candles[1][0] - candles[0][0] == 300_000
    book = await exchange.fetch_order_book("ETH/USDT", 5)
    assert book["bids"][0][0] < book["asks"][0][0]
    balance = await exchange.fetch_balance()
    assert balance["USDT"]["free"] == 10_000.0
    assert await exchange.fetch_open_orders() == []  # no symbol: no ccxt warning error


# ---------------------------------------------------------------------------- rate limits


@pytest.mark.parametrize("status", ["429", "418"])
async def test_rate_limit_waits_out_retry_after_and_lowers_concurrency(
    server: FakeBinance, exchange: CcxtExchange, status: str
) -> None:
    before = len(server.requests)
    server.inject(status, retry_after=0.4)
    tickers = await exchange.fetch_tickers()
    assert "BTC/USDT" in tickers
    limited, retried = server.requests[before:]
    assert (limited.status, retried.status) == (int(status), 200)
    assert retried.time - limited.time >= 0.4 - 0.02  # Retry-After honoured: never hammered
    assert exchange.max_in_flight < 10  # fewer requests in flight for a while
    assert any("rate limit" in message for _, _, message in exchange.alerts)  # type: ignore[attr-defined]


async def test_a_long_ban_fails_fast_without_sending_anything(server: FakeBinance) -> None:
    ex = make(server, max_wait_seconds=2.0)
    try:
        await ex.load_markets()
        server.inject("418", retry_after=120)
        sent = len(server.requests)
        with pytest.raises(RateLimited) as first:
            await ex.fetch_tickers()
        with pytest.raises(RateLimited):
            await ex.fetch_balance()
    finally:
        await ex.close()
    assert len(server.requests) == sent + 1  # the 418 itself, then nothing at all
    assert first.value.retry_after is not None and first.value.retry_after > 100
    assert ex.rate_limited_for > 100


# ---------------------------------------------------------------------------- outages


@pytest.mark.parametrize(
    ("fault", "count"),
    [("500", 1), ("502", 1), ("503", 2), ("malformed", 2), ("timeout", 1), ("drop", 2)],
)
async def test_transient_faults_are_retried_with_backoff(
    server: FakeBinance, exchange: CcxtExchange, fault: str, count: int
) -> None:
    server.inject(fault, count=count, path="/api/v3/account")
    balance = await exchange.fetch_balance()
    assert balance["USDT"]["total"] == 10_000.0
    faulted = [r for r in server.requests if r.fault == fault]
    assert len(faulted) == count


async def test_a_persistent_outage_is_a_bounded_network_error(
    server: FakeBinance, exchange: CcxtExchange
) -> None:
    server.random_faults(1.0, ("503",))
    before = len(server.requests)
    with pytest.raises(NetworkError) as raised:
        await exchange.fetch_tickers()
    assert len(server.requests) - before == exchange.retries  # bounded, then it gives up
    assert "503" in str(raised.value)
    server.clear_faults()
    assert await exchange.fetch_tickers()
    assert any("answering again" in m for _, _, m in exchange.alerts)  # type: ignore[attr-defined]


async def test_timeout_is_a_request_timeout(server: FakeBinance) -> None:
    ex = make(server, retries=2)
    try:
        await ex.load_markets()
        server.inject("timeout", count=2, path="/api/v3/ticker/24hr")
        with pytest.raises(RequestTimeout):
            await ex.fetch_tickers()
    finally:
        await ex.close()


async def test_malformed_order_answer_is_an_error_not_a_half_parsed_order(
    server: FakeBinance, exchange: CcxtExchange
) -> None:
    server.inject("malformed", path="/api/v3/order", method="POST")
    with pytest.raises(NetworkError):
        await exchange.create_order(
            "ETH/USDT", "market", "buy", 0.01, None, {"clientOrderId": "m1"}
        )
    found = await exchange.fetch_order(None, "ETH/USDT", {"clientOrderId": "m1"})  # it executed
    assert found["filled"] == pytest.approx(0.01) and found["status"] == "closed"


# ---------------------------------------------------------------------------- keys


async def test_wrong_secret_is_an_authentication_error_but_market_data_still_loads(
    server: FakeBinance,
) -> None:
    signed = {"options": {"fetchCurrencies": True, "fetchMargins": True}}  # binance's defaults
    ex = make(server, credentials={"apiKey": KEY, "secret": "not-the-secret"}, config=signed)
    try:
        markets = await ex.load_markets()  # which sign part of market loading
        assert "BTC/USDT" in markets
        with pytest.raises(AuthenticationError) as raised:
            await ex.fetch_balance()
    finally:
        await ex.close()
    assert "not-the-secret" not in str(raised.value)
    assert any("check your API key" in m for _, _, m in ex.alerts)  # type: ignore[attr-defined]


async def test_wrong_key_is_an_authentication_error(server: FakeBinance) -> None:
    ex = make(server, credentials={"apiKey": "other", "secret": SECRET})
    try:
        with pytest.raises(AuthenticationError):
            await ex.fetch_balance()
    finally:
        await ex.close()


# ---------------------------------------------------------------------------- orders


async def test_orders_are_rounded_and_carry_the_client_order_id(
    server: FakeBinance, exchange: CcxtExchange
) -> None:
    order = await exchange.create_order(
        "BTC/USDT", "market", "buy", 0.0123456789, None, {"clientOrderId": "tb00001abc"}
    )
    [sent] = [r for r in server.requests if r.path == "/api/v3/order" and r.method == "POST"]
    assert sent.params["newClientOrderId"] == "tb00001abc"
    assert sent.params["quantity"] == "0.01234"  # the market's step, rounded down
    assert order["clientOrderId"] == "tb00001abc" and order["filled"] == pytest.approx(0.01234)
    found = await exchange.fetch_order(None, "BTC/USDT", {"clientOrderId": "tb00001abc"})
    assert found["id"] == order["id"]
    [lookup] = [r for r in server.requests if r.path == "/api/v3/order" and r.method == "GET"]
    assert lookup.params["origClientOrderId"] == "tb00001abc"


async def test_below_the_market_minimum_is_refused_before_sending(
    server: FakeBinance, exchange: CcxtExchange
) -> None:
    await exchange.fetch_tickers()  # the last price lets us check the minimum order value
    with pytest.raises(InvalidOrder, match="below the market minimum"):
        await exchange.create_order("BTC/USDT", "market", "buy", 0.00002, None, {})
    with pytest.raises(InvalidOrder, match="precision"):
        await exchange.create_order("BTC/USDT", "market", "buy", 0.000001, None, {})
    assert server.count("/api/v3/order", "POST") == 0


async def test_the_exchanges_duplicate_order_answer_is_a_duplicate_client_order_id(
    server: FakeBinance, exchange: CcxtExchange
) -> None:
    """Binance says -2010 "Duplicate order sent." (ccxt: a plain InvalidOrder): classified
    here, once, so the executor catches the type and looks the order up."""
    params = {"clientOrderId": "twice-1"}
    await exchange.create_order("ETH/USDT", "limit", "buy", 0.01, 1000.0, params)
    with pytest.raises(DuplicateClientOrderId):
        await exchange.create_order("ETH/USDT", "limit", "buy", 0.01, 1000.0, params)
    assert server.count("/api/v3/order", "POST") == 2


async def test_exchange_rejections_map_to_our_errors(
    server: FakeBinance, exchange: CcxtExchange
) -> None:
    with pytest.raises(InvalidOrder, match="NOTIONAL"):  # no last price known: the server says
        await exchange.create_order("BTC/USDT", "market", "buy", 0.00002, None, {})
    with pytest.raises(InsufficientFunds):
        await exchange.create_order("BTC/USDT", "market", "buy", 1.0, None, {})
    with pytest.raises(InvalidOrder, match="not trading"):
        await exchange.create_order("LUNA/USDT", "market", "buy", 100.0, None, {})
    params = {"clientOrderId": "resting-1"}
    await exchange.create_order("ETH/USDT", "limit", "buy", 0.01, 1000.0, params)
    with pytest.raises(InvalidOrder, match="duplicate"):
        await exchange.create_order("ETH/USDT", "limit", "buy", 0.01, 1000.0, params)
    [resting] = await exchange.fetch_open_orders()
    assert resting["clientOrderId"] == "resting-1"
    canceled = await exchange.cancel_order(resting["id"], "ETH/USDT")
    assert canceled["status"] == "canceled"


async def test_unknown_client_order_id_is_order_not_found(server: FakeBinance) -> None:
    ex = make(server, settle_seconds=0.0)
    try:
        with pytest.raises(OrderNotFound):
            await ex.fetch_order(None, "BTC/USDT", {"clientOrderId": "never-sent"})
    finally:
        await ex.close()


async def test_not_found_is_only_believed_once_an_unanswered_send_has_settled(
    server: FakeBinance,
) -> None:
    """The send times out; the exchange executes it a moment later. Looking too early would
    find nothing and a resend would double the order."""
    ex = make(server, settle_seconds=1.5)
    try:
        await ex.load_markets()
        ex._started -= 100  # not the start-up window: only this send is in doubt
        server.hold_orders(1.0, execute="after")
        with pytest.raises(RequestTimeout):
            await ex.create_order("SOL/USDT", "market", "buy", 0.1, None, {"clientOrderId": "late"})
        assert server.orders == []  # still on its way when we gave up
        found = await ex.fetch_order(None, "SOL/USDT", {"clientOrderId": "late"})
    finally:
        await ex.close()
    assert found["clientOrderId"] == "late" and len(server.orders) == 1


# ---------------------------------------------------------------------------- error mapping


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (ccxt.RateLimitExceeded, RateLimited),
        (ccxt.DDoSProtection, RateLimited),
        (ccxt.RequestTimeout, RequestTimeout),
        (ccxt.ExchangeNotAvailable, NetworkError),
        (ccxt.OnMaintenance, NetworkError),
        (ccxt.NetworkError, NetworkError),
        (ccxt.BadResponse, NetworkError),
        (ccxt.AuthenticationError, AuthenticationError),
        (ccxt.PermissionDenied, AuthenticationError),
        (ccxt.InsufficientFunds, InsufficientFunds),
        (ccxt.OrderNotFound, OrderNotFound),
        (ccxt.DuplicateOrderId, DuplicateClientOrderId),
        (ccxt.InvalidOrder, InvalidOrder),
        (ccxt.BadSymbol, InvalidOrder),
        (ccxt.ExchangeError, ExchangeError),
    ],
)
async def test_every_ccxt_error_maps_to_ours_and_is_scrubbed(
    server: FakeBinance, raised: type[Exception], expected: type[Exception]
) -> None:
    ex = make(server)
    try:
        text = f"binance POST {server.url}/api/v3/order?x=1&signature=0badc0de {SECRET} {KEY}"
        error = ex._map(raised(text), {}, "create_order")
    finally:
        await ex.close()
    assert type(error) is expected
    assert SECRET not in str(error) and KEY not in str(error) and "0badc0de" not in str(error)


async def test_parse_errors_from_garbage_are_network_errors(server: FakeBinance) -> None:
    ex = make(server)
    try:
        error = ex._map(AttributeError("'str' object has no attribute 'keys'"), {}, "fetch_tickers")
    finally:
        await ex.close()
    assert isinstance(error, NetworkError) and "malformed" in str(error)


# ---------------------------------------------------------------------------- the executor


def executor_for(exchange: CcxtExchange, tmp_path: Path, alerts: list[str]) -> Executor:
    store = Store(tmp_path / "store.sqlite")
    return Executor(exchange, store, WallClock(), Monitor(), lambda *a: alerts.append(a[2]),
                    backoff_seconds=0.01)  # fmt: skip


@pytest.mark.parametrize("fault", ["drop", "timeout", "malformed", "500", "503", "429"])
async def test_a_lost_or_refused_order_answer_never_doubles_the_order(
    server: FakeBinance, tmp_path: Path, fault: str
) -> None:
    ex = make(server, settle_seconds=0.3)
    alerts: list[str] = []
    try:
        await ex.load_markets()
        server.inject(fault, path="/api/v3/order", method="POST", retry_after=0.1)
        executor = executor_for(ex, tmp_path, alerts)
        result = await executor.open_position(3, "ETH/USDT", 0.05, {"group": "layer-1"})
    finally:
        await ex.close()
    assert result.status == "filled"
    orders = server.orders_by_client_id()
    assert list(orders) == [result.client_order_id] and len(orders[result.client_order_id]) == 1
    [held] = executor.store.positions()
    assert held.amount == pytest.approx(server.totals()["ETH"])
    assert alerts  # the user is told


@pytest.mark.parametrize(
    ("amount", "what"), [(10.0, "insufficient funds"), (0.0015, "order rejected")]
)
async def test_refused_orders_are_skipped_with_an_alert(
    server: FakeBinance, tmp_path: Path, amount: float, what: str
) -> None:
    ex = make(server)
    alerts: list[str] = []
    try:
        await ex.load_markets()
        result = await executor_for(ex, tmp_path, alerts).open_position(4, "ETH/USDT", amount, {})
    finally:
        await ex.close()
    assert result.status == "failed" and server.orders == []
    assert any("skipped" in a and what in a for a in alerts), alerts


async def test_the_gate_never_lets_more_through_than_its_limit() -> None:
    import asyncio

    from tui_bot.exchange.ccxt_exchange import _Gate

    gate = _Gate(3)
    running = peak = 0

    async def one() -> None:
        nonlocal running, peak
        await gate.acquire(max_wait=1.0)
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.001)
        running -= 1
        gate.release()

    tasks = [asyncio.create_task(one()) for _ in range(20)]
    tasks[5].cancel()  # a cancelled waiter does not strand the others
    await asyncio.gather(*tasks, return_exceptions=True)
    assert peak == 3 and gate.in_flight == 0
    gate.penalize(0.0, cooldown=60)
    assert gate.limit == 1
