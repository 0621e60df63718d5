"""What the engine asks a real exchange for, cycle by cycle (issue 12's contract).

The engine runs in process against the fake Binance over HTTP through ccxt; between two steps
the fake's own count says what was sent and what it weighed (Binance's REQUEST_WEIGHT):

- never above the exchange's weight limit in any minute, and never a 429;
- no endpoint asked twice for the same data in one cycle (a symbol's ticker, a symbol's klines,
  the account);
- a warm cycle (no new closed candle, the scan cache valid) spends at most 2 weight per open
  position, 0 with none; live, the balance is not read again while no order was placed;
- klines only for symbols with a new closed candle, and none on the first cycle for the
  symbols whose history the start-up training has just fetched.

The engine and the fake share one manual clock (candles close when the test says so), except
where the rate limit is the subject: there both run on the wall clock, as the limiter does.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_exchange import FakeBinance, bot_config
from fake_exchange.server import Request

from tui_bot.clock import Clock, FakeClock
from tui_bot.config import load_settings
from tui_bot.engine.commands import ScanNow
from tui_bot.engine.cycle import Engine
from tui_bot.engine.model import InlineTrainer
from tui_bot.runtime import Runtime, build_runtime
from tui_bot.store import PositionRow

KEY, SECRET = "plan-key", "plan-secret-90c4"
KEYS = {"TUI_BOT_API_KEY": KEY, "TUI_BOT_API_SECRET": SECRET}
TF = 300  # the fake's and the bot's 5m candles


@pytest.fixture
def clock() -> FakeClock:
    """10 s into the 5m candle open now: the next one closes when the test moves the clock."""
    return FakeClock(math.floor(time.time() / TF) * TF + 10.0)


@pytest.fixture
def servers() -> Iterator[Callable[..., FakeBinance]]:
    started: list[FakeBinance] = []

    def start(**kwargs: Any) -> FakeBinance:
        server = FakeBinance(KEY, SECRET, **kwargs).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
async def runtimes() -> AsyncIterator[list[Runtime]]:
    made: list[Runtime] = []
    yield made
    for runtime in made:
        await runtime.close()


@pytest.fixture
def trained(tmp_path: Path, trained_storage: Callable[[Path], None]) -> None:
    trained_storage(tmp_path / "data")  # a saved model: no start-up training


def bot(
    tmp_path: Path,
    server: FakeBinance,
    runtimes: list[Runtime],
    mode: str = "paper",
    clock: Clock | None = None,
    **sections: dict[str, Any],
) -> Runtime:
    path = tmp_path / "config.toml"
    scan = {"top_n": 20, "candles": 60, **sections.pop("scan", {})}  # every USDT pair
    path.write_text(bot_config(server, mode, scan=scan, **sections))
    settings = load_settings(path, env={})
    runtime = build_runtime(
        settings, trainer=InlineTrainer(), clock=clock, live=mode == "live", env=KEYS
    )
    runtimes.append(runtime)
    assert runtime.engine.mode == mode.upper()
    return runtime


async def step(engine: Engine, server: FakeBinance) -> list[Request]:
    """One cycle; the requests the fake received during it."""
    mark = server.mark()
    await engine.step()
    return server.since(mark)


def trading_pairs(server: FakeBinance) -> set[str]:
    return {p.id for p in server.pairs.values() if p.quote == "USDT" and p.status == "TRADING"}


def klines(requests: list[Request]) -> Counter[str]:
    return Counter(r.params.get("symbol", "?") for r in requests if r.path == "/api/v3/klines")


def spent(requests: list[Request]) -> str:
    """What a list of requests asked for and weighed, for failure messages."""
    lines = Counter(f"{r.method} {r.path} ({r.weight})" for r in requests)
    total = sum(r.weight for r in requests)
    return f"{total} weight: " + ", ".join(f"{n} x {k}" for k, n in lines.items())


def ticker_symbols(request: Request, every: set[str]) -> list[str]:
    """The symbols one ticker request asks for: all of them without `symbol` or `symbols`."""
    if "symbol" in request.params:
        return [request.params["symbol"]]
    if "symbols" in request.params:
        return json.loads(request.params["symbols"])
    return sorted(every)


def repeated(requests: list[Request], every: set[str]) -> list[str]:
    """The data one cycle asked for more than once: a symbol's 24h ticker (the all-symbols
    request counts for each symbol), a symbol's klines, the account."""
    problems = []
    tickers = [r for r in requests if r.path == "/api/v3/ticker/24hr"]
    asked = Counter(s for r in tickers for s in ticker_symbols(r, every))
    twice = {s: n for s, n in asked.items() if n > 1}
    if twice:
        problems.append(f"24h tickers more than once for {twice} ({[r.params for r in tickers]})")
    twice = {s: n for s, n in klines(requests).items() if n > 1}
    if twice:
        problems.append(f"klines more than once for {twice}")
    accounts = sum(1 for r in requests if r.path == "/api/v3/account")
    if accounts > 1:
        problems.append(f"account {accounts} times")
    return problems


