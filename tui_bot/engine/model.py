"""The win-probability model: gradient boosting, trained away from the UI, saved with a checksum.

scikit-learn is imported inside the functions that need it, so importing this module is cheap
and the dashboard can paint before the heavy import finishes.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import multiprocessing
import os
import pickle
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TypeVar

import joblib
import numpy as np

from tui_bot.child_job import ensure_resource_tracker
from tui_bot.engine.features import FEATURE_NAMES
from tui_bot.engine.forest import CompiledForest, compile_forest
from tui_bot.engine.validation import verdict, walk_forward
from tui_bot.engine.words import Verdict
from tui_bot.errors import StorageError
from tui_bot.preload import wait_for_preload
from tui_bot.storage import os_error, prepare_dir

MODEL_KINDS: tuple[str, ...] = ("hist_gradient_boosting", "gradient_boosting")
MIN_TRAINING_ROWS = 50
VALIDATION_FRACTION = 0.2
# Below this many rows one OpenMP thread trains and predicts faster than several: with 4
# features there is little to share out, and on a busy 2-core machine every parallel region
# waits for a descheduled thread (training 15,000 rows: 0.66 s with one thread, 0.66-4.5 s with
# two; predicting 5 rows: p95 2.0 ms with one, 7.5 ms with two). It also leaves the other cores
# to the dashboard.
SINGLE_THREAD_ROWS = 100_000
# How often the training worker checks that the process that started it still lives.
PARENT_CHECK_SECONDS = 0.25

T = TypeVar("T")


class ModelLoadError(Exception):
    """A saved model is missing, was changed on disk, or cannot be unpickled."""


@dataclass(frozen=True)
class ModelMetrics:
    auc: float  # NaN when the validation part holds a single class
    accuracy: float
    log_loss: float
    samples: int
    train_seconds: float
    # walk-forward validation (ValidationPlan); the defaults are what older model files lack
    auc_low: float = float("nan")
    auc_high: float = float("nan")
    constant_log_loss: float = float("nan")
    expectancy_pct: float = float("nan")  # the entry rule's held-out trades, after fees
    base_expectancy_pct: float = float("nan")  # every held-out row: random entries
    validation_rows: int = 0
    validation_trades: int = 0
    folds: int = 0
    label: str = ""  # what the labels meant ("" in files from before the tradeable label)

    @property
    def verdict(self) -> Verdict:
        return verdict(
            self.validation_rows, self.auc_low, self.expectancy_pct, self.validation_trades
        )


@dataclass(frozen=True)
class ValidationPlan:
    """How to validate on walk-forward folds: each row's tradeable outcome and time, the
    label's horizon (the purge gap) and the entry rule's threshold."""

    net_return: np.ndarray
    times: np.ndarray
    horizon_seconds: float
    horizon_candles: int
    threshold: float
    label: str
    folds: int = 4


@dataclass
class TrainedModel:
    estimator: Any  # a fitted scikit-learn classifier over the classes [0, 1]
    kind: str
    feature_names: tuple[str, ...]
    trained_at: float  # epoch seconds, as given by the caller's clock
    metrics: ModelMetrics
    logit_shift: float = 0.0  # added to the estimator's log-odds: see prior_shift

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probability of the positive class for every row, shape (n,), in one batched call."""
        if len(X) == 0:
            return np.empty(0, dtype=np.float64)
        forest = self._compiled_forest()
        if forest is not None and forest.accepts(X):
            return _shifted_expit(forest.decision_function(X), self.logit_shift)
        with _few_threads(len(X)):
            return _probability(self.estimator, X, self.logit_shift)

    def _compiled_forest(self) -> CompiledForest | None:
        """The estimator compiled for fast prediction (None: sklearn predicts), built on first
        use and saved with the model (see __getstate__)."""
        if _COMPILED_FOREST not in self.__dict__:
            self.__dict__[_COMPILED_FOREST] = compile_forest(self.estimator)
        forest: CompiledForest | None = self.__dict__[_COMPILED_FOREST]
        return forest

    def __getstate__(self) -> dict[str, Any]:
        """The estimator goes in as a pickle of its own, next to the compiled forest: loading
        the file then needs numpy only, and scikit-learn (~1-2 s to import) is imported the
        first time something asks for `estimator` itself."""
        state = self.__dict__.copy()
        estimator = state.pop("estimator", None)
        if estimator is None:  # loaded and not unpickled since: pass its bytes on
            return state
        state[_ESTIMATOR_PICKLE] = pickle.dumps(estimator, protocol=pickle.HIGHEST_PROTOCOL)
        state[_COMPILED_FOREST] = self._compiled_forest()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)  # a file from before has "estimator" itself: that works too

    def __getattr__(self, name: str) -> Any:
        """`estimator`, unpickled from the saved bytes on first use (only called for a name
        the instance does not have)."""
        packed = self.__dict__.get(_ESTIMATOR_PICKLE)
        if name != "estimator" or packed is None:
            raise AttributeError(name)
        wait_for_preload()  # unpickling imports scikit-learn
        estimator = pickle.loads(packed)
        self.__dict__["estimator"] = estimator
        del self.__dict__[_ESTIMATOR_PICKLE]
        return estimator


