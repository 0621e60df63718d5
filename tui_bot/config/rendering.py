"""Text made from the schema: config.toml with its comments, the README's key table and the
`tui-bot config check` listing."""

from __future__ import annotations

import sys
from collections.abc import Mapping

import tomli_w

from tui_bot.config.loading import Settings, settings_values
from tui_bot.config.messages import UNIT_WORDS, num, show, source_label
from tui_bot.config.schema import CCXT_KEY, SCHEMA, SECTIONS, KeySpec, default_values

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


def render_config(values: Mapping[str, object]) -> str:
    """The whole config file: header, then every section and key with its comment."""
    full = {**default_values(), **values}
    blocks = [HEADER]
    for section in SECTIONS:
        keys = [
            f"# {_comment(spec)}\n{render_key(spec.name, full[spec.dotted])}\n"
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
        source = source_label(dotted, settings.sources, settings.env_names, settings.path)
        lines.append(f"{dotted} = {_show_setting(dotted, value)}  ({source})")
    if settings.warnings:
        lines.append("warnings:")
        lines += [f"  - {warning}" for warning in settings.warnings]
    return "\n".join(lines)


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


def main(argv: list[str] | None = None) -> None:
    """Print the default config.toml (python -m tui_bot.config > config.toml).

    With --markdown, print the README's table of keys instead.
    """
    args = sys.argv[1:] if argv is None else argv
    if "--markdown" in args:
        print(keys_markdown(), end="")
    else:
        print(render_config(default_values()), end="")


def render_key(name: str, value: object) -> str:
    """One `name = value` line as config.toml has it."""
    return tomli_w.dumps({name: value}).rstrip("\n")


def _comment(spec: KeySpec) -> str:
    parts = [spec.description]
    if spec.unit:
        parts.append(f"Unit: {UNIT_WORDS.get(spec.unit, spec.unit)}")
    if spec.choices:
        parts.append(f"One of: {', '.join(spec.choices)}")
    if spec.type is bool:
        parts.append("Either true or false")
    if spec.minimum is not None and spec.maximum is not None:
        parts.append(f"Allowed: {num(spec.minimum)}..{num(spec.maximum)}")
    if spec.recommended:
        parts.append(f"Recommended: {num(spec.recommended[0])}-{num(spec.recommended[1])}")
    return ". ".join(parts) + "."


def _render_ccxt(config: object) -> str:
    comment = (
        "# Options passed untouched to the ccxt exchange constructor (nested tables allowed).\n"
        "# Never put API keys here; use TUI_BOT_API_KEY / TUI_BOT_API_SECRET / "
        "TUI_BOT_API_PASSWORD.\n"
    )
    return comment + tomli_w.dumps({"exchange": {"ccxt_config": config}})


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


def _show_setting(dotted: str, value: object) -> str:
    if dotted == CCXT_KEY and isinstance(value, Mapping):
        return "{" + ", ".join(str(key) for key in value) + "}"
    return show(value)
