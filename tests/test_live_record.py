"""The live record: predictions resolve exactly when their horizon passes, to the outcome
trade_outcomes gives, and the rolling figures are the window's own."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tui_bot.engine.live_record import LiveRecord, Resolved
from tui_bot.engine.outcome import ExitRules, trade_outcomes
from tui_bot.engine.validation import MIN_BOTH, auc, auc_interval, block_length

TF_MS = 300_000
T0 = 1_700_000_000_000
RULES = ExitRules(
    stop_loss_pct=2.0,
    take_profit_pct=3.0,
    max_hold_seconds=900,  # 3 checks of one 5m candle
    timeframe_seconds=300,
    fee_pct=0.0,
    slippage_bps=0.0,
)
H = RULES.horizon


def walk(n: int, seed: int) -> np.ndarray:
    """(n, 6) contiguous 5m candles of a random walk with 1 % moves."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.concatenate([[100.0], close[:-1]])
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, n))
    times = T0 + np.arange(n) * TF_MS
    return np.column_stack([times, open_, high, low, close, np.ones(n)])


def predict(record: LiveRecord, symbol: str, data: np.ndarray, s: int, p: float) -> None:
    """One prediction on the candle at index s, its features made from s and p."""
    record.record(s * 300.0, [symbol], [int(data[s, 0])], [p], np.array([[s, p]]))


def predict_every_candle(
    record: LiveRecord, market: dict[str, np.ndarray], seed: int = 0
) -> dict[tuple[str, int], int]:
    """A prediction on every candle of every symbol; returns (symbol, signal_ms) -> index."""
    rng = np.random.default_rng(seed)
    index = {}
    for symbol, data in market.items():
        for s in range(len(data)):
            predict(record, symbol, data, s, float(rng.uniform()))
            index[(symbol, int(data[s, 0]))] = s
    return index


def test_a_prediction_resolves_exactly_when_its_horizon_passes() -> None:
    data, s = walk(40, 1), 20
    record = LiveRecord(RULES, threshold=0.6)
    predict(record, "BTC/USDT", data, s, 0.7)
    assert record.resolve({"BTC/USDT": data[: s + H]}) == []  # candles up to s + H - 1
    assert record.pending == 1
    # the scan's candles start later than the data: the signal is found by its open time
    rows = record.resolve({"BTC/USDT": data[5 : s + H + 1]})
    expected = trade_outcomes(data, RULES, np.array([s]))
    assert len(rows) == 1 and record.pending == 0 and record.rows == 1
    row = rows[0]
    assert row.net_return == pytest.approx(float(expected.net_return[0]), abs=0)
    assert (row.symbol, row.signal_ms, row.probability) == ("BTC/USDT", int(data[s, 0]), 0.7)
    assert row.features == (float(s), 0.7) and row.predicted_at == s * 300.0
    assert record.resolve({"BTC/USDT": data}) == []  # resolved once


def test_the_outcome_pays_the_rules_fees() -> None:
    data, s = walk(40, 2), 10
    with_fees = dataclasses.replace(RULES, fee_pct=0.1, slippage_bps=5.0)
    free, paid = LiveRecord(RULES, 0.5), LiveRecord(with_fees, 0.5)
    for record in (free, paid):
        predict(record, "A", data, s, 0.5)
    [free_row], [paid_row] = free.resolve({"A": data}), paid.resolve({"A": data})
    expected = trade_outcomes(data, with_fees, np.array([s])).net_return[0]
    assert paid_row.net_return == pytest.approx(float(expected), abs=0)
    assert paid_row.net_return < free_row.net_return


def test_the_same_candle_twice_is_one_row_and_nan_is_not_recorded() -> None:
    data, s = walk(30, 3), 10
    record = LiveRecord(RULES, 0.5)
    predict(record, "A", data, s, 0.8)
    record.record(9999.0, ["A"], [int(data[s, 0])], [0.2], np.array([[0.0, 0.0]]))
    predict(record, "B", data, s, float("nan"))
    assert record.pending == 1
    [row] = record.resolve({"A": data, "B": data})
    assert (row.symbol, row.probability, row.predicted_at) == ("A", 0.8, s * 300.0)


