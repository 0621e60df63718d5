"""`b`: replay recorded candles through the bot's engine, in a process of its own, while the live
bot keeps trading. Pick the data folder, pairs and time range; ctrl+r runs; a progress bar with
an ETA; then the summary, an equity-and-drawdown chart, per-pair and per-exit-reason tables and
every trade. escape goes back to the dashboard; a running backtest carries on (b shows it again).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.theme import Theme
from textual.validation import ValidationResult, Validator
from textual.widgets import (
    Button,
    Footer,
    Input,
    Label,
    ProgressBar,
    Sparkline,
    TabbedContent,
    TabPane,
)

from tui_bot.backtest.process import (
    BacktestOutcome,
    BacktestProcess,
    BacktestRequest,
    BacktestTarget,
    Failed,
    Finished,
    Progress,
    Update,
    run_request,
)
from tui_bot.config import Settings
from tui_bot.errors import RefusedToStart
from tui_bot.tui import format as fmt
from tui_bot.tui.widgets.table import Cell, Column, KeyedTable, Row, cell, num

log = logging.getLogger(__name__)

POLL_SECONDS = 0.1  # how often the screen reads the backtest process's queue
PAIR_LIST_SHOWN = 2  # the summary names this many pairs (the Pairs tab has them all)
INTRO = (
    "Replays the candle files in the folder through the engine that trades live: the same "
    "phases, risk limits, sizing and executor, on a clock that jumps from candle to candle. "
    "The model learns from the first backtest.warmup_candles candles of each pair and retrains "
    "on data time; an order fills at the next candle's open, with slippage and fees. "
    "The backtest runs in its own process: the live bot keeps trading meanwhile.\n\n"
    "Leave pairs and range empty to use every file and every candle in the folder."
)


# -- what the user typed --------------------------------------------------------------------------
def parse_data_dir(text: str) -> Path:
    """The data folder; RefusedToStart (the user-facing text) if it is not one."""
    if not text.strip():
        raise RefusedToStart("data folder: empty; give a folder of candle files")
    path = Path(text.strip()).expanduser()
    if not path.is_dir():
        raise RefusedToStart(
            f"{path}: no such folder; give a folder of <BASE>_<QUOTE>-<timeframe>.csv[.gz] "
            "or .json candle files"
        )
    return path


def parse_pairs(text: str) -> tuple[str, ...] | None:
    """ "ada/btc, ETH_BTC" -> ("ADA/BTC", "ETH/BTC"); empty -> None (every pair in the folder)."""
    from tui_bot.market.files import pair_symbol

    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts:
        return None
    try:
        return tuple(dict.fromkeys(pair_symbol(part) for part in parts))
    except ValueError as error:
        raise RefusedToStart(f"pairs: {error}") from None


def parse_range(text: str) -> tuple[int, int] | None:
    """ "20180110-20180115" -> [start_ms, end_ms); empty -> None (every candle)."""
    from tui_bot.market.files import parse_timerange

    return parse_timerange(text) if text.strip() else None


PARSERS: dict[str, Callable[[str], object]] = {
    "bt-data": parse_data_dir,
    "bt-pairs": parse_pairs,
    "bt-range": parse_range,
}


class ParsedBy(Validator):
    """One of the parsers above as a Textual validator: its message, inline."""

    def __init__(self, parse: Callable[[str], object]) -> None:
        super().__init__()
        self.parse = parse

    def validate(self, value: str) -> ValidationResult:
        try:
            self.parse(value)
        except RefusedToStart as error:
            return self.failure(str(error))
        return self.success()


# -- formatting -----------------------------------------------------------------------------------
def utc_minute(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def utc_day(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d")


def iso_minute(iso: str | None) -> str:
    """ "2018-01-10T04:55:00Z" -> "2018-01-10 04:55"."""
    return "-" if not iso else iso.replace("T", " ")[:16]


def number(value: float | None, digits: int = 2) -> str:
    """1,234.57; a minus sign like the percentages' (−0.52); "-" for none."""
    return "-" if value is None else f"{value:,.{digits}f}".replace("-", "−")


