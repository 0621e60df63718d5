"""Every setting, declared once: a field of a section dataclass with its metadata.

The type comes from the field's annotation (a Literal gives the allowed choices), the default
from the field, the rest (description, unit, limits, ...) from `setting(...)`. SCHEMA, the
KeySpec tuple the rest of the program reads, is derived from these classes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any, Literal, NamedTuple, TypeVar, get_args, get_origin, get_type_hints

CCXT_KEY = "exchange.ccxt_config"  # a free-form table, not a typed key: it is not in SCHEMA
_SETTING = "tui_bot.setting"  # the metadata key of a field declared with setting()

Timeframe = Literal["1m", "5m", "15m", "1h"]
ExchangeMode = Literal["paper", "live"]
ModelName = Literal["hist_gradient_boosting", "gradient_boosting"]

T = TypeVar("T")


class EditorRow(NamedTuple):
    """A key shown in the dashboard's settings editor: its place in the list and its label."""

    position: int
    label: str


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
    editor: EditorRow | None = None

    @property
    def dotted(self) -> str:
        return f"{self.section}.{self.name}"


@dataclass(frozen=True)
class _Metadata:
    """What setting() keeps on a field; the type and the default come from the field itself."""

    description: str
    unit: str
    limits: tuple[float, float] | None
    recommended: tuple[float, float] | None
    legacy: tuple[str, ...]
    allow_empty: bool
    max_length: int
    editor: EditorRow | None


def setting(
    default: T,
    description: str,
    unit: str = "",
    limits: tuple[float, float] | None = None,
    recommended: tuple[float, float] | None = None,
    legacy: tuple[str, ...] = (),
    allow_empty: bool = False,
    max_length: int = 200,
    editor: EditorRow | None = None,
) -> T:
    """A dataclass field that is a config key. `legacy`: older environment variable names."""
    metadata = _Metadata(
        description, unit, limits, recommended, legacy, allow_empty, max_length, editor
    )
    return field(default=default, metadata={_SETTING: metadata})


def env_name(section: str, name: str) -> str:
    """The environment variable of a key: TUI_BOT_<SECTION>_<KEY>."""
    return f"TUI_BOT_{section}_{name}".upper()


# ---------------------------------------------------------------------------- the settings


@dataclass(frozen=True)
class BotSettings:
    check_interval: int = setting(
        60,
        "Time between trading cycles",
        unit="s",
        limits=(1, 86400),
        recommended=(60, 300),
        legacy=("CHECK_INTERVAL",),
        editor=EditorRow(5, "Check interval"),
    )
    max_open_positions: int = setting(
        5,
        "Most positions open at the same time",
        limits=(1, 100),
        editor=EditorRow(7, "Max open positions"),
    )
    stake_currency: str = setting(
        "USDT", "Quote currency used to buy and value positions", max_length=20
    )


@dataclass(frozen=True)
class ExchangeSettings:
    name: str = setting(
        "sim", 'Exchange: "sim" for the built-in simulator or a ccxt id', max_length=50
    )
    mode: ExchangeMode = setting(
        "paper",
        "Real exchanges: paper (simulated fills) or live (also needs API keys in the "
        "environment and --live)",
    )
    sandbox: bool = setting(False, "Use the exchange's sandbox/testnet if it has one")
    whitelist: str = setting(
        "",
        'Only these markets, comma-separated (e.g. "BTC/USDT, ETH/USDT"; * wildcards); empty: all',
        allow_empty=True,
        max_length=4096,
    )
    blacklist: str = setting(
        "",
        'Never these markets, comma-separated (e.g. "*/BTC, DOGE/*"); empty: none',
        allow_empty=True,
        max_length=4096,
    )
    min_quote_volume_24h: float = setting(
        0.0,
        "Skip markets that traded less than this in 24 h (stake currency)",
        limits=(0, 1e15),
    )
    weight_limit_per_minute: int = setting(
        0,
        "Request weight the exchange allows a minute, in its own units (Binance: 6000); "
        "0: the limit ccxt knows for it",
        limits=(0, 10_000_000),
    )
    paper_balance: float = setting(
        10000.0, "Paper-trading starting balance (stake currency)", limits=(1, 1e12)
    )
    ccxt_config: dict[str, Any] = field(default_factory=dict)  # CCXT_KEY


