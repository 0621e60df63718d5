"""Whether the model in use has an edge, from the best evidence there is, and the Model pane's
figures.

The evidence: the live record once it holds validation.MIN_ROWS resolved predictions (they were
made before their outcome was known, by the models that traded), else the walk-forward
validation of the model in use. EDGE needs the AUC interval's low end above 0.5 and a positive
expectancy after fees for the trades the entry rule takes; anything less is said plainly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tui_bot.engine.live_record import LiveFigures
from tui_bot.engine.model import TrainedModel
from tui_bot.engine.snapshot import ModelInfo
from tui_bot.engine.validation import MIN_ROWS, verdict
from tui_bot.engine.words import Verdict


@dataclass(frozen=True)
class Edge:
    verdict: Verdict
    reason: str  # one line: the figures behind it

    @property
    def shown(self) -> bool:
        return self.verdict == Verdict.EDGE


@dataclass(frozen=True)
class TradeTotals:
    trades: int = 0
    wins: int = 0
    net_pnl: float = 0.0


def model_edge(model: TrainedModel | None, live: LiveFigures) -> Edge:
    if live.rows >= MIN_ROWS and live.auc_low is not None:
        found = verdict(live.rows, live.auc_low, _num(live.expectancy_pct), live.rule_rows)
        return Edge(found, _live_reason(live))
    if model is None:
        return Edge(Verdict.NOT_ENOUGH_DATA, "no model yet")
    m = model.metrics
    if m.validation_rows == 0:
        reason = f"not validated; {live.rows} of {MIN_ROWS} live predictions resolved"
        return Edge(Verdict.NOT_ENOUGH_DATA, reason)
    reason = (
        f"validation AUC {_ci(m.auc, m.auc_low, m.auc_high)} on {m.validation_rows:,} held-out "
        f"rows, {_trades(m.validation_trades, m.expectancy_pct)}; "
        f"{live.rows} of {MIN_ROWS} live predictions resolved"
    )
    return Edge(m.verdict, reason)


def block_reason(edge: Edge) -> str:
    """What Opportunities and Alerts say while ml.require_edge keeps the bot out."""
    if edge.verdict == Verdict.NOT_ENOUGH_DATA:
        return "model edge not shown yet"
    return "model has no edge"


def model_info(
    model: TrainedModel | None,
    samples: int,
    samples_bytes: int,
    saved_bytes: int,
    label: str,
    live: LiveFigures,
    edge: Edge,
    totals: TradeTotals,
    blocking: bool,
) -> ModelInfo:
    m = model.metrics if model is not None else None
    return ModelInfo(
        trained_at=model.trained_at if model else None,
        samples=samples,
        auc=_opt(m.auc) if m else None,
        accuracy=_opt(m.accuracy) if m else None,
        kind=model.kind if model else None,
        samples_bytes=samples_bytes,
        samples_saved_bytes=saved_bytes,
        label=(m.label if m and m.label else label),
        auc_low=_opt(m.auc_low) if m else None,
        auc_high=_opt(m.auc_high) if m else None,
        log_loss=_opt(m.log_loss) if m else None,
        constant_log_loss=_opt(m.constant_log_loss) if m else None,
        expectancy_pct=_opt(m.expectancy_pct) if m else None,
        validation_rows=m.validation_rows if m else 0,
        live_auc=live.auc,
        live_auc_low=live.auc_low,
        live_auc_high=live.auc_high,
        live_rows=live.rows,
        live_expectancy_pct=live.expectancy_pct,
        calibration=live.calibration,
        trades=totals.trades,
        win_rate=totals.wins / totals.trades if totals.trades else None,
        net_pnl=totals.net_pnl,
        verdict=edge.verdict,
        verdict_reason=edge.reason,
        blocking=blocking,
    )


def _live_reason(live: LiveFigures) -> str:
    return (
        f"live AUC {_ci(live.auc, live.auc_low, live.auc_high)} over {live.rows:,} resolved "
        f"predictions, {_trades(live.rule_rows, live.expectancy_pct)}"
    )


def _ci(value: float | None, low: float | None, high: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return f"{value:.3f} (no interval)"
    return f"{value:.3f} ({low:.3f}-{high:.3f})"


def _trades(count: int, expectancy_pct: float | None) -> str:
    if not count or expectancy_pct is None or not math.isfinite(expectancy_pct):
        return "no trade above the entry threshold"
    return f"{count:,} entries at {expectancy_pct:+.3f} % a trade after fees"


def _num(value: float | None) -> float:
    return float("nan") if value is None else value


def _opt(value: float) -> float | None:
    return value if math.isfinite(value) else None
