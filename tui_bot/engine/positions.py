"""Open positions: mark to market and decide exits (stop-loss, take-profit, max hold time)."""

from __future__ import annotations

from tui_bot.engine.snapshot import PositionView
from tui_bot.engine.words import ExitReason
from tui_bot.store import PositionRow


def exit_reason(
    position: PositionRow,
    last: float,
    now: float,
    max_hold_seconds: float,
    low: float | None = None,
    high: float | None = None,
) -> ExitReason | None:
    """`low`/`high`: the price range since the last check (the candles that closed since), when
    the venue knows it. A range touching both exits counts as the stop-loss (the cautious
    reading: which came first inside one candle is not known)."""
    if min(last, low if low is not None else last) <= position.stop_loss:
        return ExitReason.STOP_LOSS
    if max(last, high if high is not None else last) >= position.take_profit:
        return ExitReason.TAKE_PROFIT
    if now - position.opened_at >= max_hold_seconds:
        return ExitReason.MAX_HOLD
    return None


def pnl_pct(position: PositionRow, last: float) -> float:
    if position.entry_price <= 0:
        return 0.0
    return (last / position.entry_price - 1.0) * 100.0


def view(
    position: PositionRow, last: float | None, now: float, stale: bool = False
) -> PositionView:
    """`stale`: `last` is the last known price, not a fresh one (the exchange did not answer)."""
    price = last if last is not None else position.entry_price
    return PositionView(
        symbol=position.symbol,
        group=position.group,
        side=position.side,
        amount=position.amount,
        entry_price=position.entry_price,
        last_price=price,
        pnl_pct=pnl_pct(position, price),
        stop_loss=position.stop_loss,
        take_profit=position.take_profit,
        opened_at=position.opened_at,
        age_seconds=max(0.0, now - position.opened_at),
        stale=stale or last is None,
    )


def market_value(positions: list[PositionRow], prices: dict[str, float]) -> float:
    return sum(p.amount * prices.get(p.symbol, p.entry_price) for p in positions)
