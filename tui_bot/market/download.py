"""`tui-bot download-data`: candles from an exchange (ccxt `fetch_ohlcv`) into candle files.

- Pages through `fetch_ohlcv` from the oldest candle wanted on, one request at a time, inside the
  client's rate limit (CcxtExchange retries reads and waits out rate limits).
- Appends only missing candles: an existing `<BASE>_<QUOTE>-<tf>.csv.gz` is read with the same
  checks as a backtest's, and only candles before its first or after its last one are fetched
  (a gap inside it stays a gap).
- Never writes a candle that has not closed yet (`ts + tf <= now`).
- Writes each pair's file atomically (a temporary file, then os.replace) once all its candles
  are in, so an interrupted download leaves the old file, or none, never half of one.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import gzip
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TextIO

import numpy as np

from tui_bot.exchange.base import Candle, Market
from tui_bot.market.files import (
    COLUMNS,
    CandleDataError,
    clean_candles,
    pair_symbol,
    read_candle_file,
    read_candle_rows,
    timeframe_ms,
)

DAY_MS = 86_400_000
PAGE_LIMIT = 1000  # candles a request asks for (Binance's maximum)
ProgressFn = Callable[[str, int, int], None]  # symbol, candles fetched so far, open time reached


class CandleExchange(Protocol):
    id: str

    async def load_markets(self) -> dict[str, Market]: ...

    async def fetch_ohlcv(
        self, symbol: str, timeframe: str = "5m", since: int | None = None, limit: int | None = None
    ) -> list[Candle]: ...


@dataclass(frozen=True)
class Downloaded:
    symbol: str
    path: Path
    added: int  # new candles written
    total: int  # candles in the file now
    problems: tuple[str, ...]  # what the file's checks say about it (gaps at the exchange, ...)


def candle_path(directory: Path, symbol: str, timeframe: str) -> Path:
    base, quote = symbol.split("/")
    return directory / f"{base}_{quote}-{timeframe}.csv.gz"


async def download_candles(
    exchange: CandleExchange,
    pairs: Sequence[str],
    timeframe: str,
    days: float,
    directory: Path,
    now_ms: int | None = None,
    progress: ProgressFn | None = None,
    page_limit: int = PAGE_LIMIT,
) -> list[Downloaded]:
    """The last `days` of closed candles of each pair into `directory`, adding to what is there.
    CandleDataError for a bad pair, timeframe or folder; the exchange's errors pass through
    (files already written stay, complete)."""
    tf_ms = _timeframe(exchange, timeframe)
    if days <= 0:
        raise CandleDataError(f"--days {days:g}: must be more than 0")
    symbols = await _symbols(exchange, pairs)
    _make_folder(directory)
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    start = (now_ms - int(days * DAY_MS)) // tf_ms * tf_ms
    results = []
    for symbol in symbols:
        path = candle_path(directory, symbol, timeframe)
        results.append(
            await download_pair(
                exchange, symbol, timeframe, path, start, now_ms, progress, page_limit
            )
        )
    return results


async def download_pair(
    exchange: CandleExchange,
    symbol: str,
    timeframe: str,
    path: Path,
    start_ms: int,
    now_ms: int,
    progress: ProgressFn | None = None,
    page_limit: int = PAGE_LIMIT,
) -> Downloaded:
    """The closed candles of [start_ms, now_ms) that `path` lacks at either end, added to it."""
    tf_ms = timeframe_ms(timeframe)
    held = _existing(path)
    end_ms = now_ms // tf_ms * tf_ms  # open times before this one may have closed
    pager = _Pager(exchange, symbol, timeframe, tf_ms, now_ms, page_limit, progress)
    if len(held) == 0:
        new = await pager.fetch(start_ms, end_ms)
    else:
        before = await pager.fetch(start_ms, int(held[0, 0])) if start_ms < held[0, 0] else []
        after = await pager.fetch(max(start_ms, int(held[-1, 0]) + tf_ms), end_ms)
        new = before + after
    if new:
        fetched = np.array([row[:6] for row in new], dtype=np.float64)
        merged, _ = clean_candles(np.concatenate([held, fetched]), tf_ms, path)  # held first: kept
        write_candles(path, merged)
    written = read_candle_file(path) if path.exists() else None
    total = len(written) if written else 0
    problems = written.problems if written else ()
    return Downloaded(symbol, path, total - len(held), total, problems)


class _Pager:
    """fetch_ohlcv page after page over one range of open times."""

    def __init__(
        self,
        exchange: CandleExchange,
        symbol: str,
        timeframe: str,
        tf_ms: int,
        now_ms: int,
        page_limit: int,
        progress: ProgressFn | None,
    ) -> None:
        self.exchange, self.symbol, self.timeframe = exchange, symbol, timeframe
        self.tf_ms, self.now_ms, self.page_limit = tf_ms, now_ms, page_limit
        self.progress = progress
        self.done = 0

    async def fetch(self, since: int, until: int) -> list[Candle]:
        """Closed candles with open times in [since, until)."""
        rows: list[Candle] = []
        while since < until:
            page = await self.exchange.fetch_ohlcv(
                self.symbol, self.timeframe, since=since, limit=self.page_limit
            )
            fresh = [r for r in page if since <= r[0] < until and r[0] + self.tf_ms <= self.now_ms]
            if not fresh:  # nothing more at the exchange in this range
                break
            rows.extend(fresh)
            since = int(fresh[-1][0]) + self.tf_ms
            self.done += len(fresh)
            if self.progress is not None:
                self.progress(self.symbol, self.done, int(fresh[-1][0]))
        return rows


def write_candles(path: Path, candles: np.ndarray) -> None:
    """A gzip'd CSV candle file, written atomically: the old file or the new one, never half."""
    lines = [",".join(COLUMNS)]
    for row in candles.tolist():
        lines.append(",".join([str(int(row[0])), *map(repr, row[1:6])]))
    data = gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _existing(path: Path) -> np.ndarray:
    if not path.exists():
        return np.empty((0, 6))
    try:
        return read_candle_rows(path)[2]
    except CandleDataError as e:
        raise CandleDataError(f"{e}; download-data does not overwrite it") from None


