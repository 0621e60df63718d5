"""`s`: edit the settings that matter while the bot runs. Valid values are applied to the running
engine and written to config.toml atomically; invalid ones are refused inline, nothing changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.validation import ValidationResult, Validator
from textual.widgets import Button, Footer, Input, Label

from tui_bot.config import (
    ConfigError,
    Settings,
    editor_labels,
    key_spec,
    save_settings,
    validate_value,
)

EDITABLE: dict[str, str] = editor_labels()  # key -> label, declared in config/schema.py
UNITS = {"s": "seconds", "ms": "ms", "min": "minutes", "h": "hours", "%": "%"}


@dataclass(frozen=True)
class SettingsSaved:
    """What a Save did. `settings` is what the engine should run with from now on."""

    settings: Settings
    path: Path
    saved: dict[str, object] = field(default_factory=dict)  # written to the file
    applied: dict[str, object] = field(default_factory=dict)  # given to the running engine
    env_kept: dict[str, str] = field(default_factory=dict)  # key -> env variable still winning


def input_id(key: str) -> str:
    return "input-" + key.replace(".", "--")


def shown_path(path: Path) -> str:
    """The config file, relative to the current directory when it is inside it."""
    try:
        return str(path.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def value_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def source_text(settings: Settings, key: str) -> str:
    source = settings.sources.get(key, "default")
    if source == "env":
        return f"env {settings.env_names.get(key, '')}".rstrip()
    if source == "flag":
        return "--set flag"
    return source  # file | default


def hint_text(settings: Settings, key: str) -> str:
    spec = key_spec(key)
    parts = [key, f"source: {source_text(settings, key)}"]
    if spec.recommended:
        low, high = spec.recommended
        parts.append(f"recommended {value_text(low)}–{value_text(high)}")
    if spec.minimum is not None and spec.maximum is not None:
        parts.append(f"allowed {value_text(spec.minimum)}–{value_text(spec.maximum)}")
    return " · ".join(parts)


class SettingValidator(Validator):
    """config.validate_value as a Textual validator: the config's own message, inline."""

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key

    def validate(self, value: str) -> ValidationResult:
        try:
            validate_value(self.key, value)
        except ConfigError as error:
            return self.failure(str(error))
        return self.success()


class SettingsScreen(Screen[SettingsSaved | None]):
    AUTO_FOCUS = ".setting-input"
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "save", "Save", priority=True),
    ]

    def __init__(self, settings: Settings, path: Path) -> None:
        super().__init__()
        self.settings = settings
        self.path = path

    def compose(self) -> ComposeResult:
        yield Label(f"Settings · {shown_path(self.path)}", id="settings-title", markup=False)
        yield Label(
            "Save applies to the running bot at once and writes the file; escape cancels.",
            id="settings-intro",
        )
        with VerticalScroll(id="settings-fields"):
            for key, label in EDITABLE.items():
                yield from self._row(key, label)
        yield Label("", id="settings-message", markup=False)
        with Horizontal(id="settings-buttons"):
            yield Button("Save (ctrl+s)", id="save", variant="primary")
            yield Button("Cancel (esc)", id="cancel")
        yield Footer()

    def _row(self, key: str, label: str) -> ComposeResult:
        spec = key_spec(key)
        with Vertical(classes="setting"):
            with Horizontal(classes="setting-main"):
                yield Label(label, classes="setting-label")
                yield Input(
                    value_text(self.settings.get(key)),
                    id=input_id(key),
                    classes="setting-input",
                    validators=[SettingValidator(key)],
                    validate_on=["changed", "submitted"],
                    tooltip=spec.description,
                )
                yield Label(UNITS.get(spec.unit, spec.unit), classes="setting-unit")
            yield Label(hint_text(self.settings, key), classes="setting-hint", markup=False)
            if self.settings.sources.get(key) == "env":
                name = self.settings.env_names.get(key, "an environment variable")
                yield Label(
                    f"set by env {name}: the env value keeps winning until you unset it "
                    "(a saved value goes to the file only)",
                    classes="setting-env",
                    markup=False,
                )
            yield Label("", id=f"error-{input_id(key)}", classes="setting-error", markup=False)

    # -- inline validation -------------------------------------------------------------------
    def inputs(self) -> dict[str, Input]:
        return {key: self.query_one(f"#{input_id(key)}", Input) for key in EDITABLE}

    def on_input_changed(self, event: Input.Changed) -> None:
        key = self._key_of(event.input)
        if key is not None:
            result = event.validation_result
            self._show_error(key, None if result is None or result.is_valid else result)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.focus_next()

    def _key_of(self, widget: Input) -> str | None:
        for key in EDITABLE:
            if widget.id == input_id(key):
                return key
        return None

    def _show_error(self, key: str, problem: ValidationResult | str | None) -> None:
        label = self.query_one(f"#error-{input_id(key)}", Label)
        if isinstance(problem, ValidationResult):
            problem = "; ".join(problem.failure_descriptions)
        label.update(f"✗ {problem}" if problem else "")
        label.set_class(bool(problem), "-shown")

    def _message(self, text: str, error: bool) -> None:
        label = self.query_one("#settings-message", Label)
        label.update(text)
        label.set_class(error, "error")

    # -- actions -----------------------------------------------------------------------------
    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_save(self) -> None:
        values: dict[str, object] = {}
        bad: list[str] = []
        inputs = self.inputs()
        for key, widget in inputs.items():
            try:
                values[key] = validate_value(key, widget.value)
            except ConfigError as error:
                bad.append(key)
                self._show_error(key, str(error))
        if bad:
            self._message(
                f"Not saved: fix {len(bad)} value(s) marked ✗. Nothing was applied or written.",
                error=True,
            )
            inputs[bad[0]].focus()
            return
        changed = {k: v for k, v in values.items() if v != self.settings.get(k)}
        env_kept = {
            k: self.settings.env_names.get(k, "environment")
            for k in changed
            if self.settings.sources.get(k) == "env"
        }
        applied = {k: v for k, v in changed.items() if k not in env_kept}
        try:
            new = self.settings.with_values(applied) if applied else self.settings
            if changed:
                save_settings(self.path, changed)
        except ConfigError as error:
            self._message(f"Not saved: {error}", error=True)
            return
        self.dismiss(SettingsSaved(new, self.path, changed, applied, env_kept))
