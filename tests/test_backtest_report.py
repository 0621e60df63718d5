"""The backtest report: every figure recomputed by hand on a tiny run, edge cases, JSON safety,
and the out-of-sample AUC on predictions whose AUC is known."""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tui_bot.backtest import report
from tui_bot.backtest.predictions import Prediction, PredictionLog
from tui_bot.backtest.run import BacktestRun, TradeRecord
from tui_bot.engine.live_record import LiveFigures
from tui_bot.engine.outcome import ExitRules, trade_outcomes
from tui_bot.market.files import CandleFile

T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC, a day boundary
HOUR = 3_600_000
TF = 300_000  # 5m
VALUES = (1000, 1010, 990, 980, 1005, 1020, 1015, 1030, 1025, 1040)  # one every 12 hours
STEP = 12 * HOUR
END = T0 + 9 * STEP  # the last point: the final sale
RULES = ExitRules(2.0, 3.0, 1800, 300, fee_pct=0.1, slippage_bps=5.0)  # the shipped defaults
HORIZON = RULES.horizon
NO_LIVE = LiveFigures(0, None, None, None, 0, None, None, ())


def candles(times: list[int], opens: list[float], closes: list[float]) -> np.ndarray:
    rows = [
        (t, o, max(o, c), min(o, c), c, 1.0) for t, o, c in zip(times, opens, closes, strict=True)
    ]
    return np.asarray(rows, dtype=np.float64)


def trade(
    pair: str, opened_h: int, closed_h: int, pct: float, pnl: float, **kw: Any
) -> TradeRecord:
    values = {
        "open_price": 1.0,
        "close_price": 1.0 + pct / 100,
        "amount": 100.0,
        "fee": 0.2,
        "exit_reason": "take_profit",
        "probability": 0.7,
        **kw,
    }
    return TradeRecord(pair, T0 + opened_h * HOUR, T0 + closed_h * HOUR, profit_pct=pct,
                       profit_abs=pnl, **values)  # fmt: skip


TRADES = (
    trade("A/BTC", 0, 24, 4.8, 4.8, fee=0.2, exit_reason="take_profit"),
    trade("B/BTC", 12, 60, -2.1, -4.2, fee=0.4, exit_reason="stop_loss", probability=0.6),
    trade("A/BTC", 72, 108, 1.5, 3.0, fee=0.4, exit_reason="end_of_data", probability=0.65),
)


def as_files(closes: dict[str, np.ndarray]) -> dict[str, CandleFile]:
    return {p: CandleFile.from_rows(Path(p), p, "5m", rows, ()) for p, rows in closes.items()}


def make_run(**changes: Any) -> BacktestRun:
    if "closes" in changes:
        changes["closes"] = as_files(changes["closes"])
    closes = {
        # one candle before the start (warm-up) and one at the end: outside the traded range
        "A/BTC": candles(
            [T0 - TF, T0, T0 + TF, END - TF, END],
            [0.5, 1.0, 1.1, 1.1, 9.0],
            [0.6, 1.1, 1.1, 1.2, 9.9],
        ),
        "B/BTC": candles([T0, END - TF], [2.0, 2.1], [2.1, 1.9]),
    }
    run = BacktestRun(
        start_ms=T0,
        end_ms=END,
        warmup_start_ms=T0 - 100 * TF,
        warmup_candles=100,
        pairs=("A/BTC", "B/BTC", "C/BTC"),
        timeframe="5m",
        stake_currency="BTC",
        candles=1234,
        cycles=10,
        starting_balance=1000.0,
        trades=TRADES,
        equity=tuple((T0 + k * STEP, float(v)) for k, v in enumerate(VALUES)),
        predictions=PredictionLog((), 0),
        closes=as_files(closes),
        model_kind="hist_gradient_boosting",
        retrains=3,
        validation_auc=0.56,
        seconds=2.0,
        validation=None,
        live=NO_LIVE,
        verdict="NOT ENOUGH DATA",
        verdict_reason="no model yet",
        rules=RULES,
        require_edge=False,
        cycle_ms=1.5,
        training_seconds=0.5,
        phase_ms={},
        skipped=("DOGE/USDT: quoted in USDT, not the stake currency BTC: skipped",),
        problems=(),
    )
    return replace(run, **changes)


