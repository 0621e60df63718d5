"""The domain enums keep the strings stored, shown and written to --json before they existed."""

import json
from pathlib import Path

from tui_bot.engine.outcome import EXIT_REASONS
from tui_bot.engine.positions import exit_reason
from tui_bot.engine.risk import Candidate, RiskLimits, SymbolGroups, evaluate
from tui_bot.engine.snapshot import Alert
from tui_bot.engine.words import AlertLevel, Decision, ExitReason, Mode, Verdict
from tui_bot.store import PositionRow, Store

LIMITS = RiskLimits(
    max_open_positions=3,
    max_per_group=1,
    max_position_pct=10.0,
    kelly_fraction=0.5,
    max_drawdown_pct=20.0,
    min_probability=0.55,
)


def test_values_are_the_strings_used_before() -> None:
    assert [m.value for m in Mode] == ["SIMULATED", "PAPER", "LIVE", "BACKTEST"]
    assert [a.value for a in AlertLevel] == ["info", "warning", "error"]
    assert [r.value for r in ExitReason] == [
        "stop_loss",
        "take_profit",
        "max_hold",
        "manual",
        "end_of_data",
    ]
    assert [v.value for v in Verdict] == ["EDGE", "NO EDGE", "NOT ENOUGH DATA"]
    assert EXIT_REASONS == ("stop_loss", "take_profit", "max_hold")  # Outcomes.reason's order


def test_members_equal_their_strings_in_dicts_and_json() -> None:
    assert {"LIVE": 1}[Mode.LIVE] == 1 and {Mode.LIVE: 1}["LIVE"] == 1
    assert f"{Mode.PAPER} {AlertLevel.ERROR}" == "PAPER error"
    alert = Alert(1.0, AlertLevel.WARNING, "monitor", "slow")
    assert json.dumps(vars(alert)) == (
        '{"time": 1.0, "level": "warning", "source": "monitor", "message": "slow"}'
    )


def test_opportunity_keeps_its_json_and_action() -> None:
    candidates = [Candidate("SOL/USDT", 0.7, 0.7), Candidate("ETH/USDT", 0.5, 0.5)]
    bought, below = evaluate(candidates, [], SymbolGroups(), 10_000, 10_000, 0.0, 2.0, LIMITS)
    assert (bought.decision, bought.reason, bought.action) == (Decision.BUY, "", "buy")
    assert bought.approved and not below.approved
    assert (below.decision, below.action) == (Decision.SKIP, "probability < 0.55")
    row = json.loads(json.dumps(below.to_json()))
    assert row == {
        "symbol": "ETH/USDT",
        "group": "layer-1",
        "score": 0.5,
        "probability": 0.5,
        "action": "probability < 0.55",
        "size_quote": 0.0,
    }
    assert json.loads(json.dumps(bought.to_json()))["action"] == "buy"


def test_stored_words_read_back_as_the_same_strings(tmp_path: Path) -> None:
    store = Store(tmp_path / "bot.sqlite")
    try:
        store.add_alert(5.0, AlertLevel.ERROR, "storage", "disk full")
        assert store.recent_alerts(1) == [(5.0, "error", "storage", "disk full")]
    finally:
        store.close()


def test_exit_reason_is_an_exit_reason() -> None:
    position = PositionRow(
        symbol="BTC/USDT",
        group="layer-1",
        side="long",
        amount=1.0,
        entry_price=100.0,
        entry_cost=100.0,
        stop_loss=95.0,
        take_profit=110.0,
        opened_at=0.0,
        probability=0.6,
        features=(0.5,),
        entry_order="coid",
    )
    assert exit_reason(position, 94.0, 1.0, 3600) is ExitReason.STOP_LOSS
    assert exit_reason(position, 111.0, 1.0, 3600) is ExitReason.TAKE_PROFIT
    assert exit_reason(position, 100.0, 3600.0, 3600) is ExitReason.MAX_HOLD
    assert exit_reason(position, 100.0, 1.0, 3600) is None
