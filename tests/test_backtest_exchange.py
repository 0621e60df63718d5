"""The backtest venue: fills at the next open +/- slippage, fees per side, no look-ahead."""

from __future__ import annotations

import numpy as np
import pytest

from tui_bot.clock import JumpingClock
from tui_bot.exchange.backtest import BacktestExchange
from tui_bot.exchange.errors import (
    DuplicateClientOrderId,
    ExchangeError,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
)
from tui_bot.market.source import RecordedSource

TF_MS = 300_000
T0 = 1_767_225_600_000


def candles(n: int, skip: tuple[int, ...] = ()) -> np.ndarray:
    """Candle k: open 1 + k/100, high open + 0.05, low open - 0.03, close open + 0.01."""
    rows = []
    for k in range(n):
        if k not in skip:
            o = 1.0 + k / 100
            rows.append([T0 + k * TF_MS, o, o + 0.05, o - 0.03, o + 0.01, 1000.0 + k])
    return np.array(rows)


def make(
    n: int = 400,
    fee_pct: float = 0.1,
    slippage_bps: float = 5.0,
    skip: tuple[int, ...] = (),
    now_ms: int = T0 + 300 * TF_MS,  # candles 0..299 closed, 300 opens now
) -> tuple[BacktestExchange, JumpingClock]:
    source = RecordedSource({"ADA/BTC": candles(n, skip), "ETH/BTC": candles(n)}, "5m")
    clock = JumpingClock(now_ms / 1000)
    return BacktestExchange(source, clock, "BTC", 1000.0, fee_pct, slippage_bps), clock


def open_of(k: int) -> float:
    return 1.0 + k / 100


async def test_markets_one_spot_market_per_symbol_with_the_fee() -> None:
    ex, _ = make(fee_pct=0.25)
    markets = await ex.load_markets()
    assert set(markets) == {"ADA/BTC", "ETH/BTC"}
    ada = markets["ADA/BTC"]
    assert (ada["base"], ada["quote"], ada["spot"]) == ("ADA", "BTC", True)
    assert ada["precision"] == {"amount": 1e-8, "price": 1e-8}
    assert ada["limits"]["cost"]["min"] == 0.0
    assert ada["taker"] == pytest.approx(0.0025)


async def test_a_buy_fills_at_the_next_open_plus_slippage_with_the_fee_in_quote() -> None:
    # mid-candle 299: the next price one can get is 300's open
    ex, _ = make(fee_pct=0.1, slippage_bps=5.0, now_ms=T0 + 300 * TF_MS - 60_000)
    order = await ex.create_order("ADA/BTC", "market", "buy", 100.0, None, {"clientOrderId": "a"})
    price = open_of(300) * 1.0005
    assert order["status"] == "closed" and order["filled"] == 100.0
    assert order["average"] == pytest.approx(price)
    assert order["cost"] == pytest.approx(100.0 * price)
    assert order["fee"] == {"cost": pytest.approx(100.0 * price * 0.001), "currency": "BTC"}
    assert order["clientOrderId"] == "a"
    balance = await ex.fetch_balance()
    assert balance["free"]["ADA"] == pytest.approx(100.0)
    assert balance["free"]["BTC"] == pytest.approx(1000.0 - 100.0 * price * 1.001)
    assert balance["total"]["BTC"] == balance["BTC"]["total"]


async def test_a_sell_fills_at_the_open_minus_slippage_and_pays_the_fee_too() -> None:
    ex, clock = make(fee_pct=0.1, slippage_bps=5.0)
    await ex.create_order("ADA/BTC", "market", "buy", 100.0)
    clock.set(clock.now() + 10 * 300)  # candle 310 opens
    sell = await ex.create_order("ADA/BTC", "market", "sell", 100.0)
    price = open_of(310) * 0.9995
    assert sell["average"] == pytest.approx(price)
    assert sell["fee"]["cost"] == pytest.approx(100.0 * price * 0.001)
    balance = await ex.fetch_balance()
    paid = 100.0 * open_of(300) * 1.0005 * 1.001
    assert balance["free"]["BTC"] == pytest.approx(1000.0 - paid + 100.0 * price * 0.999)
    assert balance["free"]["ADA"] == pytest.approx(0.0)


async def test_a_duplicate_client_id_is_its_own_error_the_executor_catches() -> None:
    ex, _ = make()
    await ex.create_order("ETH/BTC", "market", "buy", 1.0, None, {"clientOrderId": "y"})
    with pytest.raises(DuplicateClientOrderId):
        await ex.create_order("ETH/BTC", "market", "sell", 1.0, None, {"clientOrderId": "y"})


async def test_duplicate_client_ids_are_refused_and_orders_found_by_them() -> None:
    ex, _ = make()
    first = await ex.create_order("ADA/BTC", "market", "buy", 1.0, None, {"clientOrderId": "x"})
    with pytest.raises(InvalidOrder, match="duplicate"):
        await ex.create_order("ADA/BTC", "market", "buy", 1.0, None, {"clientOrderId": "x"})
    found = await ex.fetch_order(None, "ADA/BTC", {"clientOrderId": "x"})
    assert found["id"] == first["id"] and found["filled"] == 1.0
    assert (await ex.fetch_order(first["id"]))["clientOrderId"] == "x"
    with pytest.raises(OrderNotFound):
        await ex.fetch_order(None, "ADA/BTC", {"clientOrderId": "nope"})
    assert await ex.fetch_open_orders() == []
    with pytest.raises(OrderNotFound):
        await ex.cancel_order(first["id"], "ADA/BTC")


