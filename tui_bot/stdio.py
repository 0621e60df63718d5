"""The process's standard file descriptors, for the command line, the dashboard and its child
processes alike (a module of its own so that none of them imports the others for it)."""

from __future__ import annotations

import contextlib
import os


def point_at_devnull(*fds: int) -> None:
    """Points these file descriptors at /dev/null, so that writes to a reader or terminal that
    has gone neither fail (the interpreter's last flush at exit included) nor block."""
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        for fd in fds:
            with contextlib.suppress(OSError):
                os.dup2(null, fd)
    finally:
        os.close(null)
