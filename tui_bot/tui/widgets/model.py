"""Model pane: the verdict first, then the figures behind it, validation and live.

An AUC is never shown alone: always with its rows, and with its interval when there is one.
"""

from __future__ import annotations

import math

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widget import Widget
from textual.widgets import Label

from tui_bot.engine.snapshot import ModelInfo, Snapshot
from tui_bot.engine.words import Verdict
from tui_bot.tui import format as fmt

UNKNOWN_CLASS = "verdict-unknown"
VERDICT_CLASSES: dict[str, str] = {
    Verdict.EDGE: "verdict-edge",
    Verdict.NO_EDGE: "verdict-no-edge",
    Verdict.NOT_ENOUGH_DATA: UNKNOWN_CLASS,
}
BLOCKING_TEXT = "no new positions: the model has no edge (ml.require_edge)"
# (row id, key shown on its left): the figures, most telling first
ROWS = (
    ("validation-auc", "validation"),
    ("validation-loss", ""),
    ("validation-expectancy", ""),
    ("live-auc", "live"),
    ("live-expectancy", ""),
    ("trades", "trades"),
    ("trained", "model"),
    ("label", "learns"),
    ("calibration", "calibration"),
)


def show_verdict_class(widget: Widget, verdict: str | None) -> None:
    """Give `widget` the css class that colours `verdict` (app.tcss); None: no class."""
    wanted = None if verdict is None else VERDICT_CLASSES.get(verdict, UNKNOWN_CLASS)
    for name in VERDICT_CLASSES.values():
        widget.set_class(name == wanted, name)


def number(value: float | None, decimals: int) -> str:
    """`value` with `decimals` decimals; None or NaN as "-"."""
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.{decimals}f}"


def interval_text(low: float | None, high: float | None) -> str | None:
    """The interval as 0.493-0.561; None when either end is missing."""
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return None
    return f"{low:.3f}-{high:.3f}"  # 3 decimals: a low end of 0.4951 must not read "0.50"


def auc_text(auc: float | None, low: float | None, high: float | None, rows: int) -> str:
    """Like 0.528 (0.49-0.56), 4,200 rows: the rows always, the interval when known."""
    interval = interval_text(low, high)
    shown = number(auc, 3) + (f" ({interval})" if interval else "")
    return f"{shown}, {rows:,} rows"


def log_loss_text(log_loss: float | None, constant: float | None) -> str:
    """Next to the constant's, and which is worse: a model worse than a constant shows it."""
    text = f"log loss {number(log_loss, 3)} vs {number(constant, 3)} constant"
    if log_loss is None or constant is None:
        return text
    return text + (" (worse)" if log_loss > constant else " (better)")


def expectancy_text(pct: float | None) -> str:
    shown = "-" if pct is None or not math.isfinite(pct) else fmt.signed_pct(pct)
    return f"{shown} a trade after fees"


def trades_text(m: ModelInfo, stake: str) -> str:
    won = "-" if m.win_rate is None else f"{m.win_rate * 100:.1f}%"
    return f"{m.trades:,} closed, {won} won, net {_signed_money(m.net_pnl)} {stake}".rstrip()


def _signed_money(value: float) -> str:
    """+12.34 / −12.34, the minus as signed_pct writes it."""
    sign = "+" if value > 0 else "−" if value < 0 else ""
    return sign + fmt.money(abs(value))


def trained_text(m: ModelInfo, now: float) -> str:
    if m.trained_at is None:
        return f"none yet, {m.samples:,} rows held"
    age = fmt.duration(now - m.trained_at)
    return f"{m.kind or '-'}, {age} old, {m.samples:,} rows"


def calibration_text(calibration: tuple[tuple[float, float, int], ...]) -> str:
    """Predicted vs realised win rate by probability decile, live; empty deciles left out."""
    rows = [(p, r, n) for p, r, n in calibration if n > 0]
    if not rows:
        return "no resolved predictions yet"
    lines = [f"{'predicted':>9} {'realised':>9} {'rows':>7}  (live)"]
    lines += [f"{number(p, 2):>9} {number(r, 2):>9} {n:>7,}" for p, r, n in rows]
    return "\n".join(lines)


def row_texts(snapshot: Snapshot, stake: str) -> dict[str, str]:
    """Each row's text, by row id (see ROWS)."""
    m = snapshot.model
    live_auc = "AUC " + auc_text(m.live_auc, m.live_auc_low, m.live_auc_high, m.live_rows)
    return {
        "validation-auc": "AUC " + auc_text(m.auc, m.auc_low, m.auc_high, m.validation_rows),
        "validation-loss": log_loss_text(m.log_loss, m.constant_log_loss),
        "validation-expectancy": expectancy_text(m.expectancy_pct),
        "live-auc": live_auc if m.live_rows else "no resolved predictions yet",
        "live-expectancy": expectancy_text(m.live_expectancy_pct),
        "trades": trades_text(m, stake),
        "trained": trained_text(m, snapshot.time),
        "label": m.label or "-",
        "calibration": calibration_text(m.calibration),
    }


class ModelPane(VerticalScroll):
    """Focusable and scrollable: the calibration table runs below the fold on 120x40."""

    def __init__(
        self, stake: str = "", *, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.stake = stake

    def compose(self) -> ComposeResult:
        yield Label("", id="model-verdict", classes=UNKNOWN_CLASS, markup=False)
        yield Label("", id="model-reason", markup=False)
        yield Label(BLOCKING_TEXT, id="model-blocking", markup=False)
        for row_id, key in ROWS:
            with Horizontal(classes="model-row"):
                yield Label(key, classes="model-key", markup=False)
                yield Label("-", id=f"model-{row_id}", classes="model-value", markup=False)

    def on_mount(self) -> None:
        self.border_title = "Model"
        self.query_one("#model-blocking").display = False

    def show(self, snapshot: Snapshot) -> None:
        m = snapshot.model
        show_verdict_class(
            self._set("#model-verdict", m.verdict or Verdict.NOT_ENOUGH_DATA), m.verdict
        )
        self._set("#model-reason", m.verdict_reason).display = bool(m.verdict_reason)
        self.query_one("#model-blocking").display = m.blocking
        for row_id, text in row_texts(snapshot, self.stake).items():
            self._set(f"#model-{row_id}", text)

    def restyle(self) -> None:
        """Colours come from CSS classes: nothing to redo on a theme change."""

    def _set(self, selector: str, text: str) -> Label:
        """An unchanged label is left alone (update() always re-lays out)."""
        label = self.query_one(selector, Label)
        if label.content != text:
            label.update(text)
        return label
