"""Typed settings: defaults < config.toml < environment variables < command-line flags.

The schema below is the single source of truth: it drives parsing, validation, the error
messages, the comments written into config.toml and `tui-bot config check`.

Regenerate the committed config.toml with: python -m tui_bot.config > config.toml
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import json
import math
import os
import shutil
import tempfile
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

import tomli_w

from tui_bot.errors import RefusedToStart

CCXT_KEY = "exchange.ccxt_config"
SECRET_HINT = (
    "do not put keys in config.toml; set TUI_BOT_API_KEY / TUI_BOT_API_SECRET / "
    "TUI_BOT_API_PASSWORD in the environment"
)
_SECRET_PARTS = ("secret", "apikey", "api_key", "password", "privatekey", "private_key")
_TRUE_WORDS = ("true", "1", "yes", "on")
_FALSE_WORDS = ("false", "0", "no", "off")
_UNIT_WORDS = {
    "s": "seconds",
    "ms": "milliseconds",
    "min": "minutes",
    "h": "hours",
    "%": "percent",
    "x": "times real time",
    "/s": "requests per second",
    "bps": "basis points",
}
_TYPE_WORDS = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
SHOWN_CHARS = 40  # a longer string value is shown in messages as its start and its length

HEADER = """\
# tui-bot configuration.
#
# Precedence (later wins): built-in defaults < this file < environment variables
# (TUI_BOT_<SECTION>_<KEY>, e.g. TUI_BOT_SCAN_CACHE_DURATION) < command-line flags
# (--set section.key=value). Show the effective settings with: tui-bot config check
#
# API keys never go in this file: set TUI_BOT_API_KEY, TUI_BOT_API_SECRET and
# TUI_BOT_API_PASSWORD in the environment.
#
# The dashboard's settings editor rewrites this file from the schema; comments you add are not kept.
"""


class ConfigError(RefusedToStart):
    """A configuration problem; str(error) is the full user-facing message (one problem a line)."""

    def __init__(self, problems: str | Sequence[str]) -> None:
        self.problems: tuple[str, ...] = (
            (problems,) if isinstance(problems, str) else tuple(problems)
        )
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class KeySpec:
    """One typed setting: where it lives, its default and what values are allowed."""

    section: str
    name: str
    type: type
    default: object
    description: str
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    recommended: tuple[float, float] | None = None
    choices: tuple[str, ...] | None = None
    env_names: tuple[str, ...] = ()
    allow_empty: bool = False
    max_length: int = 200  # strings only: a longer value is refused

    @property
    def dotted(self) -> str:
        return f"{self.section}.{self.name}"


def _key(
    section: str,
    name: str,
    type_: type,
    default: object,
    description: str,
    unit: str = "",
    limits: tuple[float, float] | None = None,
    recommended: tuple[float, float] | None = None,
    choices: tuple[str, ...] | None = None,
    legacy: tuple[str, ...] = (),
    allow_empty: bool = False,
    max_length: int = 200,
) -> KeySpec:
    env_name = f"TUI_BOT_{section}_{name}".upper()
    return KeySpec(
        section=section,
        name=name,
        type=type_,
        default=default,
        description=description,
        unit=unit,
        minimum=limits[0] if limits else None,
        maximum=limits[1] if limits else None,
        recommended=recommended,
        choices=choices,
        env_names=(env_name, *legacy),
        allow_empty=allow_empty,
        max_length=max_length,
    )


SCHEMA: tuple[KeySpec, ...] = (
    _key("bot", "check_interval", int, 60, "Time between trading cycles", "s", (1, 86400),
         (60, 300), legacy=("CHECK_INTERVAL",)),
    _key("bot", "max_open_positions", int, 5, "Most positions open at the same time", "",
         (1, 100)),
    _key("bot", "stake_currency", str, "USDT", "Quote currency used to buy and value positions",
         max_length=20),
    _key("bot", "dry_run", bool, True,
         "Unused, kept for old configs: [exchange] mode and --live decide whether orders are real"),
    _key("exchange", "name", str, "sim", 'Exchange: "sim" for the built-in simulator or a ccxt id',
         max_length=50),
    _key("exchange", "mode", str, "paper",
         "Real exchanges: paper (simulated fills) or live (also needs API keys in the "
         "environment and --live)", choices=("paper", "live")),
    _key("exchange", "sandbox", bool, False, "Use the exchange's sandbox/testnet if it has one"),
    _key("exchange", "whitelist", str, "",
         'Only these markets, comma-separated (e.g. "BTC/USDT, ETH/USDT"; * wildcards); '
         "empty: all", allow_empty=True, max_length=4096),
    _key("exchange", "blacklist", str, "",
         'Never these markets, comma-separated (e.g. "*/BTC, DOGE/*"); empty: none',
         allow_empty=True, max_length=4096),
    _key("exchange", "min_quote_volume_24h", float, 0.0,
         "Skip markets that traded less than this in 24 h (stake currency)", "", (0, 1e15)),
    _key("exchange", "weight_limit_per_minute", int, 0,
         "Request weight the exchange allows a minute, in its own units (Binance: 6000); "
         "0: the limit ccxt knows for it", "", (0, 10_000_000)),
    _key("exchange", "paper_balance", float, 10000.0,
         "Paper-trading starting balance (stake currency)", "", (1, 1e12)),
    _key("sim", "seed", int, 42, "Random seed of the simulated market", "", (0, 2**31 - 1)),
    _key("sim", "symbols", int, 40, "Number of simulated trading pairs", "", (5, 44)),
    _key("sim", "speed", float, 60.0, "Simulated seconds per wall-clock second", "x", (1, 3600)),
    _key("sim", "latency_ms", float, 50.0, "Simulated latency of each exchange call", "ms",
         (0, 10000)),
    _key("sim", "rate_limit_per_s", float, 50.0, "Simulated exchange rate limit", "/s",
         (1, 100000)),
    _key("sim", "error_rate", float, 0.0, "Fraction of simulated calls that fail", "", (0, 1)),
    _key("sim", "starting_balance", float, 10000.0, "Simulated starting balance (stake currency)",
         "", (1, 1e12)),
    _key("scan", "cache_duration", int, 300, "How long market scan results are reused", "s",
         (1, 86400), (180, 600), legacy=("MARKET_SCAN_CACHE_DURATION",)),
    _key("scan", "max_parallel_workers", int, 10, "Markets fetched in parallel during a scan", "",
         (1, 100), (5, 15), legacy=("MAX_PARALLEL_WORKERS",)),
    _key("scan", "timeframe", str, "5m", "Candle timeframe", choices=("1m", "5m", "15m", "1h")),
    _key("scan", "top_n", int, 20, "Markets kept after ranking by volume", "", (1, 1000)),
    _key("scan", "candles", int, 200, "Candles fetched per market", "", (60, 1000)),
    _key("ml", "model", str, "hist_gradient_boosting", "Classifier used for predictions",
         choices=("hist_gradient_boosting", "gradient_boosting")),
    _key("ml", "prediction_cache_duration", int, 300, "How long a prediction is reused", "s",
         (1, 86400), (180, 600), legacy=("ML_PREDICTION_CACHE_DURATION",)),
    _key("ml", "prediction_cache_size", int, 1000, "Most predictions kept in the cache", "",
         (10, 1000000)),
    _key("ml", "cache_key_precision", int, 2, "Decimals of features used in the cache key", "",
         (0, 6)),
    _key("ml", "training_interval_hours", float, 12.0, "Time between model retraining", "h",
         (0.01, 720)),
    _key("ml", "max_samples_in_memory", int, 15000, "Most training samples kept in memory", "",
         (100, 1000000)),
    _key("ml", "saved_samples", int, 5000,
         "Training samples saved to disk (at most max_samples_in_memory)", "", (10, 1000000)),
    _key("ml", "require_edge", bool, True,
         "Open no position until the model shows an edge (AUC interval above 0.5 and a positive "
         "expectancy after fees); exits keep working"),
    _key("risk", "stop_loss_pct", float, 2.0, "Stop loss below the entry price", "%", (0.1, 50)),
    _key("risk", "take_profit_pct", float, 3.0, "Take profit above the entry price", "%",
         (0.1, 100)),
    _key("risk", "kelly_fraction", float, 0.25, "Fraction of the Kelly stake to use", "", (0, 1)),
    _key("risk", "max_position_pct", float, 10.0, "Largest position as a share of equity", "%",
         (0.1, 100)),
    _key("risk", "max_per_group", int, 2, "Most open positions in one correlated group", "",
         (1, 50)),
    _key("risk", "max_drawdown_pct", float, 20.0, "Stop opening positions past this drawdown",
         "%", (1, 100)),
    _key("risk", "min_probability", float, 0.55, "Lowest predicted win probability to enter", "",
         (0.5, 1)),
    _key("risk", "max_hold_minutes", int, 30,
         "Close a position after this long (the model predicts 30 min ahead)", "min", (1, 100000)),
    _key("monitor", "report_every_cycles", int, 10, "Cycles between performance reports", "",
         (1, 10000)),
    _key("monitor", "slow_operation_seconds", float, 5.0, "Log operations slower than this", "s",
         (0.001, 3600)),
    _key("backtest", "starting_balance", float, 10000.0,
         "Backtest starting balance (stake currency)", "", (1, 1e12)),
    _key("backtest", "fee_pct", float, 0.1, "Backtest fee per side, of the order's cost", "%",
         (0, 10)),
    _key("backtest", "slippage_bps", float, 5.0,
         "Backtest fills this much worse than the next candle's open (1 bp = 0.01 %)", "bps",
         (0, 1000)),
    _key("backtest", "warmup_candles", int, 1000,
         "First candles of each pair used only as history (the model's bootstrap), not traded",
         "", (100, 100000)),
    _key("storage", "dir", str, "data", "Data directory (relative to this file's directory)",
         max_length=4096),
    _key("ui", "theme", str, "tui-dark", "Dashboard theme"),
)  # fmt: skip

SCHEMA_BY_KEY: Mapping[str, KeySpec] = MappingProxyType({s.dotted: s for s in SCHEMA})
SECTIONS: tuple[str, ...] = tuple(dict.fromkeys(s.section for s in SCHEMA))


@dataclass(frozen=True)
class BotSettings:
    check_interval: int
    max_open_positions: int
    stake_currency: str
    dry_run: bool


@dataclass(frozen=True)
class ExchangeSettings:
    name: str
    mode: str
    sandbox: bool
    whitelist: str
    blacklist: str
    min_quote_volume_24h: float
    weight_limit_per_minute: int
    paper_balance: float
    ccxt_config: dict[str, Any]


@dataclass(frozen=True)
class SimSettings:
    seed: int
    symbols: int
    speed: float
    latency_ms: float
    rate_limit_per_s: float
    error_rate: float
    starting_balance: float


@dataclass(frozen=True)
class ScanSettings:
    cache_duration: int
    max_parallel_workers: int
    timeframe: str
    top_n: int
    candles: int


@dataclass(frozen=True)
class MLSettings:
    model: str
    prediction_cache_duration: int
    prediction_cache_size: int
    cache_key_precision: int
    training_interval_hours: float
    max_samples_in_memory: int
    saved_samples: int
    require_edge: bool


@dataclass(frozen=True)
class RiskSettings:
    stop_loss_pct: float
    take_profit_pct: float
    kelly_fraction: float
    max_position_pct: float
    max_per_group: int
    max_drawdown_pct: float
    min_probability: float
    max_hold_minutes: int


@dataclass(frozen=True)
class MonitorSettings:
    report_every_cycles: int
    slow_operation_seconds: float


@dataclass(frozen=True)
class BacktestSettings:
    starting_balance: float
    fee_pct: float
    slippage_bps: float
    warmup_candles: int


@dataclass(frozen=True)
class StorageSettings:
    dir: str


@dataclass(frozen=True)
class UISettings:
    theme: str


_SECTION_CLASSES: Mapping[str, type] = MappingProxyType(
    {
        "bot": BotSettings,
        "exchange": ExchangeSettings,
        "sim": SimSettings,
        "scan": ScanSettings,
        "ml": MLSettings,
        "risk": RiskSettings,
        "monitor": MonitorSettings,
        "backtest": BacktestSettings,
        "storage": StorageSettings,
        "ui": UISettings,
    }
)


@dataclass(frozen=True)
class Settings:
    bot: BotSettings
    exchange: ExchangeSettings
    sim: SimSettings
    scan: ScanSettings
    ml: MLSettings
    risk: RiskSettings
    monitor: MonitorSettings
    backtest: BacktestSettings
    storage: StorageSettings
    ui: UISettings
    path: Path | None
    sources: Mapping[str, str]
    env_names: Mapping[str, str]
    warnings: tuple[str, ...]

    @property
    def storage_dir(self) -> Path:
        """storage.dir, resolved relative to the config file's directory (or the cwd)."""
        directory = Path(self.storage.dir).expanduser()
        if directory.is_absolute():
            return directory
        base = self.path.absolute().parent if self.path is not None else Path.cwd()
        return base / directory

    def get(self, dotted: str) -> object:
        """The value of one dotted key, e.g. settings.get("scan.cache_duration")."""
        if dotted != CCXT_KEY:
            key_spec(dotted)
        section, name = dotted.split(".", 1)
        return getattr(getattr(self, section), name)

    def with_values(self, values: Mapping[str, object]) -> Settings:
        """A validated copy with `values` applied; their source becomes "file"."""
        origin = str(self.path) if self.path is not None else ""
        new = _validate_many(values, origin)
        merged = {**settings_values(self), **new}
        sources = {**self.sources, **{key: "file" for key in new}}
        env_names = {k: v for k, v in self.env_names.items() if k not in new}
        _raise_if(_cross_errors(merged, sources, env_names, self.path))
        warnings = _recommended_warnings(merged, sources, env_names, self.path)
        warnings += _shadow_warnings(new, self.env_names)
        return _build(merged, self.path, sources, env_names, warnings)