def pct(value: float | None) -> str:
    return "-" if value is None else fmt.signed_pct(value)


def fraction_pct(value: float | None) -> str:
    """A fraction in 0..1 as a percentage: 0.458 -> "45.8%"."""
    return "-" if value is None else f"{value * 100:.1f}%"


def money(value: float | None, currency: str, signed: bool = False) -> str:
    """About five significant digits (BTC amounts are small), the currency after."""
    if value is None:
        return "-"
    text = fmt.price(abs(value) if signed else value)
    if signed:
        text = {1: "+", -1: "−", 0: " "}[(value > 0) - (value < 0)] + text
    return f"{text} {currency}"


def sign_of(value: float | None) -> int:
    return 0 if value is None else fmt.pct_sign(value)


def drawdowns_pct(values: Sequence[float], start: float) -> list[float]:
    """How far below its running peak the equity is, in % of the peak; the starting balance is
    the first peak (as in the report's max drawdown)."""
    peak = start
    falls = []
    for value in values:
        peak = max(peak, value)
        falls.append((1 - value / peak) * 100 if peak > 0 else 0.0)
    return falls


def summary_items(outcome: BacktestOutcome) -> list[tuple[str, str, int]]:
    """(figure, value, sign for the colour) in reading order, the key figures first."""
    s = outcome.report["summary"]
    m = outcome.report.get("model", {})
    c = outcome.stake_currency
    pairs = list(s.get("pairs") or [])
    named = ", ".join(pairs[:PAIR_LIST_SHOWN]) + (" …" if len(pairs) > PAIR_LIST_SHOWN else "")
    auc_rows = m.get("oos_rows")
    oos = number(m.get("oos_auc"), 3) + (f" ({auc_rows:,} rows)" if auc_rows else "")
    return [
        ("Trades", f"{s['trades']:,} · {s['wins']:,} won", 0),
        ("Win rate", fraction_pct(s.get("win_rate")), 0),
        ("Profit after fees", pct(s.get("profit_total_pct")), sign_of(s.get("profit_total_pct"))),
        ("Profit", money(s.get("profit_abs"), c, signed=True), sign_of(s.get("profit_abs"))),
        ("Market change", pct(s.get("market_change_pct")), sign_of(s.get("market_change_pct"))),
        ("Max drawdown", f"{number(s.get('max_drawdown_pct'))}%", 0),
        ("Sharpe", number(s.get("sharpe")), 0),
        ("Sortino", number(s.get("sortino")), 0),
        ("Fees paid", money(s.get("fees_paid"), c), 0),
        ("oos AUC", oos, 0),
        ("Validation AUC", number(m.get("validation_auc"), 3), 0),
        ("Model", str(m.get("kind") or "none trained"), 0),
        ("Retrains", str(m.get("retrains", 0)), 0),
        ("Profit factor", number(s.get("profit_factor")), 0),
        ("Avg profit", f"{pct(s.get('avg_profit_pct'))} a trade", sign_of(s.get("avg_profit_pct"))),
        ("Exposure", f"{number(s.get('exposure_pct'), 1)}% of cycles", 0),
        ("Avg hold", fmt.duration(_minutes_to_seconds(s.get("avg_hold_minutes"))), 0),
        ("From", f"{iso_minute(s.get('start'))} UTC", 0),
        ("To", f"{iso_minute(s.get('end'))} UTC", 0),
        ("Pairs", f"{len(pairs)}: {named}", 0),
        ("Candles", f"{s.get('candles', 0):,} · {s.get('cycles', 0):,} cycles", 0),
        ("Starting balance", money(outcome.starting_balance, c), 0),
        (
            "Run time",
            f"{number(s.get('seconds'), 1)} s · {number(s.get('cycles_per_second'), 0)}/s",
            0,
        ),
    ]


def _minutes_to_seconds(minutes: float | None) -> float | None:
    return None if minutes is None else minutes * 60


