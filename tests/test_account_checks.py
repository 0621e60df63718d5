"""The account as the exchange holds it: an unreadable balance is stale (never zero), coins the
store does not know are shown as unmanaged (never ignored), a lost database is said plainly, and
a skewed clock is named. Over HTTP to the fake Binance, on the simulator and with a mock."""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import make_settings
from fake_exchange import FakeBinance, bot_config

from tui_bot.clock import FakeClock
from tui_bot.config import Settings, load_settings
from tui_bot.engine import commands as cmd
from tui_bot.engine.cycle import Engine
from tui_bot.engine.executor import client_order_id
from tui_bot.engine.model import InlineTrainer
from tui_bot.engine.reconcile import read_stake
from tui_bot.engine.snapshot import Snapshot
from tui_bot.exchange.ccxt_exchange import CcxtExchange
from tui_bot.exchange.errors import NetworkError
from tui_bot.runtime import STORE_FILE, Runtime, build_runtime

KEY, SECRET = "account-key", "account-secret-77c1"
KEYS = {"TUI_BOT_API_KEY": KEY, "TUI_BOT_API_SECRET": SECRET}


@pytest.fixture
def server() -> Iterator[FakeBinance]:
    with FakeBinance(KEY, SECRET) as fake:
        yield fake


@pytest.fixture
async def runtimes() -> AsyncIterator[list[Runtime]]:
    made: list[Runtime] = []
    yield made
    for runtime in made:
        await runtime.close()


@pytest.fixture
def trained(tmp_path: Path, trained_storage: Callable[[Path], None]) -> None:
    trained_storage(tmp_path / "data")  # a model already: no start-up training


def settings_for(tmp_path: Path, server: FakeBinance, mode: str) -> Settings:
    path = tmp_path / "config.toml"
    path.write_text(bot_config(server, mode, scan={"top_n": 4, "candles": 60}))
    return load_settings(path, env={})


def live_runtime(tmp_path: Path, server: FakeBinance, runtimes: list[Runtime]) -> Runtime:
    settings = settings_for(tmp_path, server, "live")
    runtime = build_runtime(settings, trainer=InlineTrainer(), live=True, env=KEYS)
    assert runtime.engine.mode == "LIVE"
    runtimes.append(runtime)
    return runtime


def messages(runtime: Runtime) -> list[str]:
    return [a.message for a in runtime.engine.alerts]


# ---------------------------------------------------------------------------- stale balance


@pytest.mark.parametrize("kind", ["html", "garbage", "empty"])
async def test_a_garbled_balance_answer_is_stale_not_zero(
    kind: str, server: FakeBinance, tmp_path: Path, runtimes: list[Runtime], trained: None
) -> None:
    runtime = live_runtime(tmp_path, server, runtimes)
    engine = runtime.engine
    await engine.start()
    good = await engine.run_cycle()
    assert good.equity == pytest.approx(10_000, rel=0.01) and not good.balance_stale
    points = len(runtime.store.equity_history(1000))
    server.inject(kind, count=1000, path="/api/v3/account")
    garbled = [await balance_cycle(engine) for _ in range(2)]
    for snap in garbled:
        assert snap.balance_stale and snap.to_json()["balance_stale"] is True
        assert snap.equity == good.equity  # the last good one, not cash 0
        assert snap.drawdown_pct == good.drawdown_pct and not snap.kill_switch
    assert len(runtime.store.equity_history(1000)) == points  # no point from it
    stale = [m for m in messages(runtime) if "balance" in m and "stale" in m]
    assert len(stale) == 1, stale  # once when it goes stale, not every cycle
    assert not any("drawdown" in m and "limit" in m for m in messages(runtime))
    server.clear_faults()
    back = await engine.run_cycle()
    assert not back.balance_stale and back.equity == pytest.approx(10_000, rel=0.01)
    assert len(runtime.store.equity_history(1000)) == points + 1
    assert sum("balance readable again" in m for m in messages(runtime)) == 1


REAL = object()


async def balance_cycle(engine: Engine) -> Snapshot:
    """A cycle that reads a live balance again: a scan is due (a live balance is re-read after
    the bot's own orders and once a scan, not every cycle)."""
    engine.submit(cmd.ScanNow())
    return await engine.run_cycle()


