"""Typed settings: defaults < config.toml < environment variables < command-line flags.

Each key is declared once, as a field of a section dataclass (schema.py); that declaration
drives parsing, validation, the error messages, the comments written into config.toml, the
README's key table, the settings editor's list and `tui-bot config check`.

  schema.py     the section dataclasses, KeySpec and the SCHEMA derived from them
  checking.py   one value against its KeySpec; secrets refused
  loading.py    Settings; file, environment and --set flags with each value's source
  messages.py   ConfigError and the texts of errors and warnings
  rendering.py  config.toml, the README's key table, `config check`'s listing
  saving.py     save_settings: validate, then write atomically

Regenerate the committed config.toml with: python -m tui_bot.config > config.toml
"""

from tui_bot.config.checking import key_spec, validate_value
from tui_bot.config.loading import Settings, load_settings, settings_values
from tui_bot.config.messages import SECRET_HINT, SHOWN_CHARS, ConfigError
from tui_bot.config.rendering import HEADER, describe, keys_markdown, main, render_config
from tui_bot.config.saving import save_settings
from tui_bot.config.schema import (
    CCXT_KEY,
    DEPRECATED,
    SCHEMA,
    SCHEMA_BY_KEY,
    SECTIONS,
    BacktestSettings,
    BotSettings,
    EditorRow,
    ExchangeMode,
    ExchangeSettings,
    KeySpec,
    MLSettings,
    ModelName,
    MonitorSettings,
    RiskSettings,
    ScanSettings,
    SimSettings,
    StorageSettings,
    Timeframe,
    UISettings,
    default_values,
    editor_labels,
    setting,
)

__all__ = [
    "CCXT_KEY",
    "DEPRECATED",
    "HEADER",
    "SCHEMA",
    "SCHEMA_BY_KEY",
    "SECRET_HINT",
    "SECTIONS",
    "SHOWN_CHARS",
    "BacktestSettings",
    "BotSettings",
    "ConfigError",
    "EditorRow",
    "ExchangeMode",
    "ExchangeSettings",
    "KeySpec",
    "MLSettings",
    "ModelName",
    "MonitorSettings",
    "RiskSettings",
    "ScanSettings",
    "Settings",
    "SimSettings",
    "StorageSettings",
    "Timeframe",
    "UISettings",
    "default_values",
    "describe",
    "editor_labels",
    "key_spec",
    "keys_markdown",
    "load_settings",
    "main",
    "render_config",
    "save_settings",
    "setting",
    "settings_values",
    "validate_value",
]
