"""The texts users read: ConfigError, how values and sources are shown, unknown-key
suggestions and the warning for a removed key."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from tui_bot.config.schema import DEPRECATED, SCHEMA, SECTIONS, KeySpec
from tui_bot.errors import RefusedToStart

SECRET_HINT = (
    "do not put keys in config.toml; set TUI_BOT_API_KEY / TUI_BOT_API_SECRET / "
    "TUI_BOT_API_PASSWORD in the environment"
)
UNIT_WORDS = {
    "s": "seconds",
    "ms": "milliseconds",
    "min": "minutes",
    "h": "hours",
    "%": "percent",
    "x": "times real time",
    "/s": "requests per second",
    "bps": "basis points",
}
TYPE_WORDS = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
SHOWN_CHARS = 40  # a longer string value is shown in messages as its start and its length


class ConfigError(RefusedToStart):
    """A configuration problem; str(error) is the full user-facing message (one problem a line)."""

    def __init__(self, problems: str | Sequence[str]) -> None:
        self.problems: tuple[str, ...] = (
            (problems,) if isinstance(problems, str) else tuple(problems)
        )
        super().__init__("\n".join(self.problems))


def raise_if(errors: Sequence[str]) -> None:
    if errors:
        raise ConfigError(errors)


def prefix(origin: str, message: str) -> str:
    return f"{origin}: {message}" if origin else message


# ---------------------------------------------------------------------------- unknown keys


def unknown_key_message(dotted: str) -> str:
    if dotted in DEPRECATED:
        return deprecated_message(dotted)
    if "." not in dotted:
        return f"unknown key {clip(dotted)}; use section.key, e.g. scan.cache_duration"
    section, name = dotted.split(".", 1)
    if section not in SECTIONS:
        return unknown_section_message(section)
    names = [s.name for s in SCHEMA if s.section == section]
    if section == "exchange":
        names.append("ccxt_config")
    match = _close_match(name, names)
    hint = f"did you mean {match}?" if match else f"known keys: {', '.join(names)}"
    return f"unknown key [{section}] {clip(name)}; {hint}"


def unknown_section_message(section: str) -> str:
    match = _close_match(section, SECTIONS)
    hint = f"did you mean [{match}]?" if match else f"known sections: {', '.join(SECTIONS)}"
    return f"unknown section [{clip(section)}]; {hint}"


def _close_match(word: str, known: Sequence[str]) -> str | None:
    if len(word) > 100:  # nothing known is that long; and difflib is slow on huge words
        return None
    match = difflib.get_close_matches(word, known, n=1)
    return match[0] if match else None


def bad_section_message(section: str, body: object, origin: str) -> str:
    if section in SECTIONS:
        return prefix(origin, f"{section} must be a table: write [{section}] and put keys below it")
    if isinstance(body, dict):
        return prefix(origin, unknown_section_message(section))
    owners = [s.section for s in SCHEMA if s.name == section]
    if owners:
        return prefix(origin, f"key {section} is outside any section; put it under [{owners[0]}]")
    return prefix(
        origin, f"unknown top-level key {clip(section)}; {unknown_section_message(section)}"
    )


def deprecated_message(dotted: str, fix: str = "") -> str:
    """What to say about a removed key that is still set; `fix` says how to stop setting it."""
    text = f"{dotted} is no longer used: {DEPRECATED[dotted]}"
    return f"{text}; {fix}" if fix else text


# ---------------------------------------------------------------------------- values, sources


def wrong_type(spec: KeySpec) -> str:
    return f"has the wrong type: expected {TYPE_WORDS[spec.type]}"


def range_text(spec: KeySpec) -> str:
    text = f"{num(spec.minimum)}..{num(spec.maximum)}"
    if spec.unit:
        text += f" ({UNIT_WORDS.get(spec.unit, spec.unit)})"
    if spec.recommended:
        text += f"; recommended {num(spec.recommended[0])}-{num(spec.recommended[1])}"
    return text


def source_label(
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


def num(value: float | None) -> str:
    if value is None:
        return "?"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return str(value)


def show(value: object) -> str:
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


def clip(text: str) -> str:
    """`text`, or its start and its length: a message never echoes a huge value back."""
    if len(text) <= SHOWN_CHARS:
        return text
    return f"{text[:SHOWN_CHARS]}… ({len(text):,} characters)"


def show_raw(value: object) -> str:
    return clip(value) if isinstance(value, str) else show(value)