# ---------------------------------------------------------------------------- public functions


def key_spec(dotted: str) -> KeySpec:
    """The schema entry of a dotted key; ConfigError (with a suggestion) if there is none."""
    spec = SCHEMA_BY_KEY.get(dotted)
    if spec is None:
        raise ConfigError(_unknown_key_message(dotted))
    return spec


def default_values() -> dict[str, object]:
    """Every dotted key with its default value (including exchange.ccxt_config = {})."""
    values: dict[str, object] = {spec.dotted: spec.default for spec in SCHEMA}
    values[CCXT_KEY] = {}
    return values


def validate_value(dotted: str, value: object, origin: str = "") -> object:
    """Parse and check one value (strings such as "240" are parsed); return the typed value."""
    return _check_value(dotted, value, origin, parse_text=True)


def load_settings(
    path: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, str | int | float | bool] | None = None,
) -> Settings:
    """Load defaults < config file < environment < overrides; ConfigError lists every problem."""
    path = _find_config(path)
    env = os.environ if env is None else env
    values = default_values()
    sources = dict.fromkeys(values, "default")
    env_names: dict[str, str] = {}
    errors: list[str] = []
    warnings: list[str] = []
    if path is not None:
        file_values, file_errors = _check_table(_read_toml(path), str(path))
        _apply(values, sources, file_values, "file")
        errors += file_errors
    env_values, used, env_errors, env_warnings = _from_env(env)
    _apply(values, sources, env_values, "env")
    env_names.update(used)
    flag_values, flag_errors = _from_overrides(overrides or {})
    _apply(values, sources, flag_values, "flag")
    for key in flag_values:
        env_names.pop(key, None)
    _raise_if(errors + env_errors + flag_errors)
    _raise_if(_cross_errors(values, sources, env_names, path))
    warnings += env_warnings + _recommended_warnings(values, sources, env_names, path)
    return _build(values, path, sources, env_names, warnings)