def test_summary_keys_are_exactly_the_issues() -> None:
    keys = (
        "start, end, pairs, candles, cycles, trades, wins, win_rate, profit_total_pct, "
        "profit_abs, avg_profit_pct, max_drawdown_pct, sharpe, sortino, profit_factor, "
        "expectancy_pct, exposure_pct, avg_hold_minutes, fees_paid, market_change_pct, "
        "seconds, cycles_per_second"
    )
    assert list(report.summarize(make_run())) == keys.split(", ")


def test_every_summary_figure_by_hand() -> None:
    s = report.summarize(make_run())
    assert s["start"] == "2024-01-01T00:00:00Z"
    assert s["end"] == "2024-01-05T12:00:00Z"
    assert s["pairs"] == ["A/BTC", "B/BTC", "C/BTC"]
    assert (s["candles"], s["cycles"], s["trades"], s["wins"]) == (1234, 10, 3, 2)
    assert s["win_rate"] == pytest.approx(2 / 3)
    assert s["profit_abs"] == pytest.approx(4.8 - 4.2 + 3.0)
    assert s["profit_total_pct"] == pytest.approx(3.6 / 1000 * 100)
    assert s["avg_profit_pct"] == pytest.approx((4.8 - 2.1 + 1.5) / 3)
    # the peak 1010, then 980
    assert s["max_drawdown_pct"] == pytest.approx((1010 - 980) / 1010 * 100)
    # two points a day: the days close at 1010, 980, 1020, 1030, 1040; the day before at 1000
    daily = [1010 / 1000 - 1, 980 / 1010 - 1, 1020 / 980 - 1, 1030 / 1020 - 1, 1040 / 1030 - 1]
    mean = statistics.mean(daily)
    assert s["sharpe"] == pytest.approx(mean / statistics.stdev(daily) * math.sqrt(365))
    downside = math.sqrt((980 / 1010 - 1) ** 2 / 5)  # one losing day out of five
    assert s["sortino"] == pytest.approx(mean / downside * math.sqrt(365))
    assert s["profit_factor"] == pytest.approx((4.8 + 3.0) / 4.2)
    assert s["expectancy_pct"] == pytest.approx(3.6 / 3 / 1000 * 100)
    # cycles at 0..96 h every 12 h (the point at the end, 108 h, is the final sale, not a
    # cycle); open: [0, 24) [12, 60) [72, 108) -> all but 60 h
    assert s["exposure_pct"] == pytest.approx(8 / 9 * 100)
    assert s["avg_hold_minutes"] == pytest.approx((24 + 48 + 36) * 60 / 3)
    assert s["fees_paid"] == pytest.approx(1.0)
    # A: open 1.0 -> close 1.2 (the warm-up candle and the one at the end left out); B: 2.0 -> 1.9
    assert s["market_change_pct"] == pytest.approx((0.2 + (-0.05)) / 2 * 100)
    assert s["seconds"] == 2.0
    assert s["cycles_per_second"] == pytest.approx(5.0)


def test_per_pair_and_per_exit_reason() -> None:
    data = report.report_json(make_run())
    pairs = {row["pair"]: row for row in data["per_pair"]}
    assert [row["pair"] for row in data["per_pair"]] == ["A/BTC", "C/BTC", "B/BTC"]  # by profit
    assert pairs["A/BTC"] == {
        "pair": "A/BTC",
        "trades": 2,
        "wins": 2,
        "win_rate": 1.0,
        "profit_abs": pytest.approx(7.8),
        "avg_profit_pct": pytest.approx(3.15),
    }
    assert pairs["B/BTC"]["win_rate"] == 0.0 and pairs["B/BTC"]["profit_abs"] == -4.2
    assert pairs["C/BTC"] == {
        "pair": "C/BTC",
        "trades": 0,
        "wins": 0,
        "win_rate": None,
        "profit_abs": 0.0,
        "avg_profit_pct": None,
    }
    reasons = [(r["exit_reason"], r["trades"], r["wins"]) for r in data["per_exit_reason"]]
    assert reasons == [("end_of_data", 1, 1), ("stop_loss", 1, 0), ("take_profit", 1, 1)]


