"""ml.require_edge: no new position while the model has not shown an edge; exits keep working;
the reason is in Opportunities, Alerts and the snapshot. And where the verdict comes from."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from conftest import make_settings

from tui_bot.clock import FakeClock
from tui_bot.engine.edge import Edge, model_edge
from tui_bot.engine.live_record import LiveFigures
from tui_bot.engine.model import InlineTrainer, ModelMetrics, TrainedModel
from tui_bot.engine.validation import EDGE, MIN_ROWS, NO_EDGE, NOT_ENOUGH_DATA
from tui_bot.runtime import Runtime, build_runtime

NO_LIVE = LiveFigures(0, None, None, None, 0, None, None, ())


def runtime_for(tmp_path: Path, clock: FakeClock, **values: object) -> Runtime:
    settings = make_settings(tmp_path, **{"ml.require_edge": True, **values})
    return build_runtime(settings, trainer=InlineTrainer(), clock=clock)


def say(runtime: Runtime, edge: Edge) -> None:
    runtime.engine.edge = lambda: edge  # type: ignore[method-assign]


async def test_no_edge_opens_nothing_says_why_and_still_exits(
    tmp_path: Path, clock: FakeClock
) -> None:
    runtime = runtime_for(tmp_path, clock, **{"risk.max_hold_minutes": 5})
    engine = runtime.engine
    await engine.start()
    say(runtime, Edge(EDGE, "shown"))
    await engine.run(1)
    opened = {p.symbol for p in engine.store.positions()}
    assert opened, "with an edge the bot buys: the test below would prove nothing"
    say(runtime, Edge(NO_EDGE, "validation AUC 0.51 (0.48-0.54)"))
    clock.advance(600)  # past max hold: every position must still be sold
    snapshot = await engine.run_cycle()
    assert not {p.symbol for p in engine.store.positions()} & opened
    assert engine.store.positions() == []  # and nothing new was bought
    actions = {o.action for o in snapshot.opportunities}
    assert actions == {"blocked: model has no edge"}
    assert any("no new positions: model has no edge" in a.message for a in snapshot.alerts)
    assert snapshot.model.blocking and snapshot.model.verdict == NO_EDGE
    say(runtime, Edge(EDGE, "live AUC 0.58 (0.55-0.61)"))
    snapshot = await engine.run_cycle()
    assert not snapshot.model.blocking
    assert any("new positions allowed again" in a.message for a in snapshot.alerts)
    assert any(o.approved for o in snapshot.opportunities)
    await runtime.close()


async def test_not_enough_data_is_not_an_edge(tmp_path: Path, clock: FakeClock) -> None:
    runtime = runtime_for(tmp_path, clock)
    await runtime.engine.start()
    say(runtime, Edge(NOT_ENOUGH_DATA, "not validated"))
    snapshot = await runtime.engine.run_cycle()
    assert runtime.engine.store.positions() == []
    assert {o.action for o in snapshot.opportunities} == {"blocked: model edge not shown yet"}
    await runtime.close()


async def test_the_gate_is_off_with_require_edge_false(tmp_path: Path, clock: FakeClock) -> None:
    runtime = runtime_for(tmp_path, clock, **{"ml.require_edge": False})
    await runtime.engine.start()
    say(runtime, Edge(NO_EDGE, "validation AUC 0.50"))
    snapshot = await runtime.engine.run_cycle()
    assert not snapshot.model.blocking
    assert runtime.engine.store.positions()  # it trades on, as asked
    await runtime.close()


def model_with(**figures: float) -> TrainedModel:
    metrics = ModelMetrics(auc=0.5, accuracy=0.5, log_loss=0.69, samples=5000, train_seconds=1.0)
    return TrainedModel(None, "hist_gradient_boosting", (), 0.0, replace(metrics, **figures))


def live(rows: int, low: float, expectancy: float) -> LiveFigures:
    return LiveFigures(rows, low + 0.03, low, low + 0.06, 100, expectancy, -0.3, ())


def test_the_verdict_comes_from_validation_until_the_live_record_has_enough_rows() -> None:
    validated = model_with(
        auc=0.56, auc_low=0.53, auc_high=0.59, validation_rows=4000, validation_trades=300,
        expectancy_pct=0.05,
    )  # fmt: skip
    assert model_edge(validated, NO_LIVE).verdict == EDGE
    assert model_edge(validated, live(MIN_ROWS - 1, 0.40, -1.0)).verdict == EDGE
    # enough live evidence decides, either way
    assert model_edge(validated, live(MIN_ROWS, 0.40, -1.0)).verdict == NO_EDGE
    unvalidated = model_with()
    assert model_edge(unvalidated, NO_LIVE).verdict == NOT_ENOUGH_DATA
    assert model_edge(unvalidated, live(MIN_ROWS, 0.52, 0.1)).verdict == EDGE
    assert model_edge(None, NO_LIVE).verdict == NOT_ENOUGH_DATA
    losing = replace(validated.metrics, expectancy_pct=-0.2)
    assert model_edge(replace(validated, metrics=losing), NO_LIVE).verdict == NO_EDGE
