"""Tests for tui_bot.config: sources, precedence, validation messages, atomic save."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import fields
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui_bot import config
from tui_bot.config import (
    ConfigError,
    Settings,
    default_values,
    describe,
    key_spec,
    load_settings,
    render_config,
    rendering,
    save_settings,
    saving,
    schema,
    settings_values,
    validate_value,
)

ROOT = Path(__file__).resolve().parent.parent
# The autouse cwd fixture is harmless to reuse across hypothesis examples.
HYPOTHESIS = {"deadline": None, "suppress_health_check": [HealthCheck.function_scoped_fixture]}


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in an empty directory so the project's own config.toml is never picked up."""
    monkeypatch.chdir(tmp_path)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load(path: Path | None = None, env: dict[str, str] | None = None) -> Settings:
    return load_settings(path, env=env or {})


def error_of(path: Path | None = None, env: dict[str, str] | None = None, overrides=None) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(path, env=env or {}, overrides=overrides)
    return str(info.value)


# ---------------------------------------------------------------------------- schema, defaults


def test_dataclasses_match_schema() -> None:
    for section, cls in schema.SECTION_CLASSES.items():
        names = [f.name for f in fields(cls)]
        expected = [s.name for s in config.SCHEMA if s.section == section]
        if section == "exchange":
            expected.append("ccxt_config")
        assert names == expected


def test_defaults_are_valid_and_env_names_follow_pattern() -> None:
    for spec in config.SCHEMA:
        assert validate_value(spec.dotted, spec.default) == spec.default
        assert spec.env_names[0] == f"TUI_BOT_{spec.section.upper()}_{spec.name.upper()}"
        assert spec.description and "\n" not in spec.description


def test_defaults_load_without_file(tmp_path: Path) -> None:
    settings = load()
    assert settings.path is None
    assert settings.bot.check_interval == 60
    assert settings.ml.require_edge is True
    assert settings.exchange.name == "sim"
    assert settings.exchange.ccxt_config == {}
    assert settings.sim.speed == 60.0 and isinstance(settings.sim.speed, float)
    assert settings.scan.cache_duration == 300
    assert settings.ml.model == "hist_gradient_boosting"
    assert settings.risk.min_probability == 0.55
    assert settings.ui.theme == "tui-dark"
    assert set(settings.sources.values()) == {"default"}
    assert settings.env_names == {}
    assert settings.warnings == ()
    assert settings.storage_dir == tmp_path / "data"


def test_finds_config_toml_in_cwd(tmp_path: Path) -> None:
    write(tmp_path, "[scan]\ntop_n = 7\n")
    settings = load()
    assert settings.path == Path("config.toml")
    assert settings.scan.top_n == 7


def test_explicit_missing_path_is_an_error(tmp_path: Path) -> None:
    message = error_of(tmp_path / "nope.toml")
    assert "nope.toml" in message and "not found" in message


def test_get_and_key_spec() -> None:
    settings = load()
    assert settings.get("scan.cache_duration") == 300
    assert settings.get("exchange.ccxt_config") == {}
    assert key_spec("scan.cache_duration").unit == "s"
    with pytest.raises(ConfigError, match="did you mean cache_duration"):
        settings.get("scan.cache_duraton")


# ---------------------------------------------------------------------------- sources, precedence


def test_file_overrides_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, '[bot]\ncheck_interval = 120\n[scan]\ntimeframe = "15m"\n')
    settings = load(path)
    assert settings.bot.check_interval == 120
    assert settings.scan.timeframe == "15m"
    assert settings.sources["bot.check_interval"] == "file"
    assert settings.sources["scan.timeframe"] == "file"
    assert settings.sources["scan.top_n"] == "default"
    assert settings.path == path


