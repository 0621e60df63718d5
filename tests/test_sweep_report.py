"""The sweep's report on made-up trials: objectives, the ranking (too few trades and failures
last), the in-sample vs out-of-sample rank correlation, the JSON object and the text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tui_bot.config import ConfigError
from tui_bot.sweep.data import Split
from tui_bot.sweep.report import (
    SweepSetup,
    best_trial,
    objective_value,
    rank_correlation,
    ranked,
    resolve_objective,
    sweep_json,
    sweep_text,
)
from tui_bot.sweep.runner import SweepOutcome
from tui_bot.sweep.space import load_space
from tui_bot.sweep.trial import TrialResult

DAY = 86_400_000
T0 = 1_515_801_600_000  # 2018-01-13 00:00 UTC


def summary(profit: float, trades: int = 20, sharpe: float | None = 1.0, **more: Any) -> dict:
    return {
        "start": "2018-01-13T00:00:00Z",
        "end": "2018-01-23T00:00:00Z",
        "trades": trades,
        "profit_total_pct": profit,
        "sharpe": sharpe,
        "expectancy_pct": profit / max(trades, 1),
        "max_drawdown_pct": more.get("drawdown", 2.0),
    }


def trial(
    i: int, inside: float, outside: float, trades: int = 20, error: str | None = None
) -> TrialResult:
    if error is not None:
        return TrialResult(i, {"risk.stop_loss_pct": float(i)}, None, None, 0.0, "w", 0, 2, error)
    return TrialResult(
        i,
        {"risk.stop_loss_pct": float(i)},
        summary(inside, trades, sharpe=inside),
        summary(outside, trades, sharpe=outside),
        1.5,
        "host:1",
        1,
    )


def setup(tmp_path: Path, objective: str = "sharpe", holdout: float = 0.3) -> SweepSetup:
    path = tmp_path / "space.toml"
    path.write_text("[risk]\nstop_loss_pct = [1, 2, 3, 4, 5]\n")
    split = Split(T0, T0 + 7 * DAY, T0 + 10 * DAY, holdout)
    return SweepSetup(load_space(path), "grid", 0, objective, 10, split, ("ETH/BTC",), 1000, 150)


def outcome(trials: list[TrialResult], interrupted: bool = False) -> SweepOutcome:
    baseline = TrialResult(0, {}, summary(0.5, 12), summary(0.1, 5), 1.0, "host:1", 1)
    return SweepOutcome(tuple(trials), baseline, 5, interrupted, 12.0, "local", 2)


def test_objectives_read_the_summary() -> None:
    s = summary(3.65, 10, sharpe=1.5, drawdown=2.0)
    assert objective_value(s, "sharpe") == 1.5
    assert objective_value(s, "profit") == 3.65
    assert objective_value(s, "expectancy") == pytest.approx(0.365)
    # 3.65 % in 10 days is 133.2 % a year, over a 2 % drawdown
    assert objective_value(s, "calmar") == pytest.approx(3.65 * 36.5 / 2.0)
    assert objective_value(summary(1.0, drawdown=0.0), "calmar") is None
    assert objective_value(None, "profit") is None


def test_too_few_trades_no_objective_and_failures_rank_last() -> None:
    trials = [
        trial(1, 1.0, 0.0),
        trial(2, 9.0, 0.0, trades=3),  # the best figure, from 3 trades
        trial(3, 2.0, 0.0),
        trial(4, 0.0, 0.0, error="its worker process died running it, twice"),
        TrialResult(5, {}, summary(1.0, sharpe=None), summary(1.0), 1.0, "w", 1),
    ]
    assert [t.id for t in ranked(trials, "sharpe", 10)] == [3, 1, 2, 5, 4]
    assert [t.id for t in ranked(trials, "sharpe", 0)] == [2, 3, 1, 5, 4]
    assert best_trial(trials, "sharpe", 10).id == 3
    assert best_trial([trials[1]], "sharpe", 10) is None  # only a trial with too few trades


def test_rank_correlation_is_spearmans_over_trials_with_both_figures() -> None:
    same = [trial(i, float(i), float(i) * 10) for i in range(1, 6)]
    reverse = [trial(i, float(i), -float(i)) for i in range(1, 6)]
    assert rank_correlation(same, "sharpe") == (pytest.approx(1.0), 5)
    assert rank_correlation(reverse, "sharpe") == (pytest.approx(-1.0), 5)
    mixed = [trial(1, 1, 2), trial(2, 2, 1), trial(3, 3, 4), trial(4, 4, 3)]
    assert rank_correlation(mixed, "sharpe")[0] == pytest.approx(0.6)
    assert rank_correlation(same[:2], "sharpe") == (None, 2)
    ties = [trial(i, float(i), 0.0) for i in range(1, 6)]
    assert rank_correlation(ties, "sharpe") == (None, 5)


def test_the_default_objective_falls_back_to_profit_when_a_part_is_too_short() -> None:
    long = Split(T0, T0 + 10 * DAY, T0 + 15 * DAY, 0.3)
    short = Split(T0, T0 + 10 * DAY, T0 + 11 * DAY, 0.3)
    assert resolve_objective(None, long) == ("sharpe", None)
    name, notice = resolve_objective(None, short)
    assert name == "profit"
    assert "the out-of-sample part spans 2 days" in (notice or "")
    assert resolve_objective("calmar", short) == ("calmar", None)
    with pytest.raises(ConfigError, match="--objective wins: unknown"):
        resolve_objective("wins", long)


def test_the_json_object_has_every_key_and_ranks_best_first(tmp_path: Path) -> None:
    trials = [trial(1, 1.0, 0.5), trial(2, 3.0, -1.0), trial(3, 2.0, 0.0)]
    report = sweep_json(outcome(trials), setup(tmp_path))
    json.dumps(report, allow_nan=False)
    for key in ("trials", "best", "space", "backend", "seconds", "rank_correlation"):
        assert key in report
    first = report["trials"][0]
    for key in ("values", "in_sample", "out_of_sample", "objective", "seconds", "worker"):
        assert key in first
    assert [t["id"] for t in report["trials"]] == [2, 3, 1]
    assert [t["rank"] for t in report["trials"]] == [1, 2, 3]
    assert report["best"]["id"] == 2 and report["best"]["objective_out_of_sample"] == -1.0
    assert report["rank_correlation"] == pytest.approx(
        -1.0
    )  # in-sample order 2, 3, 1; out: 1, 3, 2
    assert report["space"] == {"risk.stop_loss_pct": [1.0, 2.0, 3.0, 4.0, 5.0]}
    assert report["baseline"]["values"] == {}
    assert report["split"]["out_of_sample"] == {
        "start": "2018-01-20T00:00:00Z",
        "end": "2018-01-23T00:00:00Z",
    }


def test_the_text_puts_in_sample_next_to_out_of_sample_and_says_what_overfitting_shows(
    tmp_path: Path,
) -> None:
    trials = [trial(1, 1.0, 0.5), trial(2, 3.0, -1.0), trial(3, 2.0, 0.0, trades=4)]
    trials.append(trial(4, 0.0, 0.0, error="its worker process died running it, twice"))
    text = sweep_text(outcome(trials), setup(tmp_path))
    header = next(line for line in text.splitlines() if "IS sharpe" in line)
    assert header.split() == [
        "#", "trial", "stop_loss_pct", "IS", "sharpe", "IS", "profit", "IS", "trades",
        "OOS", "sharpe", "OOS", "profit", "OOS", "trades",
    ]  # fmt: skip
    table = text.split("\n\n")[1].splitlines()[2:]  # the header, the rule, then the rows
    rows = [line.split()[:2] for line in table]
    # trial 3 has 4 trades: after the others, marked; a failed trial has no rank
    assert rows == [["1", "2"], ["2", "1"], ["3*", "3"], ["-", "4"], ["-", "yours"]]
    assert "yours" in text
    assert "over 3 trials: -1.00: the in-sample ranking does not carry over" in text.replace(
        "\n    ", " "
    )
    assert "the best in-sample trial, 2 (stop_loss_pct=2)" in text
    assert "trial 4 (stop_loss_pct=4): its worker process died running it, twice" in text


def test_an_interrupted_sweep_says_so_first(tmp_path: Path) -> None:
    text = sweep_text(outcome([trial(1, 1.0, 0.5)], interrupted=True), setup(tmp_path))
    assert text.startswith("Interrupted: 1 of 5 trials finished")


def test_the_profit_objective_has_no_second_profit_column(tmp_path: Path) -> None:
    text = sweep_text(outcome([trial(1, 1.0, 0.5)]), setup(tmp_path, objective="profit"))
    header = next(line for line in text.splitlines() if "IS profit" in line)
    assert header.count("profit") == 2  # IS and OOS, once each
