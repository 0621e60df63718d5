"""The sweep's report: objectives, the ranking, the in-sample vs out-of-sample rank correlation,
the JSON object and the readable text. Computed from finished trials only."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tui_bot.config import ConfigError
from tui_bot.sweep.data import Split, iso
from tui_bot.sweep.space import Space, describe_values
from tui_bot.sweep.trial import TrialResult

if TYPE_CHECKING:
    from tui_bot.sweep.runner import SweepOutcome  # the runner imports this module

OBJECTIVES = ("sharpe", "profit", "calmar", "expectancy")
DEFAULT_OBJECTIVE = "sharpe"
DEFAULT_MIN_TRADES = 10
DAYS_PER_YEAR = 365
TABLE_ROWS = 30  # the text shows this many trials; --json has them all
FEW_TRIALS = 8  # a rank correlation over fewer trials than this is itself noisy
WIDTH = 96
OBJECTIVE_WORDS = {
    "sharpe": "Sharpe (daily returns, annualised)",
    "profit": "profit after fees, % of the starting balance",
    "calmar": "Calmar (annualised profit / max drawdown)",
    "expectancy": "expectancy, % of the balance a trade",
}


@dataclass(frozen=True)
class SweepSetup:
    """What the sweep was asked to do: the report's context."""

    space: Space
    search: str
    seed: int
    objective: str
    min_trades: int
    split: Split
    pairs: tuple[str, ...]
    data_bytes: int  # the data one worker receives, pickled
    trial_bytes: int  # what one trial ships (its id and values), pickled
    scheduler: str | None = None


# -- figures -------------------------------------------------------------------------------------
def objective_value(summary: dict[str, Any] | None, name: str) -> float | None:
    """The objective of one backtest summary; None where it is undefined (e.g. Sharpe under
    5 days, Calmar without a drawdown)."""
    if summary is None:
        return None
    if name == "sharpe":
        return summary.get("sharpe")
    if name == "profit":
        return summary.get("profit_total_pct")
    if name == "expectancy":
        return summary.get("expectancy_pct")
    if name == "calmar":
        return _calmar(summary)
    raise ValueError(f"unknown objective {name!r}; one of {', '.join(OBJECTIVES)}")


def resolve_objective(requested: str | None, split: Split) -> tuple[str, str | None]:
    """The objective to rank by, and a notice when the default had to change: without
    --objective it is sharpe, unless a part is too short for a Sharpe (then profit)."""
    from tui_bot.backtest.report import MIN_DAYS

    if requested is not None:
        if requested not in OBJECTIVES:
            known = ", ".join(OBJECTIVES)
            raise ConfigError(f"--objective {requested}: unknown; use one of {known}")
        return requested, None
    inside, outside = split.days()
    short = [(name, d) for name, d in (("in-sample", inside), ("out-of-sample", outside)) if d]
    name, days = min(short, key=lambda part: part[1])
    if days >= MIN_DAYS:
        return DEFAULT_OBJECTIVE, None
    return "profit", (
        f"ranking by profit: a Sharpe needs daily returns of {MIN_DAYS} days and the {name} "
        f"part spans {days} day{'s' if days != 1 else ''}; give a longer --timerange, or choose "
        "with --objective"
    )


def _calmar(summary: dict[str, Any]) -> float | None:
    profit, drawdown = summary.get("profit_total_pct"), summary.get("max_drawdown_pct")
    days = (_when(summary["end"]) - _when(summary["start"])).total_seconds() / 86_400
    if profit is None or not drawdown or days <= 0:
        return None
    return float(profit) * DAYS_PER_YEAR / days / float(drawdown)