# Instance attributes that are not dataclass fields: the compiled forest, and the estimator's
# pickle while it has not been unpickled.
_COMPILED_FOREST = "_compiled_forest_cache"
_ESTIMATOR_PICKLE = "_estimator_pickle"


def _probability(estimator: Any, X: np.ndarray, logit_shift: float) -> np.ndarray:
    raw = np.asarray(estimator.decision_function(X), dtype=np.float64)
    return _shifted_expit(raw, logit_shift)


def _shifted_expit(raw: np.ndarray, logit_shift: float) -> np.ndarray:
    wait_for_preload("scipy.special")
    from scipy.special import expit

    return np.asarray(expit(raw + logit_shift), dtype=np.float64)


_controller: Any = None


@contextmanager
def _few_threads(rows: int) -> Iterator[None]:
    """One OpenMP thread for training or predicting on fewer than SINGLE_THREAD_ROWS rows.

    The limit applies to the calling thread only (OpenMP's thread count is per thread), so
    another thread of the process is not affected.
    """
    global _controller
    if rows >= SINGLE_THREAD_ROWS:
        yield
        return
    if _controller is None:
        wait_for_preload()
        import sklearn.ensemble  # noqa: F401 - loads the OpenMP runtime the controller must see
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    with _controller.limit(limits=1, user_api="openmp"):
        yield


def labels(outcome: np.ndarray, min_return: float = 0.002) -> np.ndarray:
    """1 where the outcome beat `min_return`, else 0 (int8)."""
    return (np.asarray(outcome) > min_return).astype(np.int8)


def train_model(
    X: np.ndarray,
    y: np.ndarray,
    kind: str = "hist_gradient_boosting",
    trained_at: float = 0.0,
    random_state: int = 0,
    feature_names: tuple[str, ...] = FEATURE_NAMES,
    validate: bool = True,
    plan: ValidationPlan | None = None,
) -> TrainedModel:
    """Validate, then fit on all the (time-ordered) rows. With a `plan`: purged walk-forward
    folds (validation.walk_forward); without: the last 20 % held out. Without `validate` the
    validation fits are left out and their figures are NaN (the fitted model is the same)."""
    started = time.perf_counter()
    wait_for_preload()
    X, y = _checked_training_data(X, y, feature_names)
    nan = float("nan")
    with _few_threads(len(y)):
        if not validate:
            figures: dict[str, Any] = {"auc": nan, "accuracy": nan, "log_loss": nan}
        elif plan is None:
            figures = _validate(X, y, kind, random_state)
        else:
            figures = _walk_forward(X, y, kind, random_state, plan)
        estimator = _make_estimator(kind, random_state)
        estimator.fit(X, y)
    metrics = ModelMetrics(
        samples=len(y),
        train_seconds=time.perf_counter() - started,
        label=plan.label if plan is not None else "",
        **figures,
    )
    return TrainedModel(estimator, kind, feature_names, trained_at, metrics, prior_shift(y))


def _walk_forward(
    X: np.ndarray, y: np.ndarray, kind: str, random_state: int, plan: ValidationPlan
) -> dict[str, Any]:
    def fit_predict(X_fit: np.ndarray, y_fit: np.ndarray, X_test: np.ndarray) -> np.ndarray:
        estimator = _make_estimator(kind, random_state)
        estimator.fit(X_fit, y_fit)
        return _probability(estimator, X_test, prior_shift(y_fit))

    v = walk_forward(
        X,
        y,
        plan.net_return,
        plan.times,
        fit_predict,
        plan.horizon_seconds,
        plan.horizon_candles,
        plan.threshold,
        plan.folds,
    )
    return {
        "auc": v.auc,
        "accuracy": float("nan"),  # the AUC, its interval and the log loss say more
        "log_loss": v.log_loss,
        "auc_low": v.auc_low,
        "auc_high": v.auc_high,
        "constant_log_loss": v.constant_log_loss,
        "expectancy_pct": v.expectancy_pct,
        "base_expectancy_pct": v.base_expectancy_pct,
        "validation_rows": v.rows,
        "validation_trades": v.trades,
        "folds": v.folds,
    }