async def test_no_trade_price_at_the_end_of_the_data_or_a_gap_is_invalid_order() -> None:
    ex, clock = make(n=310, skip=(305,))
    clock.set((T0 + 305 * TF_MS) / 1000)
    with pytest.raises(InvalidOrder, match="gap or the end"):
        await ex.create_order("ADA/BTC", "market", "buy", 1.0)  # candle 305 is missing
    assert (await ex.create_order("ETH/BTC", "market", "buy", 1.0))["average"] > 0
    clock.set((T0 + 310 * TF_MS) / 1000)  # every candle closed: the data has ended
    with pytest.raises(InvalidOrder, match="gap or the end"):
        await ex.create_order("ETH/BTC", "market", "sell", 1.0)
    assert (await ex.fetch_balance())["free"]["ETH"] == pytest.approx(1.0)  # nothing booked


async def test_orders_beyond_the_balance_or_of_other_kinds_are_refused() -> None:
    ex, _ = make()
    with pytest.raises(InsufficientFunds):
        await ex.create_order("ADA/BTC", "market", "buy", 10_000.0)
    with pytest.raises(InsufficientFunds):
        await ex.create_order("ADA/BTC", "market", "sell", 1.0)
    with pytest.raises(InvalidOrder, match="market orders"):
        await ex.create_order("ADA/BTC", "limit", "buy", 1.0, 1.0)
    with pytest.raises(ExchangeError, match="unknown symbol"):
        await ex.create_order("XRP/BTC", "market", "buy", 1.0)
    assert (await ex.fetch_balance())["free"] == {"BTC": 1000.0}


async def test_tickers_show_the_last_closed_candle_and_the_last_day() -> None:
    ex, clock = make()
    tickers = await ex.fetch_tickers()
    ada = tickers["ADA/BTC"]
    assert ada["last"] == ada["bid"] == ada["ask"] == pytest.approx(open_of(299) + 0.01)
    day = candles(300)[300 - 288 :]
    assert ada["quoteVolume"] == pytest.approx(float((day[:, 4] * day[:, 5]).sum()))
    assert ada["percentage"] == pytest.approx((ada["last"] / open_of(12) - 1) * 100)
    clock.set(clock.now() + 299)  # a second before candle 300 closes: still not shown
    assert (await ex.fetch_tickers(["ADA/BTC"]))["ADA/BTC"]["last"] == ada["last"]
    empty = BacktestExchange(  # nothing closed yet: no ticker
        RecordedSource({"ADA/BTC": candles(5)}, "5m"), JumpingClock(T0 / 1000), "BTC", 1.0
    )
    assert await empty.fetch_tickers() == {}


async def test_fetch_ohlcv_returns_closed_candles_since_and_limit() -> None:
    ex, clock = make()
    last = await ex.fetch_ohlcv("ADA/BTC", "5m", limit=3)
    assert [row[0] for row in last] == [T0 + k * TF_MS for k in (297, 298, 299)]
    assert isinstance(last[0][0], int) and len(last[0]) == 6
    since = await ex.fetch_ohlcv("ADA/BTC", "5m", since=T0 + 298 * TF_MS, limit=10)
    assert [row[0] for row in since] == [T0 + 298 * TF_MS, T0 + 299 * TF_MS]
    assert await ex.fetch_ohlcv("ADA/BTC", "5m", since=T0 + 300 * TF_MS) == []
    clock.set(clock.now() + 300)
    assert (await ex.fetch_ohlcv("ADA/BTC", "5m", since=T0 + 300 * TF_MS))[0][1] == open_of(300)
    assert len(await ex.fetch_ohlcv("ADA/BTC", "5m")) == 301
    with pytest.raises(ExchangeError, match="timeframe"):
        await ex.fetch_ohlcv("ADA/BTC", "1h")


async def test_price_ranges_cover_the_candles_closed_since() -> None:
    ex, clock = make(skip=(301,))
    since_ms = int(clock.now() * 1000)  # candle 299 closed at exactly since: not included
    assert ex.price_ranges(["ADA/BTC", "ETH/BTC"], since_ms) == {}
    clock.set(clock.now() + 3 * 300)  # candles 300, 301, 302 closed (ADA has no 301)
    ranges = ex.price_ranges(["ADA/BTC", "ETH/BTC"], since_ms)
    assert ranges["ADA/BTC"] == pytest.approx((open_of(300) - 0.03, open_of(302) + 0.05))
    assert ranges["ETH/BTC"] == pytest.approx((open_of(300) - 0.03, open_of(302) + 0.05))
    assert ex.price_ranges(["ADA/BTC"], since_ms + 2 * TF_MS) == {
        "ADA/BTC": pytest.approx((open_of(302) - 0.03, open_of(302) + 0.05))
    }
