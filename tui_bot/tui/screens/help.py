"""`?`: every key the dashboard answers to."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label

EXTRA_KEYS = (
    ("tab / shift+tab", "move between panes"),
    ("↑ ↓ pgup pgdn", "move the selection in a pane (in Positions: the one c closes)"),
    ("← →", "scroll a wide pane sideways"),
    ("1 … 5", "small terminals: the Overview, Equity, Caches, Alerts, Timings tabs"),
    ("ctrl+p", "command palette: every action by name, themes"),
    ("escape", "close this screen, cancel a dialog or the settings"),
)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("question_mark", "close", "Close", show=False),
        Binding("q", "close", "Close", show=False),
    ]

    def __init__(self, keys: Sequence[tuple[str, str]]) -> None:
        super().__init__()
        self.keys = [*keys, *EXTRA_KEYS]

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("Keys", id="help-title")
            with VerticalScroll(id="help-keys"):
                for key, text in self.keys:
                    with Horizontal(classes="help-row"):
                        yield Label(key, classes="help-key", markup=False)
                        yield Label(text, classes="help-text", markup=False)
            yield Label("No action needs the mouse. escape closes this screen.", id="help-hint")

    def action_close(self) -> None:
        self.dismiss(None)