def test_env_overrides_file_and_parses_types(tmp_path: Path) -> None:
    path = write(tmp_path, "[scan]\ncache_duration = 400\n[ml]\nrequire_edge = true\n")
    env = {
        "TUI_BOT_SCAN_CACHE_DURATION": "500",
        "TUI_BOT_ML_REQUIRE_EDGE": "no",
        "TUI_BOT_SIM_SPEED": "120",
        "TUI_BOT_EXCHANGE_NAME": "binance",
    }
    settings = load(path, env)
    assert settings.scan.cache_duration == 500
    assert settings.ml.require_edge is False
    assert settings.sim.speed == 120.0 and isinstance(settings.sim.speed, float)
    assert settings.exchange.name == "binance"
    assert settings.sources["scan.cache_duration"] == "env"
    assert settings.env_names["scan.cache_duration"] == "TUI_BOT_SCAN_CACHE_DURATION"
    assert "scan.top_n" not in settings.env_names


@pytest.mark.parametrize(
    ("legacy", "dotted", "value"),
    [
        ("MARKET_SCAN_CACHE_DURATION", "scan.cache_duration", 240),
        ("ML_PREDICTION_CACHE_DURATION", "ml.prediction_cache_duration", 420),
        ("MAX_PARALLEL_WORKERS", "scan.max_parallel_workers", 12),
        ("CHECK_INTERVAL", "bot.check_interval", 90),
    ],
)
def test_legacy_env_names(legacy: str, dotted: str, value: int) -> None:
    settings = load(None, {legacy: str(value)})
    assert settings.get(dotted) == value
    assert settings.sources[dotted] == "env"
    assert settings.env_names[dotted] == legacy


def test_new_env_name_beats_legacy() -> None:
    env = {"MAX_PARALLEL_WORKERS": "6", "TUI_BOT_SCAN_MAX_PARALLEL_WORKERS": "8"}
    settings = load(None, env)
    assert settings.scan.max_parallel_workers == 8
    assert settings.env_names["scan.max_parallel_workers"] == "TUI_BOT_SCAN_MAX_PARALLEL_WORKERS"


def test_flag_beats_env_and_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[scan]\ntop_n = 5\n")
    settings = load_settings(
        path,
        env={"TUI_BOT_SCAN_TOP_N": "6"},
        overrides={"scan.top_n": "7", "ml.require_edge": False},
    )
    assert settings.scan.top_n == 7
    assert settings.ml.require_edge is False
    assert settings.sources["scan.top_n"] == "flag"
    assert "scan.top_n" not in settings.env_names


def test_secret_env_vars_are_ignored() -> None:
    env = {"TUI_BOT_API_KEY": "k-123", "TUI_BOT_API_SECRET": "s-456", "TUI_BOT_API_PASSWORD": "p"}
    settings = load(None, env)
    text = describe(settings)
    assert "k-123" not in text and "s-456" not in text
    assert set(settings.sources.values()) == {"default"}


def test_describe_lists_every_key_with_its_source(tmp_path: Path) -> None:
    path = write(tmp_path, "[bot]\ncheck_interval = 30\n")
    settings = load(path, {"MAX_PARALLEL_WORKERS": "12"})
    lines = describe(settings).splitlines()
    assert "scan.cache_duration = 300  (default)" in lines
    assert "scan.max_parallel_workers = 12  (env MAX_PARALLEL_WORKERS)" in lines
    assert f"bot.check_interval = 30  (file {path})" in lines
    assert 'bot.stake_currency = "USDT"  (default)' in lines
    assert all(any(line.startswith(key + " = ") for line in lines) for key in default_values())
    assert "warnings:" in lines
    assert any("check_interval = 30 is outside the recommended range 60-300" in x for x in lines)


# ---------------------------------------------------------------------------- validation errors


def test_out_of_range_message(tmp_path: Path) -> None:
    path = write(tmp_path, "[bot]\ncheck_interval = -5\n")
    assert error_of(path) == (
        f"{path}: [bot] check_interval = -5 is out of range: allowed 1..86400 (seconds); "
        "recommended 60-300"
    )


def test_unknown_key_suggests(tmp_path: Path) -> None:
    path = write(tmp_path, "[scan]\ncache_duraton = 300\n")
    assert (
        error_of(path) == f"{path}: unknown key [scan] cache_duraton; did you mean cache_duration?"
    )