def save_settings(path: Path, values: Mapping[str, object]) -> None:
    """Update `values` in the config file atomically; on any error the file is left untouched."""
    path = Path(path)
    current: dict[str, object] = {}
    if path.exists():
        current, errors = _check_table(_read_toml(path), str(path))
        _raise_if([f"{path}: fix these problems before saving:", *errors] if errors else [])
    merged = {**current, **_validate_many(values, str(path))}
    full = {**default_values(), **merged}
    sources = {key: ("file" if key in merged else "default") for key in full}
    _raise_if(_cross_errors(full, sources, {}, path))
    _atomic_write(path, render_config(merged))


def render_config(values: Mapping[str, object]) -> str:
    """The whole config file: header, then every section and key with its comment."""
    full = {**default_values(), **values}
    blocks = [HEADER]
    for section in SECTIONS:
        keys = [
            f"# {_comment(spec)}\n{_render_key(spec.name, full[spec.dotted])}\n"
            for spec in SCHEMA
            if spec.section == section
        ]
        blocks.append(f"[{section}]\n" + "\n".join(keys))
        if section == "exchange":
            blocks.append(_render_ccxt(full[CCXT_KEY]))
    return "\n".join(blocks)


def describe(settings: Settings) -> str:
    """`tui-bot config check` output: one line per key with its source, then any warnings."""
    where = str(settings.path) if settings.path is not None else "none (built-in defaults only)"
    lines = [f"# config file: {where}"]
    for dotted, value in settings_values(settings).items():
        source = _source_label(dotted, settings.sources, settings.env_names, settings.path)
        lines.append(f"{dotted} = {_show_setting(dotted, value)}  ({source})")
    if settings.warnings:
        lines.append("warnings:")
        lines += [f"  - {warning}" for warning in settings.warnings]
    return "\n".join(lines)


