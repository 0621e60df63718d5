"""Performance figures, since start and today, beside the market's buy-and-hold over the same
time: does the bot beat doing nothing? Shown inside the Equity pane."""

from __future__ import annotations

import math
import time

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label

from tui_bot.engine.snapshot import Performance, PerformanceFigures
from tui_bot.tui import format as fmt

# the market's prices taken this long after a window started: its own start is shown
MARKET_LATE_SECONDS = 900.0
# (row id, key shown on its left)
ROWS = (
    ("from", "from (UTC)"),
    ("trades", "trades"),
    ("net", "net PnL"),
    ("fees", "fees paid"),
    ("factor", "profit factor"),
    ("expectancy", "expectancy"),
    ("drawdown", "max drawdown"),
    ("return", "bot return"),
    ("market", "buy & hold"),
    ("market-from", "b&h from"),  # only when its prices were taken late (see market_late)
)
WINDOWS = ("start", "today")


def number(value: float | None, decimals: int = 2) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.{decimals}f}"


def pct(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else fmt.signed_pct(value)


def signed_money(value: float) -> str:
    """+12.34 / −12.34 (the minus as signed_pct writes it); 0.00 unsigned."""
    shown = round(value, 2)
    sign = "+" if shown > 0 else "−" if shown < 0 else ""
    return sign + fmt.money(abs(shown))


def when(epoch: float | None, now: float) -> str:
    """HH:MM on the day `now` is in, MM-DD HH:MM before; "-" when unknown."""
    if epoch is None:
        return "-"
    if time.gmtime(epoch)[:3] == time.gmtime(now)[:3]:
        return time.strftime("%H:%M", time.gmtime(epoch))
    return time.strftime("%m-%d %H:%M", time.gmtime(epoch))


def factor_text(f: PerformanceFigures) -> str:
    if f.profit_factor is not None:
        return number(f.profit_factor)
    return "no losses" if f.gross_profit > 0 else "-"


def market_late(f: PerformanceFigures) -> bool:
    """The buy-and-hold's prices were taken well after the window began (no candles reached
    back that far): it covers less time than the bot's figures, and the pane says from when."""
    if f.market_since is None or f.since is None:
        return False
    return f.market_since - f.since > MARKET_LATE_SECONDS


def figure_texts(f: PerformanceFigures, now: float) -> dict[str, tuple[str, int]]:
    """Each row's text for one window, and its sign (1 profit, -1 loss, 0 neither)."""
    won = "" if f.win_rate is None else f" ({f.win_rate * 100:.0f}% won)"
    return {
        "from": (when(f.since, now), 0),
        "trades": (f"{f.trades:,}{won}", 0),
        "net": (signed_money(f.net_pnl), sign(f.net_pnl)),
        "fees": (fmt.money(f.fees_paid), 0),
        "factor": (factor_text(f), 0),
        "expectancy": (pct(f.expectancy_pct), sign(f.expectancy_pct)),
        "drawdown": (number(f.max_drawdown_pct) + "%" * (f.max_drawdown_pct is not None), 0),
        "return": (pct(f.return_pct), sign(f.return_pct)),
        "market": (pct(f.market_change_pct), sign(f.market_change_pct)),
        "market-from": (when(f.market_since, now), 0),
    }


def sign(value: float | None) -> int:
    return 0 if value is None or not math.isfinite(value) else fmt.pct_sign(value)


class PerformanceGrid(Vertical):
    """One row a figure, a column a window; profit and loss coloured by css class."""

    def compose(self) -> ComposeResult:
        with Horizontal(classes="perf-row perf-head"):
            yield Label("", classes="perf-key", markup=False)
            yield Label("since start", classes="perf-value", markup=False)
            yield Label("today", classes="perf-value", markup=False)
        for row_id, key in ROWS:
            with Horizontal(classes="perf-row", id=f"perf-row-{row_id}"):
                yield Label(key, id=f"perf-key-{row_id}", classes="perf-key", markup=False)
                for window in WINDOWS:
                    yield Label(
                        "-", id=f"perf-{window}-{row_id}", classes="perf-value", markup=False
                    )

    def show(self, performance: Performance, now: float, simulated: bool = False) -> None:
        """`simulated`: the times are the simulator's clock (ahead of the wall), and say so."""
        self.query_one("#perf-key-from", Label).update("from (sim)" if simulated else "from (UTC)")
        late = market_late(performance.start) or market_late(performance.today)
        self.query_one("#perf-row-market-from").display = late
        for window, figures in zip(WINDOWS, (performance.start, performance.today), strict=True):
            for row_id, (text, value_sign) in figure_texts(figures, now).items():
                label = self.query_one(f"#perf-{window}-{row_id}", Label)
                if label.content != text:
                    label.update(text)
                label.set_class(value_sign > 0, "profit")
                label.set_class(value_sign < 0, "loss")
