"""Secrets never leave the process: one place that scrubs them from any text we show or store.

The API key, secret and password come only from the environment (TUI_BOT_API_KEY,
TUI_BOT_API_SECRET, TUI_BOT_API_PASSWORD). `redact()` replaces them (raw and URL-encoded) and
signature-like query parameters with "***". Alerts (and so snapshots, --json and the SQLite
alerts table) and exchange error messages go through it; `install()` puts it in front of every
log record, whichever handler later writes it.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import traceback
from collections.abc import Iterable, Mapping
from types import TracebackType
from urllib.parse import quote, quote_plus

SECRET_ENV_NAMES = ("TUI_BOT_API_KEY", "TUI_BOT_API_SECRET", "TUI_BOT_API_PASSWORD")
MASK = "***"
_PARAMS = re.compile(
    r"(?i)\b(signature|sign|api[-_]?key|apikey|secret|password|passphrase|x-mbx-apikey)"
    r"(['\"]?\s*[=:]\s*['\"]?)([^&\s'\",}]+)"
)
_lock = threading.Lock()
_secrets: set[str] = set()
_longest_first: tuple[str, ...] = ()  # _secrets, sorted once here rather than on every redact()
_installed = False


def register(values: Iterable[str | None]) -> None:
    """Remember secret values (and their URL-encoded forms) to scrub from now on."""
    global _longest_first
    with _lock:
        for value in values:
            if value:
                _secrets.update({value, quote(value, safe=""), quote_plus(value)})
        _longest_first = tuple(sorted(_secrets, key=len, reverse=True))


def register_env(env: Mapping[str, str] | None = None) -> None:
    env = os.environ if env is None else env
    register(env.get(name, "").strip() for name in SECRET_ENV_NAMES)


def redact(text: object) -> str:
    """`text` as a string with every known secret and signature-like parameter masked."""
    result = str(text)
    for secret in _longest_first:
        if secret in result:
            result = result.replace(secret, MASK)
    return _PARAMS.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", result)


def install() -> None:
    """Scrub every log record (message, arguments, traceback text) and uncaught tracebacks."""
    global _installed
    register_env()
    with _lock:
        if _installed:
            return
        _installed = True
    previous = logging.getLogRecordFactory()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what we have, scrubbed
            message = f"{record.msg} {record.args}"
        record.msg, record.args = redact(message), ()
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return record

    logging.setLogRecordFactory(factory)

    def excepthook(
        kind: type[BaseException], value: BaseException, tb: TracebackType | None
    ) -> None:
        sys.stderr.write(redact("".join(traceback.format_exception(kind, value, tb))))

    sys.excepthook = excepthook
