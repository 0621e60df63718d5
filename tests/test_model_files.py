"""Model files: one per exchange and mode, recorded relative to the data folder."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from conftest import make_settings
from fake_exchange import FakeBinance, bot_config

from tui_bot.clock import FakeClock
from tui_bot.config import Settings, load_settings
from tui_bot.engine.model import InlineTrainer
from tui_bot.runtime import Runtime, build_runtime, model_file


def sim_runtime(folder: Path, clock: FakeClock) -> Runtime:
    folder.mkdir(parents=True, exist_ok=True)
    return build_runtime(make_settings(folder), trainer=InlineTrainer(), clock=clock, env={})


def paper_settings(folder: Path, server: FakeBinance) -> Settings:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.toml").write_text(bot_config(server, "paper"))
    return load_settings(folder / "config.toml", env={})


async def started(runtime: Runtime) -> Runtime:
    await runtime.engine.start()
    return runtime


def model_alerts(runtime: Runtime) -> list[str]:
    return [a.message for a in runtime.engine.alerts if a.source == "model" and a.level == "error"]


def test_every_exchange_and_mode_has_its_own_model_file() -> None:
    names = {model_file("sim", "SIMULATED"), model_file("binance", "PAPER")}
    names |= {model_file("binance", "LIVE"), model_file("kraken", "PAPER")}
    assert len(names) == 4
    assert model_file("sim", "SIMULATED") == "model.joblib"  # old sim folders keep theirs


async def test_sim_and_paper_in_one_folder_keep_their_own_models(
    tmp_path: Path, clock: FakeClock
) -> None:
    sim = await started(sim_runtime(tmp_path, clock))
    sim_trained_at = sim.engine.models.model.trained_at
    await sim.close()
    with FakeBinance() as server:
        paper = build_runtime(paper_settings(tmp_path, server), trainer=InlineTrainer(), env={})
        await started(paper)
        assert paper.engine.bootstrapped  # its own model, not the simulator's
        await paper.close()
    again = await started(sim_runtime(tmp_path, clock))
    try:
        assert model_alerts(again) == []  # before: "sha256 ... expected ...; retraining"
        assert not again.engine.bootstrapped
        assert again.engine.models.model.trained_at == sim_trained_at
    finally:
        await again.close()


async def test_a_copied_data_folder_uses_its_own_model(tmp_path: Path, clock: FakeClock) -> None:
    first = await started(sim_runtime(tmp_path / "a", clock))
    trained_at = first.engine.models.model.trained_at
    model_path = first.engine.models.model_path
    await first.close()
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    model_path.unlink()  # the original folder's model is gone
    copy = await started(sim_runtime(tmp_path / "b", clock))
    try:
        assert model_alerts(copy) == []  # before: "model file not found: .../a/data/..."
        assert not copy.engine.bootstrapped
        assert copy.engine.models.model.trained_at == trained_at
        assert copy.store.latest_model()[0] == "model.joblib"  # relative to the data folder
    finally:
        await copy.close()


async def test_an_old_absolute_path_means_the_file_in_this_folder(
    tmp_path: Path, clock: FakeClock
) -> None:
    """Rows written before paths were relative: the file name is looked up in the folder the
    store is in, never in the folder the path names."""
    first = await started(sim_runtime(tmp_path / "a", clock))
    trained_at = first.engine.models.model.trained_at
    original = first.engine.models.model_path
    await first.close()
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    db = sqlite3.connect(tmp_path / "b" / "data" / "tui_bot.sqlite")
    with db:
        db.execute("UPDATE models SET path = ?", (str(original),))
    db.close()
    original.write_bytes(b"changed in the other folder")
    copy = await started(sim_runtime(tmp_path / "b", clock))
    try:
        assert model_alerts(copy) == []
        assert copy.engine.models.model.trained_at == trained_at
    finally:
        await copy.close()


async def test_a_model_and_samples_of_another_label_are_replaced_not_used(
    tmp_path: Path, clock: FakeClock
) -> None:
    """A folder from before the tradeable label (or with other exits): its model learned
    something else and its samples' outcomes mean something else; both are retrained."""
    first = await started(sim_runtime(tmp_path, clock))
    assert first.engine.bootstrapped
    await first.close()
    changed = make_settings(tmp_path, **{"risk.stop_loss_pct": 5.0})  # another label
    again = build_runtime(changed, trainer=InlineTrainer(), clock=clock, env={})
    await started(again)
    try:
        said = [a.message for a in again.engine.alerts]
        # (no "other" in the match: an earlier test may have registered it as a secret to redact)
        assert any("the saved model learned an" in m for m in said), said
        assert any("saved samples were labelled by an" in m for m in said), said
        assert again.engine.bootstrapped  # a new model from candle history
        assert again.engine.models.model.metrics.label == again.engine.models.label
        assert "stop-loss -5 %" in again.engine.models.label
    finally:
        await again.close()
    same = await started(sim_runtime(tmp_path, clock))  # back to the first rules: retrained again
    try:
        assert same.engine.bootstrapped
    finally:
        await same.close()
