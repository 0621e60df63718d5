"""`?`: every key the dashboard answers to, and what the panes' figures mean."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label

from tui_bot.tui.widgets.caches import HELP as CACHES_HELP

EXTRA_KEYS = (
    ("tab / shift+tab", "move between panes"),
    ("↑ ↓ pgup pgdn", "move the selection in a pane (in Positions: the one c closes)"),
    ("← →", "scroll a wide pane sideways"),
    (
        "1 … 8",
        "the Overview, Equity, Caches, Alerts, Timings, Model, Trades, Chart tabs; on a big "
        "terminal 3, 5 and 6 show the engine's page (Caches, Model, Timings), the others the "
        "trading page",
    ),
    ("ctrl+p", "command palette: every action by name, themes"),
    ("escape", "close this screen, cancel a dialog or the settings"),
)
NOTES = (
    "Times are UTC on the engine's clock: on the simulator that is the simulated clock, "
    "[sim] speed times ahead of the wall (60x by default); the panes say sim time.",
    "Opportunities: ranked by P(win), the model's probability that the trade nets more than "
    "nothing after fees (the engine's score is that probability).",
    "Trades: closed trades, newest first; PnL after both fees; exit reason take-profit, "
    "stop-loss, max-hold (risk.max_hold_minutes) or manual (c); P(win) at entry.",
    "Performance (Equity pane): since start is since the bot's first cycle on its data folder; "
    "today since 00:00 UTC, or since start if later. Profit factor: won over lost; "
    "expectancy: the mean PnL % a trade after fees; max drawdown: the deepest fall of equity "
    "from its peak; bot return: equity's change; buy & hold: the pairs scanned at the window's "
    "start, bought in equal parts and held.",
    "Chart: the selected row's symbol from the scan's cached candles (up █, down ▒); TP, E, "
    "SL: the open position's take-profit, entry and stop-loss; ▲ an entry, ▼ an exit.",
    CACHES_HELP,
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
                for note in NOTES:
                    yield Label(note, classes="help-note", markup=False)
            yield Label("No action needs the mouse. escape closes this screen.", id="help-hint")

    def action_close(self) -> None:
        self.dismiss(None)