@pytest.mark.parametrize("kind", ["html", "garbage", "empty"])
async def test_the_ccxt_adapter_raises_on_a_garbled_balance_instead_of_an_empty_one(
    kind: str, server: FakeBinance
) -> None:
    credentials = {"apiKey": KEY, "secret": SECRET}
    exchange = CcxtExchange("binance", server.ccxt_config(), credentials=credentials, retries=2,
                            backoff_seconds=0.01)  # fmt: skip
    try:
        server.inject(kind, count=2, path="/api/v3/account")
        with pytest.raises(NetworkError, match="not a balance"):
            await exchange.fetch_balance()  # ccxt itself returns an empty balance here
        assert server.count("/api/v3/account") == 2  # retried like any malformed answer
        assert (await exchange.fetch_balance())["USDT"]["total"] == 10_000
    finally:
        await exchange.close()


class BalanceOverride:
    """The simulator, with fetch_balance answering `balance` once it is set."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.id = inner.id
        self.balance: Any = REAL

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def fetch_balance(self) -> Any:
        real = await self.inner.fetch_balance()
        return real if self.balance is REAL else self.balance


NAN = {"USDT": {"free": math.nan, "used": 0.0, "total": math.nan}, "total": {"USDT": math.nan}}
GARBLED_BALANCES = {
    "not a dict": "<html>",
    "none": None,
    "no balances at all": {"info": {}, "free": {}, "used": {}, "total": {}},
    "nan total": NAN,
    "negative total": {"USDT": {"free": -5.0, "used": 0.0, "total": -5.0}, "total": {"USDT": -5}},
    "text total": {"USDT": {"free": "x", "used": 0.0, "total": "lots"}, "total": {"USDT": "lots"}},
    "entry not a dict": {"USDT": "10000", "total": {"USDT": "10000"}},
}


@pytest.mark.parametrize("balance", GARBLED_BALANCES.values(), ids=GARBLED_BALANCES.keys())
async def test_an_unreadable_balance_from_a_mock_keeps_the_last_equity(
    balance: Any, tmp_path: Path, clock: FakeClock
) -> None:
    runtime = build_runtime(make_settings(tmp_path), trainer=InlineTrainer(), clock=clock)
    engine = runtime.engine
    exchange = BalanceOverride(runtime.exchange)
    engine.exchange = engine.scanner.exchange = engine.executor.exchange = exchange
    try:
        await engine.start()
        context = {
            "group": "layer-1",
            "probability": 0.6,
            "features": [0.5, 0.0, 0.0, 1.0, 0.1, -0.2],
        }
        assert (await engine.executor.open_position(999, "BTC/USDT", 0.01, context)).status == (
            "filled"
        )
        good = await engine.run_cycle()
        points = len(runtime.store.equity_history(1000))
        exchange.balance = balance
        stale = await engine.run_cycle()
        assert stale.balance_stale and stale.equity == good.equity and not stale.kill_switch
        assert len(runtime.store.equity_history(1000)) == points
        assert all(o.action != "buy" for o in stale.opportunities)  # no sizing on a stale cash
    finally:
        await runtime.close()


async def test_no_currency_at_all_after_a_good_balance_is_stale_even_without_positions(
    tmp_path: Path, clock: FakeClock
) -> None:
    settings = make_settings(tmp_path, **{"risk.min_probability": 0.999})  # it buys nothing
    runtime = build_runtime(settings, trainer=InlineTrainer(), clock=clock)
    engine = runtime.engine
    exchange = BalanceOverride(runtime.exchange)
    engine.exchange = engine.scanner.exchange = engine.executor.exchange = exchange
    try:
        await engine.start()
        good = await engine.run_cycle()
        assert not good.positions and good.equity == pytest.approx(10_000)
        exchange.balance = {"info": {}, "free": {}, "used": {}, "total": {}}
        stale = await engine.run_cycle()
        assert stale.balance_stale and stale.equity == good.equity and not stale.kill_switch
    finally:
        await runtime.close()


def test_read_stake_tells_an_empty_stake_from_an_unreadable_answer() -> None:
    positions_only = {"info": {}, "AVAX": {"free": 2.0, "used": 0.0, "total": 2.0},
                      "total": {"AVAX": 2.0}}  # fmt: skip
    assert read_stake(positions_only, "USDT", holding=True) == (0.0, 0.0)  # all in positions
    empty = {"info": {}, "free": {}, "used": {}, "total": {}}
    assert read_stake(empty, "USDT", holding=False) == (0.0, 0.0)  # an empty new account
    with pytest.raises(NetworkError):
        read_stake(empty, "USDT", holding=True)  # we hold coins: "nothing at all" is garbled
    ok = {"USDT": {"free": 90.0, "used": 10.0, "total": 100.0}, "total": {"USDT": 100.0}}
    assert read_stake(ok, "USDT", holding=True) == (100.0, 90.0)


# ---------------------------------------------------------------------------- clock skew


async def test_a_skewed_clock_is_named_and_the_last_equity_kept(
    server: FakeBinance, tmp_path: Path, runtimes: list[Runtime], trained: None
) -> None:
    runtime = live_runtime(tmp_path, server, runtimes)
    engine = runtime.engine
    await engine.start()
    good = await engine.run_cycle()
    client = runtime.exchange.client  # type: ignore[attr-defined]
    client.milliseconds = lambda: int(time.time() * 1000) - 30_000  # 30 s behind
    skewed = await balance_cycle(engine)
    assert skewed.equity == good.equity and skewed.balance_stale
    found = [m for m in messages(runtime) if "clock" in m]
    assert found and "30 s behind" in found[0] and "NTP" in found[0], found
    assert not any("exchange unavailable" in m for m in messages(runtime))
    await runtime.close()
    runtimes.remove(runtime)
    # a restart with the clock still wrong starts from the last equity, not 0.00
    again = live_runtime(tmp_path, server, runtimes)
    again.exchange.client.milliseconds = client.milliseconds  # type: ignore[attr-defined]
    await again.engine.start()
    first = await again.engine.run_cycle()
    assert first.equity == pytest.approx(good.equity) and first.balance_stale


async def test_a_timestamp_refused_everywhere_is_named_without_the_servers_time(
    server: FakeBinance, tmp_path: Path, runtimes: list[Runtime], trained: None
) -> None:
    runtime = live_runtime(tmp_path, server, runtimes)
    engine = runtime.engine
    await engine.start()
    good = await engine.run_cycle()
    server.inject("clock_skew", count=10_000)  # /time as well: no offset to compute
    skewed = await balance_cycle(engine)
    assert skewed.equity == good.equity
    assert len(runtime.store.equity_history(1000)) == 1
    found = [m for m in messages(runtime) if "timestamp" in m]
    assert found and all("NTP" in m for m in found), found
    assert not any("exchange unavailable" in m for m in messages(runtime))


# ---------------------------------------------------------------------------- unmanaged coins


def remove_store(path: Path, how: str) -> None:
    for extra in ("-wal", "-shm"):
        Path(f"{path}{extra}").unlink(missing_ok=True)
    if how == "deleted":
        path.unlink()
    else:
        path.write_bytes(b"")


@pytest.mark.parametrize("how", ["deleted", "truncated"])
async def test_sim_a_lost_database_leaves_unmanaged_coins_that_are_shown(
    how: str, tmp_path: Path, clock: FakeClock
) -> None:
    settings = make_settings(tmp_path, **{"risk.min_probability": 0.999})  # it buys nothing
    runtime = build_runtime(settings, trainer=InlineTrainer(), clock=clock)
    context = {"group": "layer-1", "probability": 0.6, "features": [0.5, 0.0, 0.0, 1.0, 0.1, -0.2]}
    try:
        await runtime.engine.start()
        for cycle, symbol in enumerate(("BTC/USDT", "ETH/USDT"), start=900):
            amount = 0.01 if symbol == "BTC/USDT" else 0.2
            result = await runtime.engine.executor.open_position(cycle, symbol, amount, context)
            assert result.status == "filled"
        before = await runtime.engine.run_cycle()
        held = {p.symbol.split("/")[0]: p.amount for p in before.positions}
    finally:
        await runtime.close()
    remove_store(settings.storage_dir / STORE_FILE, how)

    runtime = build_runtime(settings, trainer=InlineTrainer(), clock=clock)
    try:
        await runtime.engine.start()
        start = runtime.engine.snapshot()
        assert {u.asset: u.amount for u in start.unmanaged} == pytest.approx(held)
        text = messages(runtime)
        lost = [m for m in text if "lost or deleted" in m]
        assert lost and str(settings.storage_dir / STORE_FILE) in lost[0]
        assert "sim_exchange.sqlite" in lost[0] and "2 filled orders" in lost[0]
        assert any(m.startswith("unmanaged:") and "BTC" in m and "ETH" in m for m in text)
        snap = await runtime.engine.run_cycle()
        assert not snap.positions and {u.asset for u in snap.unmanaged} == set(held)
        assert all(u.value and u.value > 0 for u in snap.unmanaged)
        # not the bot's equity any more, but nothing vanished: cash + unmanaged = the account
        unmanaged_value = sum(u.value or 0.0 for u in snap.unmanaged)
        assert snap.equity < before.equity - 0.5 * unmanaged_value
        assert snap.equity + unmanaged_value == pytest.approx(before.equity, rel=0.02)
        assert [u["asset"] for u in snap.to_json()["unmanaged"]] == [
            u.asset for u in snap.unmanaged
        ]
        balance = await runtime.exchange.fetch_balance()
        assert balance["BTC"]["total"] == pytest.approx(held["BTC"])  # never traded by the bot
    finally:
        await runtime.close()


async def test_paper_a_lost_database_is_said_plainly(
    server: FakeBinance, tmp_path: Path, runtimes: list[Runtime], trained: None
) -> None:
    settings = settings_for(tmp_path, server, "paper")
    runtime = build_runtime(settings, trainer=InlineTrainer(), env={})
    context = {"group": "layer-1", "probability": 0.6, "features": [0.5, 0.0, 0.0, 1.0, 0.1, -0.2]}
    await runtime.engine.start()
    result = await runtime.engine.executor.open_position(900, "ETH/USDT", 0.5, context)
    assert result.status == "filled"
    await runtime.close()
    store_path = runtime.store.path
    remove_store(store_path, "deleted")

    again = build_runtime(settings, trainer=InlineTrainer(), env={})
    runtimes.append(again)
    await again.engine.start()
    text = messages(again)
    lost = [m for m in text if "lost or deleted" in m]
    assert lost and str(store_path) in lost[0] and "paper_binance.sqlite" in lost[0]
    assert "1 filled order" in lost[0] and "ETH" in lost[0]
    snap = again.engine.snapshot()
    assert [u.asset for u in snap.unmanaged] == ["ETH"]


async def test_live_coins_outside_the_store_are_unmanaged_and_dust_is_only_mentioned(
    tmp_path: Path, runtimes: list[Runtime], trained: None
) -> None:
    balances = {"USDT": 10_000.0, "AVAX": 25.9, "SOL": 0.001}  # SOL: 0.15 USDT, under 5 min
    with FakeBinance(KEY, SECRET, balances=balances) as server:
        runtime = live_runtime(tmp_path, server, runtimes)
        engine = runtime.engine
        await engine.start()
        text = messages(runtime)
        unmanaged = [m for m in text if m.startswith("unmanaged:")]
        assert len(unmanaged) == 1 and "25.9 AVAX" in unmanaged[0] and "SOL" not in unmanaged[0]
        assert any("dust" in a.message and "SOL" in a.message and a.level == "info"
                   for a in engine.alerts)  # fmt: skip
        assert any("is new" in m and "AVAX" in m for m in text)
        snap = await engine.run_cycle()
        [avax] = snap.unmanaged
        assert avax.asset == "AVAX" and avax.amount == pytest.approx(25.9)
        price = server.price("AVAXUSDT")
        assert avax.value == pytest.approx(25.9 * price, rel=0.02)
        assert snap.equity == pytest.approx(10_000, rel=0.001)  # the user's AVAX is not sized on
        assert not any(o.get("side") == "SELL" and o["symbol"] == "AVAXUSDT"
                       for o in server.orders)  # fmt: skip
        # A buy the store never learnt of (a garbled answer recorded as nothing): caught too.
        params = {"symbol": "LINKUSDT", "side": "BUY", "type": "MARKET", "quantity": "10",
                  "newClientOrderId": client_order_id(77, "LINK/USDT", "buy")}  # fmt: skip
        server.route("POST", "/api/v3/order", params)
        await balance_cycle(engine)
        later = await balance_cycle(engine)
        assert {u.asset for u in later.unmanaged} == {"AVAX", "LINK"}
        link = [m for m in messages(runtime) if m.startswith("unmanaged:") and "LINK" in m]
        assert len(link) == 1, link  # alerted once, when it appeared
