"""The Textual dashboard. Imported lazily by the CLI so the headless path never loads textual."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tui_bot.config import Settings

LOG_FILE = "tui-bot.log"


def run_dashboard(settings: Settings, verbose: bool = False, live: bool = False) -> int:
    """Open the dashboard on `settings`; returns the exit code once the engine has stopped.

    `live` is the --live flag: real orders, if the config and the environment allow them too.
    """
    from functools import partial

    from tui_bot.tui.app import TuiBotApp
    from tui_bot.tui.hosting import default_runtime

    _log_to_file(settings, verbose)
    app = TuiBotApp(settings, partial(default_runtime, live=live))
    try:
        result = app.run()
    finally:
        app.stop_engine()  # if the app ended any other way than `q`, still stop the engine cleanly
    return result if isinstance(result, int) else (app.return_code or 0)


def _log_to_file(settings: Settings, verbose: bool) -> None:
    """Logs go to <storage dir>/tui-bot.log: a line on the terminal would be drawn over the
    dashboard."""
    path = settings.storage_dir / LOG_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(path, encoding="utf-8")
    except OSError:
        handler = logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    level = logging.DEBUG if verbose else logging.INFO
    logging.basicConfig(level=level, handlers=[handler], force=True)