def test_unknown_key_without_close_match_lists_keys(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, "[ui]\nzzz = 1\n"))
    assert "unknown key [ui] zzz; known keys: theme" in message


def test_unknown_section_suggests(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, "[scna]\ntop_n = 3\n"))
    assert "unknown section [scna]; did you mean [scan]?" in message


def test_top_level_key_points_to_its_section(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, "check_interval = 60\n"))
    assert "check_interval" in message and "[bot]" in message


def test_wrong_type_message(tmp_path: Path) -> None:
    path = write(tmp_path, '[scan]\ntop_n = "ten"\n')
    assert error_of(path) == f'{path}: [scan] top_n = "ten" has the wrong type: expected an integer'


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("[scan]\ntop_n = true", "expected an integer"),
        ("[scan]\ntop_n = 2.5", "expected an integer"),
        ('[sim]\nspeed = "fast"', "expected a number"),
        ("[ml]\nrequire_edge = 1", "expected true or false"),
        ("[bot]\nstake_currency = 5", "expected a string"),
        ("[exchange]\nccxt_config = 3", "expected a table"),
    ],
)
def test_file_types_are_strict(tmp_path: Path, line: str, expected: str) -> None:
    assert expected in error_of(write(tmp_path, line + "\n"))


def test_whole_float_is_accepted_as_int_and_int_as_float(tmp_path: Path) -> None:
    settings = load(write(tmp_path, "[scan]\ntop_n = 10.0\n[sim]\nspeed = 30\n"))
    assert settings.scan.top_n == 10 and type(settings.scan.top_n) is int
    assert settings.sim.speed == 30.0 and type(settings.sim.speed) is float


def test_bad_choice_lists_choices(tmp_path: Path) -> None:
    path = write(tmp_path, '[scan]\ntimeframe = "2m"\n')
    message = error_of(path)
    assert message.startswith(f'{path}: [scan] timeframe = "2m"')
    assert "1m, 5m, 15m, 1h" in message


def test_bad_toml_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "[bot]\ncheck_interval = 60\ndry_run = \n")
    message = error_of(path)
    assert str(path) in message
    assert "line 3" in message
    assert "fix the syntax" in message


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    text = '[bot]\ncheck_interval = 0\n[scan]\ntop_n = "x"\ntimeframe = "9m"\n[nope]\na = 1\n'
    with pytest.raises(ConfigError) as info:
        load(write(tmp_path, text))
    lines = str(info.value).splitlines()
    assert len(lines) == 4
    assert len(info.value.problems) == 4
    assert any("check_interval = 0" in line for line in lines)
    assert any("top_n" in line for line in lines)
    assert any("timeframe" in line for line in lines)
    assert any("[nope]" in line for line in lines)


def test_env_error_names_variable_and_value() -> None:
    message = error_of(env={"MAX_PARALLEL_WORKERS": "abc"})
    assert message.startswith("environment variable MAX_PARALLEL_WORKERS=abc: ")
    assert "[scan] max_parallel_workers" in message and "expected an integer" in message


def test_env_bool_error() -> None:
    message = error_of(env={"TUI_BOT_ML_REQUIRE_EDGE": "maybe"})
    assert "TUI_BOT_ML_REQUIRE_EDGE=maybe" in message and "true or false" in message


def test_flag_errors_name_the_flag() -> None:
    message = error_of(overrides={"scan.top_n": "ten"})
    assert message.startswith("--set scan.top_n=ten: ")
    assert "expected an integer" in message
    assert "did you mean top_n?" in error_of(overrides={"scan.top_m": "3"})


def test_recommended_range_warning_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, "[scan]\ncache_duration = 60\nmax_parallel_workers = 30\n")
    settings = load(path, {"CHECK_INTERVAL": "30"})
    assert settings.scan.cache_duration == 60
    text = "\n".join(settings.warnings)
    assert "[scan] cache_duration = 60 is outside the recommended range 180-600 seconds" in text
    assert "max_parallel_workers = 30" in text and "5-15" in text
    assert "check_interval = 30" in text and "CHECK_INTERVAL" in text
    assert len(settings.warnings) == 3