# ---------------------------------------------------------------------------- a. the limit


@pytest.mark.slow
@pytest.mark.parametrize("told", [400, 0], ids=["told-400", "told-0-reads-exchangeInfo"])
async def test_never_above_the_weight_limit_in_any_minute_and_never_a_429(
    tmp_path: Path,
    servers: Callable[..., FakeBinance],
    runtimes: list[Runtime],
    trained: None,
    told: int,
) -> None:
    """The user presses "scan now" every cycle on 30 pairs: ranking them needs at least 40
    weight a scan (Binance's ticker/24hr for 21-100 symbols), so more than a minute of a
    400-weight budget is asked for. Wall clock: the budget's minute is real time. `told`: the
    limit in [exchange] weight_limit_per_minute; 0 is the exchange's own, from exchangeInfo."""
    limit = 400
    server = servers(pairs=30, weight_limit=limit)
    runtime = bot(
        tmp_path,
        server,
        runtimes,
        exchange={"weight_limit_per_minute": told},
        scan={"top_n": 30},
    )
    engine = runtime.engine
    await engine.start()
    cycles = 0
    while server.weight() <= 1.2 * limit and cycles < 40:  # until a second minute was needed
        engine.submit(ScanNow())
        await engine.step()
        cycles += 1
    answered_429 = [(r.method, r.path, r.params) for r in server.requests if r.status == 429]
    assert not answered_429, f"{len(answered_429)} requests refused: {answered_429[:5]}"
    assert server.peak_minute_weight() <= limit, server.minute_weights()
    assert server.weight() > limit, (
        f"{cycles} forced scans of 30 pairs spent only {server.weight()} weight: the scenario "
        "must ask for more than one minute's budget"
    )


# ---------------------------------------------------------------------------- b. once a cycle


@pytest.mark.parametrize("mode", ["paper", "live"])
async def test_no_endpoint_is_asked_twice_for_the_same_data_in_one_cycle(
    tmp_path: Path,
    servers: Callable[..., FakeBinance],
    runtimes: list[Runtime],
    trained: None,
    clock: FakeClock,
    mode: str,
) -> None:
    server = servers(clock=clock.now)
    engine = bot(tmp_path, server, runtimes, mode, clock).engine
    every = set(server.pairs)
    await engine.start()
    # candle open + 10 s, + 30 s, + 315 s (a new candle; the scan cache has expired), ...
    plan = [("cold", 0), ("warm", 20), ("fresh", 285), ("warm", 20), ("fresh", 300)]
    problems, orders = [], 0
    for n, (kind, seconds) in enumerate(plan, 1):
        clock.advance(seconds)
        requests = await step(engine, server)
        problems += [f"cycle {n} ({kind}): {p}" for p in repeated(requests, every)]
        orders += sum(1 for r in requests if r.path in ("/api/v3/order", "/api/v3/depth"))
    assert not problems, problems
    assert orders, "no order was placed: the cycles after a fill were not tried"


# ---------------------------------------------------------------------------- c. warm cycles


