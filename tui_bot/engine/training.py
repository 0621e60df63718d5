"""The model's life: load (sha256-checked), bootstrap from candle history, retrain, persist."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tui_bot.clock import Clock
from tui_bot.engine.features import FEATURE_NAMES, history_features
from tui_bot.engine.indicators import compute_indicators
from tui_bot.engine.live_record import Resolved
from tui_bot.engine.model import (
    MIN_TRAINING_ROWS,
    ModelLoadError,
    TrainedModel,
    Trainer,
    ValidationPlan,
    check_model_file,
    labels,
    load_model,
    save_model,
)
from tui_bot.engine.outcome import ExitRules, trade_outcomes
from tui_bot.engine.samples import SampleBuffer
from tui_bot.engine.words import AlertFn, AlertLevel
from tui_bot.store import Store

log = logging.getLogger(__name__)
MIN_RETURN = 0.0  # a sample is a win when its tradeable outcome, after fees, is positive
HISTORY_WARMUP = 40  # candles before the first labelled one: the indicators need them
SAMPLES_LABEL_KEY = "samples_label"  # the store's note of what the saved samples' outcomes mean


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
        self.rules: ExitRules | None = None  # the trade a label describes (set_rules)
        self.threshold = 0.55  # the entry rule's probability, for the validation's expectancy

    def set_rules(self, rules: ExitRules, threshold: float) -> None:
        """The bot's exit rules and costs (labels), and its entry threshold (validation)."""
        self.rules, self.threshold = rules, threshold

    @property
    def label(self) -> str:
        return "" if self.rules is None else self.rules.describe()

    def _samples_label(self) -> str:
        """What saved samples must have been made with to be used: the label and features."""
        return f"{self.label}; features {', '.join(FEATURE_NAMES)}"

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
            model = load_model(self._resolve(recorded), sha)
        except ModelLoadError as e:
            self.alert(AlertLevel.ERROR, "model", f"{e}; retraining")
            return False
        if model.metrics.label != self.label or model.feature_names != FEATURE_NAMES:
            self.alert(
                AlertLevel.INFO,
                "model",
                "the saved model learned another label or reads other features (an older "
                "version, or other exits and costs): retraining on the trade the bot makes now",
            )
            return False
        self.model = model
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
        if self.store.get_state(SAMPLES_LABEL_KEY) != self._samples_label():
            self.alert(
                AlertLevel.INFO,
                "samples",
                "saved samples were labelled by another rule or hold other features (an older "
                "version, or other exits and costs): starting from candle history instead",
            )
            return
        self.saved_bytes = len(data)
        try:
            self.samples = SampleBuffer.from_bytes(data, self.samples.capacity)
        except ValueError as e:
            self.alert(
                AlertLevel.WARNING, "samples", f"saved samples unreadable ({e}); starting empty"
            )

    def add_history(self, candles: list[np.ndarray]) -> int:
        """Label every candle of the given history with its tradeable outcome and add it as
        samples (time = the signal candle's close); returns rows added."""
        if self.rules is None:
            raise RuntimeError("ModelManager.set_rules first: labels need the exit rules")
        length = min((len(c) for c in candles), default=0)
        if length < HISTORY_WARMUP + self.rules.horizon + 40:
            return 0
        stacked = np.stack([c[-length:] for c in candles])
        X, outcome, times = history_samples(stacked, self.rules)
        self.samples.add(X, outcome, times)
        return len(X)

    def add_outcomes(self, rows: Sequence[Resolved], timeframe_seconds: int) -> None:
        """Resolved predictions (the live record's) as samples, timed at their signal candle's
        close like the history's."""
        rows = [r for r in rows if len(r.features) == len(FEATURE_NAMES)]
        if not rows:
            return
        self.samples.add(
            np.asarray([r.features for r in rows], dtype=np.float32),
            np.asarray([r.net_return for r in rows], dtype=np.float32),
            np.asarray([r.signal_ms / 1000 + timeframe_seconds for r in rows]),
        )

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

    async def train(self, trainer: Trainer | None = None) -> TrainedModel | None:
        """Train on the samples held (with `trainer`, else the manager's); on success swap the
        model in and persist it."""
        trainer = self.trainer if trainer is None else trainer
        X, y = self.samples.X, labels(self.samples.outcome, MIN_RETURN)
        if len(X) < MIN_TRAINING_ROWS or len(np.unique(y)) < 2:
            self.alert(AlertLevel.INFO, "model", f"not enough samples to train ({len(X)})")
            return None
        try:
            validate = self.validate_retrains or self.model is None
            model = await trainer.train(
                X.copy(), y, self.kind, self.clock.now(), validate=validate, plan=self._plan()
            )
        except (ValueError, RuntimeError) as e:
            self.alert(AlertLevel.ERROR, "model", f"training failed: {e}")
            return None
        self.model = model
        self._persist(model)
        return model

    def _plan(self) -> ValidationPlan | None:
        if self.rules is None:
            return None
        rules = self.rules
        return ValidationPlan(
            net_return=self.samples.outcome.astype(np.float64),
            times=self.samples.time.copy(),
            horizon_seconds=rules.horizon * rules.timeframe_seconds,
            horizon_candles=rules.horizon,
            threshold=self.threshold,
            label=rules.describe(),
        )

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
        self.store.set_state(SAMPLES_LABEL_KEY, self._samples_label())


def history_samples(
    candles: np.ndarray, rules: ExitRules, warmup: int = HISTORY_WARMUP
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training rows from candles shaped (n_pairs, T, 6): the features at each closed candle
    and the tradeable outcome of a signal on it; time = that candle's close, in seconds. Rows
    in time order (then pair); rows whose outcome is unknown (the end, a gap) or whose
    features are not finite are left out."""
    close, volume = candles[:, :, 4], candles[:, :, 5]
    features = history_features(compute_indicators(close, volume), close)
    step_s = rules.timeframe_seconds
    rows_X, rows_out, rows_t = [], [], []
    for pair in range(len(candles)):
        out = trade_outcomes(candles[pair], rules)
        keep = out.known & np.isfinite(features[pair]).all(axis=1)
        keep[:warmup] = False
        rows_X.append(features[pair][keep])
        rows_out.append(out.net_return[keep])
        rows_t.append(candles[pair, keep, 0] / 1000.0 + step_s)
    X, outcome, times = np.concatenate(rows_X), np.concatenate(rows_out), np.concatenate(rows_t)
    order = np.argsort(times, kind="stable")
    return X[order].astype(np.float32), outcome[order].astype(np.float32), times[order]