def settings_values(settings: Settings) -> dict[str, object]:
    """Every dotted key of `settings` with its current value, in schema order."""
    values: dict[str, object] = {}
    for section, cls in _SECTION_CLASSES.items():
        for field in fields(cls):
            values[f"{section}.{field.name}"] = getattr(getattr(settings, section), field.name)
    return values


def keys_markdown() -> str:
    """The README's table of every key (python -m tui_bot.config --markdown)."""
    rows = [
        "| key | default | allowed | environment | what it does |",
        "|---|---|---|---|---|",
    ]
    for spec in SCHEMA:
        default = tomli_w.dumps({"v": spec.default}).strip()[4:]
        env = ", ".join(f"`{name}`" for name in spec.env_names)
        rows.append(
            f"| `{spec.dotted}` | {default} {spec.unit} | {_allowed_text(spec)} | {env} "
            f"| {spec.description} |"
        )
    rows.append(
        f"| `{CCXT_KEY}` | {{}} | any table | | Passed to the ccxt constructor untouched "
        "(nested tables included) |"
    )
    return "\n".join(rows) + "\n"


def _allowed_text(spec: KeySpec) -> str:
    if spec.choices:
        text = ", ".join(spec.choices)
    elif spec.minimum is not None:
        text = f"{spec.minimum:g} .. {spec.maximum:g}"
    elif spec.type is str:
        text = f"text, at most {spec.max_length} characters"
    elif spec.type is bool:
        text = "true, false"
    else:
        text = "any"
    if spec.recommended:
        text += f" (recommended {spec.recommended[0]:g}-{spec.recommended[1]:g})"
    return text


