"""The compiled forest predicts bit for bit what scikit-learn predicts, or steps aside."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import (
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
)

from tui_bot.engine.features import FEATURE_NAMES
from tui_bot.engine.forest import CompiledForest, compile_forest
from tui_bot.engine.model import (
    TrainedModel,
    _probability,
    load_model,
    save_model,
    train_model,
)

FEATURES = len(FEATURE_NAMES)


def training_data(
    seed: int, rows: int = 1500, odd_values: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Float32 rows whose label depends on features 0 and 2. With `odd_values`, features 1 and 3
    also hold NaN and +-inf, so splits send NaN either way and thresholds are +-inf (midpoints
    next to an infinity on feature 1, which has few distinct values) and NaN (percentiles over
    infinities on feature 3)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, FEATURES)).astype(np.float32)
    logit = 2.0 * X[:, 0] - 1.5 * X[:, 2] + rng.normal(0, 1.0, rows)
    y = (logit > 0).astype(np.int8)
    if odd_values:
        X[:, 1] = np.round(X[:, 1] * 2) / 2
        X[rng.random(rows) < 0.15, 1] = np.nan
        X[rng.random(rows) < 0.05, 1] = -np.inf
        X[rng.random(rows) < 0.1, 3] = np.nan
        X[rng.random(rows) < 0.05, 3] = np.inf
        X[rng.random(rows) < 0.05, 3] = -np.inf
        y[np.isnan(X[:, 1])] = 1  # they say something, so the trees split on them
        y[np.isneginf(X[:, 1])] = 0
    return X, y


def fitted(
    max_leaf_nodes: int, max_iter: int, seed: int, odd_values: bool
) -> HistGradientBoostingClassifier:
    X, y = training_data(seed, odd_values=odd_values)
    estimator = HistGradientBoostingClassifier(
        max_iter=max_iter,
        learning_rate=0.1,
        max_leaf_nodes=max_leaf_nodes,
        early_stopping=False,
        random_state=seed,
    )
    return estimator.fit(X, y)


def thresholds_of(estimator: HistGradientBoostingClassifier) -> np.ndarray:
    nodes = np.concatenate([iteration[0].nodes for iteration in estimator._predictors])
    return nodes["num_threshold"][nodes["is_leaf"] == 0]


def probe_rows(estimator: HistGradientBoostingClassifier, rows: int, seed: int) -> np.ndarray:
    """Float64 rows: normal values, NaN, +-inf, thresholds exactly and one float either side."""
    rng = np.random.default_rng(seed + 100)
    X = rng.normal(size=(rows, FEATURES)) * 1.5
    thresholds = thresholds_of(estimator)
    at = rng.random(X.shape) < 0.3
    picked = rng.choice(thresholds, size=at.sum())
    nudged = rng.integers(-1, 2, size=picked.size)
    X[at] = np.where(
        nudged == 0, picked, np.nextafter(picked, np.where(nudged < 0, -np.inf, np.inf))
    )
    for value, share in ((np.nan, 0.1), (np.inf, 0.04), (-np.inf, 0.04)):
        X[rng.random(X.shape) < share] = value
    return X


SHAPES = [  # max_leaf_nodes, max_iter, seed, odd values in training
    (2, 5, 0, False),
    (2, 200, 1, True),
    (15, 150, 2, False),
    (15, 150, 3, True),
    (31, 60, 4, True),
    (64, 20, 5, True),
]


@pytest.mark.parametrize(("max_leaf_nodes", "max_iter", "seed", "odd"), SHAPES)
def test_raw_output_is_bit_identical(max_leaf_nodes: int, max_iter: int, seed: int, odd: bool):
    estimator = fitted(max_leaf_nodes, max_iter, seed, odd)
    forest = compile_forest(estimator)
    assert isinstance(forest, CompiledForest)
    for rows in (1, 5, 1000):
        X = probe_rows(estimator, rows, seed)
        expected = estimator.decision_function(X)
        np.testing.assert_array_equal(forest.decision_function(X), expected)
        X32 = X.astype(np.float32)  # what the bot passes
        np.testing.assert_array_equal(
            forest.decision_function(X32), estimator.decision_function(X32)
        )


def test_the_odd_models_exercise_every_rule() -> None:
    """Between them, the models trained on NaN and +-inf have what the equality test must
    cover."""
    estimators = [fitted(*shape[:3], odd_values=True) for shape in SHAPES if shape[3]]
    nodes = np.concatenate([i[0].nodes for e in estimators for i in e._predictors])
    splits = nodes[nodes["is_leaf"] == 0]
    assert set(splits["missing_go_to_left"]) == {0, 1}
    assert np.isposinf(splits["num_threshold"]).any()  # a "split on NaN"
    assert np.isneginf(splits["num_threshold"]).any()
    assert np.isnan(splits["num_threshold"]).any()
    X = probe_rows(estimators[0], 1000, 0)
    assert np.isin(X, splits["num_threshold"]).sum() > 100  # values exactly at thresholds


def test_a_nan_threshold_sends_every_number_right() -> None:
    """The odd models' NaN threshold sits deep in one tree, which few probe rows reach; here the
    first trees' roots get one, NaN going left in some and right in others."""
    estimator = fitted(15, 20, 6, odd_values=False)
    for tree, iteration in enumerate(estimator._predictors[:4]):
        nodes = iteration[0].nodes
        nodes["num_threshold"][0] = np.nan
        nodes["missing_go_to_left"][0] = tree % 2
    forest = compile_forest(estimator)
    assert forest is not None
    X = probe_rows(estimator, 1000, 6)
    np.testing.assert_array_equal(forest.decision_function(X), estimator.decision_function(X))