# -- the tables ---------------------------------------------------------------------------------
class ResultTable(KeyedTable):
    """A results table: rows set once per finished run, coloured by the theme."""

    def forget(self) -> None:
        """Drop every row (a theme change: every cell is written again)."""
        self.clear()
        self._cells.clear()

    def coloured(self, text: str, sign: int, right: bool = True) -> Cell:
        style = self.theme_colour("success" if sign > 0 else "error") if sign else ""
        return num(text, style) if right else cell(text, style)


class SummaryTable(ResultTable):
    TITLE = "Summary"
    COLUMNS = (("figure", "Figure", "left"), ("value", "Value", "left"))

    def show_outcome(self, outcome: BacktestOutcome) -> None:
        self.sync(
            {
                name: (cell(name), self.coloured(value, sign, right=False))
                for name, value, sign in summary_items(outcome)
            }
        )


class GroupTable(ResultTable):
    """Per pair or per exit reason: report_json's per_pair / per_exit_reason rows."""

    KEY = "pair"

    def show_groups(self, groups: Iterable[Mapping[str, Any]], currency: str) -> None:
        rows: dict[str, Row] = {}
        for group in groups:
            name = str(group[self.KEY])
            rows[name] = (
                cell(name, "bold"),
                num(str(group["trades"])),
                num(str(group["wins"])),
                num(fraction_pct(group.get("win_rate"))),
                self.coloured(
                    money(group.get("profit_abs"), currency, signed=True),
                    sign_of(group.get("profit_abs")),
                ),
                self.coloured(
                    pct(group.get("avg_profit_pct")), sign_of(group.get("avg_profit_pct"))
                ),
            )
        self.sync(rows)


GROUP_COLUMNS: tuple[Column, ...] = (
    ("trades", "Trades", "right"),
    ("wins", "Won", "right"),
    ("win_rate", "Win rate", "right"),
    ("profit", "Profit", "right"),
    ("avg", "Avg profit", "right"),
)


class PairsTable(GroupTable):
    TITLE = "Per pair"
    KEY = "pair"
    COLUMNS = (("pair", "Pair", "left"), *GROUP_COLUMNS)


class ExitsTable(GroupTable):
    TITLE = "Per exit reason"
    KEY = "exit_reason"
    COLUMNS = (("exit_reason", "Exit reason", "left"), *GROUP_COLUMNS)


class TradesTable(ResultTable):
    TITLE = "Trades"
    COLUMNS = (
        ("pair", "Pair", "left"),
        ("open_time", "Opened (UTC)", "left"),
        ("hold", "Held", "right"),
        ("open_price", "Open", "right"),
        ("close_price", "Close", "right"),
        ("profit_pct", "Profit", "right"),
        ("profit_abs", "Profit abs", "right"),
        ("exit_reason", "Exit", "left"),
        ("probability", "P(win)", "right"),
    )

    def show_trades(self, trades: Sequence[Mapping[str, Any]]) -> None:
        rows: dict[str, Row] = {}
        for index, trade in enumerate(trades):
            held = (trade["close_time"] - trade["open_time"]) / 1000
            sign = sign_of(trade.get("profit_pct"))
            rows[str(index)] = (
                cell(str(trade["pair"]), "bold"),
                cell(utc_minute(trade["open_time"])),
                num(fmt.duration(held)),
                num(_price(trade.get("open_price"))),
                num(_price(trade.get("close_price"))),
                self.coloured(pct(trade.get("profit_pct")), sign),
                self.coloured(_signed_price(trade.get("profit_abs")), sign),
                cell(str(trade["exit_reason"])),
                num(number(trade.get("probability"), 3)),
            )
        self.sync(rows)


def _price(value: float | None) -> str:
    return "-" if value is None else fmt.price(value)


def _signed_price(value: float | None) -> str:
    return money(value, "", signed=True).rstrip()