def main() -> None:
    """Print the default config.toml (python -m tui_bot.config > config.toml).

    With --markdown, print the README's table of keys instead.
    """
    import sys

    if "--markdown" in sys.argv[1:]:
        print(keys_markdown(), end="")
    else:
        print(render_config(default_values()), end="")


# ---------------------------------------------------------------------------- checking values


def _check_value(dotted: str, value: object, origin: str, parse_text: bool) -> object:
    if dotted == CCXT_KEY:
        return _check_ccxt(value, origin)
    spec = SCHEMA_BY_KEY.get(dotted)
    if spec is None:
        raise ConfigError(_prefix(origin, _unknown_key_message(dotted)))
    if parse_text and isinstance(value, str):
        problem, typed = _convert_text(spec, value.strip())
    else:
        problem, typed = _convert(spec, value)
    if problem is not None:
        raise ConfigError(
            _prefix(origin, f"[{spec.section}] {spec.name} = {_show(value)} {problem}")
        )
    problem = _limit_problem(spec, typed)
    if problem is not None:
        raise ConfigError(
            _prefix(origin, f"[{spec.section}] {spec.name} = {_show(typed)} {problem}")
        )
    return typed


def _convert(spec: KeySpec, value: object) -> tuple[str | None, object]:
    if spec.type is bool:
        return (None, value) if isinstance(value, bool) else (_wrong_type(spec), None)
    if spec.type is str:
        return (None, value) if isinstance(value, str) else (_wrong_type(spec), None)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _wrong_type(spec), None
    if spec.type is float:
        return None, float(value)
    if isinstance(value, float) and not value.is_integer():
        return _wrong_type(spec), None
    return None, int(value)


def _convert_text(spec: KeySpec, text: str) -> tuple[str | None, object]:
    if spec.type is str:
        return None, text
    if spec.type is bool:
        word = text.lower()
        if word in _TRUE_WORDS or word in _FALSE_WORDS:
            return None, word in _TRUE_WORDS
        return "has the wrong type: expected true or false (also 1/0, yes/no)", None
    try:
        number: float = int(text) if spec.type is int else float(text)
    except ValueError:
        try:
            number = float(text)
        except ValueError:
            return _wrong_type(spec), None
    return _convert(spec, number)


def _wrong_type(spec: KeySpec) -> str:
    return f"has the wrong type: expected {_TYPE_WORDS[spec.type]}"


