"""The tradeable outcome: hand-worked candles for every exit, and the backtest's own trades."""

from __future__ import annotations

import numpy as np
import pytest

from tui_bot.engine.outcome import EXIT_REASONS, ExitRules, fill_price, net_return, trade_outcomes

TF_MS = 300_000
# no slippage, no fees unless a test says so: the prices below are easy to follow
RULES = ExitRules(
    stop_loss_pct=2.0,
    take_profit_pct=3.0,
    max_hold_seconds=900,  # 3 checks of one 5m candle
    timeframe_seconds=300,
    fee_pct=0.0,
    slippage_bps=0.0,
)


def candles(ohlc: list[tuple[float, float, float, float]], t0: int = 0) -> np.ndarray:
    rows = [(t0 + i * TF_MS, o, h, low, c, 1.0) for i, (o, h, low, c) in enumerate(ohlc)]
    return np.array(rows, dtype=np.float64)


FLAT = (100.0, 100.5, 99.5, 100.0)


def one(data: np.ndarray, rules: ExitRules = RULES, signal: int = 0) -> tuple[float, str, int]:
    out = trade_outcomes(data, rules, np.array([signal]))
    assert out.known[0]
    return float(out.net_return[0]), EXIT_REASONS[out.reason[0]], int(out.exit_index[0])


def test_take_profit_sells_at_the_open_after_the_candle_that_reached_it() -> None:
    data = candles([FLAT, FLAT, (100, 103.5, 99.8, 103), (104, 104, 104, 104), FLAT, FLAT])
    net, reason, at = one(data)
    assert (reason, at) == ("take_profit", 3)
    assert net == pytest.approx(104 / 100 - 1)  # bought at candle 1's open, sold at 3's open


def test_stop_loss_counts_when_one_candle_touches_both() -> None:
    data = candles([FLAT, FLAT, (100, 104, 97, 100), (99, 99, 99, 99), FLAT, FLAT])
    net, reason, at = one(data)
    assert (reason, at) == ("stop_loss", 3)
    assert net == pytest.approx(99 / 100 - 1)


def test_max_hold_sells_after_the_last_check() -> None:
    data = candles([FLAT, FLAT, FLAT, FLAT, (101, 101, 101, 101), FLAT])
    net, reason, at = one(data)
    assert (reason, at) == ("max_hold", 4)  # checks after candles 1, 2, 3; sold at 4's open
    assert net == pytest.approx(0.01)


def test_fees_and_slippage_are_paid_on_both_fills() -> None:
    rules = ExitRules(2.0, 3.0, 900, 300, fee_pct=0.1, slippage_bps=5.0)
    data = candles([FLAT, FLAT, FLAT, FLAT, (101, 101, 101, 101), FLAT])
    net, reason, _ = one(data, rules)
    entry, sold = 100 * 1.0005, 101 * 0.9995
    assert reason == "max_hold"
    assert net == pytest.approx(sold * 0.999 / (entry * 1.001) - 1)
    assert fill_price(100, "buy", 0.0005) == pytest.approx(entry)
    assert float(net_return(entry, sold, 0.001)) == pytest.approx(net)


def test_a_check_every_two_candles_reads_both_candles_since_the_last() -> None:
    rules = ExitRules(2.0, 3.0, 1200, 300, check_candles=2, fee_pct=0.0, slippage_bps=0.0)
    dip = (100, 100, 97.5, 100)  # the first candle of a check's two touches the stop
    data = candles([FLAT, FLAT, dip, FLAT, FLAT, (98, 98, 98, 98), FLAT, FLAT])
    net, reason, at = one(data, rules)
    assert (reason, at) == ("stop_loss", 3)
    assert rules.horizon == 5


def test_the_stop_reads_the_close_too_and_the_stop_comes_from_the_fill_price() -> None:
    rules = ExitRules(2.0, 3.0, 900, 300, fee_pct=0.0, slippage_bps=100.0)  # 1 % slippage
    # bought at 101: the stop is at 98.98, the take-profit at 104.03
    data = candles([FLAT, FLAT, (100, 104.0, 99.0, 100), FLAT, FLAT, FLAT])
    net, reason, _ = one(data, rules)
    assert reason == "max_hold"  # 104 < 104.03 and 99 > 98.98: neither exit at that slippage


def test_unknown_when_the_data_ends_or_a_gap_lies_inside_the_horizon() -> None:
    data = candles([FLAT] * 8)
    out = trade_outcomes(data, RULES)
    horizon = RULES.horizon
    assert out.known.tolist() == [True] * (8 - horizon) + [False] * horizon
    gapped = data.copy()
    gapped[5:, 0] += TF_MS  # a candle missing before index 5
    out = trade_outcomes(gapped, RULES)
    assert out.known.tolist()[:5] == [True, False, False, False, False]
    assert np.isnan(out.net_return[~out.known]).all() and out.win[~out.known].sum() == 0


def test_an_outcome_reads_nothing_after_its_horizon() -> None:
    rng = np.random.default_rng(3)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 400)))
    ohlc = [(c, c * 1.01, c * 0.99, c) for c in close]
    data = candles(ohlc)
    full = trade_outcomes(data, RULES)
    cut_at = 250
    cut = trade_outcomes(data[:cut_at], RULES)
    known = cut_at - RULES.horizon
    np.testing.assert_array_equal(full.net_return[:known], cut.net_return[:known])
    assert cut.known[:known].all() and not cut.known[known:].any()