def test_mark_traded_carries_to_the_resolved_row() -> None:
    data = walk(30, 4)
    record = LiveRecord(RULES, 0.5)
    for s in (10, 11):
        predict(record, "A", data, s, 0.9)
    record.mark_traded("A", int(data[11, 0]))
    rows = record.resolve({"A": data})
    assert [(r.signal_ms, r.traded) for r in rows] == [
        (int(data[10, 0]), False),
        (int(data[11, 0]), True),
    ]


def test_a_gap_inside_the_horizon_is_unresolvable() -> None:
    data, s = walk(30, 5), 10
    gapped = data.copy()
    gapped[s + 2 :, 0] += TF_MS  # the candle after s + 1 is missing
    record = LiveRecord(RULES, 0.5)
    predict(record, "A", gapped, s, 0.5)
    assert record.resolve({"A": gapped[: s + H]}) == [] and record.pending == 1
    assert record.resolve({"A": gapped}) == []
    assert (record.pending, record.rows, record.unresolvable) == (0, 0, 1)


def test_a_signal_candle_the_candles_lack_is_unresolvable() -> None:
    data = walk(30, 6)
    holed = np.delete(data, 10, axis=0)  # candle 10 itself missing
    record = LiveRecord(RULES, 0.5)
    predict(record, "A", data, 10, 0.5)
    predict(record, "B", data, 2, 0.5)  # older than the scan's first candle
    predict(record, "C", data, 29, 0.5)  # not due yet
    rows = record.resolve({"A": holed, "B": data[5:], "C": data})
    assert rows == [] and record.unresolvable == 2 and record.pending == 1


def test_pending_is_bounded_and_the_oldest_are_dropped() -> None:
    data = walk(30, 7)
    record = LiveRecord(RULES, 0.5, max_pending=5)
    for s in range(8):
        predict(record, "A", data, s, 0.5)
    assert (record.pending, record.dropped) == (5, 3)
    rows = record.resolve({"A": data})
    assert [r.signal_ms for r in rows] == [int(data[s, 0]) for s in range(3, 8)]


def test_figures_are_the_windows_own() -> None:
    market = {f"S{i}/USDT": walk(250, 10 + i) for i in range(3)}
    threshold = 0.6
    record = LiveRecord(RULES, threshold)
    predict_every_candle(record, market)
    rows = record.resolve(market)
    assert len(rows) == 3 * (250 - H) and record.rows == len(rows)
    assert [r.signal_ms for r in rows] == sorted(r.signal_ms for r in rows)
    p = np.array([r.probability for r in rows])
    net = np.array([r.net_return for r in rows])
    win = net > 0
    assert min(win.sum(), (~win).sum()) >= MIN_BOTH
    figures = record.figures()
    assert figures.rows == len(rows)
    assert figures.auc == pytest.approx(auc(win, p), abs=0)
    assert figures.auc_low is not None and figures.auc_high is not None
    assert figures.auc_low <= figures.auc <= figures.auc_high
    times = np.array([r.signal_ms for r in rows])
    assert (figures.auc_low, figures.auc_high) == auc_interval(win, p, block_length(times, H))
    taken = p >= threshold
    assert figures.rule_rows == int(taken.sum())
    assert figures.expectancy_pct == pytest.approx(net[taken].mean() * 100)
    assert figures.base_expectancy_pct == pytest.approx(net.mean() * 100)
    assert sum(n for _, _, n in figures.calibration) == len(rows)
    for (mean_p, win_rate, n), low in zip(figures.calibration, np.arange(0, 1, 0.1), strict=True):
        here = (p >= low) & (p < low + 0.1)
        assert (mean_p, win_rate, n) == pytest.approx(
            (p[here].mean(), win[here].mean(), here.sum())
        )
    assert record.figures() is figures  # nothing new resolved: the cached figures


def test_figures_without_enough_of_both_classes_have_no_auc() -> None:
    data = walk(40, 8)
    record = LiveRecord(RULES, 0.5)
    for s in range(5):
        predict(record, "A", data, s, 0.2 * s)
    rows = record.resolve({"A": data})
    figures = record.figures()
    assert figures.rows == 5 and figures.auc is None and figures.auc_low is None
    assert figures.rule_rows == 2  # probabilities 0.6 and 0.8
    assert figures.expectancy_pct == pytest.approx(np.mean([r.net_return for r in rows[3:]]) * 100)
    assert LiveRecord(RULES, 0.5).figures().base_expectancy_pct is None


