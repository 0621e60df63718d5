"""Candle files: every `<BASE>_<QUOTE>-<timeframe>.csv[.gz]` or freqtrade `.json` in a folder.

CSV files have the header `timestamp_ms,open,high,low,close,volume` (the candle's open time in ms);
freqtrade's JSON files are a list of `[timestamp_ms, open, high, low, close, volume]` rows.

Nothing wrong in a file is traded on silently. Each problem is one line in `CandleFile.problems`
saying what was wrong and what was done:
- rows that cannot be read, or hold NaN / inf, a price <= 0, a negative volume, or a high and low
  that do not contain the open and close: dropped;
- open times off the timeframe's grid: dropped;
- rows out of time order: sorted; duplicate open times: the first row kept;
- gaps (missing candles): left as gaps, so the backtest venue has no price there and trades
  nothing in that pair until its candles resume.
A file that cannot be used at all (a truncated or corrupt .gz, not CSV / JSON, no good row) is
skipped with a message naming it and what to do; the other files still load.
"""

from __future__ import annotations

import gzip
import json
import logging
import math
import re
import warnings
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from tui_bot.errors import RefusedToStart

log = logging.getLogger(__name__)

COLUMNS = ("timestamp_ms", "open", "high", "low", "close", "volume")
EXPECTED_NAMES = (
    "<BASE>_<QUOTE>-<timeframe>.csv, .csv.gz or .json (freqtrade's), e.g. ADA_BTC-5m.csv.gz"
)
FILE_NAME = re.compile(
    r"^(?P<base>[A-Za-z0-9]+)_(?P<quote>[A-Za-z0-9]+)-(?P<tf>[1-9]\d*[mhdw])"
    r"\.(?P<ext>csv|csv\.gz|json|json\.gz)$"
)
FORMAT_PREFERENCE = ("csv.gz", "csv", "json", "json.gz")  # one pair and timeframe, several files
TIMEFRAME_UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
END_OF_TIME_MS = 2**62  # an open end of a time range
SECONDS_NOT_MS = 10**11  # open times all below this (1973 in ms) are seconds, not milliseconds
FIX_HINT = "download it again (tui-bot download-data) or remove it from the folder"


class CandleDataError(RefusedToStart):
    """Candle files that cannot be used as they are; the message is the user-facing text."""


PRICE_OPEN, PRICE_HIGH, PRICE_LOW, PRICE_CLOSE, PRICE_VOLUME = range(5)  # CandleFile.prices


@dataclass(frozen=True)
class CandleFile:
    """A pair's candles as held in memory: 28 bytes a candle (int64 time, five float32s), so a
    backtest's memory is pairs x candles x 28 bytes (100 pairs x 90 days of 5m: 73 MB)."""

    path: Path
    symbol: str  # "ADA/BTC"
    timeframe: str  # "5m"
    times: np.ndarray  # (n,) int64 open times in ms; sorted, unique
    prices: np.ndarray  # (n, 5) float32: open, high, low, close, volume; cleaned
    problems: tuple[str, ...]  # one line each: what was wrong and what was done

    @classmethod
    def from_rows(
        cls, path: Path, symbol: str, timeframe: str, rows: np.ndarray, problems: tuple[str, ...]
    ) -> CandleFile:
        """From (n, 6) rows `[open_time_ms, o, h, l, c, v]` (the prices rounded to float32)."""
        rows = np.asarray(rows, dtype=np.float64).reshape(-1, 6)
        times = rows[:, 0].astype(np.int64)
        return cls(path, symbol, timeframe, times, rows[:, 1:].astype(np.float32), problems)

    def with_rows(self, rows: np.ndarray) -> CandleFile:
        """The same file holding other candles (a cut, a changed future)."""
        return CandleFile.from_rows(self.path, self.symbol, self.timeframe, rows, self.problems)

    @property
    def candles(self) -> np.ndarray:
        """A new (n, 6) float64 array `[open_time_ms, o, h, l, c, v]`, for reading."""
        rows = np.empty((len(self.times), 6), dtype=np.float64)
        rows[:, 0] = self.times
        rows[:, 1:] = self.prices
        return rows

    def __len__(self) -> int:
        return len(self.times)

    @property
    def nbytes(self) -> int:
        return self.times.nbytes + self.prices.nbytes