def _timeframe(exchange: CandleExchange, timeframe: str) -> int:
    try:
        tf_ms = timeframe_ms(timeframe)
    except ValueError as e:
        raise CandleDataError(f"--timeframe: {e}") from None
    offered = getattr(getattr(exchange, "client", None), "timeframes", None)
    if offered and timeframe not in offered:
        raise CandleDataError(
            f"--timeframe {timeframe}: {exchange.id} has no such candles; "
            f"it has {', '.join(offered)}"
        )
    return tf_ms


async def _symbols(exchange: CandleExchange, pairs: Sequence[str]) -> list[str]:
    try:
        wanted = list(dict.fromkeys(pair_symbol(p) for p in pairs))
    except ValueError as e:
        raise CandleDataError(f"--pairs: {e}") from None
    if not wanted:
        raise CandleDataError("--pairs: name at least one pair, e.g. --pairs BTC/USDT,ETH/USDT")
    markets = await exchange.load_markets()
    for symbol in wanted:
        if symbol not in markets:
            close = difflib.get_close_matches(symbol, list(markets), n=3)
            hint = f"did you mean {', '.join(close)}?" if close else "check the pair's spelling"
            raise CandleDataError(f"--pairs: {exchange.id} has no market {symbol}; {hint}")
    return wanted


def _make_folder(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CandleDataError(
            f"{directory}: cannot create the folder ({e.strerror or e}); choose another with --data"
        ) from None


class ProgressLine:
    """Progress on a stream (stderr): one line per pair, rewritten in place on a terminal, a line
    per page otherwise."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.symbol: str | None = None

    def __call__(self, symbol: str, done: int, reached_ms: int) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M", time.gmtime(reached_ms / 1000))
        line = f"{symbol}: {done} candles, up to {stamp} UTC"
        if not self.tty:
            print(line, file=self.stream, flush=True)
            return
        if self.symbol not in (None, symbol):
            print(file=self.stream)
        self.symbol = symbol
        print(f"\r{line}\x1b[K", end="", file=self.stream, flush=True)

    def end(self) -> None:
        """Ends the line being rewritten, if any."""
        if self.symbol is not None:
            print(file=self.stream, flush=True)
            self.symbol = None


def download_data(
    ccxt_config: dict[str, Any],
    exchange_id: str,
    pairs: Sequence[str],
    timeframe: str,
    days: float,
    directory: Path,
    progress: ProgressFn | None = None,
) -> list[Downloaded]:
    """`download_candles` over a CcxtExchange built from `[exchange.ccxt_config]`, public data
    only (no API keys)."""
    from tui_bot.exchange.ccxt_exchange import CcxtExchange

    try:
        exchange = CcxtExchange(exchange_id, ccxt_config)
    except ValueError as e:
        raise CandleDataError(f"--exchange: {e}; e.g. binance, kraken, okx") from None

    async def run() -> list[Downloaded]:
        try:
            return await download_candles(
                exchange, pairs, timeframe, days, directory, None, progress
            )
        finally:
            await exchange.close()

    return asyncio.run(run())
