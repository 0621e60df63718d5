"""SVG snapshots of the dashboard at 80x24 and 120x40, from a fixed snapshot (no engine).

Update the baselines after a deliberate change with: pytest tests/tui --snapshot-update
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, fixed_snapshot, tui_settings
from textual.pilot import Pilot

from tui_bot.tui.app import TuiBotApp
from tui_bot.tui.messages import SnapshotArrived

SnapCompare = Callable[..., bool]


def still_app(tmp_path: Path) -> TuiBotApp:
    settings = tui_settings(tmp_path)
    return TuiBotApp(settings, start_engine=False, themes=[ROOT / "themes"], monotonic=lambda: 0.0)


async def show_fixed(pilot: Pilot[Any]) -> None:
    # two cycles, so the caches' hit-rate sparkline has points
    for cycle in (40, 41, 42):
        pilot.app.post_message(SnapshotArrived(fixed_snapshot(cycle=cycle)))
        await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_dashboard(snap_compare: SnapCompare, tmp_path: Path, size: tuple[int, int]) -> None:
    assert snap_compare(still_app(tmp_path), terminal_size=size, run_before=show_fixed)


def test_dashboard_80x24_caches_tab(snap_compare: SnapCompare, tmp_path: Path) -> None:
    async def caches_tab(pilot: Pilot[Any]) -> None:
        await show_fixed(pilot)
        await pilot.press("3")
        await pilot.pause()

    assert snap_compare(still_app(tmp_path), terminal_size=(80, 24), run_before=caches_tab)


def test_help_120x40(snap_compare: SnapCompare, tmp_path: Path) -> None:
    async def help_screen(pilot: Pilot[Any]) -> None:
        await show_fixed(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(still_app(tmp_path), terminal_size=(120, 40), run_before=help_screen)


def test_settings_80x24(
    snap_compare: SnapCompare, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the title shows the config path relative to the cwd

    async def settings_screen(pilot: Pilot[Any]) -> None:
        await show_fixed(pilot)
        await pilot.press("s")
        await pilot.pause()
        await pilot.press("home", "ctrl+k", "a", "b", "c")
        await pilot.pause()

    assert snap_compare(still_app(tmp_path), terminal_size=(80, 24), run_before=settings_screen)
