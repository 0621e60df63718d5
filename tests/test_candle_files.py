"""Candle files: what a bad file says, what is done about it, and the sample shipped."""

from __future__ import annotations

import gzip
import json
import logging
import tomllib
from pathlib import Path

import numpy as np
import pytest

from tui_bot.market.files import (
    COLUMNS,
    END_OF_TIME_MS,
    CandleDataError,
    load_candles,
    pair_symbol,
    parse_timerange,
    read_candle_file,
    read_candles,
    sample_dir,
    timeframe_ms,
)

TF = 300_000  # 5m
T0 = 1_515_560_100_000  # 2018-01-10 04:55 UTC, on the 5m grid
SAMPLE_PAIRS = ["ADA/BTC", "ETC/BTC", "ETH/BTC", "LTC/BTC", "XLM/BTC"]
PROJECT = Path(__file__).resolve().parents[1]


def held(rows: np.ndarray) -> np.ndarray:
    """`rows` as a CandleFile holds them: the prices rounded to float32."""
    rounded = np.array(rows, dtype=np.float64)
    rounded[:, 1:] = rounded[:, 1:].astype(np.float32)
    return rounded


def candles(n: int, start: int = T0, seed: int = 1) -> np.ndarray:
    """n valid 5m candles: a random walk with high/low around open/close."""
    rng = np.random.default_rng(seed)
    close = 0.05 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.concatenate([[0.05], close[:-1]])
    high = np.maximum(open_, close) * 1.002
    low = np.minimum(open_, close) * 0.998
    volume = rng.uniform(10, 100, n)
    times = start + TF * np.arange(n)
    return np.column_stack([times, open_, high, low, close, volume])


def csv_text(rows: np.ndarray | list, header: bool = True) -> str:
    lines = [",".join(COLUMNS)] if header else []
    for row in np.asarray(rows, dtype=object).tolist():
        lines.append(",".join([str(int(row[0])), *(repr(float(v)) for v in row[1:])]))
    return "\n".join(lines) + "\n"


def write_csv_gz(path: Path, rows: np.ndarray) -> Path:
    path.write_bytes(gzip.compress(csv_text(rows).encode()))
    return path


def only(directory: Path, **kwargs: object):
    files = load_candles(directory, **kwargs)
    assert len(files) == 1
    return files[0]


# ---------------------------------------------------------------------------- the sample


def test_the_sample_loads_five_pairs_with_only_adas_known_missing_candles() -> None:
    files = load_candles()
    assert [f.symbol for f in files] == SAMPLE_PAIRS
    for f in files:
        assert f.path.parent == sample_dir() and f.timeframe == "5m"
        assert f.times.dtype == np.int64 and f.prices.dtype == np.float32
        assert f.candles.dtype == np.float64 and f.candles.shape[1] == 6
        times = f.candles[:, 0]
        assert np.all(np.diff(times) > 0) and np.all(times % TF == 0)
        assert times[0] == T0 and times[-1] < T0 + 10 * 86_400_000  # the first 10 days
        assert np.isfinite(f.candles).all()
        expected = 2840 if f.symbol == "ADA/BTC" else 2880
        assert len(f.candles) == expected
    problems = {f.symbol: f.problems for f in files}
    assert problems.pop("ADA/BTC") == (
        "ADA_BTC-5m.csv.gz: 40 missing candles in 5 gaps (the longest 33 from 2018-01-15 "
        "12:00 UTC): left as gaps; ADA/BTC is not traded while its candles are missing",
    )
    assert all(p == () for p in problems.values())


