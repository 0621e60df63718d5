"""Order math shared by the executor and every venue: amounts a market accepts (lot step,
minimums, maximums, from ccxt's market structure) and the pause before a retry.

Pure functions, so that "what can be sold", "what the market refuses" and "how long to wait"
are each computed in one place.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Literal

from tui_bot.exchange.base import Market

LimitKind = Literal["amount", "cost", "price"]


def limit(market: Market | None, kind: LimitKind, bound: Literal["min", "max"]) -> float | None:
    """The market's limits[kind][bound] as a float; None when it states none (or 0)."""
    value = (((market or {}).get("limits") or {}).get(kind) or {}).get(bound)
    return float(value) if value else None


def amount_step(market: Market | None) -> float | None:
    """The market's amount step (ccxt's TICK_SIZE precision), or None when it has none."""
    step = ((market or {}).get("precision") or {}).get("amount")
    return float(step) if step else None


def floor_to_step(amount: float, step: float | None) -> float:
    """`amount` rounded down to a whole number of `step`s (unchanged without a step)."""
    if not step:
        return amount
    return round(math.floor(amount / step + 1e-9) * step, 12)


def round_amount(amount: float, market: Market | None) -> float:
    """Round down to the market's amount step."""
    return floor_to_step(amount, amount_step(market))


def max_amount(market: Market | None, price: float | None) -> float | None:
    """The most one order may buy: limits.amount.max, and limits.cost.max at `price`."""
    caps = []
    high = limit(market, "amount", "max")
    if high:
        caps.append(high)
    max_cost = limit(market, "cost", "max")
    if max_cost and price:
        caps.append(max_cost / price)
    return min(caps) if caps else None


@dataclass(frozen=True)
class Breach:
    """An order outside one of its market's limits: its amount, or its value in the quote
    currency, is below the market's minimum or above its maximum."""

    what: Literal["amount", "order value"]
    value: float
    bound: float | None  # the market's limit; None: an amount <= 0 where it states no minimum
    above: bool = False  # above the maximum (else below the minimum)

    def _value(self) -> str:
        return f"{self.value:.10g}" if self.what == "amount" else f"{self.value:.4f}"

    def __str__(self) -> str:
        """As the real exchange's adapter says it: 'amount 0.5 is below the market minimum 1.0'."""
        where = "above the market maximum" if self.above else "below the market minimum"
        return f"{self.what} {self._value()} is {where} {self.bound}"

    def short(self) -> str:
        """As the embedded venues say it: 'amount 0.5 below minimum 1.0'."""
        where = "above maximum" if self.above else "below minimum"
        return f"{self.what} {self._value()} {where} {self.bound}"


def amount_breach(market: Market | None, amount: float) -> Breach | None:
    """How `amount` breaks the market's amount limits (it must be > 0), or None."""
    low = limit(market, "amount", "min")
    if amount <= 0 or (low and amount < low):
        return Breach("amount", amount, low)
    high = limit(market, "amount", "max")
    if high and amount > high:
        return Breach("amount", amount, high, above=True)
    return None


def value_breach(market: Market | None, amount: float, price: float | None) -> Breach | None:
    """Whether `amount` at `price` is worth less than the market's minimum order value; None
    when it is not, or the price is not known."""
    low = limit(market, "cost", "min")
    if price and low and amount * price < low:
        return Breach("order value", amount * price, low)
    return None


def dust_reason(amount: float, market: Market | None, price: float | None) -> str | None:
    """Why `amount` cannot be sold in one order ("below the lot step", ...), None if it can."""
    if round_amount(amount, market) <= 0:
        return "below the lot step"
    low = limit(market, "amount", "min")
    if low and amount < low:
        return "below the market's minimum amount"
    if value_breach(market, amount, price) is not None:
        return "below the market's minimum order value"
    return None


def backoff_delay(base_seconds: float, attempt: int) -> float:
    """The pause before retry number `attempt` (0 first): doubling from `base_seconds`, with
    jitter (x0.5 to x1.5) so that callers failing together do not retry together."""
    return base_seconds * (2.0**attempt) * (0.5 + random.random())