def prior_shift(y: np.ndarray) -> float:
    """The log-odds to add so that both classes count as equally likely a priori.

    The share of winners in a training window mostly reflects that window's market drift; without
    this the model learns the drift as a prior and its probabilities sit below 0.5 through a
    falling market however strong a symbol's own signal is. Shifting the fitted log-odds by
    log(losers / winners) is the standard prior correction; it replaces fitting with balanced
    sample weights, which made scikit-learn bin the data by weighted percentiles (three times the
    fit's cost).
    """
    counts = np.bincount(y, minlength=2).astype(np.float64)
    return float(np.log(counts[0] / counts[1]))


def _checked_training_data(
    X: np.ndarray, y: np.ndarray, feature_names: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X)
    y = np.asarray(y, dtype=np.int8)
    if X.ndim != 2 or X.shape[1] != len(feature_names):
        raise ValueError(f"X must be shaped (rows, {len(feature_names)}), got {X.shape}")
    if y.shape != (len(X),):
        raise ValueError(f"y must be shaped ({len(X)},), got {y.shape}")
    if len(y) < MIN_TRAINING_ROWS:
        raise ValueError(
            f"need at least {MIN_TRAINING_ROWS} training samples, got {len(y)}; "
            "keep trading (or bootstrap) and retrain later"
        )
    if np.unique(y).size < 2:
        raise ValueError(f"all {len(y)} training samples have label {y[0]}; need both classes")
    return X, y


def _make_estimator(kind: str, random_state: int) -> Any:
    if kind == "hist_gradient_boosting":
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(
            max_iter=150,
            learning_rate=0.05,
            max_leaf_nodes=15,
            early_stopping=False,
            random_state=random_state,
        )
    if kind == "gradient_boosting":
        from sklearn.ensemble import GradientBoostingClassifier

        return GradientBoostingClassifier(
            n_estimators=100, max_depth=3, subsample=0.8, random_state=random_state
        )
    raise ValueError(f"unknown model kind {kind!r}; expected one of {', '.join(MODEL_KINDS)}")


def _validate(X: np.ndarray, y: np.ndarray, kind: str, random_state: int) -> dict[str, Any]:
    """(AUC, accuracy, log loss) on the newest 20 %, fitting on the oldest 80 %; NaN if unfit."""
    from sklearn.metrics import log_loss, roc_auc_score

    split = int(len(y) * (1.0 - VALIDATION_FRACTION))
    y_fit, y_val = y[:split], y[split:]
    if np.unique(y_fit).size < 2:
        return {"auc": float("nan"), "accuracy": float("nan"), "log_loss": float("nan")}
    estimator = _make_estimator(kind, random_state)
    estimator.fit(X[:split], y_fit)
    p = _probability(estimator, X[split:], prior_shift(y_fit))
    auc = float(roc_auc_score(y_val, p)) if np.unique(y_val).size == 2 else float("nan")
    accuracy = float(np.mean((p >= 0.5) == (y_val == 1)))
    return {"auc": auc, "accuracy": accuracy, "log_loss": float(log_loss(y_val, p, labels=[0, 1]))}


def save_model(model: TrainedModel, path: Path) -> str:
    """Write atomically (temp file + os.replace); return the file's sha256 hex digest.

    A fault (a directory in the way, a full disk, no permission) is a StorageError naming the
    path; the previous file, if any, is left as it was."""
    path = Path(path)
    check_model_file(path)
    prepare_dir(path.parent)
    try:
        fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise os_error(path, e, "cannot save the model") from None
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            pickle.dump(model, handle, protocol=pickle.HIGHEST_PROTOCOL)
            handle.flush()
            os.fsync(handle.fileno())
        digest = file_sha256(temp)
        os.replace(temp, path)
    except BaseException as e:
        temp.unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise os_error(path, e, "cannot save the model") from None
        raise
    return digest


def check_model_file(path: Path) -> None:
    """StorageError if a directory stands where the model file goes: it will not go by itself."""
    if path.is_dir():
        raise StorageError(
            f"{path}: is a directory, not a model file; move it away (mv {path} {path}.old) "
            "and start again"
        )


