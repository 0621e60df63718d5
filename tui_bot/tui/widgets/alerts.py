"""Alerts pane: slow operations, engine errors and notices, newest first, with time.

The time is the engine's clock in UTC: on the simulator that clock runs ahead of the wall
(60x by default), so there the column says "Sim time".
"""

from __future__ import annotations

from collections.abc import Mapping

from tui_bot.engine.snapshot import Alert, Snapshot
from tui_bot.engine.words import AlertLevel
from tui_bot.tui import format as fmt
from tui_bot.tui.widgets.table import KeyedTable, Row, cell

MAX_LOCAL = 20
SUBTITLE = "newest first"
SIM_TIME = "Sim time"  # the simulator's clock, UTC; not the wall's
LEVELS = {
    AlertLevel.ERROR: ("ERROR", "error"),
    AlertLevel.WARNING: ("WARN", "warning"),
    AlertLevel.INFO: ("info", ""),
}


def alert_key(alert: Alert) -> str:
    return f"{alert.time!r}|{alert.level}|{alert.source}|{alert.message}"


class AlertsTable(KeyedTable):
    TITLE = "Alerts"
    COLUMNS = (
        ("time", "UTC", "left"),
        ("level", "Level", "left"),
        ("source", "Source", "left"),
        ("message", "Message", "left"),
    )

    def __init__(
        self, simulated: bool = False, *, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.simulated = simulated  # the engine's clock is the simulator's
        if simulated:
            self.COLUMNS = (("time", SIM_TIME, "left"), *AlertsTable.COLUMNS[1:])
        self.local: list[Alert] = []  # from the dashboard itself: engine failures, theme files

    def add_local(self, alert: Alert) -> None:
        self.local.insert(0, alert)
        del self.local[MAX_LOCAL:]
        engine_alerts = () if self.last_snapshot is None else self.last_snapshot.alerts
        self.sync(self._rows(engine_alerts))
        self.border_subtitle = self._subtitle()

    def rows_for(self, snapshot: Snapshot) -> Mapping[str, Row]:
        return self._rows(snapshot.alerts)

    def _rows(self, engine_alerts: tuple[Alert, ...]) -> Mapping[str, Row]:
        alerts = sorted([*engine_alerts, *self.local], key=lambda a: a.time, reverse=True)
        return {alert_key(a): self._row(a) for a in alerts}

    def _row(self, alert: Alert) -> Row:
        word, colour = LEVELS.get(alert.level, (alert.level, ""))
        style = self.theme_colour(colour) if colour else ""
        return (
            cell(fmt.clock_time(alert.time)),
            cell(word, style),
            cell(alert.source),
            cell(" ".join(alert.message.split()), style if alert.level == AlertLevel.ERROR else ""),
        )

    def subtitle_for(self, snapshot: Snapshot) -> str:
        return self._subtitle()

    def _subtitle(self) -> str:
        return f"{SUBTITLE} · simulator's clock, UTC" if self.simulated else SUBTITLE