def _limit_problem(spec: KeySpec, value: object) -> str | None:
    if isinstance(value, str):
        if len(value) > spec.max_length:
            return f"is too long: at most {spec.max_length} characters"
        if not value and not spec.allow_empty:
            return "is empty: expected a non-empty string"
        if spec.choices and value not in spec.choices:
            return f"is not an allowed choice: allowed {', '.join(spec.choices)}"
        return None
    if isinstance(value, float) and math.isnan(value):
        return f"is not a number: allowed {_range_text(spec)}"
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    too_low = spec.minimum is not None and value < spec.minimum
    too_high = spec.maximum is not None and value > spec.maximum
    return f"is out of range: allowed {_range_text(spec)}" if too_low or too_high else None


def _range_text(spec: KeySpec) -> str:
    text = f"{_num(spec.minimum)}..{_num(spec.maximum)}"
    if spec.unit:
        text += f" ({_UNIT_WORDS.get(spec.unit, spec.unit)})"
    if spec.recommended:
        text += f"; recommended {_num(spec.recommended[0])}-{_num(spec.recommended[1])}"
    return text


def _check_ccxt(value: object, origin: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        message = f"[exchange] ccxt_config = {_show(value)} has the wrong type: expected a table"
        raise ConfigError(_prefix(origin, message))
    _raise_if(_secret_errors(value, origin, CCXT_KEY))
    return copy.deepcopy(dict(value))


def _validate_many(values: Mapping[str, object], origin: str) -> dict[str, object]:
    checked: dict[str, object] = {}
    errors: list[str] = []
    for dotted, value in values.items():
        if _looks_secret(dotted.rsplit(".", 1)[-1]):
            errors.append(_prefix(origin, f"{dotted} looks like a secret; {SECRET_HINT}"))
            continue
        try:
            checked[dotted] = validate_value(dotted, value, origin)
        except ConfigError as error:
            errors += error.problems
    _raise_if(errors)
    return checked


def _cross_errors(
    values: Mapping[str, object],
    sources: Mapping[str, str],
    env_names: Mapping[str, str],
    path: Path | None,
) -> list[str]:
    saved, limit = values["ml.saved_samples"], values["ml.max_samples_in_memory"]
    if not isinstance(saved, int) or not isinstance(limit, int) or saved <= limit:
        return []
    saved_from = _source_label("ml.saved_samples", sources, env_names, path)
    limit_from = _source_label("ml.max_samples_in_memory", sources, env_names, path)
    return [
        _prefix(
            str(path) if path is not None else "settings",
            f"[ml] saved_samples = {saved} ({saved_from}) is larger than [ml] "
            f"max_samples_in_memory = {limit} ({limit_from}); saved_samples must be "
            "<= max_samples_in_memory",
        )
    ]


def _recommended_warnings(
    values: Mapping[str, object],
    sources: Mapping[str, str],
    env_names: Mapping[str, str],
    path: Path | None,
) -> list[str]:
    warnings = []
    for spec in SCHEMA:
        value = values[spec.dotted]
        if spec.recommended is None or not isinstance(value, int | float):
            continue
        low, high = spec.recommended
        if not low <= value <= high:
            unit = f" {_UNIT_WORDS.get(spec.unit, spec.unit)}" if spec.unit else ""
            source = _source_label(spec.dotted, sources, env_names, path)
            warnings.append(
                f"[{spec.section}] {spec.name} = {_show(value)} is outside the recommended range "
                f"{_num(low)}-{_num(high)}{unit} ({source})"
            )
    return warnings


def _shadow_warnings(new: Mapping[str, object], env_names: Mapping[str, str]) -> list[str]:
    return [
        f"{key} was set by environment variable {env_names[key]}, which will override "
        "the saved value on the next start"
        for key in new
        if key in env_names
    ]


# ---------------------------------------------------------------------------- reading sources


def _find_config(path: Path | None) -> Path | None:
    if path is None:
        default = Path("config.toml")
        if default.is_dir():
            raise ConfigError(
                f"{default.absolute()}: is a directory, not a file; move it away to use the "
                "built-in defaults, or pass --config PATH to use another file"
            )
        return default if default.is_file() else None
    path = Path(path)
    if path.is_dir():
        raise ConfigError(
            f"{path}: is a directory, not a file; pass --config the path of a .toml file"
        )
    if not path.exists():
        raise ConfigError(
            f"{path}: config file not found; check the path, or leave it out to use "
            "./config.toml or the built-in defaults"
        )
    return path


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(
            f"{path}: invalid TOML syntax: {error}; fix the syntax there and try again"
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: is not UTF-8 text; save it as UTF-8") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the config file: {error.strerror}") from None


def _check_table(table: Mapping[str, Any], origin: str) -> tuple[dict[str, object], list[str]]:
    values: dict[str, object] = {}
    errors = _secret_errors(table, origin, "")
    for section, body in table.items():
        if _looks_secret(section):
            continue
        if section not in SECTIONS or not isinstance(body, dict):
            errors.append(_bad_section_message(section, body, origin))
            continue
        for name, value in body.items():
            dotted = f"{section}.{name}"
            if _looks_secret(name):
                continue
            if dotted == CCXT_KEY and isinstance(value, dict):
                values[dotted] = copy.deepcopy(value)
                continue
            try:
                values[dotted] = _check_value(dotted, value, origin, parse_text=False)
            except ConfigError as error:
                errors += error.problems
    return values, errors


def _from_env(
    env: Mapping[str, str],
) -> tuple[dict[str, object], dict[str, str], list[str], list[str]]:
    values: dict[str, object] = {}
    used: dict[str, str] = {}
    errors: list[str] = []
    warnings: list[str] = []
    for spec in SCHEMA:
        present = [name for name in spec.env_names if env.get(name, "").strip()]
        if not present:
            continue
        name = present[0]
        if len(present) > 1:
            warnings.append(f"{' and '.join(present)} are both set; using {name}")
        try:
            values[spec.dotted] = validate_value(
                spec.dotted, env[name], f"environment variable {name}={_clip(env[name])}"
            )
            used[spec.dotted] = name
        except ConfigError as error:
            errors += error.problems
    return values, used, errors, warnings


def _from_overrides(
    overrides: Mapping[str, str | int | float | bool],
) -> tuple[dict[str, object], list[str]]:
    values: dict[str, object] = {}
    errors: list[str] = []
    for dotted, raw in overrides.items():
        if _looks_secret(dotted.rsplit(".", 1)[-1]):
            errors.append(f"--set {dotted}: looks like a secret; {SECRET_HINT}")
            continue
        try:
            values[dotted] = validate_value(dotted, raw, f"--set {dotted}={_raw(raw)}")
        except ConfigError as error:
            errors += error.problems
    return values, errors


def _apply(
    values: dict[str, object],
    sources: dict[str, str],
    new: Mapping[str, object],
    source: str,
) -> None:
    for key, value in new.items():
        values[key] = value
        sources[key] = source


def _build(
    values: Mapping[str, object],
    path: Path | None,
    sources: Mapping[str, str],
    env_names: Mapping[str, str],
    warnings: Sequence[str],
) -> Settings:
    sections = {
        section: cls(**{f.name: values[f"{section}.{f.name}"] for f in fields(cls)})
        for section, cls in _SECTION_CLASSES.items()
    }
    return Settings(
        **sections,
        path=path,
        sources=MappingProxyType(dict(sources)),
        env_names=MappingProxyType(dict(env_names)),
        warnings=tuple(warnings),
    )


# ---------------------------------------------------------------------------- secrets


def _looks_secret(name: str) -> bool:
    lowered = name.lower().replace("-", "_")
    return any(part in lowered for part in _SECRET_PARTS)


def _secret_errors(table: Mapping[str, Any], origin: str, where: str) -> list[str]:
    errors: list[str] = []
    for key, value in table.items():
        inner = f"{where}.{key}" if where else str(key)
        if _looks_secret(str(key)):
            place = f"[{where}] {key}" if where else str(key)
            errors.append(
                _prefix(origin, f"{place} looks like a secret (value not shown); {SECRET_HINT}")
            )
        elif isinstance(value, Mapping):
            errors += _secret_errors(value, origin, inner)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, Mapping):
                    errors += _secret_errors(item, origin, inner)
    return errors


