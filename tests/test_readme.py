from pathlib import Path

from tui_bot.config import SCHEMA, keys_markdown

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_readme_documents_every_config_key() -> None:
    missing = [spec.dotted for spec in SCHEMA if f"`{spec.dotted}`" not in README]
    assert missing == []


def test_readme_has_the_two_setup_commands() -> None:
    assert "make run" in README and "make test" in README


def test_readme_key_table_is_current() -> None:
    start = README.index("<!-- config-keys:start -->\n") + len("<!-- config-keys:start -->\n")
    table = README[start : README.index("<!-- config-keys:end -->")]
    assert table == keys_markdown(), (
        "README's key table is stale: paste `python -m tui_bot.config --markdown` between the "
        "config-keys markers"
    )
