"""Candle sources: only closed candles, the price one can trade at now, gaps, one protocol."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tui_bot.exchange.sim_prices import SIM_EPOCH
from tui_bot.market.files import CandleFile
from tui_bot.market.source import CandleSource, GeneratedSource, RecordedSource

TF_MS = 300_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00Z
EPOCH_MS = int(SIM_EPOCH * 1000)


def candles(n: int, start: int = T0, skip: tuple[int, ...] = ()) -> np.ndarray:
    """n 5m candles from `start`, leaving out the indexes in `skip` (gaps); open = 100 + k."""
    rows = []
    for k in range(n):
        if k in skip:
            continue
        o = 100.0 + k
        rows.append([start + k * TF_MS, o, o + 2.0, o - 1.0, o + 0.5, 10.0 + k])
    return np.array(rows, dtype=np.float64)


@pytest.fixture
def recorded() -> RecordedSource:
    return RecordedSource({"ADA/BTC": candles(50, skip=(20, 21)), "ETH/BTC": candles(10)}, "5m")


def sources() -> list[tuple[CandleSource, str, int]]:
    """(source, symbol, a time with 40 candles closed before it) for every kind of source."""
    return [
        (RecordedSource({"ADA/BTC": candles(60)}, "5m"), "ADA/BTC", T0 + 40 * TF_MS),
        (GeneratedSource(seed=7, n_symbols=3), "BTC/USDT", EPOCH_MS + 40 * TF_MS),
    ]


@pytest.mark.parametrize("kind", [0, 1], ids=["recorded", "generated"])
def test_closed_never_returns_a_candle_not_closed_by_now(kind: int) -> None:
    source, symbol, t = sources()[kind]
    for now in range(t - TF_MS, t + 2 * TF_MS, 37_000):  # on and between the boundaries
        rows = source.closed(symbol, now)
        assert len(rows) > 0
        assert (rows[:, 0] + source.tf_ms <= now).all()
        # and nothing closed is held back: the next candle is not closed yet
        assert rows[-1, 0] + 2 * source.tf_ms > now
        assert source.last_close(symbol, now) == rows[-1, 4]
    assert len(source.closed(symbol, t)) == 40
    assert len(source.closed(symbol, t - 1)) == 39


@pytest.mark.parametrize("kind", [0, 1], ids=["recorded", "generated"])
def test_sources_share_the_protocol(kind: int) -> None:
    source, symbol, t = sources()[kind]
    assert isinstance(source.timeframe, str) and source.tf_ms == TF_MS
    assert symbol in source.symbols()
    every = source.closed(symbol, t)
    last5 = source.closed(symbol, t, limit=5)
    assert last5.shape == (5, 6) and last5.dtype == np.float64
    np.testing.assert_array_equal(last5, every[-5:])
    since = int(every[30, 0])
    first3 = source.closed(symbol, t, limit=3, since_ms=since)
    np.testing.assert_array_equal(first3, every[30:33])
    np.testing.assert_array_equal(source.closed(symbol, t, since_ms=since), every[30:])
    # at a candle boundary one trades at the open of the candle starting now
    assert source.trade_price(symbol, t) == pytest.approx(source.closed(symbol, t + TF_MS)[-1, 1])
    # between boundaries: at the next open, never a price from before
    assert source.trade_price(symbol, t - 1) == source.trade_price(symbol, t)


def test_generated_source_is_the_simulators_prices() -> None:
    source = GeneratedSource(seed=42, n_symbols=5)
    assert source.symbols()[:2] == ["BTC/USDT", "ARB/USDT"]
    np.testing.assert_array_equal(
        source.closed("BTC/USDT", EPOCH_MS + 10 * TF_MS), source.candles("BTC/USDT", 0, 10)
    )
    assert source.last_close("BTC/USDT", EPOCH_MS) is None  # nothing closed yet
    with pytest.raises(KeyError):
        source.closed("NOPE/USDT", EPOCH_MS + TF_MS)


def test_trade_price_at_a_gap_or_past_the_end_is_none(recorded: RecordedSource) -> None:
    assert recorded.trade_price("ADA/BTC", T0 + 19 * TF_MS) == 119.0
    assert recorded.trade_price("ADA/BTC", T0 + 20 * TF_MS) is None  # candle 20 is missing
    assert recorded.trade_price("ADA/BTC", T0 + 20 * TF_MS + 1) is None  # ... and so is 21
    assert recorded.trade_price("ADA/BTC", T0 + 21 * TF_MS + 1) == 122.0  # 22 starts next
    assert recorded.trade_price("ETH/BTC", T0 + 9 * TF_MS) == 109.0
    assert recorded.trade_price("ETH/BTC", T0 + 10 * TF_MS) is None  # the end of the data
    assert recorded.trade_price("ETH/BTC", T0 - 10 * TF_MS) is None  # long before the start


def test_a_gap_has_no_candles_and_the_last_close_stays(recorded: RecordedSource) -> None:
    at_gap = recorded.closed("ADA/BTC", T0 + 22 * TF_MS)  # 20 and 21 would have closed
    assert at_gap[-1, 0] == T0 + 19 * TF_MS
    assert recorded.last_close("ADA/BTC", T0 + 22 * TF_MS) == 119.5
    assert recorded.last_close("ADA/BTC", T0 + TF_MS - 1) is None
    assert len(recorded.closed("ADA/BTC", T0)) == 0


def test_recorded_source_holds_float32_prices_and_hands_out_copies() -> None:
    data = candles(30)
    data[:, 1:5] += 0.1  # not exact in float32
    source = RecordedSource({"X/Y": data}, "5m")
    rows = source.closed("X/Y", T0 + 20 * TF_MS, limit=4)
    np.testing.assert_array_equal(rows[:, 0], data[16:20, 0])
    np.testing.assert_array_equal(rows[:, 1:], data[16:20, 1:].astype(np.float32))
    rows[0, 1] = 0.0  # the caller's own array: the source is not changed
    assert source.closed("X/Y", T0 + 20 * TF_MS, limit=4)[0, 1] == np.float32(data[16, 1])


def test_a_source_from_files_shares_their_arrays() -> None:
    f = CandleFile.from_rows(Path("X_Y-5m.csv"), "X/Y", "5m", candles(30), ())
    source = RecordedSource.from_files([f])
    assert source.timeframe == "5m" and source.symbols() == ["X/Y"]
    assert np.shares_memory(source._data["X/Y"][1], f.prices)
    np.testing.assert_array_equal(source.closed("X/Y", T0 + 30 * TF_MS), f.candles)


def test_recorded_source_refuses_unsorted_or_misshaped_arrays() -> None:
    with pytest.raises(ValueError, match="sorted"):
        RecordedSource({"X/Y": candles(5)[::-1]}, "5m")
    with pytest.raises(ValueError, match="shape"):
        RecordedSource({"X/Y": np.zeros((4, 5))}, "5m")