def file_sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def load_model(path: Path, expected_sha256: str) -> TrainedModel:
    """Load a model saved by `save_model`, refusing it unless its sha256 matches."""
    path = Path(path)
    check_model_file(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelLoadError(f"model file not found: {path}") from None
    except OSError as exc:
        raise ModelLoadError(f"cannot read model file {path}: {exc}") from exc
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256.lower():
        raise ModelLoadError(
            f"model file {path} has sha256 {actual}, expected {expected_sha256}: "
            "it was changed or damaged after saving; retrain to replace it"
        )
    try:
        model = _unpickle(data)
    except Exception as exc:  # unpickling garbage can raise almost anything
        raise ModelLoadError(f"model file {path} is corrupt: {type(exc).__name__}: {exc}") from exc
    if not isinstance(model, TrainedModel):
        raise ModelLoadError(f"model file {path} holds a {type(model).__name__}, not a model")
    return model


def _unpickle(data: bytes) -> object:
    """The file's object; a file saved by joblib (before the estimator had a pickle of its
    own) is read by joblib, after the background import of scikit-learn it needs."""
    try:
        return _ModelUnpickler(io.BytesIO(data)).load()
    except _JoblibFile:
        wait_for_preload()
        return joblib.load(io.BytesIO(data))


class _JoblibFile(Exception):
    pass


class _ModelUnpickler(pickle.Unpickler):
    """Waits for the background import before importing scikit-learn or scipy itself: two
    threads importing them at once can deadlock (see preload)."""

    def find_class(self, module: str, name: str) -> Any:
        package = module.partition(".")[0]
        if package == "joblib":
            raise _JoblibFile
        if package in ("sklearn", "scipy"):
            wait_for_preload()
        return super().find_class(module, name)


class Trainer(Protocol):
    async def train(
        self,
        X: np.ndarray,
        y: np.ndarray,
        kind: str = "hist_gradient_boosting",
        trained_at: float = 0.0,
        random_state: int = 0,
        validate: bool = True,
        plan: ValidationPlan | None = None,
    ) -> TrainedModel: ...

    def close(self) -> None: ...


class InlineTrainer:
    """Trains in the calling thread; for tests and tools, not for the dashboard."""

    async def train(
        self,
        X: np.ndarray,
        y: np.ndarray,
        kind: str = "hist_gradient_boosting",
        trained_at: float = 0.0,
        random_state: int = 0,
        validate: bool = True,
        plan: ValidationPlan | None = None,
    ) -> TrainedModel:
        return train_model(
            X,
            y,
            kind=kind,
            trained_at=trained_at,
            random_state=random_state,
            validate=validate,
            plan=plan,
        )

    def close(self) -> None:
        pass


class ThreadTrainer:
    """Trains in a worker thread of this process, with one OpenMP thread (below
    SINGLE_THREAD_ROWS). The first start's model trains here: a training process would cost
    ~2 s to start and import, and ~200 MB more while it lives. The fit releases the GIL for most
    of its work: an event loop of the process stalls ~25 ms at worst meanwhile."""

    async def train(
        self,
        X: np.ndarray,
        y: np.ndarray,
        kind: str = "hist_gradient_boosting",
        trained_at: float = 0.0,
        random_state: int = 0,
        validate: bool = True,
        plan: ValidationPlan | None = None,
    ) -> TrainedModel:
        job = partial(
            train_model,
            X,
            y,
            kind=kind,
            trained_at=trained_at,
            random_state=random_state,
            validate=validate,
            plan=plan,
        )
        return await asyncio.to_thread(job)

    def close(self) -> None:
        pass


class ProcessTrainer:
    """Trains in a worker process that exists only while it trains: it starts on first use and
    ends once a training is done, so ~150 MB are not held for the hours between two retrains (a
    retrain pays the worker's start, ~1-2 s, every ml.training_interval_hours). The first start's
    model trains in `bootstrap_trainer`, a thread of this process (see ThreadTrainer)."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self.bootstrap_trainer = ThreadTrainer()

    async def train(
        self,
        X: np.ndarray,
        y: np.ndarray,
        kind: str = "hist_gradient_boosting",
        trained_at: float = 0.0,
        random_state: int = 0,
        validate: bool = True,
        plan: ValidationPlan | None = None,
    ) -> TrainedModel:
        job = partial(
            train_model,
            X,
            y,
            kind=kind,
            trained_at=trained_at,
            random_state=random_state,
            validate=validate,
            plan=plan,
        )
        try:
            return await self._run(job)
        finally:
            self.close()  # the worker exits once its last job is done

    async def worker_pid(self) -> int:
        """The worker process's id (starts the worker if needed)."""
        return await self._run(os.getpid)

    def close(self) -> None:
        """Stop the worker; queued jobs are cancelled, a running one finishes in the background."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    async def _run(self, job: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._get_pool(), job)
        except BrokenProcessPool as exc:
            self.close()
            raise RuntimeError(f"training process died: {exc}") from exc
        except OSError as exc:  # no process could be started (no memory, no tracker)
            self.close()
            raise RuntimeError(f"cannot start a training process: {exc}") from exc

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            ensure_resource_tracker()
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=context,
                initializer=exit_with_parent,
                initargs=(os.getpid(),),
            )
        return self._pool


def exit_with_parent(parent_pid: int) -> None:
    """Runs first in the worker: a thread ends the worker once its parent is gone, however the
    parent died (a SIGKILL runs no cleanup), so no orphan holds ~150 MB.

    Not Linux's PR_SET_PDEATHSIG: it fires when the *thread* that spawned the worker ends, and
    the dashboard spawns it from an engine thread. A dead parent's child is re-parented, so its
    getppid() changes.
    """

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
