"""download-data over HTTP: ccxt.binance against the fake exchange, into candle files."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np
import pytest
from fake_exchange import FakeBinance, bot_config

from tui_bot.exchange.ccxt_exchange import CcxtExchange
from tui_bot.exchange.errors import NetworkError
from tui_bot.market import download
from tui_bot.market.download import download_candles, write_candles
from tui_bot.market.files import COLUMNS, CandleDataError, load_candles, read_candle_file

TF = 300_000
DAY = 288  # 5m candles


@pytest.fixture
def server() -> Iterator[FakeBinance]:
    with FakeBinance() as fake:
        yield fake


@pytest.fixture
async def exchange(server: FakeBinance) -> AsyncIterator[CcxtExchange]:
    client = CcxtExchange("binance", server.ccxt_config(), backoff_seconds=0.01)
    try:
        yield client
    finally:
        await client.close()


def klines(server: FakeBinance, since: int = 0) -> list[dict[str, str]]:
    return [r.params for r in server.requests[since:] if r.path == "/api/v3/klines"]


def now_ms() -> int:
    return int(time.time() * 1000)


def last_closed(now: int) -> int:
    return now // TF * TF - TF


async def test_download_into_an_empty_folder_pages_and_never_writes_a_forming_candle(
    server: FakeBinance, exchange: CcxtExchange, tmp_path: Path
) -> None:
    now = now_ms()
    seen: list[tuple[str, int, int]] = []
    results = await download_candles(
        exchange, ["ETH/BTC", "btc_usdt"], "5m", 1, tmp_path, now,
        lambda *a: seen.append(a), page_limit=100,
    )  # fmt: skip
    assert [(r.symbol, r.added, r.total) for r in results] == [
        ("ETH/BTC", DAY, DAY),
        ("BTC/USDT", DAY, DAY),
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["BTC_USDT-5m.csv.gz", "ETH_BTC-5m.csv.gz"]
    text = gzip.decompress((tmp_path / "ETH_BTC-5m.csv.gz").read_bytes()).decode()
    assert text.startswith(",".join(COLUMNS) + "\n")
    for f in load_candles(tmp_path):
        assert f.problems == ()
        times = f.candles[:, 0]
        assert times[-1] == last_closed(now)  # the forming candle the server sent is not there
        assert np.all(times + TF <= now) and times[0] == last_closed(now) - (DAY - 1) * TF
    # 3 pages of 100 a pair; the third page reached past now, the forming candle included
    assert len(klines(server)) == 6 and all(p["limit"] == "100" for p in klines(server))
    eth = [s for s in seen if s[0] == "ETH/BTC"]
    assert [s[1] for s in eth] == [100, 200, DAY] and eth[-1][2] == last_closed(now)


async def test_a_second_run_later_fetches_only_the_new_candles(
    server: FakeBinance, exchange: CcxtExchange, tmp_path: Path
) -> None:
    now = now_ms()
    earlier = now - 7 * TF
    await download_candles(exchange, ["ETH/BTC"], "5m", 1, tmp_path, earlier)
    path = tmp_path / "ETH_BTC-5m.csv.gz"
    before = read_candle_file(path).candles
    requests = len(server.requests)
    (result,) = await download_candles(exchange, ["ETH/BTC"], "5m", 1, tmp_path, now)
    assert (result.added, result.total) == (7, DAY + 7)
    after = read_candle_file(path).candles
    np.testing.assert_array_equal(after[:DAY], before)  # what was there is untouched
    assert after[-1, 0] == last_closed(now)
    (request,) = klines(server, requests)
    assert int(request["startTime"]) == before[-1, 0] + TF
    requests = len(server.requests)
    (again,) = await download_candles(exchange, ["ETH/BTC"], "5m", 1, tmp_path, now)
    assert again.added == 0 and klines(server, requests) == []  # nothing new: no request


async def test_more_days_fetch_the_older_candles_before_the_file(
    server: FakeBinance, exchange: CcxtExchange, tmp_path: Path
) -> None:
    now = now_ms()
    await download_candles(exchange, ["ETH/BTC"], "5m", 1, tmp_path, now)
    requests = len(server.requests)
    (result,) = await download_candles(exchange, ["ETH/BTC"], "5m", 2, tmp_path, now)
    assert (result.added, result.total) == (DAY, 2 * DAY)
    candles = read_candle_file(tmp_path / "ETH_BTC-5m.csv.gz").candles
    assert np.all(np.diff(candles[:, 0]) == TF)
    (request,) = klines(server, requests)  # the head only: the tail is up to date
    assert int(request["startTime"]) == last_closed(now) - (2 * DAY - 1) * TF


async def test_an_interrupted_download_leaves_no_partial_file(
    server: FakeBinance, exchange: CcxtExchange, tmp_path: Path
) -> None:
    now = now_ms()
    await download_candles(exchange, ["ETH/BTC"], "5m", 1, tmp_path, now - 7 * TF)
    old = (tmp_path / "ETH_BTC-5m.csv.gz").read_bytes()

    def fail_after_first_page(symbol: str, done: int, reached: int) -> None:
        if symbol == "BTC/USDT":
            server.inject("500", count=50, path="/api/v3/klines")

    with pytest.raises(NetworkError):
        await download_candles(
            exchange, ["ETH/BTC", "BTC/USDT"], "5m", 1, tmp_path, now,
            fail_after_first_page, page_limit=100,
        )  # fmt: skip
    # ETH/BTC was done (7 new candles); BTC/USDT failed after its first page: no file, no temp
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ETH_BTC-5m.csv.gz"]
    assert (tmp_path / "ETH_BTC-5m.csv.gz").read_bytes() != old
    assert len(read_candle_file(tmp_path / "ETH_BTC-5m.csv.gz").candles) == DAY + 7
    server.clear_faults()
    server.inject("500", count=50, path="/api/v3/klines")
    written = (tmp_path / "ETH_BTC-5m.csv.gz").read_bytes()
    with pytest.raises(NetworkError):
        await download_candles(exchange, ["ETH/BTC"], "5m", 3, tmp_path, now)
    assert (tmp_path / "ETH_BTC-5m.csv.gz").read_bytes() == written


def test_a_write_that_fails_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ETH_BTC-5m.csv.gz"
    rows = np.array([[1_515_560_100_000, 1.0, 2.0, 0.5, 1.5, 10.0]])
    write_candles(path, rows)
    old = path.read_bytes()

    def interrupted(src: str, dst: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(download.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_candles(path, np.vstack([rows, rows + [TF, 0, 0, 0, 0, 0]]))
    assert path.read_bytes() == old and os.listdir(tmp_path) == [path.name]


async def test_a_corrupt_existing_file_is_not_overwritten(
    exchange: CcxtExchange, tmp_path: Path
) -> None:
    path = tmp_path / "ETH_BTC-5m.csv.gz"
    path.write_bytes(gzip.compress(b"timestamp_ms,open,high,low,close,volume\n1,2,3")[:20])
    with pytest.raises(CandleDataError) as e:
        await download_candles(exchange, ["ETH/BTC"], "5m", 1, tmp_path, now_ms())
    assert str(e.value).startswith(f"{path}: skipped: its gzip data is truncated or corrupt")
    assert str(e.value).endswith("download-data does not overwrite it")


async def test_unknown_pairs_and_timeframes_are_refused(
    exchange: CcxtExchange, tmp_path: Path
) -> None:
    with pytest.raises(
        CandleDataError, match="binance has no market ETH/BTX; did you mean ETH/BTC"
    ):
        await download_candles(exchange, ["ETH/BTX"], "5m", 1, tmp_path)
    with pytest.raises(CandleDataError, match="--timeframe 7m: binance has no such candles"):
        await download_candles(exchange, ["ETH/BTC"], "7m", 1, tmp_path)
    with pytest.raises(CandleDataError, match="--days 0: must be more than 0"):
        await download_candles(exchange, ["ETH/BTC"], "5m", 0, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_the_command_downloads_with_progress_on_stderr(server: FakeBinance, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(bot_config(server, "paper", bot={"check_interval": 60}))  # no warning
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUI_BOT_")}
    command = [sys.executable, "-m", "tui_bot", "download-data", "--config", str(config)]
    result = subprocess.run(
        [*command, "--pairs", "ETH_BTC", "--days", "1"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    path = tmp_path / "data" / "candles" / "ETH_BTC-5m.csv.gz"  # <storage.dir>/candles
    assert result.stdout == f"ETH/BTC: {DAY} new candles, {DAY} in {path}\n"
    last = last_closed(now_ms())
    reached = [time.strftime("%Y-%m-%d %H:%M", time.gmtime(t / 1000)) for t in (last - TF, last)]
    assert result.stderr in (  # one page of 288; a candle may have closed since
        f"ETH/BTC: {DAY} candles, up to {stamp} UTC\n" for stamp in reached
    )
    assert len(read_candle_file(path).candles) == DAY
    bad = subprocess.run(
        [*command, "--pairs", "DOGE/BTC", "--data", str(tmp_path / "x")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert bad.returncode == 2
    assert bad.stderr == (
        "tui-bot: --pairs: binance has no market DOGE/BTC; did you mean DOGE/USDT, ETH/BTC?\n"
    )
    sim = subprocess.run(
        [*command, "--pairs", "ETH/BTC", "--exchange", "sim"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert sim.returncode == 2 and "the simulator has no history to download" in sim.stderr
