"""The space file: which settings a sweep tries, and the trials drawn from it.

    [risk]
    stop_loss_pct = [1, 2, 3]                             # a list: these values
    take_profit_pct = { min = 1, max = 5, step = 0.5 }    # a range with a step: 1, 1.5, ... 5
    min_probability = { min = 0.52, max = 0.6 }           # a range: any value in it
    kelly_fraction = { min = 0.05, max = 1, log = true }  # any value, drawn on a log scale

`risk.stop_loss_pct = [1, 2, 3]` at the top of the file is the same key (TOML's dotted keys).
An integer key's range without a step holds every integer in it. Every value is checked against
the config schema (config.validate_value) before anything runs; a problem names the file, the
key and what is allowed.

Trials are drawn here, in the parent, from a seeded random.Random: the same space, search, count
and seed give the same trials on every backend.
"""

from __future__ import annotations

import math
import random
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from tui_bot.config import ConfigError, KeySpec, key_spec, validate_value

SEARCHES = ("grid", "random")
DEFAULT_RANDOM_TRIALS = 20
MAX_VALUES = 10_000  # a range with a step may hold at most this many values
SIGNIFICANT_DIGITS = 4  # a value drawn from a range without a step is rounded to this
RANGE_KEYS = ("min", "max", "step", "log")
EXAMPLE = "e.g. stop_loss_pct = [1, 2, 3] or take_profit_pct = { min = 1, max = 5, step = 0.5 }"
# what a backtest does not read, or what a sweep must keep fixed
NOT_IN_A_BACKTEST = ("exchange", "sim", "monitor", "storage", "ui")
FIXED = {
    "bot.stake_currency": "it picks the pairs the data is cut to; set it with --set",
    "scan.timeframe": "the candle files decide it",
    "backtest.warmup_candles": "it places the in-sample / out-of-sample split; set it with --set",
}


@dataclass(frozen=True)
class Dimension:
    """One swept key: a finite set of values, or a range [low, high] to draw from."""

    key: str
    choices: tuple[Any, ...] | None  # None: the range below
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    integer: bool = False
    spec: Any = None  # as the file wrote it: a list or a range table

    def draw(self, rng: random.Random) -> Any:
        if self.choices is not None:
            return self.choices[rng.randrange(len(self.choices))]
        if self.log:
            value = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        else:
            value = rng.uniform(self.low, self.high)
        if self.integer:
            return min(max(round(value), math.ceil(self.low)), math.floor(self.high))
        return min(max(float(f"{value:.{SIGNIFICANT_DIGITS}g}"), self.low), self.high)


@dataclass(frozen=True)
class Space:
    path: Path
    dimensions: tuple[Dimension, ...]

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(d.key for d in self.dimensions)

    @property
    def size(self) -> int | None:
        """Points in the grid; None when a range has no step (infinitely many)."""
        if any(d.choices is None for d in self.dimensions):
            return None
        return math.prod(len(d.choices or ()) for d in self.dimensions)

    def point(self, index: int) -> dict[str, Any]:
        """The grid's `index`-th point, in itertools.product order (the first key slowest)."""
        values: dict[str, Any] = {}
        for d in reversed(self.dimensions):
            choices = d.choices or ()
            index, i = divmod(index, len(choices))
            values[d.key] = choices[i]
        return {d.key: values[d.key] for d in self.dimensions}

    def to_json(self) -> dict[str, Any]:
        return {d.key: d.spec for d in self.dimensions}


@dataclass(frozen=True)
class TrialPlan:
    search: str
    values: tuple[dict[str, Any], ...]  # one mapping of key -> value a trial
    notes: tuple[str, ...] = ()  # what was decided for the user: one line each