@dataclass(frozen=True)
class SimSettings:
    seed: int = setting(42, "Random seed of the simulated market", limits=(0, 2**31 - 1))
    symbols: int = setting(40, "Number of simulated trading pairs", limits=(5, 44))
    speed: float = setting(
        60.0, "Simulated seconds per wall-clock second", unit="x", limits=(1, 3600)
    )
    latency_ms: float = setting(
        50.0, "Simulated latency of each exchange call", unit="ms", limits=(0, 10000)
    )
    rate_limit_per_s: float = setting(
        50.0, "Simulated exchange rate limit", unit="/s", limits=(1, 100000)
    )
    error_rate: float = setting(0.0, "Fraction of simulated calls that fail", limits=(0, 1))
    starting_balance: float = setting(
        10000.0, "Simulated starting balance (stake currency)", limits=(1, 1e12)
    )


@dataclass(frozen=True)
class ScanSettings:
    cache_duration: int = setting(
        300,
        "How long market scan results are reused",
        unit="s",
        limits=(1, 86400),
        recommended=(180, 600),
        legacy=("MARKET_SCAN_CACHE_DURATION",),
        editor=EditorRow(1, "Market scan cache duration"),
    )
    max_parallel_workers: int = setting(
        10,
        "Markets fetched in parallel during a scan",
        limits=(1, 100),
        recommended=(5, 15),
        legacy=("MAX_PARALLEL_WORKERS",),
        editor=EditorRow(4, "Max parallel workers"),
    )
    timeframe: Timeframe = setting("5m", "Candle timeframe")
    top_n: int = setting(20, "Markets kept after ranking by volume", limits=(1, 1000))
    candles: int = setting(200, "Candles fetched per market", limits=(60, 1000))


@dataclass(frozen=True)
class MLSettings:
    model: ModelName = setting("hist_gradient_boosting", "Classifier used for predictions")
    prediction_cache_duration: int = setting(
        300,
        "How long a prediction is reused",
        unit="s",
        limits=(1, 86400),
        recommended=(180, 600),
        legacy=("ML_PREDICTION_CACHE_DURATION",),
        editor=EditorRow(2, "ML prediction cache duration"),
    )
    prediction_cache_size: int = setting(
        1000,
        "Most predictions kept in the cache",
        limits=(10, 1000000),
        editor=EditorRow(3, "Prediction cache size"),
    )
    cache_key_precision: int = setting(
        2, "Decimals of features used in the cache key", limits=(0, 6)
    )
    training_interval_hours: float = setting(
        12.0, "Time between model retraining", unit="h", limits=(0.01, 720)
    )
    max_samples_in_memory: int = setting(
        15000, "Most training samples kept in memory", limits=(100, 1000000)
    )
    saved_samples: int = setting(
        5000,
        "Training samples saved to disk (at most max_samples_in_memory)",
        limits=(10, 1000000),
    )
    require_edge: bool = setting(
        True,
        "Open no position until the model shows an edge (AUC interval above 0.5 and a positive "
        "expectancy after fees); exits keep working",
    )


@dataclass(frozen=True)
class RiskSettings:
    stop_loss_pct: float = setting(
        2.0,
        "Stop loss below the entry price",
        unit="%",
        limits=(0.1, 50),
        editor=EditorRow(10, "Stop-loss"),
    )
    take_profit_pct: float = setting(
        3.0,
        "Take profit above the entry price",
        unit="%",
        limits=(0.1, 100),
        editor=EditorRow(11, "Take-profit"),
    )
    kelly_fraction: float = setting(
        0.25,
        "Fraction of the Kelly stake to use",
        limits=(0, 1),
        editor=EditorRow(13, "Kelly fraction"),
    )
    max_position_pct: float = setting(
        10.0,
        "Largest position as a share of equity",
        unit="%",
        limits=(0.1, 100),
        editor=EditorRow(9, "Max position size"),
    )
    max_per_group: int = setting(
        2,
        "Most open positions in one correlated group",
        limits=(1, 50),
        editor=EditorRow(8, "Max positions per group"),
    )
    max_drawdown_pct: float = setting(
        20.0,
        "Stop opening positions past this drawdown",
        unit="%",
        limits=(1, 100),
        editor=EditorRow(12, "Max drawdown (kill switch)"),
    )
    min_probability: float = setting(
        0.55,
        "Lowest predicted win probability to enter",
        limits=(0.5, 1),
        editor=EditorRow(14, "Min win probability"),
    )
    max_hold_minutes: int = setting(
        30,
        "Close a position after this long (the model predicts 30 min ahead)",
        unit="min",
        limits=(1, 100000),
        editor=EditorRow(15, "Max holding time"),
    )


