"""Settings and where each value came from: defaults < config file < environment < --set flags."""

from __future__ import annotations

import copy
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

from tui_bot.config.checking import (
    check_value,
    key_spec,
    looks_secret,
    secret_errors,
    validate_many,
    validate_value,
)
from tui_bot.config.messages import (
    SECRET_HINT,
    UNIT_WORDS,
    ConfigError,
    bad_section_message,
    clip,
    deprecated_message,
    num,
    prefix,
    raise_if,
    show,
    show_raw,
    source_label,
)
from tui_bot.config.schema import (
    CCXT_KEY,
    DEPRECATED,
    SCHEMA,
    SECTION_CLASSES,
    SECTIONS,
    BacktestSettings,
    BotSettings,
    ExchangeSettings,
    MLSettings,
    MonitorSettings,
    RiskSettings,
    ScanSettings,
    SimSettings,
    StorageSettings,
    UISettings,
    default_values,
    env_name,
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
    sources: Mapping[str, str]  # dotted key -> "default" | "file" | "env" | "flag"
    env_names: Mapping[str, str]  # dotted key -> the environment variable that set it
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
        new = validate_many(values, origin)
        merged = {**settings_values(self), **new}
        sources = {**self.sources, **{key: "file" for key in new}}
        env_names = {k: v for k, v in self.env_names.items() if k not in new}
        raise_if(cross_errors(merged, sources, env_names, self.path))
        warnings = _recommended_warnings(merged, sources, env_names, self.path)
        warnings += _shadow_warnings(new, self.env_names)
        return _build(merged, self.path, sources, env_names, warnings)


def settings_values(settings: Settings) -> dict[str, object]:
    """Every dotted key of `settings` with its current value, in schema order."""
    values: dict[str, object] = {}
    for section, cls in SECTION_CLASSES.items():
        for item in fields(cls):
            values[f"{section}.{item.name}"] = getattr(getattr(settings, section), item.name)
    return values


def load_settings(
    path: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, str | int | float | bool] | None = None,
) -> Settings:
    """Load defaults < config file < environment < overrides; ConfigError lists every problem."""
    path = _find_config(path)
    env = os.environ if env is None else env
    overrides = overrides or {}
    values = default_values()
    sources = dict.fromkeys(values, "default")
    env_names: dict[str, str] = {}
    errors: list[str] = []
    warnings: list[str] = []
    if path is not None:
        file_values, file_errors, file_warnings = check_table(read_toml(path), str(path))
        _apply(values, sources, file_values, "file")
        errors += file_errors
        warnings += file_warnings
    warnings += _deprecated_in_env(env) + _deprecated_in_overrides(overrides)
    env_values, used, env_errors, env_warnings = _from_env(env)
    _apply(values, sources, env_values, "env")
    env_names.update(used)
    flag_values, flag_errors = _from_overrides(overrides)
    _apply(values, sources, flag_values, "flag")
    for key in flag_values:
        env_names.pop(key, None)
    raise_if(errors + env_errors + flag_errors)
    raise_if(cross_errors(values, sources, env_names, path))
    warnings += env_warnings + _recommended_warnings(values, sources, env_names, path)
    return _build(values, path, sources, env_names, warnings)


# ---------------------------------------------------------------------------- the config file


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


def read_toml(path: Path) -> dict[str, Any]:
    """The parsed file; ConfigError naming the file (and the line) when it cannot be read."""
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


def check_table(
    table: Mapping[str, Any], origin: str
) -> tuple[dict[str, object], list[str], list[str]]:
    """The file's typed values, its problems and its warnings (removed keys it still sets)."""
    values: dict[str, object] = {}
    warnings: list[str] = []
    errors = secret_errors(table, origin, "")
    for section, body in table.items():
        if looks_secret(section):
            continue
        if section not in SECTIONS or not isinstance(body, dict):
            errors.append(bad_section_message(section, body, origin))
            continue
        for name, value in body.items():
            dotted = f"{section}.{name}"
            if looks_secret(name):
                continue
            if dotted in DEPRECATED:
                warnings.append(deprecated_message(dotted, f"delete the line from {origin}"))
                continue
            if dotted == CCXT_KEY and isinstance(value, dict):
                values[dotted] = copy.deepcopy(value)
                continue
            try:
                values[dotted] = check_value(dotted, value, origin, parse_text=False)
            except ConfigError as error:
                errors += error.problems
    return values, errors, warnings


# ---------------------------------------------------------------------------- env, flags


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
                spec.dotted, env[name], f"environment variable {name}={clip(env[name])}"
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
        if dotted in DEPRECATED:
            continue  # a warning, from _deprecated_in_overrides
        if looks_secret(dotted.rsplit(".", 1)[-1]):
            errors.append(f"--set {dotted}: looks like a secret; {SECRET_HINT}")
            continue
        try:
            values[dotted] = validate_value(dotted, raw, f"--set {dotted}={show_raw(raw)}")
        except ConfigError as error:
            errors += error.problems
    return values, errors


def _deprecated_in_env(env: Mapping[str, str]) -> list[str]:
    warnings = []
    for dotted in DEPRECATED:
        name = env_name(*dotted.split(".", 1))
        if env.get(name, "").strip():
            warnings.append(deprecated_message(dotted, f"unset the environment variable {name}"))
    return warnings


def _deprecated_in_overrides(overrides: Mapping[str, object]) -> list[str]:
    return [
        deprecated_message(dotted, f"drop --set {dotted}")
        for dotted in overrides
        if dotted in DEPRECATED
    ]


# ---------------------------------------------------------------------------- checks, warnings


def cross_errors(
    values: Mapping[str, object],
    sources: Mapping[str, str],
    env_names: Mapping[str, str],
    path: Path | None,
) -> list[str]:
    """Problems between keys: ml.saved_samples may not exceed ml.max_samples_in_memory."""
    saved, limit = values["ml.saved_samples"], values["ml.max_samples_in_memory"]
    if not isinstance(saved, int) or not isinstance(limit, int) or saved <= limit:
        return []
    saved_from = source_label("ml.saved_samples", sources, env_names, path)
    limit_from = source_label("ml.max_samples_in_memory", sources, env_names, path)
    return [
        prefix(
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
            unit = f" {UNIT_WORDS.get(spec.unit, spec.unit)}" if spec.unit else ""
            source = source_label(spec.dotted, sources, env_names, path)
            warnings.append(
                f"[{spec.section}] {spec.name} = {show(value)} is outside the recommended range "
                f"{num(low)}-{num(high)}{unit} ({source})"
            )
    return warnings


def _shadow_warnings(new: Mapping[str, object], env_names: Mapping[str, str]) -> list[str]:
    return [
        f"{key} was set by environment variable {env_names[key]}, which will override "
        "the saved value on the next start"
        for key in new
        if key in env_names
    ]


# ---------------------------------------------------------------------------- building


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
        section: cls(**{item.name: values[f"{section}.{item.name}"] for item in fields(cls)})
        for section, cls in SECTION_CLASSES.items()
    }
    return Settings(
        **sections,
        path=path,
        sources=MappingProxyType(dict(sources)),
        env_names=MappingProxyType(dict(env_names)),
        warnings=tuple(warnings),
    )
