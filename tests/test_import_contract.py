"""The import contract in pyproject.toml ([tool.importlinter]) holds, and it bites: each import
that once broke the layering is refused again when it comes back. The checks run on a copy of
the package, so that nothing in the tree is touched."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import tomli_w

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
pytestmark = pytest.mark.slow  # each check is a lint-imports process


def _lint(project: Path) -> subprocess.CompletedProcess[str]:
    # the copy comes first on the path: it shadows the installed (editable) package
    env = {**os.environ, "PYTHONPATH": str(project)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=project,  # its pyproject.toml: only the contract
        env=env,
        capture_output=True,
        text=True,
    )


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """A copy of tui_bot/ (its Python files) and of the contract, in tmp_path."""
    shutil.copytree(ROOT / "tui_bot", tmp_path / "tui_bot", ignore=_not_python)
    with open(ROOT / "pyproject.toml", "rb") as f:
        contract = tomllib.load(f)["tool"]["importlinter"]
    (tmp_path / "pyproject.toml").write_text(tomli_w.dumps({"tool": {"importlinter": contract}}))
    return tmp_path


def _not_python(folder: str, names: list[str]) -> list[str]:
    return [n for n in names if not n.endswith(".py") and not Path(folder, n).is_dir()]


def test_the_package_keeps_the_contract(project: Path) -> None:
    result = _lint(project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "refused"),
    [
        # the simulator's prices once waited for the engine's preload
        ("exchange/sim_prices.py", "from tui_bot.engine import cycle", "tui_bot.engine"),
        # the dashboard's children once borrowed point_at_devnull from the command line
        ("backtest/process.py", "from tui_bot import cli", "tui_bot.cli"),
        ("tui/hosting.py", "from tui_bot import cli", "tui_bot.cli"),
        ("store.py", "from tui_bot.engine import snapshot", "tui_bot.engine"),
        ("engine/snapshot.py", "import textual", "textual"),
        ("market/files.py", "from rich.text import Text", "rich"),
    ],
)
def test_an_import_up_the_layers_breaks_it(
    project: Path, module: str, line: str, refused: str
) -> None:
    path = project / "tui_bot" / module
    path.write_text(path.read_text() + f"\n{line}\n")
    result = _lint(project)
    assert result.returncode == 1, result.stdout + result.stderr
    importer = "tui_bot." + module.removesuffix(".py").replace("/", ".")
    assert f"{importer} -> {refused}" in result.stdout


def test_a_new_module_needs_a_place_in_the_layers(project: Path) -> None:
    (project / "tui_bot" / "helpers.py").write_text("X = 1\n")
    result = _lint(project)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "- tui_bot.helpers" in result.stdout
