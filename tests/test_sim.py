"""The embedded simulated market: deterministic prices, learnable structure, ccxt-shaped trading."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from tui_bot.clock import FakeClock
from tui_bot.exchange.errors import (
    DuplicateClientOrderId,
    ExchangeError,
    InsufficientFunds,
    InvalidOrder,
    NetworkError,
    OrderNotFound,
    RateLimited,
    RequestTimeout,
)
from tui_bot.exchange.sim import SIM_EPOCH, SIM_GROUPS, SimExchange, sim_start_time
from tui_bot.exchange.sim_prices import ASSETS, CHUNK, CLOSE, KEPT_CHUNKS, OPEN, PricePaths

TF = 300
START = sim_start_time("5m")


def make(clock: FakeClock | None = None, **kwargs: object) -> SimExchange:
    return SimExchange(clock=clock or FakeClock(START), **kwargs)  # type: ignore[arg-type]


def log_returns(paths: PricePaths, n: int) -> np.ndarray:
    """(n_assets, n - 1) log close-to-close returns of the first n candles."""
    return np.diff(np.log(paths.block(0, n)[CLOSE]), axis=1)


# -- symbols and markets ---------------------------------------------------------------------


def test_start_time_leaves_history() -> None:
    assert SIM_EPOCH == 1_767_225_600.0  # 2026-01-01T00:00:00Z
    assert sim_start_time("5m") == SIM_EPOCH + 2000 * 300
    assert sim_start_time("1h", history_candles=10) == SIM_EPOCH + 36_000


def test_symbols_span_groups_and_are_capped() -> None:
    first_eight = make(n_symbols=8).symbols
    assert first_eight[0] == "BTC/USDT"
    assert len({SIM_GROUPS[s.split("/")[0]] for s in first_eight}) == 8
    everything = make(n_symbols=1000).symbols
    assert len(everything) == len(ASSETS) == len(SIM_GROUPS)
    assert all(s.endswith("/USDT") for s in everything)
    assert make(stake_currency="USDC", n_symbols=2).symbols == ["BTC/USDC", "ARB/USDC"]


async def test_load_markets_is_ccxt_shaped() -> None:
    markets = await make().load_markets()
    assert len(markets) == 40
    btc = markets["BTC/USDT"]
    assert btc["id"] == "BTCUSDT" and btc["base"] == "BTC" and btc["quote"] == "USDT"
    assert btc["active"] and btc["spot"] and btc["type"] == "spot"
    assert btc["limits"]["cost"]["min"] == 5.0
    assert btc["limits"]["amount"]["min"] == btc["precision"]["amount"] == 1e-5
    assert markets["SHIB/USDT"]["precision"]["price"] < 1e-8
    assert btc["taker"] == btc["maker"] == 0.001


# -- prices ----------------------------------------------------------------------------------


async def test_same_seed_same_market_other_seed_differs() -> None:
    a, b, c = make(seed=7), make(seed=7), make(seed=8)
    for sym in ("BTC/USDT", "DOGE/USDT"):
        assert await a.fetch_ohlcv(sym, limit=300) == await b.fetch_ohlcv(sym, limit=300)
        assert await a.fetch_ohlcv(sym, limit=300) != await c.fetch_ohlcv(sym, limit=300)
    assert await a.fetch_tickers() == await b.fetch_tickers()


def test_generation_order_does_not_matter() -> None:
    forward, backward = PricePaths(3, TF), PricePaths(3, TF)
    early = forward.block(0, 100)
    late = forward.block(2 * CHUNK + 5, 2 * CHUNK + 50)
    late_first = backward.block(2 * CHUNK + 5, 2 * CHUNK + 50)
    np.testing.assert_array_equal(late, late_first)
    np.testing.assert_array_equal(early, backward.block(0, 100))


def test_memory_stays_bounded_and_dropped_chunks_come_back_identical() -> None:
    paths = PricePaths(5, TF)
    first = paths.block(0, 50).copy()
    far = paths.block(10 * CHUNK, 10 * CHUNK + 50).copy()
    assert len(paths._chunks) <= KEPT_CHUNKS  # not every chunk since candle 0
    np.testing.assert_array_equal(paths.block(0, 50), first)  # regenerated from its start state
    np.testing.assert_array_equal(paths.block(10 * CHUNK, 10 * CHUNK + 50), far)
    assert len(paths._chunks) <= KEPT_CHUNKS


def test_candles_are_continuous_across_chunks() -> None:
    block = PricePaths(1, TF).block(CHUNK - 3, CHUNK + 3)
    np.testing.assert_allclose(block[OPEN, :, 1:], block[CLOSE, :, :-1], rtol=1e-12)


async def test_ohlcv_is_closed_contiguous_and_aligned() -> None:
    clock = FakeClock(START + 150)  # half way through a candle
    candles = np.array(await make(clock).fetch_ohlcv("ETH/USDT"))
    assert candles.shape == (500, 6)
    ts = candles[:, 0]
    assert ts[-1] / 1000 + TF <= clock.now() < ts[-1] / 1000 + 2 * TF
    assert np.all(np.diff(ts) == TF * 1000)
    assert np.all(ts % (TF * 1000) == 0)
    o, h, low, c, v = candles[:, 1:].T
    assert np.all(h >= np.maximum(o, c)) and np.all(low <= np.minimum(o, c))
    assert np.all(v > 0) and np.all(low > 0)


async def test_ohlcv_since_and_limit() -> None:
    ex = make()
    since_ms = int((SIM_EPOCH + 100 * TF) * 1000)
    rows = await ex.fetch_ohlcv("SOL/USDT", since=since_ms, limit=7)
    assert [r[0] for r in rows] == [since_ms + i * TF * 1000 for i in range(7)]
    unaligned = await ex.fetch_ohlcv("SOL/USDT", since=since_ms + 1, limit=2)
    assert unaligned[0][0] == since_ms + TF * 1000
    assert len(await ex.fetch_ohlcv("SOL/USDT", limit=5000)) == 1000
    everything = await ex.fetch_ohlcv("SOL/USDT", since=0, limit=1000)
    assert everything[0][0] == SIM_EPOCH * 1000
    assert await ex.fetch_ohlcv("SOL/USDT", since=int(START * 1000)) == []


async def test_unknown_symbol_and_timeframe() -> None:
    ex = make()
    with pytest.raises(ExchangeError, match="unknown symbol"):
        await ex.fetch_ohlcv("NOPE/USDT")
    with pytest.raises(ExchangeError, match="timeframe"):
        await ex.fetch_ohlcv("BTC/USDT", timeframe="1h")
    with pytest.raises(ExchangeError, match="unknown symbol"):
        await ex.fetch_tickers(["NOPE/USDT"])


async def test_the_venue_shows_its_sources_prices_at_its_clock() -> None:
    clock = FakeClock(START + 150)  # half way through a candle
    ex = make(clock)
    now_ms = int(clock.now() * 1000)
    shown = np.array(await ex.fetch_ohlcv("ETH/USDT", limit=50))
    np.testing.assert_array_equal(shown, ex.source.closed("ETH/USDT", now_ms, limit=50))
    ticker = (await ex.fetch_tickers(["ETH/USDT"]))["ETH/USDT"]
    assert ticker["last"] == ex.source.mid_price("ETH/USDT", clock.now())
    clock.advance(150)  # on the boundary the price is the open of the candle starting now
    assert ex.price_now("ETH/USDT") == pytest.approx(
        ex.source.trade_price("ETH/USDT", int(clock.now() * 1000))
    )
    assert ex.symbols == ex.source.symbols() == list(await ex.load_markets())


def test_price_moves_inside_a_candle() -> None:
    clock = FakeClock(START)
    ex = make(clock)
    k = 2000
    _, o, _, _, c, _ = ex.candles("BTC/USDT", k, k + 1)[0]
    assert ex.price_now("BTC/USDT") == pytest.approx(o)
    clock.advance(TF / 4)
    assert ex.price_now("BTC/USDT") == pytest.approx(o + 0.25 * (c - o))
    clock.advance(TF * 3 / 4)
    assert ex.price_now("BTC/USDT") == pytest.approx(c)


async def test_tickers_are_realistic() -> None:
    tickers = await make(n_symbols=44).fetch_tickers()
    assert len(tickers) == 44
    for t in tickers.values():
        assert t["bid"] < t["last"] < t["ask"]
        assert t["low"] <= t["last"] <= t["high"]
        assert t["percentage"] == pytest.approx((t["last"] / t["open"] - 1) * 100)
        assert t["timestamp"] == START * 1000 and t["datetime"] == "2026-01-07T22:40:00.000Z"
    spread = {s: (t["ask"] - t["bid"]) / t["last"] for s, t in tickers.items()}
    assert spread["BTC/USDT"] < spread["ETH/USDT"] < spread["BAND/USDT"]
    by_volume = max(tickers.values(), key=lambda t: t["quoteVolume"])
    assert by_volume["symbol"] == "BTC/USDT"
    assert 20_000 < tickers["BTC/USDT"]["last"] < 300_000
    assert tickers["SHIB/USDT"]["last"] < 0.001


def test_candle_volatility_is_realistic() -> None:
    stdev = log_returns(PricePaths(42, TF), 4000).std(axis=1)
    sd = {a.base: float(v) for a, v in zip(ASSETS, stdev, strict=True)}
    assert 0.002 < sd["BTC"] < 0.0035
    assert all(0.0015 < v < 0.01 for v in sd.values())
    assert sd["WIF"] > sd["ETH"]


def test_recent_idiosyncratic_moves_revert() -> None:
    """The learnable structure: the last h candles' move, net of the cross-sectional mean,
    predicts the next h candles' move with the opposite sign. Non-overlapping windows, many
    symbols: the correlation is negative and many standard errors from zero."""
    h = 6
    returns = log_returns(PricePaths(42, TF), 6001)
    windows = returns[:, : returns.shape[1] // h * h].reshape(len(ASSETS), -1, h).sum(axis=2)
    idio = windows - windows.mean(axis=0)
    past, future = idio[:, :-1].ravel(), windows[:, 1:].ravel()
    corr = np.corrcoef(past, future)[0, 1]
    z = np.arctanh(corr) * np.sqrt(past.size - 3)
    assert corr < -0.1
    assert z < -10


def test_groups_move_together() -> None:
    corr = np.corrcoef(log_returns(PricePaths(5, TF), 4000))
    groups = np.array([a.group for a in ASSETS])
    same = groups[:, None] == groups[None, :]
    off_diagonal = ~np.eye(len(groups), dtype=bool)
    within, across = corr[same & off_diagonal].mean(), corr[~same].mean()
    assert across > 0.1  # a shared market factor
    assert within > across + 0.08


# -- trading ---------------------------------------------------------------------------------


async def test_market_buy_then_sell_moves_balances_by_cost_and_fee() -> None:
    ex = make()
    buy = await ex.create_order("ETH/USDT", "market", "buy", 0.5)
    assert buy["status"] == "closed" and buy["filled"] == 0.5 and buy["remaining"] == 0
    assert buy["average"] > ex.price_now("ETH/USDT")  # paid the ask
    assert buy["cost"] == pytest.approx(0.5 * buy["average"])
    assert buy["fee"] == {"cost": pytest.approx(buy["cost"] * 0.001), "currency": "USDT"}
    balance = await ex.fetch_balance()
    assert balance["ETH"]["free"] == pytest.approx(0.5)
    assert balance["total"]["USDT"] == pytest.approx(10_000 - buy["cost"] - buy["fee"]["cost"])

    sell = await ex.create_order("ETH/USDT", "market", "sell", 0.5)
    assert sell["average"] < buy["average"]  # the spread
    balance = await ex.fetch_balance()
    assert balance["free"]["ETH"] == pytest.approx(0)
    expected = 10_000 - buy["cost"] * 1.001 + sell["cost"] * 0.999
    assert balance["USDT"] == {"free": pytest.approx(expected), "used": 0.0, "total": expected}


async def test_a_duplicate_client_order_id_is_its_own_error_the_executor_catches() -> None:
    ex = make()
    params = {"clientOrderId": "cycle-2-ETH"}
    await ex.create_order("ETH/USDT", "market", "buy", 0.01, params=params)
    with pytest.raises(DuplicateClientOrderId):
        await ex.create_order("ETH/USDT", "market", "buy", 0.01, params=params)


async def test_duplicate_client_order_id_is_refused() -> None:
    ex = make()
    params = {"clientOrderId": "cycle-1-BTC"}
    first = await ex.create_order("BTC/USDT", "market", "buy", 0.001, params=params)
    with pytest.raises(InvalidOrder, match="duplicate clientOrderId"):
        await ex.create_order("BTC/USDT", "market", "buy", 0.001, params=params)
    found = await ex.fetch_order(None, params=params)
    assert found["id"] == first["id"] and found["clientOrderId"] == "cycle-1-BTC"
    assert (await ex.fetch_balance())["BTC"]["total"] == pytest.approx(0.001)
    assert (await ex.fetch_order(first["id"], "BTC/USDT"))["status"] == "closed"
    with pytest.raises(OrderNotFound):
        await ex.fetch_order(None, params={"clientOrderId": "never-sent"})
    with pytest.raises(OrderNotFound):
        await ex.fetch_order("999")


async def test_insufficient_funds_and_minimum_cost() -> None:
    ex = make(starting_balance=100.0)
    with pytest.raises(InsufficientFunds):
        await ex.create_order("BTC/USDT", "market", "buy", 0.01)  # ~700 USDT
    with pytest.raises(InsufficientFunds):
        await ex.create_order("ETH/USDT", "market", "sell", 0.1)  # holds no ETH
    with pytest.raises(InvalidOrder, match="below minimum"):
        await ex.create_order("BTC/USDT", "market", "buy", 0.00001)  # ~0.7 USDT
    with pytest.raises(InvalidOrder):
        await ex.create_order("BTC/USDT", "market", "buy", 0)
    with pytest.raises(InvalidOrder):
        await ex.create_order("BTC/USDT", "limit", "buy", 0.001)  # no price
    assert (await ex.fetch_balance())["total"] == {"USDT": 100.0}


async def test_limit_order_rests_then_fills_when_price_crosses() -> None:
    clock = FakeClock(START)
    ex = make(clock)
    limit = ex.price_now("SOL/USDT") * 0.99
    order = await ex.create_order("SOL/USDT", "limit", "buy", 1.0, limit, {"clientOrderId": "x"})
    assert order["status"] == "open" and order["filled"] == 0
    balance = await ex.fetch_balance()
    assert balance["used"]["USDT"] == pytest.approx(limit * 1.001)
    assert [o["id"] for o in await ex.fetch_open_orders("SOL/USDT")] == [order["id"]]
    assert await ex.fetch_open_orders("BTC/USDT") == []

    placed = clock.now()
    while (await ex.fetch_order(order["id"]))["status"] == "open":
        assert clock.now() - placed < 30 * 86_400, "price never reached the limit"
        clock.advance(TF)
    filled = await ex.fetch_order(order["id"])
    assert filled["average"] == limit and filled["filled"] == 1.0
    k0, k1 = int((placed - SIM_EPOCH) // TF), int((clock.now() - SIM_EPOCH) // TF)
    assert ex.candles("SOL/USDT", k0, k1)[:, 4].min() <= limit  # the path did cross it
    balance = await ex.fetch_balance()
    assert balance["SOL"]["free"] == 1.0 and balance["used"]["USDT"] == pytest.approx(0)
    assert balance["USDT"]["total"] == pytest.approx(10_000 - limit * 1.001)
    assert await ex.fetch_open_orders() == []


async def test_marketable_limit_fills_at_once_and_cancel_releases_funds() -> None:
    ex = make()
    ask = (await ex.fetch_tickers(["ETH/USDT"]))["ETH/USDT"]["ask"]
    crossing = await ex.create_order("ETH/USDT", "limit", "buy", 0.1, ask * 1.01)
    assert crossing["status"] == "closed" and crossing["average"] == pytest.approx(ask)
    resting = await ex.create_order("ETH/USDT", "limit", "sell", 0.1, ask * 1.05)
    assert (await ex.fetch_balance())["ETH"] == {"free": 0.0, "used": 0.1, "total": 0.1}
    canceled = await ex.cancel_order(resting["id"], "ETH/USDT")
    assert canceled["status"] == "canceled"
    assert (await ex.fetch_balance())["ETH"] == {"free": 0.1, "used": 0.0, "total": 0.1}
    with pytest.raises(OrderNotFound):
        await ex.cancel_order(resting["id"])
    with pytest.raises(OrderNotFound):
        await ex.cancel_order(crossing["id"])


async def test_state_survives_a_new_instance(tmp_path: Path) -> None:
    path = tmp_path / "exchange" / "sim.sqlite"
    clock = FakeClock(START)
    first = make(clock, state_path=path)
    bought = await first.create_order(
        "BTC/USDT", "market", "buy", 0.01, params={"clientOrderId": "a"}
    )
    price = first.price_now("BTC/USDT") * 0.9
    resting = await first.create_order("BTC/USDT", "limit", "buy", 0.01, price)
    before = await first.fetch_balance()
    await first.close()

    second = make(clock, state_path=path)
    assert await second.fetch_balance() == before
    assert (await second.fetch_order(None, params={"clientOrderId": "a"}))["id"] == bought["id"]
    assert [o["id"] for o in await second.fetch_open_orders()] == [resting["id"]]
    with pytest.raises(InvalidOrder, match="duplicate"):
        await second.create_order("BTC/USDT", "market", "buy", 0.01, params={"clientOrderId": "a"})
    newer = await second.create_order("BTC/USDT", "market", "sell", 0.01)
    assert newer["id"] not in (bought["id"], resting["id"])
    await second.close()


# -- the network, simulated ------------------------------------------------------------------


async def test_injected_faults_map_to_exchange_errors() -> None:
    ex = make(error_rate=1.0)
    seen: set[type] = set()
    for _ in range(60):
        with pytest.raises(NetworkError) as info:
            await ex.fetch_tickers()
        seen.add(type(info.value))
        if isinstance(info.value, RateLimited):
            assert info.value.retry_after is not None and info.value.retry_after > 0
    assert seen == {NetworkError, RequestTimeout, RateLimited}
    ex.error_rate = 0.0
    assert len(await ex.fetch_tickers()) == 40  # prices unaffected by the fault stream


async def test_timed_out_create_order_may_exist_but_is_never_doubled() -> None:
    ex = make(error_rate=1.0)
    timed_out, other_errors = [], []
    for n in range(60):
        cid = f"order-{n}"
        try:
            await ex.create_order(
                "DOGE/USDT", "market", "buy", 100.0, params={"clientOrderId": cid}
            )
        except RequestTimeout:
            timed_out.append(cid)
        except NetworkError:
            other_errors.append(cid)
    ex.error_rate = 0.0
    executed = []
    for cid in timed_out + other_errors:
        try:
            executed.append((await ex.fetch_order(None, params={"clientOrderId": cid}))["id"])
        except OrderNotFound:
            continue
        with pytest.raises(InvalidOrder, match="duplicate"):  # a retry never doubles it
            await ex.create_order(
                "DOGE/USDT", "market", "buy", 100.0, params={"clientOrderId": cid}
            )
    assert 0 < len(executed) < len(timed_out)  # sometimes before, sometimes after executing
    executed_cids = {(await ex.fetch_order(i))["clientOrderId"] for i in executed}
    assert executed_cids <= set(timed_out)  # only a timeout can hide an executed order
    assert (await ex.fetch_balance())["DOGE"]["total"] == pytest.approx(100.0 * len(executed))


async def test_rate_limit_spaces_calls() -> None:
    ex = make(rate_limit_per_s=50.0)
    started = time.monotonic()
    for _ in range(6):
        await ex.fetch_balance()
    assert time.monotonic() - started >= 5 / 50 * 0.95


async def test_latency_is_applied() -> None:
    ex = make(latency_ms=30.0)
    started = time.monotonic()
    await ex.fetch_balance()
    await ex.load_markets()
    assert time.monotonic() - started >= 0.06 * 0.95