# -- the screen ---------------------------------------------------------------------------------
class BacktestScreen(Screen[None]):
    AUTO_FOCUS = "#bt-data"
    BINDINGS = [
        Binding("escape", "close", "Back"),
        Binding("ctrl+r", "start", "Run", priority=True),
        Binding("ctrl+x", "cancel", "Cancel run", priority=True),
        Binding("ctrl+o", "sweep", "Sweep", show=False),  # the message says it
    ]

    def __init__(
        self,
        settings: Settings,
        target: BacktestTarget | None = None,
        data_dir: Path | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings  # the app's current settings are used when it has them
        self.target = target or run_request
        self.data_dir = data_dir
        self.job: BacktestProcess | None = None
        self.outcome: BacktestOutcome | None = None
        self._live_text = ""

    def compose(self) -> ComposeResult:
        yield Label("Backtest · the bot's engine replayed over recorded candles", id="bt-title")
        yield Label("", id="bt-live", markup=False)
        with Horizontal(classes="bt-row"):
            yield Label("Data folder", classes="bt-label")
            yield self._input("bt-data", str(self._default_dir()), "a folder of candle files")
        with Horizontal(classes="bt-row"):
            yield Label("Pairs", classes="bt-label")
            yield self._input("bt-pairs", "", "all, or e.g. ADA/BTC,ETH/BTC")
            yield Label("Range", classes="bt-label-short")
            yield self._input("bt-range", "", "all, or YYYYMMDD-YYYYMMDD")
        yield Label("", id="bt-error", markup=False)
        with Horizontal(id="bt-controls"):
            yield Button("Run ^r", id="bt-run", variant="primary", compact=True)
            yield Button("Cancel ^x", id="bt-cancel", compact=True, disabled=True)
            yield ProgressBar(id="bt-progress", show_eta=True)
        yield Label(
            "Enter or ctrl+r runs it; ctrl+o: a sweep of many. escape: back (a run carries on).",
            id="bt-message",
            markup=False,
        )
        yield Label(INTRO, id="bt-intro", markup=False)
        with TabbedContent(id="bt-results"):
            with TabPane("Summary", id="bt-tab-summary"), Horizontal(id="bt-summary-row"):
                yield SummaryTable(id="bt-summary", classes="bt-table")
                with Vertical(id="bt-chart") as chart:
                    chart.border_title = "Equity and drawdown"
                    yield Label("Equity", id="bt-equity-label", markup=False)
                    yield Sparkline([], id="bt-equity", summary_function=_last)
                    yield Label("Drawdown", id="bt-drawdown-label", markup=False)
                    yield Sparkline([], id="bt-drawdown", summary_function=max)
                    with Horizontal(id="bt-axis"):
                        yield Label("", id="bt-axis-start", markup=False)
                        yield Label("", id="bt-axis-end", markup=False)
            with TabPane("Pairs", id="bt-tab-pairs"):
                yield PairsTable(id="bt-pairs-table", classes="bt-table")
            with TabPane("Exits", id="bt-tab-exits"):
                yield ExitsTable(id="bt-exits-table", classes="bt-table")
            with TabPane("Trades", id="bt-tab-trades"):
                yield TradesTable(id="bt-trades-table", classes="bt-table")
            with TabPane("Notes", id="bt-tab-notes"), VerticalScroll(id="bt-notes"):
                yield Label("No run yet.", id="bt-notes-text", markup=False)
        yield Footer()

    def _input(self, input_id: str, value: str, placeholder: str) -> Input:
        return Input(
            value,
            placeholder=placeholder,
            id=input_id,
            classes="bt-input",
            validators=[ParsedBy(PARSERS[input_id])],
            validate_on=["changed", "submitted"],
        )

    def _default_dir(self) -> Path:
        if self.data_dir is not None:
            return self.data_dir
        from tui_bot.market.files import sample_dir

        return sample_dir()

    def on_mount(self) -> None:
        self.add_class("-no-progress", "-no-results")
        self.query_one("#bt-summary", SummaryTable).show_header = False
        self.query_one("#bt-progress", ProgressBar).update(total=None, progress=0)
        self.set_interval(POLL_SECONDS, self.tick)
        self.app.theme_changed_signal.subscribe(self, self._restyle)
        self._show_live()

    def on_unmount(self) -> None:
        self._end_job()  # the dashboard is closing: no backtest outlives it

    # -- inputs ---------------------------------------------------------------------------
    def on_input_changed(self, event: Input.Changed) -> None:
        result = event.validation_result
        self._show_error(None if result is None or result.is_valid else result)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_start()

    def _show_error(self, problem: ValidationResult | str | None) -> None:
        if isinstance(problem, ValidationResult):
            problem = "; ".join(problem.failure_descriptions)
        label = self.query_one("#bt-error", Label)
        label.update(f"✗ {problem}" if problem else "")
        label.set_class(bool(problem), "-shown")

    def _request(self) -> BacktestRequest | None:
        """The request from the inputs, or None (the first problem shown, its input focused)."""
        values: dict[str, Any] = {}
        for input_id, parse in PARSERS.items():
            widget = self.query_one(f"#{input_id}", Input)
            try:
                values[input_id] = parse(widget.value)
            except RefusedToStart as error:
                self._show_error(str(error))
                widget.focus()
                return None
        self._show_error(None)
        settings = getattr(self.app, "settings", None) or self.settings
        return BacktestRequest(settings, values["bt-data"], values["bt-pairs"], values["bt-range"])

    # -- actions --------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.job is not None and not self.job.ended

    def action_close(self) -> None:
        if self.running:
            self.app.notify("The backtest carries on in its own process; b shows it again")
        self.app.pop_screen()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "bt-run":
            self.action_start()
        else:
            self.action_cancel()

    def action_start(self) -> None:
        if self.running:
            self._message("A backtest is running: ctrl+x cancels it first.", "error")
            return
        request = self._request()
        if request is None:
            return
        self._end_job()
        try:
            job = BacktestProcess(request, self.target)
            job.start()
        except (OSError, ValueError) as error:
            self._message(f"✗ the backtest process could not start: {error}", "error")
            return
        self.job = job
        self.remove_class("-no-progress")
        self.query_one("#bt-progress", ProgressBar).update(total=None, progress=0)
        self._message(f"Loading the candles in the backtest's process (pid {job.pid})…", "")
        self._set_running(True)

    def action_sweep(self) -> None:
        """ctrl+o: many backtests of this data, one per trial of a space file (sweep.py)."""
        from tui_bot.tui.screens.sweep import open_sweep

        request = self._request()
        if request is not None:
            open_sweep(self, request.data_dir, request.pairs, request.timerange)

    def action_cancel(self) -> None:
        if not self.running:
            self._message("No backtest is running.", "")
            return
        self._end_job()
        self._message("Cancelled: the backtest process has ended.", "")
        self._set_running(False)

    def _end_job(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.job = None

    def _set_running(self, running: bool) -> None:
        self.query_one("#bt-run", Button).disabled = running
        self.query_one("#bt-cancel", Button).disabled = not running

    # -- the process's updates ---------------------------------------------------------------
    def tick(self) -> None:
        self._show_live()
        job = self.job
        if job is None:
            return
        for update in job.poll():
            self.apply(update)
        if job.ended and not job.alive():  # alive() also reaps the finished child
            self.job = None

    def apply(self, update: Update) -> None:
        if isinstance(update, Progress):
            self._show_progress(update)
        elif isinstance(update, Finished):
            self._finished(update.outcome)
        elif isinstance(update, Failed):
            self._failed(update)

    def _show_progress(self, progress: Progress) -> None:
        self.remove_class("-no-progress")
        self.query_one("#bt-progress", ProgressBar).update(
            total=max(progress.total, 1), progress=progress.done
        )
        self._message(
            f"Data time {utc_minute(progress.data_time_ms)} UTC · cycle {progress.done:,} of "
            f"{progress.total:,} · ctrl+x cancels",
            "",
        )

    def _finished(self, outcome: BacktestOutcome) -> None:
        self._set_running(False)
        self.show_outcome(outcome)
        s = outcome.report["summary"]
        text = (
            f"Done: {s['trades']:,} trades, {pct(s.get('profit_total_pct'))} after fees "
            f"(market {pct(s.get('market_change_pct'))}), in {number(s.get('seconds'), 1)} s."
        )
        self._message(text, "ok")
        if self.app.screen is not self:
            self.app.notify(f"Backtest {text[0].lower()}{text[1:]} b shows it.", markup=False)

    def _failed(self, failure: Failed) -> None:
        self._set_running(False)
        self.add_class("-no-progress")  # an idle bar still animates, as if it were running
        self._message(f"✗ {failure.message}", "error")
        if failure.detail:
            log.error("backtest failed:\n%s", failure.detail)
        if self.app.screen is not self:
            self.app.notify(
                f"Backtest failed: {failure.message}", severity="error", timeout=12, markup=False
            )

    def _message(self, text: str, kind: str) -> None:
        label = self.query_one("#bt-message", Label)
        label.update(text)
        label.set_class(kind == "error", "error")
        label.set_class(kind == "ok", "ok")

    # -- results ------------------------------------------------------------------------
    def show_outcome(self, outcome: BacktestOutcome) -> None:
        self.outcome = outcome
        self.remove_class("-no-results")
        report = outcome.report
        currency = outcome.stake_currency
        with self.app.batch_update():
            self.query_one(SummaryTable).show_outcome(outcome)
            self.query_one(PairsTable).show_groups(report.get("per_pair", []), currency)
            self.query_one(ExitsTable).show_groups(report.get("per_exit_reason", []), currency)
            self.query_one(TradesTable).show_trades(report.get("trades", []))
            self._show_chart(outcome)
            notes = "\n".join(outcome.notes) or "The data had no problems."
            self.query_one("#bt-notes-text", Label).update(notes)
            tabs = self.query_one(TabbedContent)
            tabs.get_tab("bt-tab-trades").label = f"Trades ({len(report.get('trades', [])):,})"
            tabs.get_tab("bt-tab-notes").label = f"Notes ({len(outcome.notes)})"

    def _show_chart(self, outcome: BacktestOutcome) -> None:
        points = [(t, v) for t, v in outcome.report.get("equity", []) if v is not None]
        values = [v for _, v in points]
        start = outcome.starting_balance
        falls = drawdowns_pct(values, start)
        c = outcome.stake_currency
        end = values[-1] if values else start
        change = (end / start - 1) * 100 if start else 0.0
        equity_label = self.query_one("#bt-equity-label", Label)
        equity_label.update(f"Equity {fmt.signed_pct(change)} · {fmt.price(end)} {c}")
        equity_label.set_class(fmt.pct_sign(change) > 0, "profit")
        equity_label.set_class(fmt.pct_sign(change) < 0, "loss")
        self.query_one("#bt-drawdown-label", Label).update(
            f"Drawdown, max {max(falls, default=0.0):.2f}%"
        )
        self.query_one("#bt-equity", Sparkline).data = values
        self.query_one("#bt-drawdown", Sparkline).data = falls
        self.query_one("#bt-axis-start", Label).update(utc_day(points[0][0]) if points else "")
        self.query_one("#bt-axis-end", Label).update(utc_day(points[-1][0]) if points else "")

    def _restyle(self, theme: Theme) -> None:
        """Profit and loss cells carry theme colours: write them again."""
        if self.outcome is not None:
            for table in self.query(ResultTable):
                table.forget()
            self.show_outcome(self.outcome)

    # -- the live bot ---------------------------------------------------------------------
    def _show_live(self) -> None:
        snapshot = getattr(self.app, "snapshot", None)
        if snapshot is None:
            text = "Live bot: no cycle yet"
        else:
            settings = getattr(self.app, "settings", None) or self.settings
            currency = settings.bot.stake_currency
            text = (
                f"Live bot, trading on meanwhile: {snapshot.mode} · cycle {snapshot.cycle:,} · "
                f"equity {fmt.money(snapshot.equity)} {currency}"
            )
        if text != self._live_text:
            self._live_text = text
            self.query_one("#bt-live", Label).update(text)


def _last(values: Sequence[float]) -> float:
    return values[-1]
