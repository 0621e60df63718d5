"""The saved model loads without scikit-learn: the estimator has a pickle of its own inside the
file, unpickled only when something asks for it, and the compiled forest predicts."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import joblib
import numpy as np
import pytest

from tui_bot.engine.features import FEATURE_NAMES
from tui_bot.engine.model import TrainedModel, load_model, save_model, train_model

CHILD = """
import sys
import numpy as np
from tui_bot.engine.model import load_model
model = load_model(sys.argv[1], sys.argv[2])
p = model.predict_proba(np.load(sys.argv[3]))
np.save(sys.argv[4], p)
print(",".join(sorted({m.partition(".")[0] for m in sys.modules} & {"sklearn", "scipy"})))
"""


@pytest.fixture(scope="module")
def model() -> TrainedModel:
    rng = np.random.default_rng(5)
    X = rng.normal(size=(1500, len(FEATURE_NAMES))).astype(np.float32)
    y = (X[:, 0] - X[:, 1] + rng.normal(0, 1, len(X)) > 0).astype(np.int8)
    return train_model(X, y, trained_at=1.0)


def rows() -> np.ndarray:
    return np.random.default_rng(9).normal(size=(40, len(FEATURE_NAMES))).astype(np.float32)


def test_a_saved_model_loads_and_predicts_without_importing_sklearn(
    model: TrainedModel, tmp_path: Path
) -> None:
    path = tmp_path / "model.joblib"
    digest = save_model(model, path)
    np.save(tmp_path / "X.npy", rows())
    args = [str(path), digest, str(tmp_path / "X.npy"), str(tmp_path / "p.npy")]
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "sklearn" not in done.stdout.split(",")
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy"), model.predict_proba(rows()))


def test_the_estimator_is_there_when_asked_for(model: TrainedModel, tmp_path: Path) -> None:
    path = tmp_path / "model.joblib"
    loaded = load_model(path, save_model(model, path))
    assert type(loaded.estimator) is type(model.estimator)
    np.testing.assert_array_equal(
        loaded.estimator.decision_function(rows()), model.estimator.decision_function(rows())
    )
    again = tmp_path / "again.joblib"  # saved again after the estimator was unpickled
    reloaded = load_model(again, save_model(loaded, again))
    np.testing.assert_array_equal(reloaded.predict_proba(rows()), model.predict_proba(rows()))


def test_a_model_saved_again_before_its_estimator_was_unpickled(
    model: TrainedModel, tmp_path: Path
) -> None:
    first, second = tmp_path / "first.joblib", tmp_path / "second.joblib"
    loaded = load_model(first, save_model(model, first))
    reloaded = load_model(second, save_model(loaded, second))
    np.testing.assert_array_equal(
        reloaded.estimator.decision_function(rows()), model.estimator.decision_function(rows())
    )


def test_a_file_saved_by_joblib_before_still_loads(
    model: TrainedModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def as_before(self: TrainedModel) -> dict[str, object]:  # the fields, the estimator inline
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    path = tmp_path / "old.joblib"
    with monkeypatch.context() as patch:
        patch.setattr(TrainedModel, "__getstate__", as_before)
        joblib.dump(model, path)
    loaded = load_model(path, hashlib.sha256(path.read_bytes()).hexdigest())
    assert "estimator" in vars(loaded)  # it came inline, as it did
    np.testing.assert_array_equal(loaded.predict_proba(rows()), model.predict_proba(rows()))


BOT_RUN = """
import sys
from tui_bot.cli import main
code = main(sys.argv[1:])
print("IMPORTED:" + ",".join(sorted({m.partition(".")[0] for m in sys.modules} & {"sklearn"})))
sys.exit(code)
"""


@pytest.mark.slow
def test_a_start_with_a_saved_model_trades_without_importing_sklearn(
    tmp_path: Path, trained_storage: Callable[[Path], None]
) -> None:
    from fake_exchange import FakeBinance, bot_config

    trained_storage(tmp_path / "data")
    with FakeBinance() as server:
        (tmp_path / "config.toml").write_text(bot_config(server, "paper"))
        args = ["run", "--headless", "--cycles", "1", "--config", str(tmp_path / "config.toml")]
        done = subprocess.run(
            [sys.executable, "-c", BOT_RUN, *args],
            capture_output=True,
            text=True,
            timeout=240,
            cwd=tmp_path,
            env={**_clean_env(), "TUI_BOT_STORAGE_DIR": str(tmp_path / "data")},
        )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "IMPORTED:\n" in done.stdout  # the cycle ran on the saved model's compiled forest


def _clean_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("TUI_BOT_")}