def test_saved_samples_may_not_exceed_memory(tmp_path: Path) -> None:
    path = write(tmp_path, "[ml]\nsaved_samples = 20000\n")
    message = error_of(path)
    assert "saved_samples = 20000" in message and "max_samples_in_memory = 15000" in message
    ok = load(path, {"TUI_BOT_ML_MAX_SAMPLES_IN_MEMORY": "20000"})
    assert ok.ml.saved_samples == 20000


# ---------------------------------------------------------------------------- validate_value


def test_validate_value_parses_strings() -> None:
    assert validate_value("risk.max_hold_minutes", "240") == 240
    assert validate_value("risk.stop_loss_pct", " 2.5 ") == 2.5
    assert validate_value("ml.require_edge", "YES") is True
    assert validate_value("ml.require_edge", "0") is False
    assert validate_value("scan.timeframe", "1h") == "1h"
    assert validate_value("scan.top_n", "1e2") == 100


@pytest.mark.parametrize(
    ("dotted", "value"),
    [
        ("scan.top_n", "2.5"),
        ("scan.top_n", True),
        ("sim.speed", "nan"),
        ("sim.speed", float("nan")),
        ("sim.speed", float("inf")),
        ("risk.min_probability", 0.49),
        ("scan.timeframe", "5M"),
        ("ui.theme", ""),
        ("ml.require_edge", 1),
    ],
)
def test_validate_value_rejects(dotted: str, value: object) -> None:
    with pytest.raises(ConfigError) as info:
        validate_value(dotted, value, origin="editor")
    assert str(info.value).startswith("editor: [")


NUMERIC_KEYS = [
    "bot.check_interval",
    "scan.candles",
    "sim.seed",
    "sim.error_rate",
    "ml.training_interval_hours",
    "risk.min_probability",
]


@settings(max_examples=300, **HYPOTHESIS)
@given(
    dotted=st.sampled_from(NUMERIC_KEYS),
    value=st.one_of(st.integers(-(2**40), 2**40), st.floats(allow_nan=False)),
)
def test_validate_value_accepts_exactly_the_range(dotted: str, value: int | float) -> None:
    spec = key_spec(dotted)
    assert spec.minimum is not None and spec.maximum is not None
    inside = spec.minimum <= value <= spec.maximum
    if spec.type is int and isinstance(value, float) and not value.is_integer():
        inside = False
    try:
        result = validate_value(dotted, value)
    except ConfigError:
        assert not inside
    else:
        assert inside
        assert result == value and type(result) is spec.type


@settings(max_examples=200, **HYPOTHESIS)
@given(value=st.integers(-(2**33), 2**33))
def test_validate_value_int_text_matches_range(value: int) -> None:
    accepted = 0 <= value <= 2**31 - 1
    try:
        assert validate_value("sim.seed", str(value)) == value
    except ConfigError:
        assert not accepted
    else:
        assert accepted


# ---------------------------------------------------------------------------- secrets


@pytest.mark.parametrize(
    "text",
    [
        '[exchange]\napi_key = "SUPERSECRET"\n',
        '[exchange]\npassword = "SUPERSECRET"\n',
        'secret = "SUPERSECRET"\n',
        '[bot]\napiKey = "SUPERSECRET"\n',
        '[exchange.ccxt_config]\napiKey = "SUPERSECRET"\n',
        '[exchange.ccxt_config.options]\nmy_secret_token = "SUPERSECRET"\n',
        '[exchange.ccxt_config]\nlist = [{ walletPassword = "SUPERSECRET" }]\n',
    ],
)
def test_secrets_in_file_are_refused_without_echo(tmp_path: Path, text: str) -> None:
    message = error_of(write(tmp_path, text))
    assert "do not put keys in config.toml" in message
    assert "TUI_BOT_API_KEY / TUI_BOT_API_SECRET / TUI_BOT_API_PASSWORD" in message
    assert "SUPERSECRET" not in message


