"""Timings pane: per operation count, avg, min, max, p95 and last, in milliseconds; on a real
exchange also the last cycle's request weight, what is left of the minute's budget and the
cycle's wait on the rate limiter."""

from __future__ import annotations

from collections.abc import Mapping

from tui_bot.engine.monitor import TimingStats
from tui_bot.engine.snapshot import Snapshot
from tui_bot.tui import format as fmt
from tui_bot.tui.widgets.table import KeyedTable, Row, cell, num


class TimingsTable(KeyedTable):
    TITLE = "Timings"
    COLUMNS = (
        ("operation", "Operation", "left"),
        ("count", "Count", "right"),
        ("avg", "Avg", "right"),
        ("min", "Min", "right"),
        ("max", "Max", "right"),
        ("p95", "p95", "right"),
        ("last", "Last", "right"),
    )

    slow_seconds: float = 0.0  # the app sets monitor.slow_operation_seconds

    def rows_for(self, snapshot: Snapshot) -> Mapping[str, Row]:
        slow = self.slow_seconds
        return {
            name: self._row(name, stats, slow) for name, stats in sorted(snapshot.timings.items())
        }

    def _row(self, name: str, t: TimingStats, slow: float) -> Row:
        warn = self.theme_colour("warning")
        max_style = warn if slow and t.max > slow else ""
        last_style = warn if slow and t.last > slow else ""
        return (
            cell(name),
            num(f"{t.count:,}"),
            num(fmt.millis(t.avg)),
            num(fmt.millis(t.min)),
            num(fmt.millis(t.max), max_style),
            num(fmt.millis(t.p95)),
            num(fmt.millis(t.last), last_style),
        )

    def subtitle_for(self, snapshot: Snapshot) -> str:
        budget = snapshot.requests
        if budget is None:
            return "milliseconds"
        # short: it has to fit the pane's border at 80 columns
        return (
            f"ms · weight {budget.weight:,.0f}/cycle, {budget.left_minute:,.0f} of "
            f"{budget.limit_minute:,.0f}/min left · limiter {fmt.millis(budget.waited_seconds)}"
        )
