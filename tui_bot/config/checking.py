"""One value against its KeySpec: parsing, type, limits, choices; and the secret refusal."""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any

from tui_bot.config.messages import (
    SECRET_HINT,
    ConfigError,
    prefix,
    raise_if,
    range_text,
    show,
    unknown_key_message,
    wrong_type,
)
from tui_bot.config.schema import CCXT_KEY, SCHEMA_BY_KEY, KeySpec

_TRUE_WORDS = ("true", "1", "yes", "on")
_FALSE_WORDS = ("false", "0", "no", "off")
_SECRET_PARTS = ("secret", "apikey", "api_key", "password", "privatekey", "private_key")


def key_spec(dotted: str) -> KeySpec:
    """The schema entry of a dotted key; ConfigError (with a suggestion) if there is none."""
    spec = SCHEMA_BY_KEY.get(dotted)
    if spec is None:
        raise ConfigError(unknown_key_message(dotted))
    return spec


def validate_value(dotted: str, value: object, origin: str = "") -> object:
    """Parse and check one value (strings such as "240" are parsed); return the typed value."""
    return check_value(dotted, value, origin, parse_text=True)


def validate_many(values: Mapping[str, object], origin: str) -> dict[str, object]:
    """validate_value on each of `values`; one ConfigError listing every problem."""
    checked: dict[str, object] = {}
    errors: list[str] = []
    for dotted, value in values.items():
        if looks_secret(dotted.rsplit(".", 1)[-1]):
            errors.append(prefix(origin, f"{dotted} looks like a secret; {SECRET_HINT}"))
            continue
        try:
            checked[dotted] = validate_value(dotted, value, origin)
        except ConfigError as error:
            errors += error.problems
    raise_if(errors)
    return checked


def check_value(dotted: str, value: object, origin: str, parse_text: bool) -> object:
    """The typed value; `parse_text`: a string is read as the key's type (env, flags, editor)."""
    if dotted == CCXT_KEY:
        return _check_ccxt(value, origin)
    spec = SCHEMA_BY_KEY.get(dotted)
    if spec is None:
        raise ConfigError(prefix(origin, unknown_key_message(dotted)))
    if parse_text and isinstance(value, str):
        problem, typed = _convert_text(spec, value.strip())
    else:
        problem, typed = _convert(spec, value)
    if problem is not None:
        raise ConfigError(prefix(origin, f"[{spec.section}] {spec.name} = {show(value)} {problem}"))
    problem = _limit_problem(spec, typed)
    if problem is not None:
        raise ConfigError(prefix(origin, f"[{spec.section}] {spec.name} = {show(typed)} {problem}"))
    return typed


def _convert(spec: KeySpec, value: object) -> tuple[str | None, object]:
    if spec.type is bool:
        return (None, value) if isinstance(value, bool) else (wrong_type(spec), None)
    if spec.type is str:
        return (None, value) if isinstance(value, str) else (wrong_type(spec), None)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return wrong_type(spec), None
    if spec.type is float:
        return None, float(value)
    if isinstance(value, float) and not value.is_integer():
        return wrong_type(spec), None
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
            return wrong_type(spec), None
    return _convert(spec, number)


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
        return f"is not a number: allowed {range_text(spec)}"
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    too_low = spec.minimum is not None and value < spec.minimum
    too_high = spec.maximum is not None and value > spec.maximum
    return f"is out of range: allowed {range_text(spec)}" if too_low or too_high else None


def _check_ccxt(value: object, origin: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        message = f"[exchange] ccxt_config = {show(value)} has the wrong type: expected a table"
        raise ConfigError(prefix(origin, message))
    raise_if(secret_errors(value, origin, CCXT_KEY))
    return copy.deepcopy(dict(value))


# ---------------------------------------------------------------------------- secrets


def looks_secret(name: str) -> bool:
    lowered = name.lower().replace("-", "_")
    return any(part in lowered for part in _SECRET_PARTS)


def secret_errors(table: Mapping[str, Any], origin: str, where: str) -> list[str]:
    """One problem per secret-looking key anywhere in `table`; values are never shown."""
    errors: list[str] = []
    for key, value in table.items():
        inner = f"{where}.{key}" if where else str(key)
        if looks_secret(str(key)):
            place = f"[{where}] {key}" if where else str(key)
            errors.append(
                prefix(origin, f"{place} looks like a secret (value not shown); {SECRET_HINT}")
            )
        elif isinstance(value, Mapping):
            errors += secret_errors(value, origin, inner)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, Mapping):
                    errors += secret_errors(item, origin, inner)
    return errors