def test_secret_flag_refused_without_echo() -> None:
    message = error_of(overrides={"exchange.api_key": "SUPERSECRET"})
    assert "do not put keys" in message and "SUPERSECRET" not in message


# ---------------------------------------------------------------------------- ccxt_config, storage


CCXT_TEXT = """\
[exchange]
name = "binance"

[exchange.ccxt_config]
enableRateLimit = true
timeout = 30000
options = { defaultType = "spot", nested = { depth = [1, 2, 3] } }
"""

CCXT_EXPECTED = {
    "enableRateLimit": True,
    "timeout": 30000,
    "options": {"defaultType": "spot", "nested": {"depth": [1, 2, 3]}},
}


def test_ccxt_config_passes_through(tmp_path: Path) -> None:
    settings = load(write(tmp_path, CCXT_TEXT))
    assert settings.exchange.ccxt_config == CCXT_EXPECTED
    assert settings.sources["exchange.ccxt_config"] == "file"
    assert "exchange.ccxt_config = {enableRateLimit, timeout, options}" in describe(settings)


def test_ccxt_config_survives_save(tmp_path: Path) -> None:
    path = write(tmp_path, CCXT_TEXT)
    save_settings(path, {"scan.top_n": 9})
    settings = load(path)
    assert settings.exchange.ccxt_config == CCXT_EXPECTED
    assert settings.exchange.name == "binance"
    assert settings.scan.top_n == 9


def test_storage_dir_is_relative_to_config_file(tmp_path: Path) -> None:
    sub = tmp_path / "conf"
    sub.mkdir()
    settings = load(write(sub, '[storage]\ndir = "state"\n'))
    assert settings.storage_dir == sub / "state"
    absolute = load(write(sub, f'[storage]\ndir = "{tmp_path / "abs"}"\n'))
    assert absolute.storage_dir == tmp_path / "abs"


# ---------------------------------------------------------------------------- save_settings


def test_save_round_trip_keeps_comments_and_other_keys(tmp_path: Path) -> None:
    path = write(tmp_path, "[bot]\ncheck_interval = 120\n[risk]\nstop_loss_pct = 1.5\n")
    save_settings(path, {"scan.cache_duration": "240", "ui.theme": "tui-light"})
    text = path.read_text(encoding="utf-8")
    assert text == render_config(
        {
            "bot.check_interval": 120,
            "risk.stop_loss_pct": 1.5,
            "scan.cache_duration": 240,
            "ui.theme": "tui-light",
        }
    )
    assert "# How long market scan results are reused. Unit: seconds." in text
    assert "Recommended: 180-600" in text
    assert "cache_duration = 240\n" in text
    settings = load(path)
    assert settings.bot.check_interval == 120
    assert settings.risk.stop_loss_pct == 1.5
    assert settings.scan.cache_duration == 240
    assert settings.ui.theme == "tui-light"
    assert settings.scan.top_n == 20
    assert [p.name for p in tmp_path.iterdir()] == ["config.toml"]


def test_save_creates_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "new.toml"
    save_settings(path, {"scan.top_n": 3})
    assert load(path).scan.top_n == 3


def test_save_rejects_invalid_value_and_leaves_file(tmp_path: Path) -> None:
    path = write(tmp_path, "# my own comment\n[bot]\ncheck_interval = 120\n")
    before = path.read_bytes()
    with pytest.raises(ConfigError) as info:
        save_settings(path, {"scan.top_n": 5, "bot.check_interval": -5, "scan.bogus": 1})
    assert len(info.value.problems) == 2
    assert f"{path}: [bot] check_interval = -5 is out of range" in str(info.value)
    assert path.read_bytes() == before


def test_save_rejects_cross_key_violation(tmp_path: Path) -> None:
    path = write(tmp_path, "[ml]\nsaved_samples = 5000\n")
    before = path.read_bytes()
    with pytest.raises(ConfigError, match="max_samples_in_memory"):
        save_settings(path, {"ml.max_samples_in_memory": 1000})
    assert path.read_bytes() == before