def load_space(path: Path) -> Space:
    """The space file, every key and value checked; ConfigError lists every problem."""
    path = Path(path)
    table = _read(path)
    dimensions: list[Dimension] = []
    errors: list[str] = []
    for section, body in table.items():
        if not isinstance(body, dict):
            errors.append(
                f"{path}: {section} = {body!r} is outside a section: write it under its section "
                f"([risk], [ml], ...) or as section.key = [...], {EXAMPLE}"
            )
            continue
        for name, value in body.items():
            try:
                dimensions.append(_dimension(path, f"{section}.{name}", value))
            except ConfigError as error:
                errors += error.problems
    if not dimensions and not errors:
        errors.append(f"{path}: no setting to sweep; add at least one, {EXAMPLE}")
    if errors:
        raise ConfigError(errors)
    return Space(path, tuple(dimensions))


def plan_trials(space: Space, search: str | None, count: int | None, seed: int) -> TrialPlan:
    """The trials' values. search None: grid when the grid is finite and `count` does not cut
    it, else random. A grid larger than `count` is sampled (seeded) without repeats; a random
    search over a finite space never repeats a point."""
    size = space.size
    if search is None:
        search = "grid" if size is not None and (count is None or count >= size) else "random"
    if search not in SEARCHES:
        raise ConfigError(f"--search {search}: unknown; use one of {', '.join(SEARCHES)}")
    if count is not None and count < 1:
        raise ConfigError(f"--trials {count}: give at least 1")
    rng = random.Random(seed)
    if search == "grid" and size is None:
        ranges = [d.key for d in space.dimensions if d.choices is None]
        raise ConfigError(
            f"{space.path}: --search grid needs a finite set of values, and {', '.join(ranges)} "
            "is a range without a step: give it a step or a list, or use --search random"
        )
    if size is None:
        n = count or DEFAULT_RANDOM_TRIALS
        points = [{d.key: d.draw(rng) for d in space.dimensions} for _ in range(n)]
        return TrialPlan(search, tuple(points))
    wanted = size if search == "grid" and count is None else (count or DEFAULT_RANDOM_TRIALS)
    if wanted >= size:
        notes = () if wanted == size else (f"the space has {size:,} points: trying all of them",)
        return TrialPlan(search, tuple(space.point(i) for i in range(size)), notes)
    indices = rng.sample(range(size), wanted)
    note = f"{wanted:,} of the {size:,} points, drawn at random (--seed {seed})"
    return TrialPlan(search, tuple(space.point(i) for i in indices), (note,))


# -- one key --------------------------------------------------------------------------------------
def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: space file not found; give --space the path of a .toml file ({EXAMPLE}; "
            "the project's sweep.toml is an example)"
        ) from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder; give --space the path of a .toml file") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML syntax: {error}; fix it there") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: is not UTF-8 text; save it as UTF-8") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the space file: {error.strerror}") from None


def _dimension(path: Path, dotted: str, value: object) -> Dimension:
    section, name = dotted.split(".", 1)
    where = f"{path}: [{section}] {name}"
    spec = _sweepable(path, dotted, where)
    if isinstance(value, list):
        return _list(path, spec, where, value)
    if isinstance(value, dict):
        return _range(path, spec, where, value)
    raise ConfigError(
        f"{where} = {value!r}: give a list of values or a range table, e.g. {name} = "
        f"[{_show(value)}] or {name} = {{ min = ..., max = ..., step = ... }}"
    )


def _sweepable(path: Path, dotted: str, where: str) -> KeySpec:
    section = dotted.split(".", 1)[0]
    if section in NOT_IN_A_BACKTEST:
        raise ConfigError(
            f"{where}: the [{section}] settings do not change a backtest; sweep the "
            "settings of [bot], [scan], [ml], [risk] or [backtest]"
        )
    try:
        spec = key_spec(dotted)
    except ConfigError as error:
        raise ConfigError([f"{path}: {problem}" for problem in error.problems]) from None
    if dotted in FIXED:
        raise ConfigError(f"{where}: cannot be swept: {FIXED[dotted]}")
    return spec