@dataclass(frozen=True)
class CandleSet:
    files: tuple[CandleFile, ...]
    skipped: tuple[str, ...]  # one line per file that could not be used: which, why, what to do


def sample_dir() -> Path:
    """The candle sample shipped in the package (5 BTC-quoted Binance pairs, 10 days of 5m)."""
    return Path(__file__).resolve().parent / "sample"


def timeframe_ms(timeframe: str) -> int:
    """ "5m" -> 300000. ValueError for anything that is not <number><m|h|d|w>."""
    match = re.fullmatch(r"(\d+)([mhdw])", timeframe)
    if match is None or int(match[1]) == 0:
        raise ValueError(f"unknown timeframe {timeframe!r}; use e.g. 1m, 5m, 15m, 1h, 4h, 1d")
    return int(match[1]) * TIMEFRAME_UNIT_MS[match[2]]


def pair_symbol(text: str) -> str:
    """ "ada_btc" or "ADA/BTC" -> "ADA/BTC". ValueError if it is not BASE/QUOTE."""
    base, sep, quote = text.strip().upper().replace("_", "/").partition("/")
    if not sep or not base or not quote or "/" in quote:
        raise ValueError(f"{text!r} is not a pair; write it as BASE/QUOTE or BASE_QUOTE (ADA/BTC)")
    return f"{base}/{quote}"


def parse_timerange(text: str) -> tuple[int, int]:
    """ "20180110-20180120" -> [start_ms, end_ms) on candle open time, days in UTC.

    Either side may be empty (open-ended); each side may also be a Unix time in s or ms."""
    match = re.fullmatch(r"\s*(\d*)\s*-\s*(\d*)\s*", text)
    problem = f"time range {text!r}: expected YYYYMMDD-YYYYMMDD (either side may be empty)"
    if match is None:
        raise CandleDataError(f"{problem}, e.g. 20180110-20180120 or 20180115-")
    try:
        start = _range_side(match[1], 0)
        end = _range_side(match[2], END_OF_TIME_MS)
    except ValueError as e:
        raise CandleDataError(f"{problem}: {e}") from None
    if start >= end:
        raise CandleDataError(f"{problem}: its start is not before its end")
    return start, end


def _range_side(text: str, default: int) -> int:
    if not text:
        return default
    if len(text) == 8:
        day = datetime.strptime(text, "%Y%m%d").replace(tzinfo=UTC)
        return int(day.timestamp()) * 1000
    if len(text) == 10:
        return int(text) * 1000  # Unix seconds
    if len(text) == 13:
        return int(text)  # Unix milliseconds
    raise ValueError(f"{text!r} is not a date YYYYMMDD")


def load_candles(
    directory: Path | None = None,
    pairs: Sequence[str] | None = None,
    timerange: tuple[int, int] | None = None,
    timeframe: str | None = None,
) -> list[CandleFile]:
    """The usable candle files in `directory` (the sample if None), cleaned, each with its
    problems. Files that cannot be used are logged as warnings (`read_candles` returns them).
    CandleDataError when none is usable, or a pair asked for has no file."""
    found = read_candles(directory, pairs, timerange, timeframe)
    for message in found.skipped:
        log.warning(message)
    return list(found.files)


def read_candles(
    directory: Path | None = None,
    pairs: Sequence[str] | None = None,
    timerange: tuple[int, int] | None = None,
    timeframe: str | None = None,
) -> CandleSet:
    """`load_candles`, with the messages about skipped files returned instead of logged."""
    directory = sample_dir() if directory is None else Path(directory)
    found = _candle_paths(directory)
    timeframe = _pick_timeframe(directory, found, timeframe)
    symbols = _pick_symbols(directory, found, timeframe, pairs)
    files, skipped = [], []
    for symbol in symbols:
        paths = found[symbol, timeframe]
        try:
            candle_file = read_candle_file(paths[0], timerange)
        except CandleDataError as e:
            skipped.append(str(e))
            continue
        ignored = tuple(
            f"{p.name}: not read ({paths[0].name} holds the same pair)" for p in paths[1:]
        )
        files.append(replace(candle_file, problems=candle_file.problems + ignored))
    if not files:
        reasons = " | ".join(skipped)
        raise CandleDataError(f"{directory}: no usable candle file ({reasons})")
    return CandleSet(tuple(files), tuple(skipped))