def test_the_sample_is_package_data() -> None:
    """A non-editable install ships what pyproject's package-data globs match."""
    config = tomllib.loads((PROJECT / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["package-data"]["tui_bot"]
    package = PROJECT / "tui_bot"
    shipped = {p for g in globs for p in package.glob(g)}
    sample = set(sample_dir().iterdir())
    assert sample == shipped & sample
    assert {p.name for p in sample} >= {"README.md", "ADA_BTC-5m.csv.gz"}
    assert len(sample) == 6


# ---------------------------------------------------------------------------- bad files


def test_a_truncated_csv_gz_is_skipped_by_name_and_the_others_load(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_csv_gz(tmp_path / "ETH_BTC-5m.csv.gz", candles(100))
    whole = gzip.compress(csv_text(candles(100, seed=2)).encode())
    bad = tmp_path / "ADA_BTC-5m.csv.gz"
    bad.write_bytes(whole[: len(whole) // 2])
    found = read_candles(tmp_path)
    assert [f.symbol for f in found.files] == ["ETH/BTC"]
    (message,) = found.skipped
    assert message.startswith(f"{bad}: skipped: its gzip data is truncated or corrupt")
    assert "download it again (tui-bot download-data) or remove it" in message
    with caplog.at_level(logging.WARNING, logger="tui_bot.market.files"):
        assert [f.symbol for f in load_candles(tmp_path)] == ["ETH/BTC"]
    assert message in caplog.messages


def test_a_file_with_a_gap_and_a_nan_drops_the_row_and_reports_both(tmp_path: Path) -> None:
    rows = candles(60)
    rows[10, 4] = np.nan  # a NaN close
    rows = np.delete(rows, [30, 31, 32], axis=0)  # a gap of 3 candles
    write_csv_gz(tmp_path / "ADA_BTC-5m.csv.gz", rows)
    loaded = only(tmp_path)
    assert len(loaded.candles) == 56 and np.isfinite(loaded.candles).all()
    assert T0 + 10 * TF not in loaded.candles[:, 0]
    assert loaded.problems == (
        "ADA_BTC-5m.csv.gz: 1 row dropped (1 with NaN or inf)",
        "ADA_BTC-5m.csv.gz: 4 missing candles in 2 gaps (the longest 3 from 2018-01-10 "
        "07:25 UTC): left as gaps; ADA/BTC is not traded while its candles are missing",
    )


def test_bad_values_are_dropped_and_counted_by_kind(tmp_path: Path) -> None:
    rows = candles(40)
    rows[1, 1] = 0.0  # open 0
    rows[2, 3] = -1.0  # negative low
    rows[3, 5] = -5.0  # negative volume
    rows[4, 2] = rows[4, 3] * 0.5  # high below low
    rows[5, 5] = np.inf
    rows[6, 2] = min(rows[6, 1], rows[6, 4]) * 0.999  # high below the open and close
    write_csv_gz(tmp_path / "ETH_BTC-5m.csv.gz", rows)
    loaded = only(tmp_path)
    assert len(loaded.candles) == 34
    assert loaded.problems[0] == (
        "ETH_BTC-5m.csv.gz: 6 rows dropped (1 with NaN or inf; 2 with a price <= 0; "
        "1 with a negative volume; 2 with a high/low that does not contain open and close)"
    )
    assert "6 missing candles in 1 gap" in loaded.problems[1]


def test_duplicates_keep_the_first_and_unsorted_rows_are_sorted(tmp_path: Path) -> None:
    rows = candles(30)
    first_copy = rows[7].copy()
    other = rows[7].copy()
    other[5] *= 2.0  # the same open time with another volume
    shuffled = np.random.default_rng(3).permutation(len(rows))
    messy = np.vstack([rows[shuffled], other, rows[12]])
    write_csv_gz(tmp_path / "LTC_BTC-5m.csv.gz", messy)
    loaded = only(tmp_path)
    np.testing.assert_array_equal(loaded.candles, held(rows))
    assert loaded.candles[7].tolist() == held(first_copy[None])[0].tolist()
    assert loaded.problems == (
        "LTC_BTC-5m.csv.gz: rows not in time order: sorted",
        "LTC_BTC-5m.csv.gz: 2 rows repeating an open time: kept the first of each",
    )


def test_open_times_off_the_grid_are_dropped(tmp_path: Path) -> None:
    rows = candles(20)
    rows[5, 0] += 60_000  # 04:56 + 25 min: not a 5m open time
    write_csv_gz(tmp_path / "XLM_BTC-5m.csv.gz", rows)
    loaded = only(tmp_path)
    assert len(loaded.candles) == 19 and np.all(loaded.candles[:, 0] % TF == 0)
    assert loaded.problems[0] == (
        "XLM_BTC-5m.csv.gz: 1 row with an open time off the candle grid "
        "(e.g. 2018-01-10 05:21:00 UTC): dropped"
    )
    assert "1 missing candle in 1 gap" in loaded.problems[1]


def test_weekly_candles_on_mondays_are_on_their_grid(tmp_path: Path) -> None:
    monday = 1_515_369_600_000  # 2018-01-08 00:00 UTC; the epoch was a Thursday
    rows = candles(6, start=monday)
    rows[:, 0] = monday + 604_800_000 * np.arange(6)
    write_csv_gz(tmp_path / "ETH_BTC-1w.csv.gz", rows)
    loaded = only(tmp_path)
    assert len(loaded.candles) == 6 and loaded.problems == ()


def test_unreadable_rows_are_dropped_naming_their_lines(tmp_path: Path) -> None:
    text = csv_text(candles(10)).split("\n")
    text[3] = "1515560700000,abc,1,1,1,1"
    text[5] = "1515561300000,1,2"
    (tmp_path / "ETH_BTC-5m.csv").write_text("\n".join(text))
    loaded = only(tmp_path)
    assert len(loaded.candles) == 8
    assert loaded.problems[0] == (
        "ETH_BTC-5m.csv: 2 unreadable rows (not six numbers; line 4, 6): dropped"
    )


def test_open_times_in_seconds_skip_the_file_with_the_fix(tmp_path: Path) -> None:
    rows = candles(10)
    rows[:, 0] //= 1000
    write_csv_gz(tmp_path / "ETH_BTC-5m.csv.gz", rows)
    with pytest.raises(CandleDataError) as e:
        load_candles(tmp_path)
    assert str(e.value).startswith(f"{tmp_path}: no usable candle file")
    assert "look like seconds, not milliseconds" in str(e.value)
    assert "multiply the first column by 1000" in str(e.value)


def test_a_wrong_header_skips_the_file_and_no_header_is_read_with_a_note(tmp_path: Path) -> None:
    body = csv_text(candles(10), header=False)
    (tmp_path / "ETH_BTC-5m.csv").write_text("date,close,open,high,low,volume\n" + body)
    (tmp_path / "ADA_BTC-5m.csv").write_text(body)
    found = read_candles(tmp_path)
    assert [f.symbol for f in found.files] == ["ADA/BTC"]
    assert found.files[0].problems == (
        "ADA_BTC-5m.csv: no header line: read the columns as "
        "timestamp_ms,open,high,low,close,volume",
    )
    assert len(found.files[0].candles) == 10
    (message,) = found.skipped
    assert message.startswith(f"{tmp_path / 'ETH_BTC-5m.csv'}: skipped: its first line is")
    assert "expected the header timestamp_ms,open,high,low,close,volume" in message


def test_not_json_and_an_empty_file_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "ETH_BTC-5m.json").write_text("[[1515560100000, 1, 1")
    (tmp_path / "ADA_BTC-5m.csv").write_text(",".join(COLUMNS) + "\n")
    with pytest.raises(CandleDataError) as e:
        load_candles(tmp_path)
    text = str(e.value)
    assert f"{tmp_path / 'ETH_BTC-5m.json'}: skipped: not valid JSON" in text
    assert f"{tmp_path / 'ADA_BTC-5m.csv'}: skipped: no usable candle in it" in text


# ---------------------------------------------------------------------------- freqtrade json


def test_a_freqtrade_json_file_loads_like_its_csv(tmp_path: Path) -> None:
    rows = candles(50)
    data = [[int(r[0]), *r[1:].tolist()] for r in rows]  # freqtrade: orient="values", ms
    (tmp_path / "ADA_BTC-5m.json").write_text(json.dumps(data))
    loaded = only(tmp_path)
    assert loaded.symbol == "ADA/BTC" and loaded.timeframe == "5m" and loaded.problems == ()
    np.testing.assert_array_equal(loaded.candles, held(rows))
    data[3] = [int(rows[3, 0]), None, 1, 1, 1, 1]  # a null price
    data[4] = [int(rows[4, 0]), 1.0]  # too short
    (tmp_path / "ADA_BTC-5m.json").write_text(json.dumps(data))
    loaded = only(tmp_path)
    assert len(loaded.candles) == 48
    assert loaded.problems[:2] == (
        "ADA_BTC-5m.json: 1 unreadable row (not six numbers; row 5): dropped",
        "ADA_BTC-5m.json: 1 row dropped (1 with NaN or inf)",
    )


def test_one_pair_in_two_formats_is_read_once_and_the_other_named(tmp_path: Path) -> None:
    rows = candles(20)
    write_csv_gz(tmp_path / "ADA_BTC-5m.csv.gz", rows)
    (tmp_path / "ADA_BTC-5m.json").write_text(json.dumps((rows * 2).tolist()))
    loaded = only(tmp_path)
    assert loaded.path.name == "ADA_BTC-5m.csv.gz"
    np.testing.assert_array_equal(loaded.candles, held(rows))
    assert loaded.problems == ("ADA_BTC-5m.json: not read (ADA_BTC-5m.csv.gz holds the same pair)",)


# ---------------------------------------------------------------------------- filters


def test_the_pairs_filter_takes_slash_or_underscore_and_names_what_exists() -> None:
    files = load_candles(sample_dir(), pairs=["eth_btc", "ADA/BTC"])
    assert [f.symbol for f in files] == ["ETH/BTC", "ADA/BTC"]
    with pytest.raises(CandleDataError) as e:
        load_candles(sample_dir(), pairs=["ADA/BTC", "DOGE_BTC"])
    assert str(e.value) == (
        f"{sample_dir()}: no 5m candle file for DOGE/BTC; the pairs there are "
        "ADA/BTC, ETC/BTC, ETH/BTC, LTC/BTC, XLM/BTC"
    )
    with pytest.raises(CandleDataError, match="is not a pair"):
        load_candles(sample_dir(), pairs=["ADABTC"])


def test_the_timerange_filters_on_open_time() -> None:
    start, end = parse_timerange("20180112-20180113")
    assert (start, end) == (1_515_715_200_000, 1_515_801_600_000)
    files = load_candles(None, timerange=(start, end))
    for f in files:
        assert len(f.candles) == 288
        assert f.candles[0, 0] == start and f.candles[-1, 0] == end - TF
        assert f.problems == ()  # ADA's gaps are on the 15th, outside the range
    assert parse_timerange("20180115-") == (1_515_974_400_000, END_OF_TIME_MS)
    assert parse_timerange("-20180115") == (0, 1_515_974_400_000)
    assert parse_timerange("1515974400-1516060800000") == (1_515_974_400_000, 1_516_060_800_000)
    tail = load_candles(None, pairs=["ETH/BTC"], timerange=parse_timerange("20180119-"))
    assert tail[0].candles[0, 0] == 1_516_320_000_000 and len(tail[0].candles) == 288 + 4 * 12 + 11


@pytest.mark.parametrize("text", ["2018-01-12", "20181312-", "20180113-20180112", "x-y", "123-"])
def test_a_bad_timerange_says_the_format(text: str) -> None:
    with pytest.raises(CandleDataError) as e:
        parse_timerange(text)
    assert str(e.value).startswith(f"time range {text!r}: expected YYYYMMDD-YYYYMMDD")


def test_a_timerange_outside_a_file_skips_it_saying_what_it_covers(tmp_path: Path) -> None:
    write_csv_gz(tmp_path / "ETH_BTC-5m.csv.gz", candles(20))
    with pytest.raises(CandleDataError) as e:
        load_candles(tmp_path, timerange=parse_timerange("20190101-"))
    assert "no candle in the time range [2019-01-01 00:00 UTC, the end)" in str(e.value)
    assert "it covers 2018-01-10 04:55 UTC to 2018-01-10 06:30 UTC" in str(e.value)


def test_timeframes_pick_one_and_several_need_a_choice(tmp_path: Path) -> None:
    write_csv_gz(tmp_path / "ETH_BTC-5m.csv.gz", candles(20))
    hourly = candles(20)
    hourly[:, 0] = T0 + 300_000 + 3_600_000 * np.arange(20)  # 05:00, 06:00, ...
    write_csv_gz(tmp_path / "ETH_BTC-1h.csv.gz", hourly)
    with pytest.raises(CandleDataError, match=r"several timeframes \(5m, 1h\)"):
        load_candles(tmp_path)
    assert only(tmp_path, timeframe="1h").problems == ()
    with pytest.raises(CandleDataError, match="no 15m candle files .there are 5m, 1h ones"):
        load_candles(tmp_path, timeframe="15m")


# ---------------------------------------------------------------------------- no data


def test_no_candle_files_names_the_folder_and_the_names_expected(tmp_path: Path) -> None:
    (tmp_path / "ADA-BTC.csv").write_text("x")
    with pytest.raises(CandleDataError) as e:
        load_candles(tmp_path)
    assert str(e.value) == (
        f"{tmp_path}: no candle files; expected files named <BASE>_<QUOTE>-<timeframe>.csv, "
        ".csv.gz or .json (freqtrade's), e.g. ADA_BTC-5m.csv.gz (it holds: ADA-BTC.csv); "
        "fetch some with tui-bot download-data"
    )
    with pytest.raises(CandleDataError, match="no such folder"):
        load_candles(tmp_path / "nowhere")


def test_names_and_timeframes() -> None:
    assert pair_symbol(" ada_btc ") == "ADA/BTC" == pair_symbol("ADA/BTC")
    assert timeframe_ms("5m") == TF and timeframe_ms("4h") == 14_400_000
    assert timeframe_ms("1w") == 604_800_000
    with pytest.raises(ValueError):
        timeframe_ms("5x")
    with pytest.raises(CandleDataError, match="not a candle file name"):
        read_candle_file(Path("candles.csv"))


def test_a_byte_order_mark_and_windows_line_ends_are_read_as_usual(tmp_path: Path) -> None:
    rows = candles(12)
    text = "\ufeff" + csv_text(rows).replace("\n", "\r\n")
    (tmp_path / "ETH_BTC-5m.csv").write_bytes(text.encode("utf-8"))
    loaded = only(tmp_path)
    assert loaded.problems == ()
    np.testing.assert_array_equal(loaded.candles, held(rows))
