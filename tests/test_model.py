from __future__ import annotations

import math
import os
import signal
from pathlib import Path

import joblib
import numpy as np
import pytest
from proc_scan import is_alive, read_proc, wait_until

from tui_bot.engine.features import FEATURE_NAMES
from tui_bot.engine.model import (
    InlineTrainer,
    ModelLoadError,
    ProcessTrainer,
    TrainedModel,
    file_sha256,
    labels,
    load_model,
    save_model,
    train_model,
)


def synthetic(n: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose label depends on two of the four features, plus noise."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, len(FEATURE_NAMES))).astype(np.float32)
    logit = 2.0 * X[:, 0] - 1.5 * X[:, 2] + rng.normal(0, 1.0, n)
    return X, (logit > 0).astype(np.int8)


@pytest.fixture(scope="module")
def model() -> TrainedModel:
    X, y = synthetic()
    return train_model(X, y, trained_at=1_700_000_000.0)


@pytest.mark.parametrize("kind", ["hist_gradient_boosting", "gradient_boosting"])
def test_learns_separable_data(kind: str) -> None:
    X, y = synthetic()
    trained = train_model(X, y, kind=kind, trained_at=123.0)
    assert trained.kind == kind
    assert trained.trained_at == 123.0
    assert trained.feature_names == FEATURE_NAMES
    assert trained.metrics.auc > 0.7
    assert trained.metrics.accuracy > 0.6
    assert 0 < trained.metrics.log_loss < math.log(2)  # better than a coin
    assert trained.metrics.samples == 2000
    assert trained.metrics.train_seconds > 0
    X_new, y_new = synthetic(500, seed=1)
    p = trained.predict_proba(X_new)
    assert p.shape == (500,) and p.dtype == np.float64
    assert ((p >= 0) & (p <= 1)).all()
    assert np.mean((p > 0.5) == (y_new == 1)) > 0.7


def test_predict_proba_of_no_rows_is_empty(model: TrainedModel) -> None:
    assert model.predict_proba(np.empty((0, len(FEATURE_NAMES)))).shape == (0,)


def test_labels_threshold_on_min_return() -> None:
    outcome = np.array([-0.01, 0.0, 0.002, 0.0021, 0.05], dtype=np.float32)
    result = labels(outcome)
    np.testing.assert_array_equal(result, [0, 0, 0, 1, 1])
    assert result.dtype == np.int8
    np.testing.assert_array_equal(labels(outcome, min_return=-0.005), [0, 1, 1, 1, 1])


def test_rejects_too_few_rows() -> None:
    X, y = synthetic(49)
    with pytest.raises(ValueError, match="at least 50 training samples, got 49"):
        train_model(X, y)


def test_rejects_a_single_class() -> None:
    X, _ = synthetic(200)
    with pytest.raises(ValueError, match="need both classes"):
        train_model(X, np.ones(200, dtype=np.int8))


def test_rejects_unknown_kind_and_wrong_shapes() -> None:
    X, y = synthetic(100)
    with pytest.raises(ValueError, match="unknown model kind 'forest'"):
        train_model(X, y, kind="forest")
    with pytest.raises(ValueError, match="X must be shaped"):
        train_model(X[:, :3], y)
    with pytest.raises(ValueError, match="y must be shaped"):
        train_model(X, y[:-1])


def test_single_class_validation_part_gives_nan_auc_but_a_model() -> None:
    X, y = synthetic(200)
    y[160:] = 1  # the newest 20 % are all wins
    trained = train_model(X, y)
    assert math.isnan(trained.metrics.auc)
    assert 0 <= trained.metrics.accuracy <= 1
    assert trained.predict_proba(X[:3]).shape == (3,)


def test_save_load_round_trip(model: TrainedModel, tmp_path: Path) -> None:
    path = tmp_path / "models" / "model.joblib"
    digest = save_model(model, path)
    assert digest == file_sha256(path)
    assert os.listdir(path.parent) == ["model.joblib"]  # no temp file left behind
    loaded = load_model(path, digest)
    np.testing.assert_equal(vars(loaded.metrics), vars(model.metrics))  # NaN == NaN here
    assert loaded.trained_at == model.trained_at
    X, _ = synthetic(50, seed=3)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_save_replaces_an_existing_file(model: TrainedModel, tmp_path: Path) -> None:
    path = tmp_path / "model.joblib"
    path.write_bytes(b"old")
    digest = save_model(model, path)
    assert load_model(path, digest).kind == model.kind


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="not found"):
        load_model(tmp_path / "nope.joblib", "0" * 64)


