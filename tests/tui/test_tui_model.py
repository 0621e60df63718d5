"""The Model pane and the status bar say what the model is worth: the verdict first, an AUC only
with its interval or rows, and plainly when the bot is kept out of new positions.

Update the SVG baselines after a deliberate change with: pytest tests/tui --snapshot-update
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, T0, fixed_snapshot, no_edge_model, tui_settings
from textual.pilot import Pilot
from textual.widgets import Label

from tui_bot.engine.snapshot import ModelInfo, Snapshot
from tui_bot.tui.app import TuiBotApp
from tui_bot.tui.messages import SnapshotArrived
from tui_bot.tui.widgets.model import (
    BLOCKING_TEXT,
    ModelPane,
    auc_text,
    calibration_text,
    interval_text,
    log_loss_text,
    row_texts,
)

SnapCompare = Callable[..., bool]
BARE_AUC = re.compile(r"AUC \d\.\d{3}(?!-\d)")  # an AUC figure, not an interval's low end
NO_MODEL = ModelInfo(trained_at=None, samples=0, auc=None, accuracy=None)
EDGE_MODEL = replace(
    no_edge_model(),
    auc=0.561,
    auc_low=0.532,
    auc_high=0.589,
    log_loss=0.681,
    expectancy_pct=0.084,
    verdict="EDGE",
    verdict_reason="AUC 0.53-0.59 above 0.5; held-out trades net +0.08% after fees",
)
MODELS = {
    "no-edge-blocking": no_edge_model(blocking=True),
    "no-model": NO_MODEL,
}


def with_model(model: ModelInfo, cycle: int = 42) -> Snapshot:
    return replace(fixed_snapshot(cycle=cycle), model=model)


def still_app(tmp_path: Path) -> TuiBotApp:
    settings = tui_settings(tmp_path)
    return TuiBotApp(settings, start_engine=False, themes=[ROOT / "themes"], monotonic=lambda: 0.0)


async def feed(pilot: Pilot[Any], snapshot: Snapshot) -> None:
    pilot.app.post_message(SnapshotArrived(snapshot))
    await pilot.pause()
    await pilot.pause()


def text_of(app: TuiBotApp, selector: str) -> str:
    return str(app.query_one(selector, Label).render())


# -- what the pane shows on screen -------------------------------------------------------------
@pytest.mark.parametrize("model", list(MODELS), ids=list(MODELS))
@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_model_pane(
    snap_compare: SnapCompare, tmp_path: Path, size: tuple[int, int], model: str
) -> None:
    async def show_model(pilot: Pilot[Any]) -> None:
        for cycle in (40, 41, 42):
            await feed(pilot, with_model(MODELS[model], cycle))
        await pilot.press("6")  # the Model tab; on a big terminal the engine's page
        await pilot.pause()

    assert snap_compare(still_app(tmp_path), terminal_size=size, run_before=show_model)


async def test_the_pane_shows_the_verdict_and_the_figures_behind_it(tmp_path: Path) -> None:
    app = still_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await feed(pilot, with_model(no_edge_model(blocking=True)))
        await pilot.press("6")  # the engine's page
        await pilot.pause()
        pane = app.query_one(ModelPane)
        assert pane.region.height > 0 and pane.region.width > 0  # beside the other panes
        verdict = app.query_one("#model-verdict", Label)
        assert str(verdict.render()) == "NO EDGE"
        assert verdict.has_class("verdict-no-edge") and not verdict.has_class("verdict-edge")
        assert "includes 0.5" in text_of(app, "#model-reason")
        assert app.query_one("#model-blocking").display
        assert text_of(app, "#model-blocking") == BLOCKING_TEXT
        assert text_of(app, "#model-validation-auc") == "AUC 0.514 (0.487-0.546), 4,210 rows"
        assert "(worse)" in text_of(app, "#model-validation-loss")
        assert text_of(app, "#model-live-auc") == "AUC 0.503 (0.441-0.566), 312 rows"
        assert text_of(app, "#model-trades") == "7 closed, 42.9% won, net −18.42 USDT"
        assert "2h05m old" in text_of(app, "#model-trained")

        await feed(pilot, with_model(EDGE_MODEL))
        assert str(verdict.render()) == "EDGE"
        assert verdict.has_class("verdict-edge") and not verdict.has_class("verdict-no-edge")
        assert not app.query_one("#model-blocking").display


async def test_without_a_model_every_figure_is_a_dash(tmp_path: Path) -> None:
    app = still_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await feed(pilot, with_model(NO_MODEL))
        verdict = app.query_one("#model-verdict", Label)
        assert str(verdict.render()) == "NOT ENOUGH DATA"
        assert verdict.has_class("verdict-unknown")
        assert not app.query_one("#model-reason").display  # no reason given: no empty line
        assert not app.query_one("#model-blocking").display
        assert text_of(app, "#model-validation-auc") == "AUC -, 0 rows"
        assert text_of(app, "#model-validation-loss") == "log loss - vs - constant"
        assert text_of(app, "#model-validation-expectancy") == "- a trade after fees"
        assert text_of(app, "#model-live-auc") == "no resolved predictions yet"
        assert text_of(app, "#model-trades") == "0 closed, - won, net 0.00 USDT"
        assert text_of(app, "#model-trained") == "none yet, 0 rows held"


async def test_key_6_opens_the_model_tab_in_a_small_terminal(tmp_path: Path) -> None:
    app = still_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await feed(pilot, fixed_snapshot())
        assert app.query_one(ModelPane).region.height == 0  # Overview first
        await pilot.press("6")
        await pilot.pause()
        await pilot.pause()
        pane = app.query_one(ModelPane)
        assert pane.region.height > 0 and app.focused is pane
        assert app.query_one("#positions").region.height == 0
        before = pane.scroll_y
        await pilot.press("pagedown")  # the calibration table is below the fold
        await pilot.pause()
        assert pane.scroll_y > before
        await pilot.press("1")
        await pilot.pause()
        assert app.query_one("#positions").region.height > 0


# -- the status bar ----------------------------------------------------------------------------
@pytest.mark.parametrize("width", [160, 120, 100, 80, 60, 40])
async def test_the_status_bar_shows_the_verdict_not_a_bare_auc(tmp_path: Path, width: int) -> None:
    app = still_app(tmp_path)
    async with app.run_test(size=(width, 24)) as pilot:
        await feed(pilot, fixed_snapshot())  # a NO EDGE model, AUC 0.514 (0.487-0.546)
        model = app.query_one("#status-model", Label)
        text = str(model.render())
        assert not BARE_AUC.search(text)
        if model.display:
            assert "NO EDGE" in text and model.has_class("verdict-no-edge")
            assert len(text) <= model.content_region.width  # not cut
        if width >= 80:
            assert "NO EDGE (AUC 0.487-0.546)" in text
        if width >= 120:
            assert text == "model 2h05m old, NO EDGE (AUC 0.487-0.546)"


async def test_the_status_bar_says_when_the_model_blocks_new_positions(tmp_path: Path) -> None:
    app = still_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await feed(pilot, with_model(no_edge_model(blocking=True)))
        text = text_of(app, "#status-model")
        assert text == "model 2h05m old, NO EDGE (AUC 0.487-0.546): no new positions"
        await feed(pilot, with_model(NO_MODEL))
        assert text_of(app, "#status-model") == "model: none yet"
        assert not app.query_one("#status-model").has_class("verdict-unknown")
        unvalidated = replace(NO_MODEL, trained_at=T0 - 60, auc=0.561)  # no interval yet
        await feed(pilot, with_model(unvalidated))
        assert text_of(app, "#status-model") == "model 1m old, NOT ENOUGH DATA"
        assert app.query_one("#status-model").has_class("verdict-unknown")


# -- the texts ---------------------------------------------------------------------------------
def test_an_auc_always_comes_with_its_rows_and_its_interval_when_known() -> None:
    assert auc_text(0.5281, 0.4912, 0.5633, 4_200) == "0.528 (0.491-0.563), 4,200 rows"
    assert auc_text(0.5281, None, 0.5633, 4_200) == "0.528, 4,200 rows"
    assert auc_text(None, None, None, 0) == "-, 0 rows"
    assert auc_text(float("nan"), float("nan"), float("nan"), 12) == "-, 12 rows"
    assert interval_text(0.4912, None) is None


def test_a_log_loss_worse_than_the_constant_says_so() -> None:
    assert log_loss_text(0.6941, 0.6912) == "log loss 0.694 vs 0.691 constant (worse)"
    assert log_loss_text(0.6801, 0.6912) == "log loss 0.680 vs 0.691 constant (better)"
    assert log_loss_text(None, 0.6912) == "log loss - vs 0.691 constant"


def test_the_calibration_table_leaves_out_empty_deciles() -> None:
    text = calibration_text(((0.05, 0.0, 0), (0.262, 0.301, 73), (0.95, 1.0, 0), (0.538, 0.44, 1)))
    lines = text.splitlines()
    assert lines[0].split() == ["predicted", "realised", "rows", "(live)"]
    assert [line.split() for line in lines[1:]] == [["0.26", "0.30", "73"], ["0.54", "0.44", "1"]]
    assert calibration_text(((0.05, 0.0, 0),)) == "no resolved predictions yet"


def test_the_validation_and_live_figures_are_kept_apart() -> None:
    texts = row_texts(with_model(no_edge_model()), "USDT")
    assert texts["validation-expectancy"] == "−0.12% a trade after fees"
    assert texts["live-expectancy"] == "−0.20% a trade after fees"
    assert "4,210 rows" in texts["validation-auc"] and "312 rows" in texts["live-auc"]