def test_a_forest_of_single_leaf_trees() -> None:
    """Labels no feature explains: every tree is its root, a leaf."""
    X = np.zeros((200, FEATURES), dtype=np.float32)
    y = np.arange(200) % 2
    estimator = HistGradientBoostingClassifier(max_iter=10, early_stopping=False).fit(X, y)
    assert all(len(iteration[0].nodes) == 1 for iteration in estimator._predictors)
    forest = compile_forest(estimator)
    assert forest is not None
    X_new = np.array([[0.0, 1.0, np.nan, -np.inf] + [0.5] * (FEATURES - 4)] * 3)
    np.testing.assert_array_equal(
        forest.decision_function(X_new), estimator.decision_function(X_new)
    )


def test_what_it_cannot_reproduce_is_left_to_sklearn() -> None:
    X, y = training_data(0, rows=300)
    categorical = X.copy()
    categorical[:, 1] = np.arange(300) % 4
    models = [
        HistGradientBoostingClassifier(max_iter=5, categorical_features=[1]).fit(categorical, y),
        HistGradientBoostingClassifier(max_iter=5).fit(X, np.arange(300) % 3),  # 3 classes
        HistGradientBoostingRegressor(max_iter=5).fit(X, y),
        GradientBoostingClassifier(n_estimators=5).fit(X, y),
        HistGradientBoostingClassifier(max_iter=5),  # not fitted
        "not a model",
    ]
    for model in models:
        assert compile_forest(model) is None, model


def test_accepts_only_arrays_it_predicts_like_sklearn() -> None:
    forest = compile_forest(fitted(15, 10, 0, False))
    assert forest is not None
    assert forest.accepts(np.zeros((3, FEATURES), dtype=np.float32))
    assert forest.accepts(np.zeros((3, FEATURES), dtype=np.int64))
    assert not forest.accepts(np.zeros((3, FEATURES + 1)))
    assert not forest.accepts(np.zeros((0, FEATURES)))
    assert not forest.accepts(np.zeros(FEATURES))
    assert not forest.accepts(np.zeros((3, FEATURES), dtype=object))
    assert not forest.accepts([[0.0] * FEATURES])


@pytest.fixture(scope="module")
def model() -> TrainedModel:
    X, y = training_data(7, rows=2000)
    return train_model(X, y, trained_at=1.0, validate=False)


@pytest.mark.parametrize("rows", [1, 5, 300])
def test_predict_proba_equals_the_sklearn_path(model: TrainedModel, rows: int) -> None:
    X = probe_rows(model.estimator, rows, 7).astype(np.float32)
    assert model.logit_shift != 0.0
    expected = _probability(model.estimator, X, model.logit_shift)
    np.testing.assert_array_equal(model.predict_proba(X), expected)
    assert isinstance(model._compiled_forest(), CompiledForest)


def test_gradient_boosting_predicts_through_sklearn() -> None:
    X, y = training_data(8, rows=400)
    trained = train_model(X, y, kind="gradient_boosting", validate=False)
    np.testing.assert_array_equal(
        trained.predict_proba(X[:5]), _probability(trained.estimator, X[:5], trained.logit_shift)
    )
    assert trained._compiled_forest() is None


def test_a_wrong_row_width_still_gets_sklearns_error(model: TrainedModel) -> None:
    with pytest.raises(ValueError, match="features"):
        model.predict_proba(np.zeros((2, FEATURES + 1), dtype=np.float32))


def test_the_compiled_forest_is_not_pickled(model: TrainedModel, tmp_path: Path) -> None:
    fresh = pickle.loads(pickle.dumps(model))
    before = pickle.dumps(fresh)
    X = probe_rows(model.estimator, 5, 9).astype(np.float32)
    predicted = fresh.predict_proba(X)
    assert isinstance(fresh._compiled_forest(), CompiledForest)
    assert pickle.dumps(fresh) == before  # the same bytes as before it compiled
    path = tmp_path / "model.joblib"
    loaded = load_model(path, save_model(fresh, path))
    assert vars(loaded).keys() == vars(pickle.loads(before)).keys()
    np.testing.assert_array_equal(loaded.predict_proba(X), predicted)
