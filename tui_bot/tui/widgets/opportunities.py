"""Opportunities pane: ranked candidates with the action taken or the reason it was blocked."""

from __future__ import annotations

from collections.abc import Mapping

from tui_bot.engine.snapshot import Opportunity, Snapshot
from tui_bot.tui.widgets.table import KeyedTable, Row, cell, num


class OpportunitiesTable(KeyedTable):
    TITLE = "Opportunities"
    COLUMNS = (
        ("rank", "#", "right"),
        ("symbol", "Symbol", "left"),
        ("score", "Score", "right"),
        ("probability", "Prob", "right"),
        ("action", "Action / blocked by", "left"),
    )

    def rows_for(self, snapshot: Snapshot) -> Mapping[str, Row]:
        ranked = sorted(snapshot.opportunities, key=lambda o: o.score, reverse=True)
        return {o.symbol: self._row(rank, o) for rank, o in enumerate(ranked, 1)}

    def _row(self, rank: int, o: Opportunity) -> Row:
        action_style = self.theme_colour("success") if o.approved else ""
        action = "BUY" if o.approved else o.action
        return (
            num(str(rank)),
            cell(o.symbol, "bold" if o.approved else ""),
            num(f"{o.score:.3f}"),
            num(f"{o.probability:.3f}"),
            cell(action, action_style),
        )

    def subtitle_for(self, snapshot: Snapshot) -> str:
        buys = sum(1 for o in snapshot.opportunities if o.approved)
        return f"{len(snapshot.opportunities)} ranked · {buys} buy"