def _candle_paths(directory: Path) -> dict[tuple[str, str], list[Path]]:
    """(symbol, timeframe) -> its files in `directory`, the preferred format first."""
    if not directory.is_dir():
        raise CandleDataError(
            f"{directory}: no such folder; give a folder of candle files named {EXPECTED_NAMES}"
        )
    found: dict[tuple[str, str], list[Path]] = {}
    preference: dict[Path, int] = {}
    others = []
    for path in sorted(directory.iterdir()):
        match = FILE_NAME.match(path.name)
        if match is None or not path.is_file():
            others.append(path.name)
            continue
        key = (f"{match['base'].upper()}/{match['quote'].upper()}", match["tf"])
        found.setdefault(key, []).append(path)
        preference[path] = FORMAT_PREFERENCE.index(match["ext"])
    if not found:
        held = f" (it holds: {', '.join(others[:5])}{', ...' if len(others) > 5 else ''})"
        raise CandleDataError(
            f"{directory}: no candle files; expected files named {EXPECTED_NAMES}"
            f"{held if others else ''}; fetch some with tui-bot download-data"
        )
    for paths in found.values():
        paths.sort(key=preference.__getitem__)
    return found


def _pick_timeframe(
    directory: Path, found: dict[tuple[str, str], list[Path]], timeframe: str | None
) -> str:
    present = sorted({tf for _, tf in found}, key=timeframe_ms)
    if timeframe is None:
        if len(present) > 1:
            raise CandleDataError(
                f"{directory}: candle files of several timeframes ({', '.join(present)}); "
                "ask for one of them"
            )
        return present[0]
    if timeframe not in present:
        raise CandleDataError(
            f"{directory}: no {timeframe} candle files (there are {', '.join(present)} ones); "
            f"ask for one of those or download {timeframe} candles (tui-bot download-data)"
        )
    return timeframe


def _pick_symbols(
    directory: Path,
    found: dict[tuple[str, str], list[Path]],
    timeframe: str,
    pairs: Sequence[str] | None,
) -> list[str]:
    held = sorted(symbol for symbol, tf in found if tf == timeframe)
    if not pairs:
        return held
    try:
        wanted = list(dict.fromkeys(pair_symbol(p) for p in pairs))
    except ValueError as e:
        raise CandleDataError(f"pairs: {e}") from None
    missing = [s for s in wanted if s not in held]
    if missing:
        raise CandleDataError(
            f"{directory}: no {timeframe} candle file for {', '.join(missing)}; "
            f"the pairs there are {', '.join(held)}"
        )
    return wanted


def read_candle_file(path: Path, timerange: tuple[int, int] | None = None) -> CandleFile:
    """One candle file, cleaned, with its problems; CandleDataError if it cannot be used."""
    symbol, timeframe, candles, problems = read_candle_rows(path, timerange)
    return CandleFile.from_rows(path, symbol, timeframe, candles, problems)


def read_candle_rows(
    path: Path, timerange: tuple[int, int] | None = None
) -> tuple[str, str, np.ndarray, tuple[str, ...]]:
    """(symbol, timeframe, (n, 6) float64 rows, problems) of one candle file: its prices as
    written (download-data appends to them), not rounded to float32."""
    match = FILE_NAME.match(path.name)
    if match is None:
        raise CandleDataError(f"{path}: skipped: not a candle file name; expected {EXPECTED_NAMES}")
    symbol = f"{match['base'].upper()}/{match['quote'].upper()}"
    timeframe = match["tf"]
    text = _read_text(path)
    if match["ext"].startswith("json"):
        rows, problems = _parse_json(path, text)
    else:
        rows, problems = _parse_csv(path, text)
    candles = _clean(path, rows, timeframe_ms(timeframe), problems)
    if timerange is not None:
        candles = _in_range(path, candles, timerange)
    problems += _gaps(candles, timeframe_ms(timeframe), symbol)
    named = tuple(f"{path.name}: {p}" for p in problems)
    return symbol, timeframe, candles, named


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise CandleDataError(f"{path}: skipped: cannot be read ({e.strerror or e})") from None
    if path.name.endswith(".gz"):
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as e:
            raise CandleDataError(
                f"{path}: skipped: its gzip data is truncated or corrupt ({e}); {FIX_HINT}"
            ) from None
    try:
        return raw.decode("utf-8-sig")  # a byte order mark is no part of the header
    except UnicodeDecodeError:
        raise CandleDataError(f"{path}: skipped: not a text file; {FIX_HINT}") from None


