"""Writing config.toml: validated first, then replaced atomically (temp file + rename)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from tui_bot.config.checking import validate_many
from tui_bot.config.loading import check_table, cross_errors, read_toml
from tui_bot.config.messages import ConfigError, raise_if
from tui_bot.config.rendering import render_config
from tui_bot.config.schema import default_values


def save_settings(path: Path, values: Mapping[str, object]) -> None:
    """Update `values` in the config file atomically; on any error the file is left untouched.

    A removed key the file still sets (bot.dry_run) is dropped from it.
    """
    path = Path(path)
    current: dict[str, object] = {}
    if path.exists():
        current, errors, _removed_keys = check_table(read_toml(path), str(path))
        raise_if([f"{path}: fix these problems before saving:", *errors] if errors else [])
    merged = {**current, **validate_many(values, str(path))}
    full = {**default_values(), **merged}
    sources = {key: ("file" if key in merged else "default") for key in full}
    raise_if(cross_errors(full, sources, {}, path))
    atomic_write(path, render_config(merged))


def atomic_write(path: Path, text: str) -> None:
    """Write `text` to `path` through a temp file in the same directory, keeping its mode."""
    try:
        handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise ConfigError(f"{path}: cannot save: {error.strerror}; nothing was changed") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        if path.exists():
            shutil.copymode(path, temp)
        os.replace(temp, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        if isinstance(error, OSError):
            raise ConfigError(f"{path}: cannot save: {error}; the file was not changed") from None
        raise
