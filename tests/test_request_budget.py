"""The rate budget's bookkeeping: a rolling minute, a cycle's figures, the exchange's word."""

from __future__ import annotations

import json

from tui_bot.exchange.request_budget import RequestBudget, stated_weight_limit, used_weight


class Ticking:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_cycle_s_figures_and_the_rolling_minute() -> None:
    clock = Ticking()
    budget = RequestBudget(100, clock)
    budget.spent(40, waited=0.0)
    budget.spent(2, waited=0.25)
    first = budget.take_cycle()
    assert (first.weight, first.requests, first.waited_seconds) == (42, 2, 0.25)
    assert (first.used_minute, first.left_minute) == (42, 58)
    clock.now += 30
    budget.spent(10, waited=0.0)
    second = budget.take_cycle()
    assert (second.weight, second.used_minute) == (10, 52)  # the first cycle's still in the minute
    clock.now += 31
    assert budget.take_cycle().used_minute == 10  # 61 s on: the first cycle's weight has left


def test_the_exchange_s_count_wins_when_it_says_more() -> None:
    clock = Ticking()
    budget = RequestBudget(100, clock)
    budget.spent(5, waited=0.0)
    budget.reported(97)  # another process on the same IP spends the same budget
    assert budget.used() == 97 and budget.reported_full()
    budget.reported(20)
    assert budget.used() == 20 and not budget.reported_full()


def test_headers_and_exchange_info_are_read_and_garbage_is_not() -> None:
    assert used_weight({"X-MBX-USED-WEIGHT-1M": "123"}) == 123
    assert used_weight({"x-mbx-used-weight-1m": "lots"}) is None
    assert used_weight(None) is None
    info = {"rateLimits": [
        {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
    ]}  # fmt: skip
    assert stated_weight_limit(json.dumps(info)) == 6000
    assert stated_weight_limit("<html>") is None
    assert stated_weight_limit(json.dumps({"rateLimits": "no"})) is None
