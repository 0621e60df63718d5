"""Order amounts a market accepts, from ccxt's market structure: lot step, minimums, maximums.

Pure functions, shared by the executor and the simulated venues, so that "what can be sold" is
computed in one place.
"""

from __future__ import annotations

import math
from typing import Any

from tui_bot.exchange.base import Market


def amount_step(market: Market | None) -> float | None:
    """The market's amount step (ccxt's TICK_SIZE precision), or None when it has none."""
    step = ((market or {}).get("precision") or {}).get("amount")
    return float(step) if step else None


def floor_to_step(amount: float, step: Any) -> float:
    """`amount` rounded down to a whole number of `step`s (unchanged without a step)."""
    if not step:
        return amount
    step = float(step)
    return round(math.floor(amount / step + 1e-9) * step, 12)


def round_amount(amount: float, market: Market | None) -> float:
    """Round down to the market's amount step."""
    return floor_to_step(amount, amount_step(market))


def max_amount(market: Market | None, price: float | None) -> float | None:
    """The most one order may buy: limits.amount.max, and limits.cost.max at `price`."""
    limits = (market or {}).get("limits") or {}
    caps = []
    high = (limits.get("amount") or {}).get("max")
    if high:
        caps.append(float(high))
    max_cost = (limits.get("cost") or {}).get("max")
    if max_cost and price:
        caps.append(float(max_cost) / price)
    return min(caps) if caps else None


def dust_reason(amount: float, market: Market | None, price: float | None) -> str | None:
    """Why `amount` cannot be sold in one order ("below the lot step", ...), None if it can."""
    limits = (market or {}).get("limits") or {}
    if round_amount(amount, market) <= 0:
        return "below the lot step"
    low = (limits.get("amount") or {}).get("min")
    if low and amount < float(low):
        return "below the market's minimum amount"
    min_cost = (limits.get("cost") or {}).get("min")
    if min_cost and price and amount * price < float(min_cost):
        return "below the market's minimum order value"
    return None
