"""Chart pane: the selected symbol's recent candles, drawn with Unicode, one candle a column,
with the open position's entry, stop-loss and take-profit levels and the past entries (▲) and
exits (▼) of its trades. The candles are the scan's cached ones, carried by the snapshot: a
redraw never asks the engine or the exchange for anything. A position the scan no longer holds
candles for is drawn from its price at each cycle, and the pane says so.

Colours come from the theme through the component classes below (app.tcss); without colour
the levels still read by their labels (TP, entry, SL) and the candles by their bodies (up █,
down ▒).
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.segment import Segment
from textual.strip import Strip
from textual.widget import Widget

from tui_bot.engine.snapshot import PositionView, Snapshot, TradeView
from tui_bot.tui import format as fmt

if TYPE_CHECKING:
    import numpy as np

UP_BODY, DOWN_BODY, WICK, LEVEL = "█", "▒", "│", "─"
BUY, SELL = "▲", "▼"
ROLES = ("up", "down", "entry", "stop", "target", "buy", "sell", "axis")
Cell = tuple[str, str]  # (character, role; "" for none)
RowOf = Callable[[float], int]  # a price -> the grid row it is drawn on


@dataclass(frozen=True)
class Level:
    price: float
    role: str  # entry | stop | target
    label: str  # E | SL | TP


@dataclass(frozen=True)
class Marker:
    time: float  # seconds, engine clock
    price: float
    role: str  # buy | sell


def levels_of(position: PositionView | None) -> list[Level]:
    if position is None:
        return []
    return [
        Level(position.take_profit, "target", "TP"),
        Level(position.entry_price, "entry", "E"),
        Level(position.stop_loss, "stop", "SL"),
    ]


def markers_of(
    symbol: str, trades: Sequence[TradeView], position: PositionView | None
) -> list[Marker]:
    """Entries and exits of the symbol's closed trades, and the open position's entry."""
    marks = []
    for t in trades:
        if t.symbol == symbol:
            marks.append(Marker(t.opened_at, t.entry_price, "buy"))
            marks.append(Marker(t.closed_at, t.exit_price, "sell"))
    if position is not None:
        marks.append(Marker(position.opened_at, position.entry_price, "buy"))
    return marks


def draw(
    candles: np.ndarray,
    levels: Sequence[Level],
    markers: Sequence[Marker],
    width: int,
    height: int,
) -> list[list[Cell]]:
    """`candles`: (T, 6) rows [ts_ms, o, h, l, c, v], oldest first. A grid of `height` rows of
    `width` cells: the plot, a price axis on the right, a time axis on the last row."""
    rows = height - 1  # the time axis
    axis = _axis_width(candles, levels)
    columns = width - axis
    if rows < 3 or columns < 5 or len(candles) == 0:
        return [[(" ", "")] * width for _ in range(max(height, 0))]
    shown = candles[-columns:]
    low = min([float(shown[:, 3].min()), *(lv.price for lv in levels)])
    high = max([float(shown[:, 2].max()), *(lv.price for lv in levels)])
    if high <= low:
        high, low = high * 1.001 + 1e-12, low * 0.999
    grid: list[list[Cell]] = [[(" ", "")] * width for _ in range(height)]

    def row_of(price: float) -> int:
        return min(rows - 1, max(0, round((high - price) / (high - low) * (rows - 1))))

    for level in levels:
        r = row_of(level.price)
        grid[r][:columns] = [(LEVEL, level.role)] * columns
    for x, (_, o, h, lo, c, _v) in enumerate(shown.tolist()):
        role = "up" if c >= o else "down"
        for r in range(row_of(h), row_of(lo) + 1):
            grid[r][x] = (WICK, role)
        for r in range(row_of(max(o, c)), row_of(min(o, c)) + 1):
            grid[r][x] = (UP_BODY if role == "up" else DOWN_BODY, role)
    _mark(grid, shown, markers, row_of)
    _price_axis(grid, columns, rows, high, low, levels, row_of)
    _time_axis(grid[rows], shown, columns)
    return grid


def _axis_width(candles: np.ndarray, levels: Sequence[Level]) -> int:
    if len(candles) == 0:
        return 0
    prices = [float(candles[:, 2].max()), float(candles[:, 3].min()), *(lv.price for lv in levels)]
    return 2 + max(len(fmt.price(p)) for p in prices) + (3 if levels else 0)


def _mark(
    grid: list[list[Cell]], shown: np.ndarray, markers: Sequence[Marker], row_of: RowOf
) -> None:
    """Each marker at the column of the candle it happened in, at its price's row; none for a
    time outside the candles shown."""
    if len(shown) < 2:
        return
    starts = (shown[:, 0] / 1000).tolist()
    end = starts[-1] + (starts[-1] - starts[-2])
    for m in markers:
        x = bisect.bisect_right(starts, m.time) - 1
        if x >= 0 and m.time < end:
            grid[row_of(m.price)][x] = (BUY if m.role == "buy" else SELL, m.role)


def _price_axis(
    grid: list[list[Cell]],
    columns: int,
    rows: int,
    high: float,
    low: float,
    levels: Sequence[Level],
    row_of: RowOf,
) -> None:
    """The levels' prices at their rows; the range's top and bottom where no level is."""
    labels: dict[int, tuple[str, str]] = {0: (fmt.price(high), "axis")}
    labels[rows - 1] = (fmt.price(low), "axis")
    for level in levels:
        labels[row_of(level.price)] = (f"{level.label} {fmt.price(level.price)}", level.role)
    for r, (text, role) in labels.items():
        text = (" " + text)[: len(grid[r]) - columns]
        for i, ch in enumerate(text):
            grid[r][columns + i] = (ch, role)


def _time_axis(line: list[Cell], shown: np.ndarray, columns: int) -> None:
    """HH:MM (UTC) of the first, middle and last candle shown."""
    n = len(shown)
    for x in sorted({0, n // 2, n - 1}):
        text = time.strftime("%H:%M", time.gmtime(float(shown[x, 0]) / 1000))
        start = min(max(0, x - len(text) // 2), columns - len(text))
        if x == 0:
            start = 0
        if any(ch != " " for ch, _ in line[max(0, start - 1) : start + len(text) + 1]):
            continue
        for i, ch in enumerate(text):
            line[start + i] = (ch, "axis")


class ChartPane(Widget, can_focus=True):
    """The symbol to chart is the app's choice (the row selected last); None: the first
    position, else the top opportunity."""

    COMPONENT_CLASSES = {f"chart--{role}" for role in ROLES}
    DEFAULT_CSS = """
    ChartPane { height: 1fr; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.symbol: str | None = None
        self.snapshot: Snapshot | None = None
        self.border_title = "Chart"
        self._grid: list[list[Cell]] = []
        self._grid_key: tuple[object, ...] = ()

    def show(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self._titles()
        self.refresh()

    def select(self, symbol: str | None) -> None:
        if symbol != self.symbol:
            self.symbol = symbol
            self._titles()
            self.refresh()

    def restyle(self) -> None:
        self.refresh()

    def charted(self) -> str | None:
        """The symbol the chart shows now."""
        s = self.snapshot
        if self.symbol is not None or s is None:
            return self.symbol
        if s.positions:
            return s.positions[0].symbol
        return s.opportunities[0].symbol if s.opportunities else None

    def series(self) -> tuple[np.ndarray | None, str]:
        """The rows to draw and what they are: "candles", "prices" (a price line), or ""."""
        s, symbol = self.snapshot, self.charted()
        if s is None or symbol is None:
            return None, ""
        if symbol in s.candles:
            return s.candles[symbol], "candles"
        if symbol in s.price_lines:
            return s.price_lines[symbol], "prices"
        return None, ""

    def _titles(self) -> None:
        symbol = self.charted()
        self.border_title = f"Chart · {symbol}" if symbol else "Chart"
        rows, kind = self.series()
        if rows is None or len(rows) < 2:
            self.border_subtitle = ""
            return
        if kind == "candles":
            what = f"{fmt.duration((rows[1, 0] - rows[0, 0]) / 1000)} candles"
        else:
            what = "price each cycle (not scanned now)"
        s = self.snapshot
        clock = "sim time" if s is not None and s.mode == "SIMULATED" else "UTC"
        self.border_subtitle = f"{what} · {BUY} bought {SELL} sold · {clock}"

    def message(self) -> str | None:
        """Why there is nothing to draw, in words; None when there is."""
        s = self.snapshot
        symbol = self.charted()
        if s is None:
            return "waiting for the engine…"
        if symbol is None:
            return "Select a row in Positions, Opportunities or Trades to chart its symbol."
        if not s.candles and not s.price_lines:
            return f"No candles for {symbol} yet: the first market scan has not finished."
        if self.series()[0] is None:
            return (
                f"No candles held for {symbol}: it is not among the pairs scanned now "
                "(the chart uses the scan's candles, it never fetches)."
            )
        return None

    def render_line(self, y: int) -> Strip:
        width, height = self.content_size.width, self.content_size.height
        grid = self.grid(width, height)
        base = self.rich_style
        if y >= len(grid):
            return Strip.blank(width, base)
        segments = []
        for text, role in _runs(grid[y]):
            style = base + self.get_component_rich_style(f"chart--{role}") if role else base
            segments.append(Segment(text, style))
        return Strip(segments, width)

    def grid(self, width: int, height: int) -> list[list[Cell]]:
        """The drawing for this size: built once a snapshot, symbol and size."""
        key = (id(self.snapshot), self.symbol, width, height)
        if key != self._grid_key:
            self._grid_key = key
            self._grid = self._build(width, height)
        return self._grid

    def _build(self, width: int, height: int) -> list[list[Cell]]:
        message = self.message()
        if message is not None:
            return _text_grid(message, width, height)
        s, symbol, rows = self.snapshot, self.charted(), self.series()[0]
        assert s is not None and symbol is not None and rows is not None  # no message: rows
        position = next((p for p in s.positions if p.symbol == symbol), None)
        markers = markers_of(symbol, s.trades, position)
        return draw(rows, levels_of(position), markers, width, height)


def _runs(line: list[Cell]) -> list[tuple[str, str]]:
    """Neighbouring cells of one role joined: fewer segments to draw."""
    runs: list[tuple[str, str]] = []
    for ch, role in line:
        if runs and runs[-1][1] == role:
            runs[-1] = (runs[-1][0] + ch, role)
        else:
            runs.append((ch, role))
    return runs


def _text_grid(text: str, width: int, height: int) -> list[list[Cell]]:
    """`text` wrapped to `width`, in the plain style."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return [[(ch, "") for ch in row[:width].ljust(width)] for row in lines[:height]]