def _when(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def enough_trades(result: TrialResult, min_trades: int) -> bool:
    return result.in_sample is not None and result.in_sample["trades"] >= min_trades


def ranked(trials: Sequence[TrialResult], objective: str, min_trades: int) -> list[TrialResult]:
    """Best first by the in-sample objective; trials with fewer than `min_trades` in-sample
    trades or no objective after them, failed trials last; ties by id."""

    def order(result: TrialResult) -> tuple[int, float, int]:
        value = objective_value(result.in_sample, objective)
        if not result.ok:
            return (3, 0.0, result.id)
        if value is None:
            return (2, 0.0, result.id)
        return (0 if enough_trades(result, min_trades) else 1, -value, result.id)

    return sorted(trials, key=order)


def best_trial(
    trials: Sequence[TrialResult], objective: str, min_trades: int
) -> TrialResult | None:
    """The best-ranked trial, if it has an objective and enough trades."""
    order = ranked(trials, objective, min_trades)
    if not order:
        return None
    first = order[0]
    if objective_value(first.in_sample, objective) is None:
        return None
    return first if enough_trades(first, min_trades) else None


def rank_correlation(trials: Sequence[TrialResult], objective: str) -> tuple[float | None, int]:
    """Spearman's rank correlation between the in-sample and the out-of-sample objective over
    the trials that have both, and how many those are; None under 3 of them or without
    variation."""
    from scipy.stats import spearmanr

    pairs = [
        (objective_value(t.in_sample, objective), objective_value(t.out_of_sample, objective))
        for t in trials
    ]
    both = [(a, b) for a, b in pairs if a is not None and b is not None]
    if len(both) < 3 or len({a for a, _ in both}) < 2 or len({b for _, b in both}) < 2:
        return None, len(both)
    rho = float(spearmanr([a for a, _ in both], [b for _, b in both]).statistic)
    return (rho if math.isfinite(rho) else None), len(both)


def correlation_meaning(rho: float | None, n: int) -> str:
    if rho is None:
        return (
            "not measurable: fewer than 3 trials have the objective in both parts, or they all tie"
        )
    if rho < 0.2:
        text = (
            "the in-sample ranking does not carry over to unseen data: the best in-sample "
            "settings are likely fitted to noise (overfitting)"
        )
    elif rho < 0.5:
        text = "the in-sample ranking carries over only weakly: expect the best result to shrink"
    else:
        text = "the in-sample ranking largely carries over to unseen data"
    if n < FEW_TRIALS:
        text += f"; over {n} trials this figure is itself noisy"
    return text


# -- JSON ---------------------------------------------------------------------------------------
def trial_json(result: TrialResult, setup: SweepSetup, rank: int | None) -> dict[str, Any]:
    return {
        "id": result.id,
        "rank": rank,
        "values": dict(result.values),
        "in_sample": result.in_sample,
        "out_of_sample": result.out_of_sample,
        "objective": objective_value(result.in_sample, setup.objective),
        "objective_out_of_sample": objective_value(result.out_of_sample, setup.objective),
        "enough_trades": enough_trades(result, setup.min_trades),
        "seconds": result.seconds,
        "worker": result.worker,
        "attempts": result.attempts,
        "data_loads": result.data_loads,
        "error": result.error,
    }


def sweep_json(outcome: SweepOutcome, setup: SweepSetup) -> dict[str, Any]:
    """One JSON-safe object: trials (best first), best, baseline, space, backend, seconds,
    rank_correlation, and what the sweep was asked to do. `outcome` is a SweepOutcome."""
    order = ranked(outcome.trials, setup.objective, setup.min_trades)
    best = best_trial(outcome.trials, setup.objective, setup.min_trades)
    rho, n = rank_correlation(outcome.trials, setup.objective)
    trials = [trial_json(t, setup, i if t.ok else None) for i, t in enumerate(order, start=1)]
    by_id = {t["id"]: t for t in trials}
    baseline = outcome.baseline
    return {
        "trials": trials,
        "best": by_id[best.id] if best is not None else None,
        "baseline": trial_json(baseline, setup, None) if baseline is not None else None,
        "space": setup.space.to_json(),
        "space_file": str(setup.space.path),
        "search": setup.search,
        "seed": setup.seed,
        "objective": setup.objective,
        "min_trades": setup.min_trades,
        "split": setup.split.to_json(),
        "pairs": list(setup.pairs),
        "backend": outcome.backend,
        "scheduler": setup.scheduler,
        "workers": outcome.workers,
        "seconds": outcome.seconds,
        "rank_correlation": rho,
        "rank_correlation_trials": n,
        "planned": outcome.planned,
        "finished": sum(1 for t in outcome.trials if t.ok),
        "failed": sum(1 for t in outcome.trials if not t.ok),
        "interrupted": outcome.interrupted,
        "shipped": {
            "data_bytes_per_worker": setup.data_bytes,
            "bytes_per_trial": setup.trial_bytes,
        },
    }


# -- text ---------------------------------------------------------------------------------------
def sweep_text(outcome: SweepOutcome, setup: SweepSetup) -> str:
    """The readable report: what ran, the ranked table (in-sample and out-of-sample columns),
    the overfitting figures, failures."""
    lines = [*_header(outcome, setup), "", *_table(outcome, setup), ""]
    lines += _overfitting(outcome, setup)
    failures = [t for t in outcome.trials if not t.ok]
    if failures:
        lines += ["", "Failed"]
        lines += [f"  trial {t.id} ({describe_values(t.values)}): {t.error}" for t in failures]
    return "\n".join(lines) + "\n"


def _header(outcome: SweepOutcome, setup: SweepSetup) -> list[str]:
    done = len(outcome.trials)
    costs = [t.seconds for t in (*outcome.trials, outcome.baseline) if t is not None and t.ok]
    cost = f"{sum(costs) / len(costs):.1f} s" if costs else "-"
    workers = _count(outcome.workers, "worker")
    split = setup.split
    oos = (
        f", out of sample to {_minute(split.end_ms)} UTC (the last {split.holdout:.0%})"
        if split.holdout
        else ", nothing held out (--holdout 0)"
    )
    lines = []
    if outcome.interrupted:
        lines.append(f"Interrupted: {done} of {outcome.planned} trials finished; those are below.")
    lines += [
        f"Sweep     {done} of {outcome.planned} trials ({setup.search}, seed {setup.seed}) of "
        f"{', '.join(setup.space.keys)} from {setup.space.path}",
        f"Backend   {outcome.backend}, {workers}, {outcome.seconds:.1f} s in all; a trial (two "
        f"backtests) took {cost} of a worker",
        f"Data      {_count(len(setup.pairs), 'pair')}, in sample {_minute(split.start_ms)} -> "
        f"{_minute(split.split_ms)} UTC{oos}",
        f"Ranked by the in-sample {OBJECTIVE_WORDS[setup.objective]}; trials with fewer than "
        f"{setup.min_trades} in-sample trades rank last (*)",
    ]
    return lines


def _table(outcome: SweepOutcome, setup: SweepSetup) -> list[str]:
    order = ranked(outcome.trials, setup.objective, setup.min_trades)
    # a key with one value is the same in every trial: the header names it
    keys = [d.key for d in setup.space.dimensions if d.choices is None or len(d.choices) > 1]
    headers = ("#", "trial", *(k.rsplit(".", 1)[-1] for k in keys))
    for part in ("IS", "OOS"):
        headers += _part_headers(part, setup.objective)
    rows = [_row(i, t, keys, setup) for i, t in enumerate(order[:TABLE_ROWS], start=1)]
    if outcome.baseline is not None:
        rows.append(_row(None, outcome.baseline, keys, setup))
    if not rows:
        return ["  No trial finished."]
    lines = _columns(headers, rows)
    if len(order) > TABLE_ROWS:
        lines.append(f"  ... and {len(order) - TABLE_ROWS} more (--json has every trial)")
    return lines


def _part_headers(part: str, objective: str) -> tuple[str, ...]:
    if objective == "profit":
        return (f"{part} profit", f"{part} trades")
    return (f"{part} {objective}", f"{part} profit", f"{part} trades")


def _row(
    rank: int | None, t: TrialResult, keys: Sequence[str], setup: SweepSetup
) -> tuple[str, ...]:
    if t.id == 0:
        cells: list[str] = ["-", "yours", *("" for _ in keys)]
    else:
        mark = "" if enough_trades(t, setup.min_trades) else "*"
        shown = f"{rank}{mark}" if t.ok else "-"
        cells = [shown, str(t.id), *(_value(t.values.get(k)) for k in keys)]
    width = len(_part_headers("", setup.objective))
    if not t.ok:
        return (*cells, "failed", *("" for _ in range(2 * width - 1)))
    for summary in (t.in_sample, t.out_of_sample):
        cells += _part(summary, setup.objective)
    return tuple(cells)


def _part(summary: dict[str, Any] | None, objective: str) -> list[str]:
    width = len(_part_headers("", objective))
    if summary is None:
        return ["-"] * width
    profit = summary.get("profit_total_pct")
    cells = ["-" if profit is None else f"{profit:+.2f} %", str(summary["trades"])]
    if objective != "profit":
        cells.insert(0, objective_text(objective_value(summary, objective), objective))
    return cells


def objective_text(value: float | None, objective: str) -> str:
    if value is None:
        return "-"
    if objective == "expectancy":
        return f"{value:+.4f} %"
    return f"{value:+.2f}" + (" %" if objective == "profit" else "")


def _value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _columns(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  " + "  ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return [line(headers), "  " + "  ".join("-" * w for w in widths), *map(line, rows)]


def _overfitting(outcome: SweepOutcome, setup: SweepSetup) -> list[str]:
    lines = overfitting_lines(outcome.trials, outcome.baseline, setup)
    wrapped = [
        w
        for line in lines
        for w in textwrap.wrap(line, WIDTH, initial_indent="  ", subsequent_indent="    ")
    ]
    return ["Overfitting", *wrapped]


def overfitting_lines(
    trials: Sequence[TrialResult], baseline: TrialResult | None, setup: SweepSetup
) -> list[str]:
    """What the holdout shows, a sentence a line: the rank correlation and what it means, the
    best in-sample trial's out-of-sample result, and the baseline's next to it."""
    name = setup.objective
    if not setup.split.holdout:
        return ["not measured: --holdout 0 keeps no data out of sample"]
    rho, n = rank_correlation(trials, name)
    shown = "-" if rho is None else f"{rho:+.2f}"
    lines = [
        f"rank correlation of the in-sample and out-of-sample {name} (Spearman) over {n} "
        f"trials: {shown}: {correlation_meaning(rho, n)}"
    ]
    best = best_trial(trials, name, setup.min_trades)
    if best is None:
        hint = (
            "; a Sharpe needs 5 days in a part: a longer --timerange, or --objective profit"
            if name == "sharpe"
            else ""
        )
        lines.append(
            f"no best trial: none has an in-sample {name} and {setup.min_trades} or more "
            f"in-sample trades{hint}"
        )
    else:
        lines.append(
            f"the best in-sample trial, {best.id} ({describe_values(best.values)}): "
            f"{_compare(best, name)}"
        )
    if baseline is not None and baseline.ok:
        lines.append(f"your settings (no sweep values): {_compare(baseline, name)}")
    return lines


def _compare(t: TrialResult, objective: str) -> str:
    return (
        f"in sample {_figures(t.in_sample, objective)}, "
        f"out of sample {_figures(t.out_of_sample, objective)}"
    )


def _figures(summary: dict[str, Any] | None, objective: str) -> str:
    """ "+1.20 (profit +0.40 %, 12 trades)"; the profit once when it is the objective."""
    summary = summary or {}
    profit = summary.get("profit_total_pct")
    shown = "profit -" if profit is None else f"profit {profit:+.2f} %"
    trades = f"{summary.get('trades', 0)} trades"
    if objective == "profit":
        return f"{shown} ({trades})"
    value = objective_text(objective_value(summary, objective), objective)
    return f"{objective} {value} ({shown}, {trades})"


def _count(n: int, thing: str) -> str:
    return f"{n:,} {thing}{'' if n == 1 else 's'}"


def _minute(ms: int) -> str:
    return iso(ms).replace("T", " ")[:16]