def test_json_object_trades_model_equity() -> None:
    data = report.report_json(make_run())
    assert list(data) == ["summary", "trades", "per_pair", "per_exit_reason", "model", "equity"]
    assert data["trades"][1] == {
        "pair": "B/BTC",
        "open_time": T0 + 12 * HOUR,
        "close_time": T0 + 60 * HOUR,
        "open_price": 1.0,
        "close_price": pytest.approx(0.979),
        "amount": 100.0,
        "profit_pct": -2.1,
        "profit_abs": -4.2,
        "fee": 0.4,
        "exit_reason": "stop_loss",
        "probability": 0.6,
    }
    assert data["model"] == {
        "kind": "hist_gradient_boosting",
        "retrains": 3,
        "validation_auc": 0.56,
        "validation_auc_ci": None,  # no walk-forward figures in this run
        "validation_rows": 0,
        "validation_expectancy_pct": None,
        "oos_auc": None,  # no predictions
        "oos_auc_ci": None,
        "oos_rows": 0,
        "log_loss": None,
        "constant_log_loss": None,
        "live_auc": None,
        "live_auc_ci": None,
        "live_rows": 0,
        "verdict": "NOT ENOUGH DATA",
        "verdict_reason": "no model yet",
        "require_edge": False,
        "label": RULES.describe(),
    }
    assert data["equity"][:2] == [[T0, 1000.0], [T0 + STEP, 1010.0]]
    assert len(data["equity"]) == 10
    json.dumps(data, allow_nan=False)


def test_zero_trades() -> None:
    flat = tuple((T0 + k * STEP, 1000.0) for k in range(10))
    run = make_run(trades=(), equity=flat)
    data = report.report_json(run)
    s = data["summary"]
    assert (s["trades"], s["wins"], s["profit_abs"], s["fees_paid"]) == (0, 0, 0.0, 0.0)
    assert s["profit_total_pct"] == 0.0 and s["max_drawdown_pct"] == 0.0
    assert s["exposure_pct"] == 0.0
    undefined = ("win_rate", "avg_profit_pct", "sharpe", "sortino", "profit_factor",
                 "expectancy_pct", "avg_hold_minutes")  # fmt: skip
    assert {k: s[k] for k in undefined} == dict.fromkeys(undefined)
    assert data["trades"] == [] and data["per_exit_reason"] == []
    assert [r["trades"] for r in data["per_pair"]] == [0, 0, 0]
    json.dumps(data, allow_nan=False)
    text = report.report_text(run)
    assert "No trade was made; holding the same pairs returned +7.50 %." in text


def test_no_cycles_at_all() -> None:
    run = make_run(trades=(), equity=(), cycles=0, seconds=0.0, closes={})
    s = report.summarize(run)
    assert s["max_drawdown_pct"] == 0.0 and s["exposure_pct"] == 0.0
    assert s["sharpe"] is None and s["market_change_pct"] is None
    assert s["cycles_per_second"] is None
    json.dumps(report.report_json(run), allow_nan=False)
    assert "Backtest" in report.report_text(run)


def test_all_wins_one_pair() -> None:
    wins = tuple(t for t in TRADES if t.pair == "A/BTC")
    run = make_run(trades=wins, pairs=("A/BTC",))
    data = report.report_json(run)
    s = data["summary"]
    assert s["profit_factor"] is None  # no losses: infinite, said as null
    assert s["win_rate"] == 1.0
    assert s["market_change_pct"] == pytest.approx(20.0)  # A alone
    assert [r["pair"] for r in data["per_pair"]] == ["A/BTC"]
    json.dumps(data, allow_nan=False)