def _parse_csv(path: Path, text: str) -> tuple[np.ndarray, list[str]]:
    first, _, body = text.partition("\n")
    problems = []
    header = [c.strip().lower() for c in first.split(",")]
    first_line = 2  # the file's line number of body's first line
    if header != list(COLUMNS):
        if _numbers(first) is None:
            raise CandleDataError(
                f"{path}: skipped: its first line is {first.strip()[:80]!r}, expected the header "
                f"{','.join(COLUMNS)}; fix the header or {FIX_HINT}"
            )
        problems.append(f"no header line: read the columns as {','.join(COLUMNS)}")
        body, first_line = text, 1
    lines = body.split("\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an empty body warns
        try:
            rows = np.loadtxt(lines, delimiter=",", ndmin=2, dtype=np.float64)
            if rows.size == 0:
                return np.empty((0, 6)), problems
            if rows.shape[1] == len(COLUMNS):
                return rows, problems
        except ValueError:
            pass  # some row is not six numbers: read row by row, keep the good ones
    rows, unreadable = _rows_one_by_one(lines, first_line)
    return rows, problems + unreadable


def _numbers(line: str) -> list[float] | None:
    parts = line.split(",")
    if len(parts) != len(COLUMNS):
        return None
    try:
        return [float(p) for p in parts]
    except ValueError:
        return None


def _rows_one_by_one(lines: list[str], first_line: int) -> tuple[np.ndarray, list[str]]:
    good, bad = [], []
    for number, line in enumerate(lines, first_line):
        if not line.strip():
            continue
        values = _numbers(line)
        if values is None:
            bad.append(number)
        else:
            good.append(values)
    rows = np.array(good, dtype=np.float64).reshape(-1, len(COLUMNS))
    return rows, [_unreadable(bad, "line")] if bad else []


def _unreadable(where: list[int], unit: str) -> str:
    shown = ", ".join(str(n) for n in where[:5]) + (", ..." if len(where) > 5 else "")
    return f"{_count(len(where), 'unreadable row')} (not six numbers; {unit} {shown}): dropped"


def _parse_json(path: Path, text: str) -> tuple[np.ndarray, list[str]]:
    try:
        data = json.loads(text)
    except ValueError as e:
        raise CandleDataError(f"{path}: skipped: not valid JSON ({e}); {FIX_HINT}") from None
    if not isinstance(data, list):
        raise CandleDataError(
            f"{path}: skipped: not a JSON list of [{', '.join(COLUMNS)}] rows; {FIX_HINT}"
        )
    try:
        rows = np.array(data, dtype=np.float64)
        if rows.ndim == 2 and rows.shape[1] == len(COLUMNS) or rows.size == 0:
            return rows.reshape(-1, len(COLUMNS)), []
    except (TypeError, ValueError):
        pass  # ragged or not numbers: read row by row, keep the good ones
    good, bad = [], []
    for number, row in enumerate(data, 1):
        values = _json_row(row)
        if values is None:
            bad.append(number)
        else:
            good.append(values)
    rows = np.array(good, dtype=np.float64).reshape(-1, len(COLUMNS))
    return rows, [_unreadable(bad, "row")] if bad else []


def _json_row(row: object) -> list[float] | None:
    if not isinstance(row, list) or len(row) != len(COLUMNS):
        return None
    try:
        return [math.nan if v is None else float(v) for v in row]  # pandas writes NaN as null
    except (TypeError, ValueError):
        return None


def _clean(path: Path, rows: np.ndarray, tf_ms: int, problems: list[str]) -> np.ndarray:
    rows, found = clean_candles(rows, tf_ms, path)
    problems += found
    if len(rows) == 0:
        raise CandleDataError(f"{path}: skipped: no usable candle in it; {FIX_HINT}")
    return rows


def clean_candles(
    rows: np.ndarray, tf_ms: int, path: Path | None = None
) -> tuple[np.ndarray, list[str]]:
    """Good rows only, on the timeframe's grid, sorted, unique open times; and one line for each
    thing done. CandleDataError if the open times are seconds, not milliseconds."""
    problems: list[str] = []
    rows = _drop_bad_values(rows, problems)
    if len(rows) and rows[:, 0].max() < SECONDS_NOT_MS:
        raise CandleDataError(
            f"{path or 'candles'}: skipped: its open times look like seconds, not milliseconds "
            "since the epoch; multiply the first column by 1000"
        )
    rows = _on_grid(rows, tf_ms, problems)
    times = rows[:, 0]
    if np.any(np.diff(times) < 0):
        rows = rows[np.argsort(times, kind="stable")]
        problems.append("rows not in time order: sorted")
    first = np.concatenate([[True], np.diff(rows[:, 0]) != 0])
    if not first.all():
        repeats = _count(int((~first).sum()), "row")
        problems.append(f"{repeats} repeating an open time: kept the first of each")
        rows = rows[first]
    return rows, problems


def _drop_bad_values(rows: np.ndarray, problems: list[str]) -> np.ndarray:
    ts, o, h, lo, c, v = rows.T
    with np.errstate(invalid="ignore"):
        kinds = [
            ("NaN or inf", ~np.isfinite(rows).all(axis=1)),
            ("a negative open time", ts < 0),
            ("a price <= 0", (rows[:, 1:5] <= 0).any(axis=1)),
            ("a negative volume", v < 0),
            ("a high/low that does not contain open and close",
             (h < np.maximum(o, c)) | (lo > np.minimum(o, c))),
        ]  # fmt: skip
    bad = np.zeros(len(rows), dtype=bool)
    said = []
    for what, where in kinds:
        new = where & ~bad  # each row counted once, under its first fault
        if new.any():
            said.append(f"{int(new.sum())} with {what}")
            bad |= new
    if said:
        problems.append(f"{_count(int(bad.sum()), 'row')} dropped ({'; '.join(said)})")
    return rows[~bad]


def _on_grid(rows: np.ndarray, tf_ms: int, problems: list[str]) -> np.ndarray:
    """Rows whose open time is on the timeframe's grid: the phase most rows share (weekly
    candles open on Mondays, not on the epoch's Thursday)."""
    if len(rows) == 0:
        return rows
    phase = np.mod(rows[:, 0], tf_ms)
    values, counts = np.unique(phase, return_counts=True)
    on_grid = phase == values[np.argmax(counts)]
    if not on_grid.all():
        example = _utc(float(rows[~on_grid][0, 0]), seconds=True)
        problems.append(
            f"{_count(int((~on_grid).sum()), 'row')} with an open time off the candle grid "
            f"(e.g. {example}): dropped"
        )
    kept: np.ndarray = rows[on_grid]
    return kept


def _in_range(path: Path, candles: np.ndarray, timerange: tuple[int, int]) -> np.ndarray:
    start, end = timerange
    kept = candles[(candles[:, 0] >= start) & (candles[:, 0] < end)]
    if len(kept) == 0:
        raise CandleDataError(
            f"{path}: skipped: no candle in the time range {_range_text(start, end)}; "
            f"it covers {_utc(candles[0, 0])} to {_utc(candles[-1, 0])}"
        )
    return kept


def _gaps(candles: np.ndarray, tf_ms: int, symbol: str) -> list[str]:
    steps = np.diff(candles[:, 0]) / tf_ms
    gaps = np.nonzero(steps > 1)[0]
    if len(gaps) == 0:
        return []
    missing = (steps[gaps] - 1).astype(np.int64)
    longest = int(np.argmax(missing))
    after = candles[gaps[longest], 0] + tf_ms
    return [
        f"{_count(int(missing.sum()), 'missing candle')} in {_count(len(gaps), 'gap')} (the "
        f"longest {missing[longest]} from {_utc(after)}): left as gaps; {symbol} is not traded "
        "while its candles are missing"
    ]


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}" if n == 1 else f"{n} {thing}s"


def _utc(ms: float, seconds: bool = False) -> str:
    stamp = datetime.fromtimestamp(ms / 1000, UTC)
    return stamp.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M") + " UTC"


def _range_text(start: int, end: int) -> str:
    first = _utc(start) if start > 0 else "the beginning"
    last = _utc(end) if end < END_OF_TIME_MS else "the end"
    return f"[{first}, {last})"
