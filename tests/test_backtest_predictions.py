"""The backtest's prediction log: a float32 table of cycles x pairs, not one object each."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tui_bot.backtest.predictions import Prediction, PredictionLog


def test_rows_come_back_in_time_then_symbol_order_without_the_missing_ones() -> None:
    log = PredictionLog(["A/BTC", "B/BTC"], capacity=3)
    log.add(1000, ["B/BTC", "A/BTC"], [0.25, 0.75])
    log.add(2000, [], [])  # a cycle whose signal phase produced nothing
    log.add(3000, ["B/BTC", "Z/BTC", "A/BTC"], [0.5, 0.9, math.nan])
    assert list(log) == [
        Prediction(1000, "A/BTC", 0.75),
        Prediction(1000, "B/BTC", 0.25),
        Prediction(3000, "B/BTC", 0.5),
    ]
    assert len(log) == 3
    times, probabilities = log.by_pair()["B/BTC"]
    assert times.tolist() == [1000, 3000] and probabilities.tolist() == [0.25, 0.5]
    assert "Z/BTC" not in log.by_pair()


def test_memory_is_fixed_by_cycles_and_pairs() -> None:
    log = PredictionLog([f"P{i}/BTC" for i in range(100)], capacity=25_920)  # 100 pairs x 90 d
    assert log.nbytes == 25_920 * 8 + 25_920 * 100 * 4
    with pytest.raises(ValueError, match="full"):
        small = PredictionLog(["A/BTC"], capacity=1)
        small.add(1, ["A/BTC"], [0.5])
        small.add(2, ["A/BTC"], [0.5])


def test_of_rebuilds_an_equal_log() -> None:
    log = PredictionLog(["A/BTC", "B/BTC"], capacity=2)
    log.add(5, ["A/BTC", "B/BTC"], [0.1, 0.2])
    log.add(6, ["B/BTC"], [0.3])
    again = PredictionLog.of(reversed(list(log)))
    assert again == log
    assert again != PredictionLog.of([Prediction(5, "A/BTC", 0.1)])
    np.testing.assert_array_equal(again.by_pair()["A/BTC"][0], [5])
