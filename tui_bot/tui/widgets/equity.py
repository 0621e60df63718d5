"""Equity pane: current equity and its change over recent cycles, the performance figures
(since start and today, beside the market's buy-and-hold) and a sparkline of the cycles."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Label, Sparkline

from tui_bot.engine.snapshot import Snapshot
from tui_bot.engine.words import Mode
from tui_bot.tui import format as fmt
from tui_bot.tui.widgets.performance import PerformanceGrid


class EquityPane(VerticalScroll):
    """Scrolls when short: the figures come before the sparkline."""

    def compose(self) -> ComposeResult:
        yield Label("", id="equity-line", markup=False)
        yield PerformanceGrid(id="performance")
        yield Sparkline([], id="equity-spark")

    def on_mount(self) -> None:
        self.border_title = "Equity · Performance"

    def show(self, snapshot: Snapshot) -> None:
        history = list(snapshot.equity_history) or [snapshot.equity]
        start = history[0]
        change = (snapshot.equity / start - 1) * 100 if start else 0.0
        label = self.query_one("#equity-line", Label)
        label.update(
            f"{fmt.money(snapshot.equity)}  {fmt.signed_pct(change)} over {len(history)} cycles"
        )
        sign = fmt.pct_sign(change)  # the colour agrees with the sign shown
        label.set_class(sign > 0, "profit")
        label.set_class(sign < 0, "loss")
        self.query_one("#equity-spark", Sparkline).data = history
        self.query_one(PerformanceGrid).show(
            snapshot.performance, snapshot.time, simulated=snapshot.mode == Mode.SIMULATED
        )
        self.border_subtitle = snapshot.mode if snapshot.mode == Mode.SIMULATED else ""

    def restyle(self) -> None:
        """Colours come from CSS classes: nothing to redo on a theme change."""
