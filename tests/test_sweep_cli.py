"""`tui-bot sweep` on the bundled sample: one JSON object on stdout and the progress on stderr,
a bad space file refused before anything loads, --apply-best writing exactly the swept keys,
Ctrl-C reporting what finished, and the dask backend's own cluster giving the same results."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from proc_scan import descendants, describe, wait_until

from tui_bot.cli import main
from tui_bot.market import files as candle_files
from tui_bot.sweep import runner

ROOT = Path(__file__).resolve().parents[1]
SPACE = "[risk]\nstop_loss_pct = [1, 3]\ntake_profit_pct = [1.5, 4]\n"
FAST = [
    "--pairs", "ETH/BTC,LTC/BTC", "--timerange", "20180110-20180112",
    "--set", "backtest.warmup_candles=150", "--set", "ml.require_edge=false",
]  # fmt: skip
TIMING = ("seconds", "cycles_per_second")
SUMMARY_KEYS = {"start", "end", "trades", "profit_total_pct", "sharpe", "max_drawdown_pct"}


@pytest.fixture(scope="module", autouse=True)
def _no_loky_tracker_left() -> Iterator[None]:
    """loky keeps a resource tracker process for the life of the process that made a pool (a
    CLI run ends it by exiting); tests share one process, so it is stopped once they are done."""
    yield
    import gc

    from joblib.externals.loky.backend import resource_tracker

    gc.collect()  # the pools' queues unregister their semaphores with it first
    if getattr(resource_tracker._resource_tracker, "_fd", None) is not None:
        resource_tracker._resource_tracker._stop()


def space(tmp_path: Path, text: str = SPACE) -> Path:
    path = tmp_path / "space.toml"
    path.write_text(text)
    return path


def sweep(tmp_path: Path, *more: str) -> list[str]:
    return ["sweep", "--space", str(space(tmp_path)), *FAST, *more]


def figures(report: dict[str, Any]) -> dict[int, Any]:
    """Every trial's values and summaries by id, timings and workers left out."""

    def strip(summary: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if summary is None else {k: v for k, v in summary.items() if k not in TIMING}

    runs = [*report["trials"], report["baseline"]]
    return {t["id"]: (t["values"], strip(t["in_sample"]), strip(t["out_of_sample"])) for t in runs}


def flat(path: Path) -> dict[str, Any]:
    table = tomllib.loads(path.read_text())
    return {f"{s}.{k}": v for s, body in table.items() for k, v in body.items()}


@pytest.fixture(scope="module")
def local_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    tmp = tmp_path_factory.mktemp("sweep-cli")
    out = subprocess.run(
        [sys.executable, "-m", "tui_bot", *sweep(tmp, "--json", "--jobs", "1", "--out", "r.json")],
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)  # exactly one object: anything more fails to parse
    assert json.loads((tmp / "r.json").read_text()) == report
    return report, out.stderr


@pytest.mark.slow
def test_sweep_json_is_one_object_with_every_trial_in_and_out_of_sample(
    local_report: tuple[dict[str, Any], str],
) -> None:
    report, stderr = local_report
    for key in ("trials", "best", "space", "backend", "seconds", "rank_correlation"):
        assert key in report
    assert report["backend"] == "local" and report["workers"] == 1
    assert report["search"] == "grid" and len(report["trials"]) == 4
    values = sorted(tuple(t["values"].values()) for t in report["trials"])
    assert values == [(1.0, 1.5), (1.0, 4.0), (3.0, 1.5), (3.0, 4.0)]
    for trial in report["trials"]:
        assert set(trial["in_sample"]) >= SUMMARY_KEYS
        assert set(trial["out_of_sample"]) >= SUMMARY_KEYS
        assert trial["in_sample"]["end"] == trial["out_of_sample"]["start"]
        assert trial["worker"] and trial["seconds"] > 0 and trial["data_loads"] == 1
    ranked = [t["objective"] for t in report["trials"] if t["enough_trades"]]
    assert ranked == sorted(ranked, reverse=True)
    assert report["objective"] == "profit"  # two days of data: too short for a Sharpe
    assert "ranking by profit: a Sharpe needs daily returns of 5 days" in stderr
    assert "sweep [" in stderr and "5/5 runs" in stderr  # the progress, on stderr
    assert report["shipped"]["bytes_per_trial"] < 1000 < report["shipped"]["data_bytes_per_worker"]


@pytest.mark.slow
def test_sweep_prints_a_ranked_table_with_both_parts_and_the_overfitting_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code = main(sweep(tmp_path, "--trials", "2", "--jobs", "1", "--objective", "expectancy"))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "IS expectancy" in captured.out and "OOS expectancy" in captured.out
    assert "2 of the 4 points, drawn at random (--seed 0)" in captured.err
    assert "rank correlation of the in-sample and out-of-sample expectancy" in captured.out
    assert "your settings (no sweep values)" in captured.out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[risk]\nstop_loss_pct = [1, 60]\n", "[risk] stop_loss_pct = 60.0 is out of range"),
        ("[risk]\nstop_los_pct = [1]\n", "did you mean stop_loss_pct?"),
    ],
)
def test_a_bad_space_file_fails_before_anything_loads_or_runs(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    text: str,
    expected: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    calls: list[object] = []
    monkeypatch.setattr(candle_files, "read_candles", lambda *a: calls.append(a))
    monkeypatch.setattr(runner, "run_sweep", lambda *a, **k: calls.append(a))
    path = space(tmp_path, text)
    code = main(["sweep", "--space", str(path), *FAST])
    captured = capsys.readouterr()
    assert code == 2 and calls == [] and captured.out == ""
    assert f"tui-bot: {path}: " in captured.err and expected in captured.err


@pytest.mark.slow
def test_apply_best_writes_exactly_the_swept_keys_into_config_toml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "config.toml"
    config.write_text((ROOT / "config.toml").read_text())
    before_text, before = config.read_text(), flat(config)
    code = main(sweep(tmp_path, "--json", "--jobs", "1", "--apply-best", "--min-trades", "1"))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    best = json.loads(captured.out)["best"]["values"]
    after = flat(config)
    changed = {k for k in after if after[k] != before.get(k)} | (set(before) - set(after))
    assert changed == set(best) == {"risk.stop_loss_pct", "risk.take_profit_pct"}
    assert {k: after[k] for k in best} == best
    # the diff shown first is the file's change, line for line; the schema's comments stay
    old, new = set(before_text.splitlines()), set(config.read_text().splitlines())
    shown = [line for line in captured.err.splitlines() if line[:1] in "+-"]
    removed = {line[1:] for line in shown if line.startswith("-") and not line.startswith("---")}
    added = {line[1:] for line in shown if line.startswith("+") and not line.startswith("+++")}
    assert removed == old - new and added == new - old
    assert len(old - new) == len(changed)


@pytest.mark.slow
def test_apply_best_without_a_best_trial_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "config.toml"
    config.write_text((ROOT / "config.toml").read_text())
    before = config.read_bytes()
    args = sweep(tmp_path, "--trials", "1", "--jobs", "1", "--apply-best", "--min-trades", "100000")
    code = main(args)
    captured = capsys.readouterr()
    assert code == 1
    assert "no trial qualifies as best" in captured.err
    assert config.read_bytes() == before


@pytest.mark.slow
def test_ctrl_c_stops_the_sweep_and_prints_what_finished(tmp_path: Path) -> None:
    text = "[risk]\nstop_loss_pct = [1, 2, 3]\ntake_profit_pct = [1.5, 3, 4.5]\n"
    path = space(tmp_path, text)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui_bot", "sweep", "--space", str(path), *FAST, "--jobs", "1"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a shell's background job ignores SIGINT, and so would its children: not this one
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # a line per finished run
            if "2/10 runs" in line:
                break
        workers = descendants(proc.pid)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 130, stderr
    assert stdout.startswith("Interrupted: ")
    finished = int(stdout.split()[1])
    assert 1 <= finished < 9
    assert stdout.count(" %") >= 2 * finished  # their rows, with both parts
    assert "Traceback" not in stderr
    assert wait_until(lambda: not [p for p in workers if os.path.exists(f"/proc/{p.pid}")], 15), (
        describe(workers)
    )


@pytest.mark.slow
def test_the_dask_backend_gives_the_same_results_as_local_workers(
    tmp_path: Path, local_report: tuple[dict[str, Any], str]
) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "tui_bot",
            *sweep(tmp_path, "--json", "--backend", "dask", "--jobs", "2"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["backend"] == "dask" and report["workers"] == 2
    assert figures(report) == figures(local_report[0])
    assert {t["worker"].split(":")[0] for t in report["trials"]} == {"tcp"}