def test_load_refuses_a_sha_mismatch(model: TrainedModel, tmp_path: Path) -> None:
    path = tmp_path / "model.joblib"
    digest = save_model(model, path)
    with pytest.raises(ModelLoadError, match="expected"):
        load_model(path, "f" * 64)
    with path.open("ab") as handle:
        handle.write(b"tampered")
    with pytest.raises(ModelLoadError, match="changed or damaged"):
        load_model(path, digest)


def test_load_garbage_with_matching_sha(tmp_path: Path) -> None:
    path = tmp_path / "model.joblib"
    path.write_bytes(os.urandom(2048))
    with pytest.raises(ModelLoadError, match="corrupt"):
        load_model(path, file_sha256(path))


def test_load_truncated_model(model: TrainedModel, tmp_path: Path) -> None:
    path = tmp_path / "model.joblib"
    save_model(model, path)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(ModelLoadError, match="corrupt"):
        load_model(path, file_sha256(path))


def test_load_something_that_is_not_a_model(tmp_path: Path) -> None:
    path = tmp_path / "model.joblib"
    joblib.dump({"not": "a model"}, path)
    with pytest.raises(ModelLoadError, match="not a model"):
        load_model(path, file_sha256(path))


async def test_inline_trainer(model: TrainedModel) -> None:
    X, y = synthetic()
    trainer = InlineTrainer()
    trained = await trainer.train(X, y, "hist_gradient_boosting", 1_700_000_000.0)
    trainer.close()
    assert trained.metrics.auc == model.metrics.auc
    np.testing.assert_array_equal(trained.predict_proba(X[:20]), model.predict_proba(X[:20]))


@pytest.mark.slow
async def test_process_trainer_trains_in_another_process() -> None:
    X, y = synthetic()
    trainer = ProcessTrainer()
    try:
        assert await trainer.worker_pid() != os.getpid()
        for kind in ("hist_gradient_boosting", "gradient_boosting"):
            remote = await trainer.train(X, y, kind, 5.0, random_state=3)
            local = await InlineTrainer().train(X, y, kind, 5.0, random_state=3)
            assert isinstance(remote, TrainedModel)
            assert remote.kind == kind and remote.trained_at == 5.0
            assert remote.metrics.auc == pytest.approx(local.metrics.auc, rel=1e-9)
            np.testing.assert_allclose(remote.predict_proba(X), local.predict_proba(X), rtol=1e-9)
        with pytest.raises(ValueError, match="need both classes"):
            await trainer.train(X, np.zeros(len(X), dtype=np.int8))
    finally:
        trainer.close()


@pytest.mark.slow
async def test_the_training_process_exists_only_while_it_trains() -> None:
    X, y = synthetic(300)
    trainer = ProcessTrainer()
    try:
        worker = read_proc(await trainer.worker_pid())
        assert worker is not None and is_alive(worker)
        await trainer.train(X, y)
        assert wait_until(lambda: not is_alive(worker), timeout=60), "it outlived its training"
        trained = await trainer.train(X, y)  # the next training starts a worker of its own
        assert trained.metrics.samples == 300
    finally:
        trainer.close()


@pytest.mark.slow
async def test_process_trainer_recovers_after_the_worker_dies() -> None:
    X, y = synthetic(300)
    trainer = ProcessTrainer()
    try:
        pid = await trainer.worker_pid()
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(RuntimeError, match="training process died"):
            await trainer.train(X, y)
        trained = await trainer.train(X, y)
        assert trained.metrics.samples == 300
        assert await trainer.worker_pid() != pid
    finally:
        trainer.close()


def test_a_drifting_window_does_not_become_the_prior() -> None:
    """80 % winners from drift, features that say nothing: the probabilities centre on 0.5
    (the prior correction), not on 0.8."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(3000, len(FEATURE_NAMES))).astype(np.float32)
    y = (rng.random(3000) < 0.8).astype(np.int8)
    trained = train_model(X, y)
    assert trained.logit_shift == pytest.approx(math.log(y.size / y.sum() - 1))
    assert abs(float(np.median(trained.predict_proba(X))) - 0.5) < 0.1


def test_training_without_validation_fits_the_same_model() -> None:
    X, y = synthetic(600)
    validated, unvalidated = train_model(X, y), train_model(X, y, validate=False)
    assert math.isfinite(validated.metrics.auc)
    assert math.isnan(unvalidated.metrics.auc) and math.isnan(unvalidated.metrics.log_loss)
    np.testing.assert_array_equal(validated.predict_proba(X), unvalidated.predict_proba(X))
