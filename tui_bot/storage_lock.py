"""One bot per data folder: an exclusive lock on <storage dir>/tui-bot.lock for a whole run.

The lock is an flock(2) on the open file, so the kernel releases it when the process ends, however
it ends (a SIGKILL included): no stale lock to clean up. The file holds the holder's PID, for the
message a second instance gives.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tui_bot.errors import StorageError, StorageLocked
from tui_bot.storage import os_error, prepare_dir

LOCK_FILE = "tui-bot.lock"


@contextmanager
def storage_lock(storage_dir: Path) -> Iterator[Path]:
    """Hold the storage dir for the `with` block; StorageLocked if another process holds it."""
    path = storage_dir / LOCK_FILE
    fd = _open(storage_dir, path)
    try:
        _acquire(fd, storage_dir)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)  # releases the lock


def _open(storage_dir: Path, path: Path) -> int:
    """Open without truncating: until we hold the lock, the PID in the file is the holder's."""
    prepare_dir(storage_dir)  # a file in the way, no permission, a full disk: said plainly
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise os_error(path, e, "cannot open the lock file") from None


def _acquire(fd: int, storage_dir: Path) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise StorageLocked(
            f"{storage_dir}: already in use by another tui-bot ({_holder(fd)}); stop that one "
            "first, or give this one its own folder (--set storage.dir=OTHER_DIR)"
        ) from None
    except OSError as e:  # e.g. a network file system without locks
        raise StorageError(
            f"{storage_dir / LOCK_FILE}: cannot lock it ({e.strerror}); "
            "set storage.dir to a folder on a local disk"
        ) from None


def _holder(fd: int) -> str:
    text = os.pread(fd, 32, 0).decode(errors="replace").strip()
    return f"PID {text}" if text.isdigit() else "PID unknown: it is just starting"
