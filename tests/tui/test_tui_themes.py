"""themes/*.toml become validated Textual themes; a broken file is skipped with a warning."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import ROOT, tui_settings

from tui_bot.tui.app import TuiBotApp
from tui_bot.tui.themes import ThemeError, load_theme, load_themes
from tui_bot.tui.widgets.alerts import AlertsTable

GOOD = 'name = "mine"\nprimary = "#336699"\ndark = true\n'


def test_the_shipped_themes_load_and_validate() -> None:
    loaded = load_themes([ROOT / "themes"])
    assert loaded.warnings == ()
    assert {"tui-dark", "tui-light", "tui-high-contrast"} <= set(loaded.names)
    by_name = {t.name: t for t in loaded.themes}
    assert by_name["tui-dark"].dark and not by_name["tui-light"].dark
    for theme in loaded.themes:
        assert theme.success and theme.error and theme.warning  # profit / loss / alerts


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('name = "x"\nprimary = "#336699"\n[oops', "invalid TOML"),
        ('name = "x"\nprimary = "not-a-colour"\n', "invalid colour"),
        ('primary = "#336699"\n', "name is missing"),
        ('name = "x"\n', "primary is missing"),
        ('name = "x"\nprimary = "#336699"\ncolour = "#fff"\n', "unknown key"),
        ('name = "x"\nprimary = "#336699"\ndark = "yes"\n', "dark must be true or false"),
        ('name = "x"\nprimary = "#336699"\n[variables]\nborder = "nope"\n', "invalid colour"),
    ],
)
def test_a_broken_theme_is_refused_with_a_reason(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(text)
    with pytest.raises(ThemeError, match=problem):
        load_theme(path)


def test_broken_files_are_skipped_and_the_rest_load(tmp_path: Path) -> None:
    (tmp_path / "a-broken.toml").write_text('name = "x"\nprimary = 12\n')
    (tmp_path / "mine.toml").write_text(GOOD)
    loaded = load_themes([tmp_path])
    assert loaded.names == ("mine",)
    assert len(loaded.warnings) == 1 and "a-broken.toml" in loaded.warnings[0]


async def test_the_app_survives_a_broken_theme_and_says_so(tmp_path: Path) -> None:
    themes = tmp_path / "themes"
    themes.mkdir()
    (themes / "bad.toml").write_text("name = [")
    settings = tui_settings(tmp_path).with_values({"ui.theme": "missing-theme"})
    app = TuiBotApp(settings, start_engine=False, themes=[themes, ROOT / "themes"])
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.theme == "tui-dark"  # unknown [ui] theme: the default, with a warning
        messages = [a.message for a in app.query_one(AlertsTable).local]
        assert any("bad.toml" in m for m in messages)
        assert any("missing-theme" in m for m in messages)


async def test_a_theme_warning_is_logged_and_shown_in_full(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    themes = tmp_path / "a-folder-with-a-long-name-so-the-warning-is-long" / "themes"
    themes.mkdir(parents=True)
    (themes / "bad.toml").write_text("name = [")
    app = TuiBotApp(tui_settings(tmp_path), start_engine=False, themes=[themes, ROOT / "themes"])
    (warning,) = [w for source, w in app._startup_warnings if source == "theme"]
    assert str(themes / "bad.toml") in warning and "invalid TOML" in warning
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [warning]
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        shown = [n for n in app._notifications if n.message == warning]
        assert len(shown) == 1, [n.message for n in app._notifications]
        assert shown[0].severity == "warning" and shown[0].timeout >= 20
        assert not shown[0].markup  # a path with [brackets] must show as it is


def test_no_colour_literals_in_the_dashboard_code() -> None:
    literal = re.compile(r"#[0-9a-fA-F]{3,8}\b|Color\.parse|style=\"(red|green|yellow|blue)")
    offenders = [
        f"{path}: {line.strip()}"
        for path in (ROOT / "tui_bot" / "tui").rglob("*.py")
        for line in path.read_text().splitlines()
        if literal.search(line)
    ]
    assert offenders == []
