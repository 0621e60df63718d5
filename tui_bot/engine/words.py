"""The engine's domain words as enums. Each value is the string that was used before (stored in
SQLite, shown on screen, written to `--json`), and a StrEnum member equals its string
(`Mode.LIVE == "LIVE"`), so stored rows and older callers keep working."""

from __future__ import annotations

from enum import StrEnum

# the exchange layer sends alerts too, and may not import the engine
from tui_bot.exchange.base import AlertFn as AlertFn
from tui_bot.exchange.base import AlertLevel as AlertLevel


class Mode(StrEnum):
    """Where the orders go: the embedded simulator, a paper account on a real exchange's
    prices, the real account, or a backtest's venue on recorded candles."""

    SIMULATED = "SIMULATED"
    PAPER = "PAPER"
    LIVE = "LIVE"
    BACKTEST = "BACKTEST"


class ExitReason(StrEnum):
    """Why a position was closed (the trades table's `reason`)."""

    STOP_LOSS = "stop_loss"
    TAKE_PROFIT = "take_profit"
    MAX_HOLD = "max_hold"
    MANUAL = "manual"  # the user closed it
    END_OF_DATA = "end_of_data"  # a backtest's data ended with the position open


class Decision(StrEnum):
    """Risk management's decision on an opportunity; a skipped one says why in its reason."""

    BUY = "buy"
    SKIP = "skip"


class Verdict(StrEnum):
    """Whether the model in use has shown an edge (validation.verdict)."""

    EDGE = "EDGE"
    NO_EDGE = "NO EDGE"
    NOT_ENOUGH_DATA = "NOT ENOUGH DATA"
