"""Positions pane: open positions marked to market, keyed by symbol; then the coins the exchange
holds outside the bot's store, marked "unmanaged" (no exit levels: the bot never trades them)."""

from __future__ import annotations

from collections.abc import Mapping

from tui_bot.engine.snapshot import PositionView, Snapshot, UnmanagedView
from tui_bot.engine.words import Mode
from tui_bot.tui import format as fmt
from tui_bot.tui.widgets.table import KeyedTable, Row, cell, num

UNMANAGED = "unmanaged:"  # row key prefix: an asset, not a symbol the bot trades


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
        rows = {p.symbol: self._row(p) for p in snapshot.positions}
        for u in snapshot.unmanaged:
            rows[f"{UNMANAGED}{u.asset}"] = self._unmanaged_row(u)
        return rows

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

    def _unmanaged_row(self, u: UnmanagedView) -> Row:
        last = fmt.price(u.last_price) if u.last_price is not None else "?"
        return (
            cell(u.asset, "bold"),
            cell("unmanaged", self.theme_colour("warning")),
            cell("-"),
            num(fmt.amount(u.amount)),
            num("-"),
            num(last),
            num("-"),
            num("-"),
            num("-"),
            num("-"),
        )

    def subtitle_for(self, snapshot: Snapshot) -> str:
        count = len(snapshot.positions)
        unmanaged = f" · {len(snapshot.unmanaged)} unmanaged" if snapshot.unmanaged else ""
        money = " · SIMULATED" if snapshot.mode == Mode.SIMULATED else ""
        return f"{count} open{unmanaged}{money}"

    def selected_symbol(self) -> str | None:
        """The selected position's symbol; None for an unmanaged row (nothing to close)."""
        key = self.selected_key()
        return None if key is None or key.startswith(UNMANAGED) else key
