"""Positions pane: open positions marked to market, keyed by symbol."""

from __future__ import annotations

from collections.abc import Mapping

from tui_bot.engine.snapshot import PositionView, Snapshot
from tui_bot.tui import format as fmt
from tui_bot.tui.widgets.table import KeyedTable, Row, cell, num


class PositionsTable(KeyedTable):
    TITLE = "Positions"
    COLUMNS = (
        ("symbol", "Symbol", "left"),
        ("group", "Group", "left"),
        ("side", "Side", "left"),
        ("amount", "Amount", "right"),
        ("entry", "Entry", "right"),
        ("last", "Last", "right"),
        ("pnl", "PnL %", "right"),
        ("stop_loss", "Stop-loss", "right"),
        ("take_profit", "Take-profit", "right"),
        ("age", "Age", "right"),
    )

    def rows_for(self, snapshot: Snapshot) -> Mapping[str, Row]:
        return {p.symbol: self._row(p) for p in snapshot.positions}

    def _row(self, p: PositionView) -> Row:
        sign = fmt.pct_sign(p.pnl_pct)
        pnl_style = self.theme_colour("success" if sign > 0 else "error") if sign else ""
        last = fmt.price(p.last_price) + ("?" if p.stale else "")
        return (
            cell(p.symbol, "bold"),
            cell(p.group),
            cell(p.side),
            num(fmt.amount(p.amount)),
            num(fmt.price(p.entry_price)),
            num(last),
            num(fmt.signed_pct(p.pnl_pct), pnl_style),
            num(fmt.price(p.stop_loss)),
            num(fmt.price(p.take_profit)),
            num(fmt.duration(p.age_seconds)),
        )

    def subtitle_for(self, snapshot: Snapshot) -> str:
        count = len(snapshot.positions)
        money = " · SIMULATED" if snapshot.mode == "SIMULATED" else ""
        return f"{count} open{money}"

    def selected_symbol(self) -> str | None:
        return self.selected_key()
