from hypothesis import given
from hypothesis import strategies as st

from tui_bot.engine.risk import (
    Candidate,
    RiskLimits,
    SymbolGroups,
    classify,
    drawdown_pct,
    evaluate,
    kelly_fraction,
    position_size,
    win_loss_ratio,
)

LIMITS = RiskLimits(
    max_open_positions=3,
    max_per_group=1,
    max_position_pct=10.0,
    kelly_fraction=0.5,
    max_drawdown_pct=20.0,
    min_probability=0.55,
)


def test_classify_uses_real_base_assets() -> None:
    assert classify("BTC/USDT") == "layer-1"
    assert classify("UNI/USDT") == "defi"
    assert classify("DOGE/USDT:USDT") == "meme"
    assert classify("ZZZ/USDT") == "other"


def test_symbol_groups_are_cached() -> None:
    groups = SymbolGroups()
    for _ in range(5):
        assert groups.group("ETH/USDT") == "layer-1"
    assert (groups.cache.hits, groups.cache.misses) == (4, 1)


@given(st.floats(0, 1), st.floats(0.01, 100))
def test_kelly_is_between_zero_and_one(p: float, b: float) -> None:
    assert 0.0 <= kelly_fraction(p, b) <= 1.0


@given(
    st.floats(1, 1e7),
    st.floats(0, 1),
    st.floats(0.1, 10),
    st.floats(0, 100),
)
def test_position_size_never_exceeds_the_cap(
    equity: float, p: float, b: float, drawdown: float
) -> None:
    size = position_size(equity, p, b, drawdown, LIMITS)
    assert 0.0 <= size <= equity * LIMITS.max_position_pct / 100 + 1e-6
    if drawdown >= LIMITS.max_drawdown_pct:
        assert size == 0.0


def test_drawdown_shrinks_the_size() -> None:
    full = position_size(10_000, 0.7, 1.5, 0.0, LIMITS)
    half = position_size(10_000, 0.7, 1.5, 10.0, LIMITS)
    assert half == full / 2


def test_win_loss_ratio_needs_enough_trades() -> None:
    assert win_loss_ratio([1.0, -1.0], default=1.5) == 1.5
    assert win_loss_ratio([2.0] * 5 + [-1.0] * 5, default=1.5) == 2.0


def test_drawdown_pct() -> None:
    assert drawdown_pct(90, 100) == 10.0
    assert drawdown_pct(110, 100) == 0.0


def test_evaluate_applies_every_limit_with_reasons() -> None:
    candidates = [
        Candidate("BTC/USDT", 0.80, 0.80),
        Candidate("ETH/USDT", 0.75, 0.75),  # same group as BTC -> group limit
        Candidate("UNI/USDT", 0.70, 0.70),
        Candidate("DOGE/USDT", 0.50, 0.50),  # below min probability
        Candidate("LINK/USDT", 0.65, 0.65),  # already open
        Candidate("XRP/USDT", 0.60, 0.60),  # max positions reached
    ]
    result = evaluate(candidates, ["LINK/USDT"], SymbolGroups(), 10_000, 10_000, 0.0, 1.5, LIMITS)
    actions = {o.symbol: o.action for o in result}
    assert actions["BTC/USDT"] == "buy"
    assert actions["ETH/USDT"].startswith("group limit")
    assert actions["UNI/USDT"] == "buy"
    assert actions["DOGE/USDT"].startswith("probability")
    assert actions["LINK/USDT"] == "already open"
    assert actions["XRP/USDT"].startswith("max positions")
    assert [o.symbol for o in result][0] == "BTC/USDT"
    assert all(o.size_quote > 0 for o in result if o.approved)


def test_kill_switch_blocks_everything() -> None:
    result = evaluate(
        [Candidate("BTC/USDT", 0.9, 0.9)], [], SymbolGroups(), 8_000, 8_000, 25.0, 1.5, LIMITS
    )
    assert result[0].action.startswith("kill switch")