def test_save_refuses_secrets(tmp_path: Path) -> None:
    path = write(tmp_path, "[bot]\ncheck_interval = 120\n")
    before = path.read_bytes()
    for values in (
        {"exchange.api_key": "SUPERSECRET"},
        {"exchange.ccxt_config": {"secret": "SUPERSECRET"}},
    ):
        with pytest.raises(ConfigError) as info:
            save_settings(path, values)
        assert "do not put keys" in str(info.value)
        assert "SUPERSECRET" not in str(info.value)
    assert path.read_bytes() == before


def test_save_is_atomic_when_replace_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "[bot]\ncheck_interval = 120\n")
    before = path.read_bytes()

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(saving.os, "replace", broken_replace)
    with pytest.raises(ConfigError, match="not changed"):
        save_settings(path, {"scan.top_n": 5})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["config.toml"]


def test_save_never_writes_env_values(tmp_path: Path) -> None:
    path = write(tmp_path, "[bot]\ncheck_interval = 120\n")
    settings = load(path, {"TUI_BOT_SCAN_TOP_N": "77", "CHECK_INTERVAL": "90"})
    assert settings.scan.top_n == 77
    save_settings(path, {"ui.theme": "tui-light"})
    table = tomllib.loads(path.read_text(encoding="utf-8"))
    assert table["scan"]["top_n"] == 20
    assert table["bot"]["check_interval"] == 120
    assert "77" not in path.read_text(encoding="utf-8")