async def open_positions(runtime: Runtime, held: int, at: float) -> list[str]:
    """Buy `held` coins through the bot's own exchange (the paper ledger, or the fake) and
    record them as the bot's positions, as if an earlier run had opened them."""
    wanted = [("ETH/USDT", 0.1), ("SOL/USDT", 1.0)][:held]
    for symbol, amount in wanted:
        order = await runtime.exchange.create_order(symbol, "market", "buy", amount)
        price = float(order["average"])
        row = PositionRow(symbol, "layer-1", "long", float(order["filled"]), price,
                          float(order["cost"]), price * 0.5, price * 2, at, 0.6, (0.0,) * 4,
                          f"earlier-{symbol}")  # fmt: skip
        with runtime.store.transaction() as db:
            runtime.store.insert_position(db, row)
    return [symbol for symbol, _ in wanted]


@pytest.mark.parametrize("mode", ["paper", "live"])
@pytest.mark.parametrize("held", [0, 2], ids=["no-position", "2-positions"])
async def test_a_warm_cycle_spends_at_most_2_weight_per_open_position(
    tmp_path: Path,
    servers: Callable[..., FakeBinance],
    runtimes: list[Runtime],
    trained: None,
    clock: FakeClock,
    mode: str,
    held: int,
) -> None:
    server = servers(clock=clock.now)
    risk = {"min_probability": 1.0}  # nothing new is bought: the prices needed are the held
    runtime = bot(tmp_path, server, runtimes, mode, clock, risk=risk)
    engine = runtime.engine
    symbols = await open_positions(runtime, held, clock.now())
    await engine.start()
    await step(engine, server)  # cold: scans, reads the balance
    for seconds in (20, 20):  # the same candle, inside the scan cache's 300 s
        clock.advance(seconds)
        requests = await step(engine, server)
        weight = sum(r.weight for r in requests)
        assert weight <= 2 * held, f"warm cycle with {held} position(s): {spent(requests)}"
        if mode == "live":
            assert all(r.path != "/api/v3/account" for r in requests), (
                "the balance was read again although no order was placed since the last read"
            )
        for symbol in symbols:  # marked to market all the same
            now = server.price(symbol.replace("/", ""))
            assert engine.prices[symbol] == pytest.approx(now, rel=1e-6), symbol
    assert server.count("/api/v3/order", "POST") == (held if mode == "live" else 0)


# ---------------------------------------------------------------------------- d. klines


async def test_klines_only_for_symbols_with_a_new_closed_candle(
    tmp_path: Path,
    servers: Callable[..., FakeBinance],
    runtimes: list[Runtime],
    trained: None,
    clock: FakeClock,
) -> None:
    server = servers(clock=clock.now)
    engine = bot(tmp_path, server, runtimes, clock=clock, scan={"cache_duration": 60}).engine
    pairs = trading_pairs(server)
    await engine.start()
    cold = klines(await step(engine, server))
    assert set(cold) == pairs  # the first scan: each pair's history, once
    clock.advance(120)  # candle open + 130 s: the scan cache has expired, no candle has closed
    same_candle = await step(engine, server)
    assert not klines(same_candle), f"no new candle, yet klines for {dict(klines(same_candle))}"
    clock.advance(175)  # open + 305 s: the candle that opened at + 0 has closed, for every pair
    forming = clock.now() // TF * TF  # the candle that opened at + 300 s
    fresh = [r for r in await step(engine, server) if r.path == "/api/v3/klines"]
    assert klines(fresh) == Counter(dict.fromkeys(pairs, 1))
    first_new = (forming - TF) * 1000  # the open time of the only candle not held yet
    asked_from = {r.params["symbol"]: int(r.params.get("startTime", 0)) for r in fresh}
    assert all(t >= first_new for t in asked_from.values()), (
        f"held candles fetched again: startTime per symbol {asked_from}, first new {first_new}"
    )


async def test_the_first_cycle_reuses_the_history_the_start_up_training_fetched(
    tmp_path: Path,
    servers: Callable[..., FakeBinance],
    runtimes: list[Runtime],
    clock: FakeClock,
) -> None:
    server = servers(clock=clock.now)
    engine = bot(tmp_path, server, runtimes, clock=clock).engine  # no model saved: it trains
    mark = server.mark()
    await engine.start()
    history = klines(server.since(mark))
    assert engine.bootstrapped and set(history) == trading_pairs(server)
    clock.advance(20)  # the same candle
    first = klines(await step(engine, server))
    again = {s: n for s, n in first.items() if s in history}
    assert not again, f"cycle 1 fetched klines again for {again} (the bootstrap had them)"