# ---------------------------------------------------------------------------- messages


def _prefix(origin: str, message: str) -> str:
    return f"{origin}: {message}" if origin else message


def _unknown_key_message(dotted: str) -> str:
    if "." not in dotted:
        return f"unknown key {_clip(dotted)}; use section.key, e.g. scan.cache_duration"
    section, name = dotted.split(".", 1)
    if section not in SECTIONS:
        return _unknown_section_message(section)
    names = [s.name for s in SCHEMA if s.section == section]
    if section == "exchange":
        names.append("ccxt_config")
    match = _close_match(name, names)
    hint = f"did you mean {match}?" if match else f"known keys: {', '.join(names)}"
    return f"unknown key [{section}] {_clip(name)}; {hint}"


def _unknown_section_message(section: str) -> str:
    match = _close_match(section, SECTIONS)
    hint = f"did you mean [{match}]?" if match else f"known sections: {', '.join(SECTIONS)}"
    return f"unknown section [{_clip(section)}]; {hint}"


def _close_match(word: str, known: Sequence[str]) -> str | None:
    if len(word) > 100:  # nothing known is that long; and difflib is slow on huge words
        return None
    match = difflib.get_close_matches(word, known, n=1)
    return match[0] if match else None


def _bad_section_message(section: str, body: object, origin: str) -> str:
    if section in SECTIONS:
        return _prefix(
            origin, f"{section} must be a table: write [{section}] and put keys below it"
        )
    if isinstance(body, dict):
        return _prefix(origin, _unknown_section_message(section))
    owners = [s.section for s in SCHEMA if s.name == section]
    if owners:
        return _prefix(origin, f"key {section} is outside any section; put it under [{owners[0]}]")
    return _prefix(
        origin, f"unknown top-level key {_clip(section)}; {_unknown_section_message(section)}"
    )