@dataclass(frozen=True)
class MonitorSettings:
    report_every_cycles: int = setting(10, "Cycles between performance reports", limits=(1, 10000))
    slow_operation_seconds: float = setting(
        5.0,
        "Log operations slower than this",
        unit="s",
        limits=(0.001, 3600),
        editor=EditorRow(6, "Slow-operation threshold"),
    )


@dataclass(frozen=True)
class BacktestSettings:
    starting_balance: float = setting(
        10000.0, "Backtest starting balance (stake currency)", limits=(1, 1e12)
    )
    fee_pct: float = setting(
        0.1, "Backtest fee per side, of the order's cost", unit="%", limits=(0, 10)
    )
    slippage_bps: float = setting(
        5.0,
        "Backtest fills this much worse than the next candle's open (1 bp = 0.01 %)",
        unit="bps",
        limits=(0, 1000),
    )
    warmup_candles: int = setting(
        1000,
        "First candles of each pair used only as history (the model's bootstrap), not traded",
        limits=(100, 100000),
    )


@dataclass(frozen=True)
class StorageSettings:
    dir: str = setting(
        "data", "Data directory (relative to this file's directory)", max_length=4096
    )


@dataclass(frozen=True)
class UISettings:
    theme: str = setting("tui-dark", "Dashboard theme")


# The sections in the order config.toml, the README and `config check` list them.
SECTION_CLASSES: Mapping[str, type[Any]] = MappingProxyType(
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

# Keys that were removed: a file, env var or flag that still sets one is a warning, not an error.
DEPRECATED: Mapping[str, str] = MappingProxyType(
    {"bot.dry_run": "[exchange] mode and --live decide whether orders are real"}
)


# ---------------------------------------------------------------------------- derived


def _type_and_choices(annotation: object, where: str) -> tuple[type, tuple[str, ...] | None]:
    if get_origin(annotation) is Literal:
        choices = get_args(annotation)
        if not all(isinstance(choice, str) for choice in choices):
            raise TypeError(f"{where}: a Literal setting must list strings")
        return str, tuple(str(choice) for choice in choices)
    if annotation in (bool, int, float, str):
        assert isinstance(annotation, type)
        return annotation, None
    raise TypeError(f"{where}: a setting is a bool, int, float, str or Literal of strings")


def _section_specs(section: str, cls: type[Any]) -> list[KeySpec]:
    hints = get_type_hints(cls)
    specs = []
    for item in fields(cls):
        meta = item.metadata.get(_SETTING)
        if not isinstance(meta, _Metadata):
            continue  # not a typed key (exchange.ccxt_config)
        kind, choices = _type_and_choices(hints[item.name], f"{section}.{item.name}")
        specs.append(
            KeySpec(
                section=section,
                name=item.name,
                type=kind,
                default=item.default,
                description=meta.description,
                unit=meta.unit,
                minimum=meta.limits[0] if meta.limits else None,
                maximum=meta.limits[1] if meta.limits else None,
                recommended=meta.recommended,
                choices=choices,
                env_names=(env_name(section, item.name), *meta.legacy),
                allow_empty=meta.allow_empty,
                max_length=meta.max_length,
                editor=meta.editor,
            )
        )
    return specs


SCHEMA: tuple[KeySpec, ...] = tuple(
    spec for section, cls in SECTION_CLASSES.items() for spec in _section_specs(section, cls)
)
SCHEMA_BY_KEY: Mapping[str, KeySpec] = MappingProxyType({s.dotted: s for s in SCHEMA})
SECTIONS: tuple[str, ...] = tuple(SECTION_CLASSES)


def default_values() -> dict[str, object]:
    """Every dotted key with its default value (including exchange.ccxt_config = {})."""
    values: dict[str, object] = {spec.dotted: spec.default for spec in SCHEMA}
    values[CCXT_KEY] = {}
    return values


def editor_labels() -> dict[str, str]:
    """The keys the settings editor shows, in its order, each with its label."""
    rows = sorted((s.editor, s.dotted) for s in SCHEMA if s.editor is not None)
    return {dotted: editor.label for editor, dotted in rows}