def test_save_refuses_broken_existing_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[bot]\ncheck_interval = [\n")
    before = path.read_bytes()
    with pytest.raises(ConfigError, match="fix the syntax"):
        save_settings(path, {"scan.top_n": 5})
    assert path.read_bytes() == before


def test_save_keeps_file_mode(tmp_path: Path) -> None:
    path = write(tmp_path, "[bot]\ncheck_interval = 120\n")
    os.chmod(path, 0o640)
    save_settings(path, {"scan.top_n": 5})
    assert path.stat().st_mode & 0o777 == 0o640


# ---------------------------------------------------------------------------- with_values


def test_with_values_validates_and_marks_file(tmp_path: Path) -> None:
    settings = load(write(tmp_path, "[bot]\ncheck_interval = 120\n"), {"CHECK_INTERVAL": "90"})
    updated = settings.with_values({"bot.check_interval": "100", "scan.top_n": 4})
    assert updated.bot.check_interval == 100 and updated.scan.top_n == 4
    assert updated.sources["bot.check_interval"] == "file"
    assert updated.sources["scan.top_n"] == "file"
    assert "bot.check_interval" not in updated.env_names
    assert any("CHECK_INTERVAL" in warning for warning in updated.warnings)
    assert settings.bot.check_interval == 90
    with pytest.raises(ConfigError, match="out of range"):
        settings.with_values({"scan.top_n": 0})
    with pytest.raises(ConfigError, match="saved_samples"):
        settings.with_values({"ml.saved_samples": 20000})


# ---------------------------------------------------------------------------- committed file


def test_committed_config_toml_is_rendered_defaults() -> None:
    committed = ROOT / "config.toml"
    assert committed.read_text(encoding="utf-8") == render_config(default_values())
    settings = load_settings(committed, env={})
    assert settings.warnings == ()
    assert set(settings.sources.values()) == {"file"}
    assert settings_values(settings) == default_values()


def test_rendered_file_has_comment_before_every_key() -> None:
    lines = render_config(default_values()).splitlines()
    for spec in config.SCHEMA:
        section = lines.index(f"[{spec.section}]")  # a name may be in two sections
        index = lines.index(_render_line(spec.name, spec.default), section)
        assert lines[index - 1].startswith("# " + spec.description)


def _render_line(name: str, value: object) -> str:
    return rendering.render_key(name, value)


# ---------------------------------------------------------------------------- round trip property


def _value_strategy(spec: config.KeySpec) -> st.SearchStrategy[object]:
    if spec.choices:
        return st.sampled_from(spec.choices)
    if spec.type is bool:
        return st.booleans()
    if spec.type is str:
        return st.text(min_size=1, max_size=20).filter(lambda s: s.strip() == s and s)
    assert spec.minimum is not None and spec.maximum is not None
    if spec.type is int:
        return st.integers(int(spec.minimum), int(spec.maximum))
    return st.floats(spec.minimum, spec.maximum, allow_nan=False)


VALUES = st.fixed_dictionaries({spec.dotted: _value_strategy(spec) for spec in config.SCHEMA})
CCXT = st.dictionaries(
    st.sampled_from(["timeout", "options", "enableRateLimit", "hostname"]),
    st.one_of(
        st.integers(0, 10**6), st.booleans(), st.dictionaries(st.just("a"), st.text(max_size=5))
    ),
    max_size=3,
)


@settings(max_examples=60, **HYPOTHESIS)
@given(values=VALUES, ccxt=CCXT)
def test_render_then_load_gives_back_the_values(values: dict[str, object], ccxt: dict) -> None:
    if values["ml.saved_samples"] > values["ml.max_samples_in_memory"]:  # type: ignore[operator]
        values["ml.saved_samples"] = values["ml.max_samples_in_memory"]
    values = {**values, "exchange.ccxt_config": ccxt}
    text = render_config(values)
    assert tomllib.loads(text)["exchange"]["ccxt_config"] == ccxt
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "config.toml"
        path.write_text(text, encoding="utf-8")
        loaded = load_settings(path, env={})
    assert settings_values(loaded) == values


# ---------------------------------------------------------------------------- dirs, long strings


def test_a_config_toml_that_is_a_directory_is_said_not_ignored(tmp_path: Path) -> None:
    (tmp_path / "config.toml").mkdir()  # in the cwd, where the default file is looked for
    message = error_of()
    assert message.startswith(f"{tmp_path / 'config.toml'}: is a directory, not a file")
    assert "--config" in message and "\n" not in message


def test_a_config_path_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    message = error_of(tmp_path / "conf")
    assert message.startswith(f"{tmp_path / 'conf'}: is a directory, not a file")


def test_every_string_key_has_a_length_limit() -> None:
    for spec in config.SCHEMA:
        if spec.type is not str:
            continue
        assert 1 <= spec.max_length <= 4096, spec.dotted
        with pytest.raises(ConfigError, match="too long"):
            validate_value(spec.dotted, "a" * (spec.max_length + 1))
        if spec.choices is None:
            assert validate_value(spec.dotted, "a" * spec.max_length) == "a" * spec.max_length


def test_string_limits_fit_what_the_keys_hold() -> None:
    assert key_spec("bot.stake_currency").max_length == 20
    assert key_spec("storage.dir").max_length == 4096
    assert key_spec("ui.theme").max_length == 200
    assert key_spec("exchange.whitelist").max_length == 4096  # a list of markets


HUGE = "X" * 1_048_576


@pytest.mark.parametrize("source", ["file", "env", "flag"])
def test_a_huge_string_is_refused_and_never_echoed_back(tmp_path: Path, source: str) -> None:
    if source == "file":
        message = error_of(write(tmp_path, f'[bot]\nstake_currency = "{HUGE}"\n'))
    elif source == "env":
        message = error_of(env={"TUI_BOT_BOT_STAKE_CURRENCY": HUGE})
    else:
        message = error_of(overrides={"bot.stake_currency": HUGE})
    assert "stake_currency" in message and "too long: at most 20 characters" in message
    assert "1,048,576 characters" in message
    assert len(message) < 500, message[:600]


def test_a_huge_unknown_key_is_not_echoed_back(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, f"[bot]\n{HUGE} = 1\n"))
    assert "unknown key" in message and "1,048,576 characters" in message
    assert len(message) < 500, message[:600]


# ---------------------------------------------------------------------------- removed keys

DRY_RUN_REASON = (
    "bot.dry_run is no longer used: [exchange] mode and --live decide whether orders are real"
)