def test_nan_and_infinity_become_null() -> None:
    bad = replace(TRADES[0], probability=float("nan"), close_price=float("inf"))
    run = make_run(trades=(bad,), equity=((T0, 1000.0), (T0 + HOUR, float("nan"))))
    data = report.report_json(run)
    json.dumps(data, allow_nan=False)
    assert data["trades"][0]["probability"] is None
    assert data["trades"][0]["close_price"] is None
    assert data["equity"][1] == [T0 + HOUR, None]


def test_text_report_is_readable_and_honest() -> None:
    text = report.report_text(make_run())
    assert "2024-01-01 00:00 -> 2024-01-05 12:00 UTC (4.5 days of 5m candles)" in text
    assert "A/BTC, B/BTC, C/BTC (3), stake BTC, starting balance 1,000.00 BTC" in text
    assert "100 candles a pair from 2023-12-31 15:40 UTC" in text
    assert "Fees paid     1.00 BTC" in text
    assert "+3.60 BTC (+0.36 %), after fees" in text
    assert "+7.50 % (buy and hold" in text
    assert "the bot did worse than buy and hold" in text
    assert "Per pair" in text and "Per exit reason" in text
    a_row = next(line for line in text.splitlines() if line.strip().startswith("A/BTC  "))
    assert a_row.split() == ["A/BTC", "2", "2", "100.0", "%", "+7.80", "BTC", "+3.15", "%"]
    assert "DOGE/USDT: quoted in USDT" in text  # the loading messages are part of the report
    assert "not measurable" in text  # no predictions


# -- out-of-sample AUC -------------------------------------------------------------------------

N = 40


