"""One benchmark row: a naive baseline and ours, their ratio, the seed's figures and our goal."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

Seed = float | tuple[float, float] | None


@dataclass(frozen=True)
class Goal:
    """ours <op> value; with `of`: ours <op> value x (the baseline, or another row's ours)."""

    op: str  # "<=", "<" or ">="
    value: float
    of: str | None = None  # None, "baseline" or a row name

    def threshold(self, row: Row, rows: dict[str, Row]) -> float | None:
        if self.of is None:
            return self.value
        ref = row.baseline if self.of == "baseline" else _ours(rows.get(self.of))
        return None if ref is None else self.value * ref

    def met(self, row: Row, rows: dict[str, Row]) -> bool | None:
        limit = self.threshold(row, rows)
        if limit is None or row.ours is None or not math.isfinite(row.ours):
            return None
        if self.op == "<=":
            return row.ours <= limit
        if self.op == "<":
            return row.ours < limit
        return row.ours >= limit


def _ours(row: Row | None) -> float | None:
    return None if row is None else row.ours


def _seed_json(seed: Seed) -> float | list[float] | None:
    return list(seed) if isinstance(seed, tuple) else seed


@dataclass
class Row:
    name: str
    unit: str
    baseline: float | None
    ours: float | None
    seed_before: Seed = None
    seed_after: Seed = None
    goal: Goal | None = None
    ratio: float | None = None  # baseline / ours unless given
    baseline_label: str = ""  # what the baseline column is, for the docs
    ours_label: str = ""
    check: str = ""  # how the suite checked that both compute the same thing
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.ratio is None and self.baseline is not None and self.ours:
            self.ratio = self.baseline / self.ours

    def to_json(self, rows: dict[str, Row]) -> dict[str, Any]:
        goal = None
        if self.goal is not None:
            goal = {
                "op": self.goal.op,
                "value": self.goal.value,
                "of": self.goal.of,
                "threshold": self.goal.threshold(self, rows),
                "met": self.goal.met(self, rows),
            }
        return {
            "name": self.name,
            "unit": self.unit,
            "baseline": self.baseline,
            "ours": self.ours,
            "ratio": self.ratio,
            "seed_before": _seed_json(self.seed_before),
            "seed_after": _seed_json(self.seed_after),
            "goal": goal,
        }


class CheckFailed(AssertionError):
    """A baseline and our implementation did not compute the same result."""


def require(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)