def _source_label(
    dotted: str,
    sources: Mapping[str, str],
    env_names: Mapping[str, str],
    path: Path | None,
) -> str:
    source = sources.get(dotted, "default")
    if source == "env" and dotted in env_names:
        return f"env {env_names[dotted]}"
    if source == "file" and path is not None:
        return f"file {path}"
    return source


def _num(value: float | None) -> str:
    if value is None:
        return "?"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return str(value)


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and len(value) > SHOWN_CHARS:
        return (
            json.dumps(value[:SHOWN_CHARS], ensure_ascii=False)[:-1]
            + f'…" ({len(value):,} characters)'
        )
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _clip(text: str) -> str:
    """`text`, or its start and its length: a message never echoes a huge value back."""
    if len(text) <= SHOWN_CHARS:
        return text
    return f"{text[:SHOWN_CHARS]}… ({len(text):,} characters)"


def _raw(value: object) -> str:
    return _clip(value) if isinstance(value, str) else _show(value)


def _show_setting(dotted: str, value: object) -> str:
    if dotted == CCXT_KEY and isinstance(value, Mapping):
        return "{" + ", ".join(str(key) for key in value) + "}"
    return _show(value)


def _raise_if(errors: Sequence[str]) -> None:
    if errors:
        raise ConfigError(errors)


# ---------------------------------------------------------------------------- rendering, saving


def _comment(spec: KeySpec) -> str:
    parts = [spec.description]
    if spec.unit:
        parts.append(f"Unit: {_UNIT_WORDS.get(spec.unit, spec.unit)}")
    if spec.choices:
        parts.append(f"One of: {', '.join(spec.choices)}")
    if spec.type is bool:
        parts.append("Either true or false")
    if spec.minimum is not None and spec.maximum is not None:
        parts.append(f"Allowed: {_num(spec.minimum)}..{_num(spec.maximum)}")
    if spec.recommended:
        parts.append(f"Recommended: {_num(spec.recommended[0])}-{_num(spec.recommended[1])}")
    return ". ".join(parts) + "."


def _render_key(name: str, value: object) -> str:
    return tomli_w.dumps({name: value}).rstrip("\n")


def _render_ccxt(config: object) -> str:
    comment = (
        "# Options passed untouched to the ccxt exchange constructor (nested tables allowed).\n"
        "# Never put API keys here; use TUI_BOT_API_KEY / TUI_BOT_API_SECRET / "
        "TUI_BOT_API_PASSWORD.\n"
    )
    return comment + tomli_w.dumps({"exchange": {"ccxt_config": config}})


def _atomic_write(path: Path, text: str) -> None:
    try:
        handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise ConfigError(f"{path}: cannot save: {error.strerror}; nothing was changed") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        if path.exists():
            shutil.copymode(path, temp)
        os.replace(temp, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        if isinstance(error, OSError):
            raise ConfigError(f"{path}: cannot save: {error}; the file was not changed") from None
        raise


if __name__ == "__main__":
    main()