def price_path(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    close = 1.0 + np.cumsum(rng.normal(0, 0.01, N))
    times = [T0 + i * TF for i in range(N)]
    return candles(times, list(close), list(close))


def labels_by_hand(c: np.ndarray) -> list[int]:
    """For each candle i with HORIZON candles after it: did its trade make money after fees?
    (engine.outcome's own tests check that against hand-worked candles)"""
    out = trade_outcomes(c, RULES)
    return [int(w) for w, known in zip(out.win, out.known, strict=True) if known]


def auc_by_hand(scores: list[float], labels: list[int]) -> float:
    """The share of (positive, negative) pairs ranked the right way round, ties half."""
    pos = [s for s, y in zip(scores, labels, strict=True) if y == 1]
    neg = [s for s, y in zip(scores, labels, strict=True) if y == 0]
    right = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return right / (len(pos) * len(neg))


def predicting(scores_for: dict[str, list[float]], closes: dict[str, np.ndarray]) -> BacktestRun:
    """A run whose predictions score candle i of each pair at the time it closed."""
    predictions = PredictionLog.of(
        Prediction(int(closes[pair][i, 0]) + TF, pair, score)
        for pair, scores in scores_for.items()
        for i, score in enumerate(scores)
    )
    return make_run(predictions=predictions, closes=closes)


def test_oos_auc_perfect_and_reversed() -> None:
    closes = {"A/BTC": price_path(1), "B/BTC": price_path(2)}
    truth = {p: labels_by_hand(c) for p, c in closes.items()}
    assert 0 < sum(truth["A/BTC"]) < len(truth["A/BTC"])
    tail = [0.5] * HORIZON  # the last candles: their horizon runs past the data, dropped
    perfect = {p: [0.2 + 0.6 * y for y in ys] + tail for p, ys in truth.items()}
    reversed_ = {p: [0.8 - 0.6 * y for y in ys] + tail for p, ys in truth.items()}
    rows = 2 * (N - HORIZON)
    assert report.oos_auc(predicting(perfect, closes)) == (1.0, rows)
    assert report.oos_auc(predicting(reversed_, closes)) == (0.0, rows)


def test_oos_auc_matches_a_count_of_pairs() -> None:
    closes = {"A/BTC": price_path(3)}
    truth = labels_by_hand(closes["A/BTC"])
    scores = list(np.random.default_rng(7).random(len(truth)))
    auc, rows = report.oos_auc(predicting({"A/BTC": scores}, closes))
    assert rows == len(truth)
    assert auc == pytest.approx(auc_by_hand(scores, truth))


def test_oos_auc_uses_the_candle_closed_at_the_prediction_time() -> None:
    """A prediction at t is about the candle that closed at t, not the one opening at t: a
    predictor perfect for the closed candle scores 1.0 only if the label is resolved there."""
    closes = {"A/BTC": price_path(4)}
    truth = labels_by_hand(closes["A/BTC"])
    late = PredictionLog.of(
        Prediction(T0 + i * TF + TF + 60_000, "A/BTC", 0.2 + 0.6 * y)  # a minute after the close
        for i, y in enumerate(truth)
    )
    assert report.oos_auc(make_run(predictions=late, closes=closes)) == (1.0, len(truth))


def test_oos_auc_one_class_is_none() -> None:
    rising = np.linspace(1.0, 2.0, N)
    closes = {"A/BTC": candles([T0 + i * TF for i in range(N)], list(rising), list(rising))}
    run = predicting({"A/BTC": [0.5] * N}, closes)
    assert report.oos_auc(run) == (None, N - HORIZON)
    json.dumps(report.report_json(run), allow_nan=False)


def test_oos_auc_drops_unknown_pairs_and_nan() -> None:
    closes = {"A/BTC": price_path(5)}
    truth = labels_by_hand(closes["A/BTC"])
    run = predicting({"A/BTC": [0.2 + 0.6 * y for y in truth]}, closes)
    nan_at = T0 + 5 * TF + 30_000  # between two predictions: a time of its own
    extra = (Prediction(T0 + 5 * TF, "ZZZ/BTC", 0.9), Prediction(nan_at, "A/BTC", math.nan))
    run = replace(run, predictions=PredictionLog.of((*run.predictions, *extra)))
    assert report.oos_auc(run) == (1.0, len(truth))


def test_model_block_says_what_the_auc_means() -> None:
    closes = {"A/BTC": price_path(1), "B/BTC": price_path(2)}
    truth = {p: labels_by_hand(c) for p, c in closes.items()}
    reversed_ = {p: [0.8 - 0.6 * y for y in ys] for p, ys in truth.items()}
    text = " ".join(report.report_text(predicting(reversed_, closes)).split())  # unwrapped
    assert f"out-of-sample AUC over {2 * (N - HORIZON)} predictions" in text
    assert "0.000 (95 % interval 0.000-0.000): worse than chance" in text


def test_auc_meaning_reads_the_interval() -> None:
    assert report.auc_meaning(0.52, 0.49, 0.55) == (
        "0.520 (95 % interval 0.490-0.550): no better than chance"
    )
    assert report.auc_meaning(0.54, 0.51, 0.57).endswith(
        "better than chance, but a weak edge; fees can eat it"
    )
    assert report.auc_meaning(0.60, 0.56, 0.64).endswith("a real edge over chance on this data")
    assert "worse than chance" in report.auc_meaning(0.45, 0.42, 0.48)
    assert "no verdict" in report.auc_meaning(0.70, None, None)
    assert report.auc_meaning(None, None, None).startswith("not measurable")


def test_sharpe_needs_five_days() -> None:
    """Two near-equal days once gave a Sharpe of -27,530 on a real 1.3-day run: too few days
    to say anything is None, not a huge number."""
    two_days = ((T0, 1000.0), (T0 + 24 * HOUR, 999.0), (T0 + 47 * HOUR, 998.0))
    s = report.summarize(make_run(equity=two_days, end_ms=T0 + 47 * HOUR))
    assert s["sharpe"] is None and s["sortino"] is None
    assert s["max_drawdown_pct"] == pytest.approx(0.2)
