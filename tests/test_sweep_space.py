"""The space file: lists and range tables checked against the config schema (a problem names the
file, the key and what is allowed), and the trials drawn from it (seeded, backend-independent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui_bot.config import ConfigError, load_settings
from tui_bot.sweep.runner import make_trials
from tui_bot.sweep.space import MAX_VALUES, load_space, plan_trials

ROOT = Path(__file__).resolve().parents[1]


def space_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "space.toml"
    path.write_text(text)
    return path


def problem(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_space(space_file(tmp_path, text))
    return str(caught.value)


def test_lists_and_stepped_ranges_become_typed_values(tmp_path: Path) -> None:
    space = load_space(
        space_file(
            tmp_path,
            "[risk]\nstop_loss_pct = [1, 2, 2, 3]\n"
            "take_profit_pct = { min = 0.5, max = 0.7, step = 0.1 }\n"
            "max_per_group = { min = 1, max = 3 }\n"
            "[ml]\nrequire_edge = [true, false]\nmodel = ['gradient_boosting']\n",
        )
    )
    choices = {d.key: d.choices for d in space.dimensions}
    assert choices == {
        "risk.stop_loss_pct": (1.0, 2.0, 3.0),  # floats, the repeat dropped
        "risk.take_profit_pct": (0.5, 0.6, 0.7),  # decimal steps: no 0.6000000000000001
        "risk.max_per_group": (1, 2, 3),  # an integer range holds every integer
        "ml.require_edge": (True, False),
        "ml.model": ("gradient_boosting",),
    }
    assert all(type(v) is float for v in choices["risk.stop_loss_pct"] or ())
    assert space.size == 3 * 3 * 3 * 2 * 1


def test_dotted_keys_at_the_top_are_the_same_keys(tmp_path: Path) -> None:
    space = load_space(space_file(tmp_path, "risk.stop_loss_pct = [1, 2]\n"))
    assert space.keys == ("risk.stop_loss_pct",)


def test_the_shipped_example_is_valid() -> None:
    space = load_space(ROOT / "sweep.toml")
    assert space.size is not None and space.size >= 12
    assert all(key.split(".")[0] in ("risk", "ml") for key in space.keys)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "[risk]\nstop_loss_pct = [1, 99]",
            "[risk] stop_loss_pct = 99.0 is out of range: allowed 0.1..50",
        ),
        (
            "[risk]\nstop_los_pct = [1]",
            "unknown key [risk] stop_los_pct; did you mean stop_loss_pct?",
        ),
        ("[riks]\nstop_loss_pct = [1]", "unknown section [riks]; did you mean [risk]?"),
        ("[risk]\nstop_loss_pct = []", "[risk] stop_loss_pct = []: an empty list"),
        ("[risk]\nstop_loss_pct = 2", "give a list of values or a range table"),
        ("[risk]\nstop_loss_pct = { min = 1 }", "a range table needs min and max"),
        ("[risk]\nstop_loss_pct = { min = 3, max = 1 }", "min = 3 is not below max = 1"),
        ("[risk]\nstop_loss_pct = { min = 1, max = 90 }", "stop_loss_pct = 90.0 is out of range"),
        (
            "[risk]\nstop_loss_pct = { min = 1, max = 3, stp = 1 }",
            "unknown range key stp; a range table takes min, max, step, log",
        ),
        (
            "[risk]\nstop_loss_pct = { min = 1, max = 3, step = 0 }",
            "step = 0: give a number above 0",
        ),
        (
            "[risk]\nmax_per_group = { min = 1, max = 3, step = 0.5 }",
            "step = 0.5: give a whole number",
        ),
        (
            "[risk]\nstop_loss_pct = { min = 1, max = 3, step = 1, log = true }",
            "log = true and step cannot go together",
        ),
        (
            "[risk]\nkelly_fraction = { min = 0, max = 1, log = true }",
            "log = true needs min above 0",
        ),
        (
            "[ml]\nmodel = { min = 1, max = 2 }",
            "a range needs a number key; it takes one of hist_gradient_boosting",
        ),
        ("[ml]\nmodel = ['forest']", '[ml] model = "forest" is not an allowed choice'),
        (
            "[ml]\nrequire_edge = [1]",
            "[ml] require_edge = 1 has the wrong type: expected true or false",
        ),
        ("[sim]\nseed = [1, 2]", "the [sim] settings do not change a backtest"),
        ("[exchange]\nccxt_config = [{}]", "the [exchange] settings do not change a backtest"),
        (
            "[backtest]\nwarmup_candles = [200, 300]",
            "cannot be swept: it places the in-sample / out-of-sample split",
        ),
        ("[bot]\nstake_currency = ['BTC']", "cannot be swept: it picks the pairs"),
        ("stop_loss_pct = [1, 2]", "is outside a section"),
        ("", "no setting to sweep"),
        ("[risk\n", "invalid TOML syntax"),
    ],
)
def test_a_bad_space_names_the_file_the_key_and_what_is_allowed(
    tmp_path: Path, text: str, expected: str
) -> None:
    message = problem(tmp_path, text)
    assert message.startswith(str(tmp_path / "space.toml"))
    assert expected in message


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    message = problem(tmp_path, "[risk]\nstop_loss_pct = [99]\ntake_profit_pct = []\n")
    assert len(message.splitlines()) == 2
    assert "stop_loss_pct" in message and "take_profit_pct" in message


def test_a_range_with_too_many_steps_is_refused(tmp_path: Path) -> None:
    message = problem(tmp_path, "[risk]\nmax_hold_minutes = { min = 1, max = 100000 }\n")
    assert f"at most {MAX_VALUES:,}: give a larger step" in message


def test_a_missing_space_file_says_where_the_example_is(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="space file not found.*sweep.toml is an example"):
        load_space(tmp_path / "nope.toml")


# -- trials ----------------------------------------------------------------------------------------
def grid_space(tmp_path: Path) -> Path:
    return space_file(tmp_path, "[risk]\nstop_loss_pct = [1, 2, 3]\ntake_profit_pct = [4, 5]\n")


def test_the_grid_is_every_combination_in_order(tmp_path: Path) -> None:
    plan = plan_trials(load_space(grid_space(tmp_path)), None, None, seed=0)
    assert plan.search == "grid"
    pairs = [(v["risk.stop_loss_pct"], v["risk.take_profit_pct"]) for v in plan.values]
    assert pairs == [(1, 4), (1, 5), (2, 4), (2, 5), (3, 4), (3, 5)]


def test_fewer_trials_than_the_grid_draw_distinct_points_from_the_seed(tmp_path: Path) -> None:
    space = load_space(grid_space(tmp_path))
    first = plan_trials(space, None, 4, seed=7)
    again = plan_trials(space, None, 4, seed=7)
    other = plan_trials(space, None, 4, seed=8)
    assert first.search == "random"
    assert first.values == again.values
    assert first.values != other.values
    points = [tuple(v.values()) for v in first.values]
    assert len(set(points)) == 4
    assert "4 of the 6 points, drawn at random (--seed 7)" in first.notes


def test_more_trials_than_points_try_each_point_once(tmp_path: Path) -> None:
    plan = plan_trials(load_space(grid_space(tmp_path)), "random", 50, seed=0)
    assert len(plan.values) == 6
    assert len({tuple(v.values()) for v in plan.values}) == 6
    assert plan.notes == ("the space has 6 points: trying all of them",)


def test_ranges_are_drawn_inside_their_bounds_and_on_a_log_scale(tmp_path: Path) -> None:
    path = space_file(
        tmp_path,
        "[risk]\nkelly_fraction = { min = 0.01, max = 1, log = true }\n"
        "min_probability = { min = 0.52, max = 0.6 }\n"
        "max_hold_minutes = { min = 10, max = 1000, log = true }\n",
    )
    plan = plan_trials(load_space(path), None, 400, seed=3)
    assert plan.search == "random" and len(plan.values) == 400
    kelly = [v["risk.kelly_fraction"] for v in plan.values]
    probability = [v["risk.min_probability"] for v in plan.values]
    hold = [v["risk.max_hold_minutes"] for v in plan.values]
    assert all(0.01 <= k <= 1 for k in kelly) and all(0.52 <= p <= 0.6 for p in probability)
    assert all(isinstance(h, int) and 10 <= h <= 1000 for h in hold)
    # log-uniform: about half the draws below the geometric midpoint 0.1 (uniform: ~9 %)
    assert 0.4 < sum(k < 0.1 for k in kelly) / len(kelly) < 0.6
    assert plan == plan_trials(load_space(path), None, 400, seed=3)


def test_a_grid_over_a_range_without_a_step_is_refused(tmp_path: Path) -> None:
    path = space_file(tmp_path, "[risk]\nmin_probability = { min = 0.52, max = 0.6 }\n")
    with pytest.raises(ConfigError, match="min_probability is a range without a step"):
        plan_trials(load_space(path), "grid", None, seed=0)


def test_trials_are_checked_as_whole_settings_before_anything_runs(tmp_path: Path) -> None:
    path = space_file(tmp_path, "[ml]\nsaved_samples = [100, 20000]\n")
    plan = plan_trials(load_space(path), None, None, seed=0)
    settings = load_settings(None, env={})
    with pytest.raises(ConfigError) as caught:
        make_trials(settings, plan.values)
    message = str(caught.value)
    assert message.startswith("trial 2 (saved_samples=20000)")
    assert "saved_samples must be <= max_samples_in_memory" in message
    assert "trial 1" not in message
