"""Opportunities pane: ranked candidates with the action taken or the reason it was blocked.

The engine ranks by score, and its score is the model's win probability: one column shows it,
P(win).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from tui_bot.engine.snapshot import Opportunity, Snapshot
from tui_bot.tui.widgets.table import KeyedTable, Row, cell, num


def probability_text(p: float) -> str:
    """Three decimals, rounded down: 0.5498 reads 0.549, never the 0.550 a "probability <
    0.55" block beside it would contradict."""
    if not math.isfinite(p):
        return "-"
    return f"{math.floor(p * 1000 + 1e-9) / 1000:.3f}"


class OpportunitiesTable(KeyedTable):
    TITLE = "Opportunities"
    COLUMNS = (
        ("rank", "#", "right"),
        ("symbol", "Symbol", "left"),
        ("probability", "P(win)", "right"),
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
            num(probability_text(o.probability)),
            cell(action, action_style),
        )

    def subtitle_for(self, snapshot: Snapshot) -> str:
        buys = sum(1 for o in snapshot.opportunities if o.approved)
        return f"{len(snapshot.opportunities)} ranked · {buys} buy"
