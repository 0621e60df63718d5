"""The first start's model trains in a thread of the bot's process, not in a training process;
the heavy imports a runtime preloads are waited for, not raced."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import FakeClock, make_settings

from tui_bot import preload
from tui_bot.engine import model as model_module
from tui_bot.engine.features import FEATURE_NAMES
from tui_bot.engine.model import (
    InlineTrainer,
    ProcessTrainer,
    ThreadTrainer,
    TrainedModel,
    train_model,
)
from tui_bot.runtime import build_runtime


def synthetic(n: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, len(FEATURE_NAMES))).astype(np.float32)
    y = (X[:, 0] + 0.5 * X[:, 1] + rng.normal(size=n) > 0).astype(np.int8)
    return X, y


async def test_the_thread_trainer_fits_in_another_thread_what_inline_fits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    X, y = synthetic()
    here = await InlineTrainer().train(X, y, "hist_gradient_boosting", 7.0, random_state=2)
    fitted_in: list[int] = []

    def recorded(*args: Any, **kwargs: Any) -> TrainedModel:
        fitted_in.append(threading.get_ident())
        return train_model(*args, **kwargs)

    monkeypatch.setattr(model_module, "train_model", recorded)
    away = await ThreadTrainer().train(X, y, "hist_gradient_boosting", 7.0, random_state=2)
    assert fitted_in and fitted_in[0] != threading.get_ident()
    assert away.trained_at == 7.0 and away.metrics.auc == here.metrics.auc
    np.testing.assert_array_equal(away.predict_proba(X), here.predict_proba(X))


async def test_the_loop_keeps_running_while_the_thread_trainer_fits() -> None:
    X, y = synthetic(20_000)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.001)
            ticks += 1

    ticker = asyncio.create_task(tick())
    await ThreadTrainer().train(X, y)
    ticker.cancel()
    assert ticks > 1  # an inline fit would not let the ticker run at all


async def test_the_first_start_trains_without_a_training_process(
    tmp_path: Path, clock: FakeClock
) -> None:
    trainer = ProcessTrainer()
    runtime = build_runtime(make_settings(tmp_path), trainer=trainer, clock=clock)
    spawned: list[object] = []
    trainer._get_pool = lambda: spawned.append(1)  # type: ignore[method-assign]
    try:
        await runtime.engine.start()
        assert runtime.engine.bootstrapped and runtime.engine.models.model is not None
        assert not spawned, "the bootstrap started a training process"
    finally:
        await runtime.close()


def test_wait_for_preload_waits_for_the_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    imported: list[str] = []

    def slow_import(name: str) -> None:
        release.wait(30)
        imported.append(name)

    monkeypatch.setattr(preload.importlib, "import_module", slow_import)
    preload.preload(("a.module",))
    waiter = threading.Thread(target=preload.wait_for_preload)
    waiter.start()
    time.sleep(0.05)
    assert waiter.is_alive() and not imported  # still importing: the waiter waits
    release.set()
    waiter.join(30)
    assert not waiter.is_alive() and imported == ["a.module"]


def test_a_failed_preload_does_not_block(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(name: str) -> None:
        raise ImportError(name)

    monkeypatch.setattr(preload.importlib, "import_module", broken)
    preload.preload(("missing.module",))
    finished = threading.Thread(target=preload.wait_for_preload)
    finished.start()
    finished.join(30)
    assert not finished.is_alive()


def test_a_wait_for_one_module_ends_when_it_is_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    first_done = threading.Event()
    release_second = threading.Event()

    def slow_import(name: str) -> None:
        if name == "second.module":
            first_done.set()
            release_second.wait(30)

    monkeypatch.setattr(preload.importlib, "import_module", slow_import)
    preload.preload(("first.module", "second.module"))
    first_done.wait(30)
    for_first = threading.Thread(target=preload.wait_for_preload, args=("first.module",))
    for_all = threading.Thread(target=preload.wait_for_preload)
    for_first.start()
    for_all.start()
    for_first.join(30)
    assert not for_first.is_alive()  # "first" is in: its waiter goes on
    assert for_all.is_alive()  # "second" is still importing: a wait for everything waits
    release_second.set()
    for_all.join(30)
    assert not for_all.is_alive()
