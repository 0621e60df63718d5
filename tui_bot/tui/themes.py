"""themes/*.toml -> textual Theme objects. Each file is validated; a broken one is skipped with a
warning, never a crash."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.theme import Theme

DEFAULT_THEME = "tui-dark"
FALLBACK_THEME = "textual-dark"
COLOUR_FIELDS = (
    "primary",
    "secondary",
    "accent",
    "warning",
    "error",
    "success",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)
NUMBER_FIELDS = ("luminosity_spread", "text_alpha")
ALLOWED_FIELDS = frozenset({"name", "dark", "variables", *COLOUR_FIELDS, *NUMBER_FIELDS})
TEXT_STYLE_WORDS = frozenset(
    {"none", "bold", "italic", "underline", "reverse", "dim", "strike", "not", "blink"}
)
PACKAGE_THEMES = Path(__file__).resolve().parents[2] / "themes"


class ThemeError(Exception):
    """A theme file that cannot be used; str() names the file and the problem."""


@dataclass(frozen=True)
class LoadedThemes:
    themes: tuple[Theme, ...]
    warnings: tuple[str, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(theme.name for theme in self.themes)


def theme_dirs(config_path: Path | None) -> list[Path]:
    """Where themes are looked for, first match of a name wins: next to the config file, the
    current directory, then the themes shipped with tui-bot."""
    candidates = []
    if config_path is not None:
        candidates.append(Path(config_path).absolute().parent / "themes")
    candidates += [Path.cwd() / "themes", PACKAGE_THEMES]
    unique: list[Path] = []
    for directory in candidates:
        if directory.resolve() not in [d.resolve() for d in unique]:
            unique.append(directory)
    return unique


def load_themes(directories: Iterable[Path]) -> LoadedThemes:
    themes: dict[str, Theme] = {}
    warnings: list[str] = []
    for directory in directories:
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.toml")):
            try:
                theme = load_theme(path)
            except ThemeError as error:
                warnings.append(f"theme skipped: {error}")
                continue
            themes.setdefault(theme.name, theme)
    return LoadedThemes(tuple(themes.values()), tuple(warnings))


def load_theme(path: Path) -> Theme:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ThemeError(f"{path}: invalid TOML: {error}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ThemeError(f"{path}: cannot read: {error}") from None
    return theme_from_table(data, str(path))


def theme_from_table(data: Mapping[str, Any], origin: str) -> Theme:
    problems = _problems(data)
    if problems:
        raise ThemeError(f"{origin}: " + "; ".join(problems))
    values = dict(data)
    values["variables"] = dict(values.get("variables", {}))
    theme = Theme(**values)
    try:
        theme.to_color_system().generate()  # parses every colour of the theme
        for name, value in theme.variables.items():
            if not name.endswith("text-style"):
                Theme(name="probe", primary=value).to_color_system()
    except Exception as error:  # textual raises several parse error types
        raise ThemeError(f"{origin}: invalid colour: {error}") from None
    return theme


def _problems(data: Mapping[str, Any]) -> list[str]:
    problems = []
    unknown = sorted(set(data) - ALLOWED_FIELDS)
    if unknown:
        problems.append(
            f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(ALLOWED_FIELDS))}"
        )
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append('name is missing: add name = "my-theme"')
    if not isinstance(data.get("primary"), str):
        problems.append('primary is missing: add primary = "#rrggbb"')
    for key in COLOUR_FIELDS:
        if key in data and not isinstance(data[key], str):
            problems.append(f"{key} must be a colour string")
    for key in NUMBER_FIELDS:
        if key in data and (isinstance(data[key], bool) or not isinstance(data[key], int | float)):
            problems.append(f"{key} must be a number")
    if "dark" in data and not isinstance(data["dark"], bool):
        problems.append("dark must be true or false")
    variables = data.get("variables", {})
    if not isinstance(variables, Mapping):
        problems.append("[variables] must be a table")
    else:
        for key, value in variables.items():
            if not isinstance(value, str):
                problems.append(f"variables.{key} must be a string")
            elif key.endswith("text-style") and not set(value.split()) <= TEXT_STYLE_WORDS:
                problems.append(f"variables.{key} = {value!r} is not a text style")
    return problems