def test_a_trade_that_nets_nothing_is_not_a_win() -> None:
    flat = walk(30, 11)
    flat[:, 1:5] = 100.0
    record = LiveRecord(RULES, 0.5)
    predict(record, "A", flat, 10, 0.55)
    [row] = record.resolve({"A": flat})
    assert row.net_return == 0.0
    assert record.figures().calibration == ((0.55, 0.0, 1),)


def test_the_window_keeps_the_newest_rows() -> None:
    data = walk(200, 9)
    record = LiveRecord(RULES, 0.5, window=50)
    resolved: list[Resolved] = []
    rng = np.random.default_rng(1)
    for t in range(1, len(data) + 1):  # a cycle per candle: predict on the last closed one
        predict(record, "A", data, t - 1, float(rng.uniform()))
        resolved += record.resolve({"A": data[:t]})
        if t % 10 == 0:
            assert record.figures().rows == min(50, len(resolved))
    assert len(resolved) == len(data) - H and record.rows == 50
    newest = np.array([r.net_return for r in resolved[-50:]])
    figures = record.figures()
    assert figures.rows == 50
    assert figures.base_expectancy_pct == pytest.approx(newest.mean() * 100)


def test_resolving_at_a_cut_off_changes_nothing_before_it() -> None:
    market = {"A": walk(300, 20), "B": walk(300, 21)}
    full, cut = LiveRecord(RULES, 0.5), LiveRecord(RULES, 0.5)
    index = predict_every_candle(full, market, seed=3)
    predict_every_candle(cut, market, seed=3)
    everything = full.resolve(market)
    cut_at = 180
    before = cut.resolve({s: c[:cut_at] for s, c in market.items()})
    ended = [r for r in everything if index[(r.symbol, r.signal_ms)] + H < cut_at]
    assert before == ended and len(before) == 2 * (cut_at - H)
    assert cut.pending == 2 * (300 - cut_at + H)
    assert before + cut.resolve(market) == everything  # the rest resolves later, the same


def test_a_live_run_resolves_what_hindsight_does() -> None:
    market = {"A": walk(150, 30), "B": walk(150, 31)}
    live, hindsight = LiveRecord(RULES, 0.5), LiveRecord(RULES, 0.5)
    predict_every_candle(hindsight, market, seed=4)
    rng = np.random.default_rng(4)
    probabilities = {s: rng.uniform(size=150) for s in market}  # as predict_every_candle draws
    resolved: list[Resolved] = []
    for t in range(1, 151):
        for symbol, data in market.items():
            predict(live, symbol, data, t - 1, float(probabilities[symbol][t - 1]))
        resolved += live.resolve({s: c[:t] for s, c in market.items()})
    assert sorted(resolved, key=lambda r: (r.signal_ms, r.symbol)) == hindsight.resolve(market)


def test_new_settings_take_effect() -> None:
    data = walk(60, 40)
    record = LiveRecord(RULES, 0.8)
    for s in range(30):
        predict(record, "A", data, s, s / 30)
    record.resolve({"A": data[:30]})
    assert record.figures().rule_rows == sum(s / 30 >= 0.8 for s in range(30 - H)) > 0
    record.set_rules(RULES, 0.5)
    assert record.figures().rule_rows == sum(s / 30 >= 0.5 for s in range(30 - H))
    longer = dataclasses.replace(RULES, max_hold_seconds=1800)
    record.set_rules(longer, 0.5)
    assert record.rows == 0  # outcomes netted under other exits leave the window
    rows = record.resolve({"A": data})
    expected = trade_outcomes(data, longer, np.arange(30 - H, 30)).net_return
    assert [r.net_return for r in rows] == pytest.approx(expected.tolist())


def test_throttled_figures_lag_by_at_most_a_quarter_of_the_window() -> None:
    """The engine recomputes the figures every refresh_rows resolved rows at most; a small
    window must still show what has resolved (the dashboard's first hour)."""
    market = {"A": walk(200, 40)}
    record = LiveRecord(RULES, 0.5, refresh_rows=500)
    rng = np.random.default_rng(2)
    for t in range(1, 201):
        predict(record, "A", market["A"], t - 1, float(rng.uniform()))
        record.resolve({"A": market["A"][:t]})
        shown = record.figures().rows
        assert record.rows - record.rows // 4 - 1 <= shown <= record.rows
    assert record.rows > 150
