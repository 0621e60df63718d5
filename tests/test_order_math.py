"""The order math every venue and the executor share: lot steps, limits, the retry backoff."""

from __future__ import annotations

from typing import Any

import pytest

from tui_bot.exchange import order_math
from tui_bot.exchange.order_math import (
    amount_breach,
    backoff_delay,
    dust_reason,
    limit,
    max_amount,
    round_amount,
    value_breach,
)


def market(**limits: dict[str, float | None]) -> dict[str, Any]:
    return {"symbol": "ETH/USDT", "precision": {"amount": 0.01}, "limits": limits}


def test_round_amount_floors_to_the_lot_step_and_forgives_float_noise() -> None:
    eth = market()
    assert round_amount(1.239, eth) == 1.23
    assert round_amount(0.3, eth) == 0.3  # 0.3 / 0.01 in floats is 29.999...
    assert round_amount(0.009, eth) == 0.0
    assert round_amount(1.239, {"precision": {"amount": None}}) == 1.239


def test_a_limit_the_market_states_as_zero_or_none_is_no_limit() -> None:
    eth = market(amount={"min": 0.0, "max": None}, cost={"min": "5"})
    assert limit(eth, "amount", "min") is None and limit(eth, "amount", "max") is None
    assert limit(eth, "cost", "min") == 5.0
    assert limit(None, "price", "max") is None


def test_amount_breaches_say_which_limit_as_the_adapter_and_the_venues_word_it() -> None:
    eth = market(amount={"min": 0.01, "max": 100.0})
    assert amount_breach(eth, 0.5) is None
    low = amount_breach(eth, 0.005)
    assert low is not None and not low.above
    assert str(low) == "amount 0.005 is below the market minimum 0.01"
    assert low.short() == "amount 0.005 below minimum 0.01"
    high = amount_breach(eth, 250.0)
    assert high is not None and high.above
    assert str(high) == "amount 250 is above the market maximum 100.0"
    assert high.short() == "amount 250 above maximum 100.0"
    nothing = amount_breach(market(), 0.0)  # no minimum stated: still more than nothing
    assert nothing is not None and str(nothing) == "amount 0 is below the market minimum None"


def test_the_minimum_order_value_is_checked_only_at_a_known_price() -> None:
    eth = market(cost={"min": 5.0})
    breach = value_breach(eth, 0.01, 100.0)
    assert breach is not None
    assert str(breach) == "order value 1.0000 is below the market minimum 5.0"
    assert breach.short() == "order value 1.0000 below minimum 5.0"
    assert value_breach(eth, 0.05, 100.0) is None
    assert value_breach(eth, 0.01, None) is None
    assert value_breach(market(), 0.01, 100.0) is None


def test_max_amount_takes_the_tighter_of_the_amount_and_cost_maximums() -> None:
    assert max_amount(market(amount={"max": 3.0}, cost={"max": 250.0}), 100.0) == 2.5
    assert max_amount(market(amount={"max": 3.0}, cost={"max": 900.0}), 100.0) == 3.0
    assert max_amount(market(cost={"max": 250.0}), None) is None
    assert max_amount(None, 100.0) is None


def test_dust_reason_names_the_first_limit_an_amount_misses() -> None:
    eth = market(amount={"min": 0.05}, cost={"min": 5.0})
    assert dust_reason(0.004, eth, 100.0) == "below the lot step"
    assert dust_reason(0.03, eth, 1000.0) == "below the market's minimum amount"
    assert dust_reason(0.06, eth, 10.0) == "below the market's minimum order value"
    assert dust_reason(0.06, eth, 100.0) is None


@pytest.mark.parametrize("draw", [0.0, 0.25, 0.999])
def test_backoff_doubles_each_attempt_with_jitter_of_half_either_way(
    monkeypatch: pytest.MonkeyPatch, draw: float
) -> None:
    monkeypatch.setattr(order_math.random, "random", lambda: draw)
    delays = [backoff_delay(0.25, attempt) for attempt in range(4)]
    assert delays == [pytest.approx(0.25 * 2**a * (0.5 + draw)) for a in range(4)]
    assert backoff_delay(0.0, 3) == 0.0
