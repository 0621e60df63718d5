"""`?`: every key the dashboard answers to, and what the Model pane's verdict means."""

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
    ("1 … 6", "small terminals: the Overview, Equity, Caches, Alerts, Timings, Model tabs"),
    ("ctrl+p", "command palette: every action by name, themes"),
    ("escape", "close this screen, cancel a dialog or the settings"),
)
MODEL_HELP = (
    "Model pane: what the model learns, its validation (walk-forward) and live figures. "
    "EDGE only when the AUC interval's low end is above 0.5 and the trades the entry rule "
    "takes net more than nothing after fees; NO EDGE otherwise; NOT ENOUGH DATA when too few "
    "rows are scored. With ml.require_edge a model without an edge opens no positions."
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
            yield Label(MODEL_HELP, id="help-model", markup=False)
            yield Label("No action needs the mouse. escape closes this screen.", id="help-hint")

    def action_close(self) -> None:
        self.dismiss(None)
