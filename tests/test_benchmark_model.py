"""benchmarks/model.py: the quick report end to end, and its candidate features (no look-ahead,
the relative return centred across pairs)."""

from __future__ import annotations

import contextlib
import io
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

# benchmarks/ is not an installed package: the project root must be importable for it
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import model as report  # noqa: E402
from tui_bot.engine.outcome import exit_rules  # noqa: E402
from tui_bot.market.files import load_candles  # noqa: E402


@pytest.fixture(scope="module")
def grid() -> report.Grid:
    return report.aligned(load_candles())  # the bundled sample: ADA/BTC has gaps


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    out = tmp_path_factory.mktemp("model") / "quick.json"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert report.main(["--quick", "--out", str(out)]) == 0
    return json.loads(Path(out).read_text()), printed.getvalue()


def _scored_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    return result["features"]["rows"] + result["baselines"]


@pytest.mark.slow
def test_quick_report_has_every_table(quick: tuple[dict[str, Any], str]) -> None:
    result, printed = quick
    pairs = [row["pair"] for row in result["label"]]
    assert pairs == ["ADA/BTC", "ETC/BTC", "ETH/BTC", "LTC/BTC", "XLM/BTC", "all"]
    for row in result["label"]:
        assert {"known", "win_pct", "mean_net_pct", "old_positive_pct"} <= row.keys()
        assert 0 < row["win_pct"] < 100 and 0 < row["old_positive_pct"] < 100
    sets = [row["set"] for row in result["features"]["rows"]]
    assert sets[: 1 + len(report.CANDIDATES)] == ["base"] + [
        f"base + {name}" for name in report.CANDIDATES
    ]
    assert ("base + kept" in sets) == bool(result["features"]["kept"])
    assert len(result["baselines"]) == 5
    trading = result["trading"]
    for key in ("expectancy_pct", "random_mean_pct", "random_low_pct", "percentile"):
        assert key in trading
    assert trading["closed_trades"] > 0
    assert set(result["goals"]) == {"auc_base_met", "auc_engine_met", "trading_met"}
    for heading in ("## 1. Label", "## 2. Features", "## 3. Baselines", "## 4. Trading", "## Goal"):
        assert heading in printed


@pytest.mark.slow
def test_quick_report_figures_are_consistent(quick: tuple[dict[str, Any], str]) -> None:
    result, _ = quick
    rows = _scored_rows(result)
    for row in rows:
        assert 0.0 <= row["auc"] <= 1.0
        assert all(0.0 <= a <= 1.0 for a in row["fold_auc"])
    intervals = [r for r in rows if r["auc_low"] is not None]
    assert len(intervals) == len(rows) - 1  # all but the unpurged holdout
    for row in intervals:
        assert row["auc_low"] <= row["auc"] <= row["auc_high"]
    for row in result["features"]["rows"][1:]:
        assert row["gain_low"] <= row["gain"] <= row["gain_high"]
    held_out = {row["rows"] for row in result["features"]["rows"]}
    assert len(held_out) == 1  # every set is scored on the same rows
    trading = result["trading"]
    assert trading["random_low_pct"] <= trading["random_mean_pct"] <= trading["random_high_pct"]
    assert 0.0 <= trading["percentile"] <= 100.0


def test_candidate_features_do_not_look_ahead(grid: report.Grid) -> None:
    full = report.candidate_features(grid.candles)
    assert set(full) == set(report.CANDIDATES)
    length = grid.candles.shape[1]
    for name, values in full.items():
        assert values.shape == grid.candles.shape[:2]
        assert np.isfinite(values).mean() > 0.9, name
    for cut in (13, 100, 1001, length // 2, length - 1):
        early = report.candidate_features(grid.candles[:, :cut])
        for name, values in early.items():
            np.testing.assert_array_equal(values, full[name][:, :cut], err_msg=name)


def test_candidate_features_ignore_a_changed_future(grid: report.Grid) -> None:
    cut = 1500
    changed = grid.candles.copy()
    rng = np.random.default_rng(1)
    changed[:, cut:, 1:] *= rng.uniform(0.5, 1.5, size=changed[:, cut:, 1:].shape)
    before = report.candidate_features(grid.candles)
    after = report.candidate_features(changed)
    for name in report.CANDIDATES:
        np.testing.assert_array_equal(after[name][:, :cut], before[name][:, :cut], err_msg=name)
        assert not np.array_equal(after[name][:, cut:], before[name][:, cut:], equal_nan=True)


def test_relative_return_is_zero_on_average_across_pairs(grid: report.Grid) -> None:
    relative = report.candidate_features(grid.candles)["relative_return_12"]
    defined = np.isfinite(relative).sum(axis=0) >= 2
    assert defined.mean() > 0.9
    centre = np.nanmean(relative[:, defined], axis=0)
    np.testing.assert_allclose(centre, 0.0, atol=1e-9)
    assert np.nanstd(relative) > 0.1  # not zero everywhere: returns in %


def test_relative_to_others_by_hand() -> None:
    values = np.array([[1.0, 2.0], [3.0, np.nan], [8.0, 4.0]])
    relative = report.relative_to_others(values)
    expected = np.array([[1 - 5.5, 2 - 4.0], [3 - 4.5, np.nan], [8 - 2.0, 4 - 2.0]])
    np.testing.assert_allclose(relative, expected)
    alone = report.relative_to_others(np.array([[1.0], [np.nan]]))
    assert np.isnan(alone).all()  # no other pair to compare with


def test_returns_and_range_position_by_hand() -> None:
    close = np.array([[100.0, 110.0, 99.0, np.nan, 121.0]])
    np.testing.assert_allclose(report.past_return(close, 1), [[np.nan, 0.1, -0.1, np.nan, np.nan]])
    np.testing.assert_allclose(
        report.past_return(close, 2), [[np.nan, np.nan, -0.01, np.nan, 121 / 99 - 1]]
    )
    high = np.array([10.0, 10.0, 10.0, 5.0, np.nan])
    low = np.array([8.0, 8.0, 8.0, 5.0, np.nan])
    close = np.array([8.0, 10.0, 8.5, 5.0, np.nan])
    np.testing.assert_allclose(
        report.range_position(high, low, close), [0.0, 1.0, 0.25, 0.5, np.nan]
    )


def test_dataset_rows_are_time_ordered_with_the_tradeable_label(grid: report.Grid) -> None:
    files = load_candles()
    rules = exit_rules(report.settings_for(files, report.QUICK), report.TIMEFRAME_SECONDS)
    data = report.dataset(grid, files, rules)
    assert len(data.win) > 10_000
    assert np.all(np.diff(data.times) >= 0)
    assert np.isfinite(data.X).all()
    np.testing.assert_array_equal(data.win, (data.net > 0).astype(np.int8))
    assert data.columns(("rsi",)).max() <= 1.0  # rsi / 100, as the engine scales it
    assert 0 < data.win.mean() < 1 and math.isfinite(float(data.net.mean()))