def _list(path: Path, spec: KeySpec, where: str, items: list[Any]) -> Dimension:
    if not items:
        raise ConfigError(f"{where} = []: an empty list; give the values to try, {EXAMPLE}")
    values = tuple(dict.fromkeys(validate_value(spec.dotted, v, str(path)) for v in items))
    return Dimension(spec.dotted, values, spec=list(values))


def _range(path: Path, spec: KeySpec, where: str, table: Mapping[str, Any]) -> Dimension:
    unknown = [k for k in table if k not in RANGE_KEYS]
    if unknown:
        raise ConfigError(
            f"{where}: unknown range key {', '.join(unknown)}; a range table takes "
            f"{', '.join(RANGE_KEYS)}"
        )
    if spec.type not in (int, float):
        kinds = f"one of {', '.join(spec.choices)}" if spec.choices else "true or false"
        raise ConfigError(f"{where}: a range needs a number key; it takes {kinds}: give a list")
    if "min" not in table or "max" not in table:
        raise ConfigError(f"{where}: a range table needs min and max, {EXAMPLE}")
    low = _number(validate_value(spec.dotted, table["min"], str(path)))
    high = _number(validate_value(spec.dotted, table["max"], str(path)))
    if low >= high:
        raise ConfigError(f"{where}: min = {_show(low)} is not below max = {_show(high)}")
    log = table.get("log", False)
    if not isinstance(log, bool):
        raise ConfigError(f"{where}: log = {log!r}: give true or false")
    integer = spec.type is int
    shown = {k: table[k] for k in RANGE_KEYS if k in table}
    if log:
        if "step" in table:
            raise ConfigError(
                f"{where}: log = true and step cannot go together: with log, values are drawn "
                "between min and max on a log scale (--search random); drop one of them"
            )
        if low <= 0:
            raise ConfigError(f"{where}: log = true needs min above 0 (it is {_show(low)})")
        return Dimension(spec.dotted, None, low, high, True, integer, shown)
    if "step" not in table and not integer:
        return Dimension(spec.dotted, None, low, high, False, False, shown)
    step = table.get("step", 1)
    values = _stepped(spec, where, low, high, step)
    checked = tuple(validate_value(spec.dotted, v, str(path)) for v in values)
    return Dimension(spec.dotted, checked, low, high, False, integer, shown)


def _stepped(spec: KeySpec, where: str, low: float, high: float, step: object) -> list[Any]:
    """min, min + step, ... up to max, computed in decimal (no 0.30000000000000004)."""
    integer = spec.type is int
    number = step if isinstance(step, int | float) and not isinstance(step, bool) else None
    if number is None or number <= 0 or (integer and not float(number).is_integer()):
        need = "a whole number of 1 or more" if integer else "a number above 0"
        raise ConfigError(f"{where}: step = {step!r}: give {need}")
    try:
        first, size, last = Decimal(repr(low)), Decimal(repr(step)), Decimal(repr(high))
    except InvalidOperation:
        raise ConfigError(f"{where}: min, max and step must be finite numbers") from None
    count = int((last - first) / size) + 1
    if count > MAX_VALUES:
        raise ConfigError(
            f"{where}: {count:,} values from min to max in steps of {_show(step)}; at most "
            f"{MAX_VALUES:,}: give a larger step"
        )
    values = [first + i * size for i in range(count)]
    return [int(v) if integer else float(v) for v in values]


def _number(value: object) -> float:
    assert isinstance(value, int | float)
    return value


def _show(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).lower() if isinstance(value, bool) else str(value)


def describe_values(values: Mapping[str, Any], keys: Sequence[str] | None = None) -> str:
    """ "stop_loss_pct=2, take_profit_pct=4.5": a trial's values, short key names."""
    keys = list(values) if keys is None else keys
    return ", ".join(f"{k.rsplit('.', 1)[-1]}={_show(values[k])}" for k in keys if k in values)
