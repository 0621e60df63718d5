"""Trades pane: the closed trades, newest first, keyed by trade id: what the bot did and why
each trade ended. PnL is after both fees; times are on the engine's clock (the simulator's runs
ahead of the wall)."""

from __future__ import annotations

import time
from collections.abc import Mapping

from tui_bot.engine.snapshot import Snapshot, TradeView
from tui_bot.engine.words import ExitReason, Mode
from tui_bot.tui import format as fmt
from tui_bot.tui.widgets.opportunities import probability_text
from tui_bot.tui.widgets.performance import signed_money
from tui_bot.tui.widgets.table import KeyedTable, Row, cell, num

# the engine's exit reasons in a trader's words
REASONS: dict[str, str] = {
    ExitReason.TAKE_PROFIT: "take-profit",
    ExitReason.STOP_LOSS: "stop-loss",
    ExitReason.MAX_HOLD: "max-hold",
    ExitReason.MANUAL: "manual",
    ExitReason.END_OF_DATA: "end of data",
}


def reason_text(reason: str) -> str:
    return REASONS.get(reason, reason.replace("_", " "))


def close_time(epoch: float, now: float) -> str:
    """HH:MM:SS for a trade closed on the day `now` is in, MM-DD HH:MM before (UTC)."""
    if time.gmtime(epoch)[:3] == time.gmtime(now)[:3]:
        return fmt.clock_time(epoch)
    return time.strftime("%m-%d %H:%M", time.gmtime(epoch))


class TradesTable(KeyedTable):
    TITLE = "Trades"
    # what a trader reads first fits 80 columns; the prices and amount scroll in from the right
    COLUMNS = (
        ("closed", "Closed", "left"),
        ("symbol", "Symbol", "left"),
        ("group", "Group", "left"),
        ("pnl_pct", "PnL %", "right"),
        ("pnl", "PnL", "right"),
        ("reason", "Exit reason", "left"),
        ("held", "Held", "right"),
        ("probability", "P(win)", "right"),
        ("entry", "Entry", "right"),
        ("exit", "Exit", "right"),
        ("amount", "Amount", "right"),
    )

    def __init__(
        self, stake: str = "", *, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.stake = stake
        self._symbols: dict[str, str] = {}  # row key -> symbol, for the chart

    def rows_for(self, snapshot: Snapshot) -> Mapping[str, Row]:
        self._symbols = {str(t.id): t.symbol for t in snapshot.trades}
        return {str(t.id): self._row(t, snapshot.time) for t in snapshot.trades}

    def _row(self, t: TradeView, now: float) -> Row:
        sign = (t.pnl > 0) - (t.pnl < 0)
        style = self.theme_colour("success" if sign > 0 else "error") if sign else ""
        return (
            cell(close_time(t.closed_at, now)),
            cell(t.symbol, "bold"),
            cell(t.group),
            num(fmt.signed_pct(t.pnl_pct), style),
            num(signed_money(t.pnl), style),
            cell(reason_text(t.reason)),
            num(fmt.duration(t.closed_at - t.opened_at)),
            num(probability_text(t.probability) if t.probability else "-"),
            num(fmt.price(t.entry_price)),
            num(fmt.price(t.exit_price)),
            num(fmt.amount(t.amount)),
        )

    def subtitle_for(self, snapshot: Snapshot) -> str:
        total = snapshot.performance.start.trades
        shown = len(snapshot.trades)
        count = f"newest {shown:,} of {total:,}" if total > shown else f"{shown:,} closed"
        clock = " · sim time" if snapshot.mode == Mode.SIMULATED else " · UTC"
        stake = f" {self.stake}" if self.stake else ""
        return f"{count} · PnL{stake} after fees{clock}"

    def selected_symbol(self) -> str | None:
        key = self.selected_key()
        return None if key is None else self._symbols.get(key)

    def symbol_of(self, key: str) -> str | None:
        return self._symbols.get(key)