def test_dry_run_in_the_file_is_a_warning_that_names_the_fix(tmp_path: Path) -> None:
    path = write(tmp_path, "[bot]\ncheck_interval = 120\ndry_run = true\n")
    settings = load(path)
    assert settings.warnings == (f"{DRY_RUN_REASON}; delete the line from {path}",)
    assert settings.bot.check_interval == 120
    assert not hasattr(settings.bot, "dry_run")
    assert "bot.dry_run" not in settings.sources
    assert f"  - {DRY_RUN_REASON}; delete the line from {path}" in describe(settings).splitlines()


def test_dry_run_of_any_value_does_not_stop_the_start(tmp_path: Path) -> None:
    settings = load(write(tmp_path, '[bot]\ndry_run = "maybe"\n'))
    assert len(settings.warnings) == 1 and DRY_RUN_REASON in settings.warnings[0]


def test_dry_run_from_env_or_flag_is_a_warning() -> None:
    settings = load_settings(None, env={"TUI_BOT_BOT_DRY_RUN": "false"}, overrides={})
    assert settings.warnings == (
        f"{DRY_RUN_REASON}; unset the environment variable TUI_BOT_BOT_DRY_RUN",
    )
    assert settings.env_names == {}
    flagged = load_settings(None, env={}, overrides={"bot.dry_run": "true", "scan.top_n": "7"})
    assert flagged.warnings == (f"{DRY_RUN_REASON}; drop --set bot.dry_run",)
    assert flagged.scan.top_n == 7


def test_dry_run_is_not_a_key_any_more(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        validate_value("bot.dry_run", True)
    assert str(info.value) == DRY_RUN_REASON
    with pytest.raises(ConfigError, match="no longer used"):
        key_spec("bot.dry_run")
    assert "bot.dry_run" not in default_values()
    assert "dry_run" not in render_config(default_values())


def test_saving_drops_the_dry_run_line(tmp_path: Path) -> None:
    path = write(tmp_path, "[bot]\ndry_run = false\ncheck_interval = 120\n")
    save_settings(path, {"scan.top_n": 9})
    assert "dry_run" not in path.read_text(encoding="utf-8")
    settings = load(path)
    assert settings.warnings == ()
    assert settings.bot.check_interval == 120 and settings.scan.top_n == 9


# ---------------------------------------------------------------------------- the declaration


def test_each_default_has_the_type_of_its_annotation() -> None:
    for spec in config.SCHEMA:
        assert type(spec.default) is spec.type, spec.dotted


def test_literal_annotations_give_the_choices() -> None:
    assert key_spec("exchange.mode").choices == ("paper", "live")
    assert key_spec("scan.timeframe").choices == ("1m", "5m", "15m", "1h")
    assert key_spec("ml.model").choices == ("hist_gradient_boosting", "gradient_boosting")
    assert all(key_spec(key).type is str for key in ("exchange.mode", "ml.model"))
    assert key_spec("scan.top_n").choices is None


def test_editor_rows_have_distinct_positions() -> None:
    rows = {spec.dotted: spec.editor for spec in config.SCHEMA if spec.editor is not None}
    assert len({row.position for row in rows.values()}) == len(rows)
    assert len({row.label for row in rows.values()}) == len(rows)
    by_position = sorted(rows, key=lambda dotted: rows[dotted].position)
    assert list(config.editor_labels().items()) == [(key, rows[key].label) for key in by_position]


def test_section_dataclasses_build_from_their_defaults() -> None:
    for section, cls in schema.SECTION_CLASSES.items():
        instance = cls()
        for spec in config.SCHEMA:
            if spec.section == section:
                assert getattr(instance, spec.name) == spec.default


def test_module_entry_point_prints_the_table_and_the_file() -> None:
    command = [sys.executable, "-m", "tui_bot.config"]
    table = subprocess.run([*command, "--markdown"], cwd=ROOT, capture_output=True, text=True)
    assert table.returncode == 0, table.stderr
    assert table.stdout == config.keys_markdown()
    file = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert file.stdout == render_config(default_values())
