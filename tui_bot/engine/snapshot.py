"""The frozen data the dashboard and `--json` render: one source of truth for both."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tui_bot.engine.caches import CacheStats
from tui_bot.engine.monitor import TimingStats
from tui_bot.engine.words import AlertLevel, Decision, Mode, Verdict
from tui_bot.exchange.request_budget import BudgetFigures

if TYPE_CHECKING:
    import numpy as np

PHASES = (
    "update_positions",
    "market_scan",
    "signal_generation",
    "risk_management",
    "execute_trades",
    "ml_training",
    "performance_monitoring",
)
CACHE_NAMES = ("market_scan", "indicators", "ml_prediction", "symbol_group")


@dataclass(frozen=True)
class PositionView:
    symbol: str
    group: str
    side: str
    amount: float
    entry_price: float
    last_price: float
    pnl_pct: float
    stop_loss: float
    take_profit: float
    opened_at: float
    age_seconds: float
    stale: bool = False


@dataclass(frozen=True)
class UnmanagedView:
    """Coins the exchange holds that the bot's store does not know: shown beside equity, never
    counted in it (sizing, drawdown) or traded automatically. `value` is in the stake currency
    (None: no price for it)."""

    asset: str
    amount: float
    symbol: str | None  # the market that values it (asset/stake), if there is one
    last_price: float | None
    value: float | None


@dataclass(frozen=True)
class Opportunity:
    symbol: str
    group: str
    score: float
    probability: float
    decision: Decision
    reason: str = ""  # why it was skipped ("" for a buy)
    size_quote: float = 0.0

    @property
    def approved(self) -> bool:
        return self.decision == Decision.BUY

    @property
    def action(self) -> str:
        """What the Opportunities pane and `--json` say: "buy", or the reason it was skipped."""
        return Decision.BUY if self.approved else self.reason

    def to_json(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "group": self.group,
            "score": self.score,
            "probability": self.probability,
            "action": self.action,
            "size_quote": self.size_quote,
        }


@dataclass(frozen=True)
class Alert:
    time: float
    level: AlertLevel
    source: str
    message: str


@dataclass(frozen=True)
class ModelInfo:
    trained_at: float | None
    samples: int
    auc: float | None
    accuracy: float | None
    kind: str | None = None
    samples_bytes: int = 0  # held in memory
    samples_saved_bytes: int = 0  # persisted (the most important `saved_samples`)
    label: str = ""  # what the model learns, in words (the trade the bot can make)
    # validation: purged walk-forward folds of the model in use (auc above is theirs)
    auc_low: float | None = None  # 95 % block-bootstrap interval
    auc_high: float | None = None
    log_loss: float | None = None
    constant_log_loss: float | None = None  # predicting the training win rate for every row
    expectancy_pct: float | None = None  # the entry rule's held-out trades, after fees
    validation_rows: int = 0
    # live: predictions since start whose horizon has passed, scored on what happened
    live_auc: float | None = None
    live_auc_low: float | None = None
    live_auc_high: float | None = None
    live_rows: int = 0
    live_expectancy_pct: float | None = None  # resolved predictions the entry rule would take
    calibration: tuple[tuple[float, float, int], ...] = ()  # (predicted, realised, rows) a decile
    # the trades actually closed since start
    trades: int = 0
    win_rate: float | None = None
    net_pnl: float = 0.0
    verdict: Verdict = Verdict.NOT_ENOUGH_DATA
    verdict_reason: str = ""  # one line: the figures behind the verdict
    blocking: bool = False  # ml.require_edge is keeping the bot out of new positions

    def to_json(self) -> dict[str, Any]:
        """The `--json` line's model: the backtest's key names where they mean the same."""
        return {
            "kind": self.kind,
            "trained_at": self.trained_at,
            "samples": self.samples,
            "label": self.label,
            "validation_auc": self.auc,
            "validation_auc_ci": _pair(self.auc_low, self.auc_high),
            "validation_rows": self.validation_rows,
            "validation_expectancy_pct": self.expectancy_pct,
            "log_loss": self.log_loss,
            "constant_log_loss": self.constant_log_loss,
            "live_auc": self.live_auc,
            "live_auc_ci": _pair(self.live_auc_low, self.live_auc_high),
            "live_rows": self.live_rows,
            "live_expectancy_pct": self.live_expectancy_pct,
            "calibration": [list(row) for row in self.calibration],
            "trades": self.trades,
            "win_rate": self.win_rate,
            "net_pnl": self.net_pnl,
            "verdict": self.verdict,
            "verdict_reason": self.verdict_reason,
            "blocking": self.blocking,
        }


@dataclass(frozen=True)
class TradeView:
    """A closed trade, as the Trades pane lists it."""

    id: int
    symbol: str
    group: str
    opened_at: float
    closed_at: float
    entry_price: float
    exit_price: float
    amount: float
    pnl: float  # stake currency, after both fees
    pnl_pct: float
    fees: float  # both orders' fees, stake currency
    reason: str  # an ExitReason's value, as the store holds it
    probability: float  # the model's win probability at entry


@dataclass(frozen=True)
class PerformanceFigures:
    """One window (since start, or today): its closed trades, its equity, and the market's
    equal-weighted buy-and-hold of the scanned pairs over it."""

    since: float | None = None  # the window's start, engine clock; None: nothing recorded yet
    trades: int = 0
    wins: int = 0  # trades that netted more than 0 after fees
    net_pnl: float = 0.0  # stake currency, after fees
    fees_paid: float = 0.0
    gross_profit: float = 0.0  # the winners' PnL
    gross_loss: float = 0.0  # the losers' PnL, as a positive amount
    expectancy_pct: float | None = None  # mean PnL % a trade, after fees
    max_drawdown_pct: float | None = None  # deepest fall of equity from its peak in the window
    return_pct: float | None = None  # equity's change over the window
    market_change_pct: float | None = None
    market_since: float | None = None  # when the market's prices were taken (>= since)
    market_pairs: int = 0

    @property
    def win_rate(self) -> float | None:
        return self.wins / self.trades if self.trades else None

    @property
    def profit_factor(self) -> float | None:
        """Gross profit over gross loss; None without a losing trade (no ratio to give)."""
        return self.gross_profit / self.gross_loss if self.gross_loss > 0 else None

    def to_json(self) -> dict[str, Any]:
        return {
            "trades": self.trades,
            "wins": self.wins,
            "win_rate": self.win_rate,
            "net_pnl": round(self.net_pnl, 6),
            "fees_paid": round(self.fees_paid, 6),
            "profit_factor": self.profit_factor,
            "expectancy_pct": self.expectancy_pct,
            "max_drawdown_pct": self.max_drawdown_pct,
            "market_change_pct": self.market_change_pct,
        }


@dataclass(frozen=True)
class Performance:
    start: PerformanceFigures = PerformanceFigures()  # since the bot's first cycle on its store
    # since 00:00 UTC on the engine's clock, or since start when that was later
    today: PerformanceFigures = PerformanceFigures()


@dataclass(frozen=True)
class Snapshot:
    cycle: int
    time: float
    mode: Mode
    exchange: str
    equity: float
    drawdown_pct: float
    phases: dict[str, float | None]
    caches: dict[str, CacheStats]
    positions: tuple[PositionView, ...]
    opportunities: tuple[Opportunity, ...]
    orders_placed: int
    alerts: tuple[Alert, ...]
    timings: dict[str, TimingStats]
    model: ModelInfo
    phase: str | None = None  # the phase running now; None between cycles
    paused: bool = False
    next_cycle_at: float | None = None
    kill_switch: bool = False
    equity_history: tuple[float, ...] = ()
    balance_stale: bool = False  # the last balance could not be read: equity is the last good one
    unmanaged: tuple[UnmanagedView, ...] = ()
    trades: tuple[TradeView, ...] = ()  # the newest closed trades, newest first (at most 200)
    performance: Performance = Performance()
    # symbol -> its last candles (read-only (T, 6) arrays [ts_ms, o, h, l, c, v]) for every
    # scanned symbol: the chart's, from the scan's cache
    candles: Mapping[str, np.ndarray] = field(default_factory=dict, compare=False)
    # open positions not scanned now: their price at each cycle, as rows of the same shape
    price_lines: Mapping[str, np.ndarray] = field(default_factory=dict, compare=False)
    requests: BudgetFigures | None = None  # the cycle's request weight (real exchanges only)

    def to_json(self) -> dict[str, Any]:
        """The `--json` line: the keys the README documents."""
        return {
            "cycle": self.cycle,
            "time": self.time,
            "mode": self.mode,
            "exchange": self.exchange,
            "equity": round(self.equity, 6),
            "drawdown_pct": round(self.drawdown_pct, 6),
            "balance_stale": self.balance_stale,
            "phases": dict(self.phases),
            "caches": {name: stats.to_dict() for name, stats in self.caches.items()},
            "positions": [vars(p) for p in self.positions],
            "unmanaged": [vars(u) for u in self.unmanaged],
            "opportunities": [o.to_json() for o in self.opportunities],
            "orders_placed": self.orders_placed,
            "alerts": [vars(a) for a in self.alerts],
            "timings": {name: t.to_dict() for name, t in self.timings.items()},
            "model": self.model.to_json(),
            "performance": self.performance.start.to_json(),
            "performance_today": self.performance.today.to_json(),
            "requests": _requests_json(self.requests),
        }


def _requests_json(figures: BudgetFigures | None) -> dict[str, Any] | None:
    if figures is None:
        return None
    return {
        "weight": round(figures.weight, 3),
        "requests": figures.requests,
        "weight_used_minute": round(figures.used_minute, 3),
        "weight_limit_minute": figures.limit_minute,
        "limiter_wait_ms": round(figures.waited_seconds * 1000, 3),
    }


def _pair(low: float | None, high: float | None) -> list[float] | None:
    return None if low is None or high is None else [low, high]
