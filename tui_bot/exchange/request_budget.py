"""What requests cost an exchange's rate budget, and what this process has spent of it.

ccxt gives every endpoint a `cost` in units where `60000 / rateLimit` of them fit in a minute
(binance spot: rateLimit 50 ms, 1,200 units a minute, one unit 5 of Binance's own request
weight: "1 IP (api) => cost = 0.2" in ccxt's binance.py). The budget here counts in the
exchange's own weight (WEIGHT_PER_COST converts; 1 where we do not know better), over a rolling
minute, which also keeps every fixed minute window of the exchange's under the limit.

ccxt's own limiter does the waiting (its rolling window: requests go out at once while the
minute's budget lasts, and wait only when it is spent); this module sizes that window to the
limit and keeps the figures the Timings pane shows: weight spent this cycle, left in the
minute, and time spent waiting on the limiter.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

MINUTE = 60.0
# the exchange's weight per ccxt cost unit, from ccxt's own comments on its cost tables
WEIGHT_PER_COST = {"binance": 5.0}
# headers in which an exchange says how much weight its current minute has used
USED_WEIGHT_HEADERS = ("x-mbx-used-weight-1m",)


@dataclass(frozen=True)
class BudgetFigures:
    """One cycle's requests against the budget (weights in the exchange's units)."""

    weight: float  # spent this cycle
    requests: int  # sent this cycle
    used_minute: float  # spent in the last minute (the exchange's count when it says it)
    limit_minute: float
    waited_seconds: float  # this cycle's time queued behind the limiter

    @property
    def left_minute(self) -> float:
        return max(0.0, self.limit_minute - self.used_minute)


class RequestBudget:
    """The weight sent in the last rolling minute, and one cycle's spending."""

    def __init__(
        self, limit_per_minute: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = float(limit_per_minute)
        self._clock = clock
        self._sent: deque[tuple[float, float]] = deque()  # (time, weight)
        self._in_minute = 0.0
        self._reported: tuple[float, float] | None = None  # (time, the exchange's count)
        self._reported_wall = 0.0  # epoch seconds of that report: the exchange's minute
        self._cycle = _Cycle()
        self.limit_from_exchange = False  # an exchange that states its limit overrides `limit`

    def spent(self, weight: float, waited: float) -> None:
        """A request of `weight` went out after `waited` seconds behind the limiter."""
        now = self._clock()
        self._sent.append((now, weight))
        self._in_minute += weight
        self._cycle.weight += weight
        self._cycle.requests += 1
        self._cycle.waited += waited

    def reported(self, used: float) -> None:
        """The exchange's own count of weight used in its current minute (a response header)."""
        self._reported = (self._clock(), used)
        self._reported_wall = time.time()

    def reported_full(self, margin: float = 0.95) -> bool:
        """Whether the exchange said, this minute, that its budget is all but spent."""
        if self._reported is None:
            return False
        at, used = self._reported
        same_minute = int(time.time() // MINUTE) == int(self._reported_wall // MINUTE)
        return self._clock() - at < MINUTE and same_minute and used >= margin * self.limit

    def used(self) -> float:
        """Weight used in the last minute: ours, or the exchange's if it says more (other
        processes on the same IP or key spend the same budget)."""
        now = self._clock()
        while self._sent and self._sent[0][0] <= now - MINUTE:
            self._in_minute -= self._sent.popleft()[1]
        ours = max(0.0, self._in_minute)
        if self._reported is not None and now - self._reported[0] < MINUTE:
            return max(ours, self._reported[1])
        return ours

    def take_cycle(self) -> BudgetFigures:
        """This cycle's figures; the next cycle starts from zero."""
        cycle, self._cycle = self._cycle, _Cycle()
        return BudgetFigures(cycle.weight, cycle.requests, self.used(), self.limit, cycle.waited)


@dataclass
class _Cycle:
    weight: float = 0.0
    requests: int = 0
    waited: float = 0.0


def used_weight(headers: Mapping[str, str] | None) -> float | None:
    """The exchange's count of weight used this minute, if its headers carry one."""
    for key, value in (headers or {}).items():
        if str(key).lower() in USED_WEIGHT_HEADERS:
            try:
                return float(value)
            except (TypeError, ValueError):
                return None
    return None


def stated_weight_limit(body: object) -> float | None:
    """The request-weight limit a minute an exchangeInfo answer states (Binance's rateLimits:
    REQUEST_WEIGHT, MINUTE, intervalNum 1), if it states one."""
    try:
        # any JSON: a shape other than Binance's raises below, and means "not stated"
        info: Any = json.loads(body) if isinstance(body, str | bytes) else body
        for entry in info.get("rateLimits") or ():
            if (
                entry.get("rateLimitType") == "REQUEST_WEIGHT"
                and entry.get("interval") == "MINUTE"
                and int(entry.get("intervalNum", 1)) == 1
            ):
                limit = float(entry["limit"])
                return limit if limit > 0 else None
    except (ValueError, TypeError, AttributeError, KeyError):
        return None
    return None
