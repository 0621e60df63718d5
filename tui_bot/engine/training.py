"""The model's life: load (sha256-checked), bootstrap from candle history, retrain, persist."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tui_bot.clock import Clock
from tui_bot.engine.features import FEATURE_NAMES, bootstrap_dataset
from tui_bot.engine.model import (
    MIN_TRAINING_ROWS,
    ModelLoadError,
    TrainedModel,
    Trainer,
    check_model_file,
    labels,
    load_model,
    save_model,
)
from tui_bot.engine.samples import SampleBuffer
from tui_bot.store import Store

log = logging.getLogger(__name__)
AlertFn = Callable[[str, str, str], None]
MIN_RETURN = 0.0  # a sample is a win when its outcome (after fees, for trades) is positive
HORIZON = 6  # candles ahead for history-derived labels


class ModelManager:
    def __init__(
        self,
        store: Store,
        trainer: Trainer,
        model_path: Path | None,  # None: the model lives in memory only (a backtest)
        clock: Clock,
        alert: AlertFn,
        kind: str,
        capacity: int,
        saved_samples: int,
        validate_retrains: bool = True,
    ) -> None:
        self.store = store
        self.trainer = trainer
        self.model_path = model_path
        self.clock = clock
        self.alert = alert
        self.kind = kind
        self.saved_samples = saved_samples
        # False: only the first model is validated (a backtest, whose retrains are scored by
        # their own out-of-sample predictions); the models fitted are the same either way.
        self.validate_retrains = validate_retrains
        self.samples = SampleBuffer(len(FEATURE_NAMES), capacity)
        self.model: TrainedModel | None = None
        self.saved_bytes = 0  # size of the persisted samples, on disk

    def load(self) -> bool:
        """Load the saved model and samples. A bad file is an alert, never a crash; a directory
        where the model file goes is a StorageError (before any training is wasted on it)."""
        if self.model_path is None:
            return False
        check_model_file(self.model_path)
        self._load_samples()
        meta = self.store.latest_model()
        if meta is None:
            return False
        recorded, sha = meta
        try:
            self.model = load_model(self._resolve(recorded), sha)
        except ModelLoadError as e:
            self.alert("error", "model", f"{e}; retraining")
            return False
        return True

    def _folder(self) -> Path:
        """Model paths are recorded relative to the store's folder, so it can be moved or copied."""
        return self.store.path.parent

    def _resolve(self, recorded: str) -> Path:
        """An absolute path (recorded before paths were relative) names the file in this folder:
        a copied folder must neither use nor miss the original folder's model."""
        path = Path(recorded)
        return self._folder() / (path.name if path.is_absolute() else path)

    def _load_samples(self) -> None:
        data = self.store.load_samples()
        if data is None:
            return
        self.saved_bytes = len(data)
        try:
            self.samples = SampleBuffer.from_bytes(data, self.samples.capacity)
        except ValueError as e:
            self.alert("warning", "samples", f"saved samples unreadable ({e}); starting empty")

    def add_history(self, candles: list[np.ndarray]) -> int:
        """Label every candle of the given history and add it as samples; returns rows added."""
        length = min((len(c) for c in candles), default=0)
        if length < 80:
            return 0
        stacked = np.stack([c[-length:] for c in candles])
        X, outcome, t = bootstrap_dataset(stacked[:, :, 4], stacked[:, :, 5], horizon=HORIZON)
        times = stacked[0, t.astype(int), 0] / 1000.0
        order = np.argsort(times, kind="stable")
        self.samples.add(X[order], outcome[order], times[order])
        return len(X)

    def add_trade(self, features: tuple[float, ...], outcome: float, time: float) -> None:
        if len(features) != len(FEATURE_NAMES):
            return
        self.samples.add(
            np.asarray([features], dtype=np.float32),
            np.asarray([outcome], dtype=np.float32),
            np.asarray([time]),
        )

    def due(self, interval_hours: float) -> bool:
        if self.model is None:
            return True
        return self.clock.now() - self.model.trained_at >= interval_hours * 3600

    async def train(self) -> TrainedModel | None:
        """Train on the samples held; on success swap the model in and persist it."""
        X, y = self.samples.X, labels(self.samples.outcome, MIN_RETURN)
        if len(X) < MIN_TRAINING_ROWS or len(np.unique(y)) < 2:
            self.alert("info", "model", f"not enough samples to train ({len(X)})")
            return None
        try:
            validate = self.validate_retrains or self.model is None
            model = await self.trainer.train(
                X.copy(), y, self.kind, self.clock.now(), validate=validate
            )
        except (ValueError, RuntimeError) as e:
            self.alert("error", "model", f"training failed: {e}")
            return None
        self.model = model
        self._persist(model)
        return model

    def _persist(self, model: TrainedModel) -> None:
        if self.model_path is None:
            return
        sha = save_model(model, self.model_path)
        metrics = vars(model.metrics)
        recorded = os.path.relpath(self.model_path.absolute(), self._folder().absolute())
        self.store.record_model(recorded, sha, model.kind, model.trained_at, metrics)
        self.persist_samples()
        log.info("model trained: %s", metrics)

    def persist_samples(self) -> None:
        if len(self.samples) == 0:
            return
        data = self.samples.to_bytes(self.saved_samples)
        self.saved_bytes = len(data)
        self.store.save_samples(data, min(self.saved_samples, len(self.samples)), self.clock.now())
