"""The storage dir and its SQLite files: checked at open, versioned, and every fault in one line.

Every fault becomes a StorageError (StorageFull for a full disk) whose message names the path,
what is wrong and what to do. A damaged database is never repaired or overwritten: the user is
told how to move it aside.

Schema versions: each database keeps its version in `PRAGMA user_version`. A database type gives
its full current SCHEMA and MIGRATIONS, a list of (version, sql) steps. To change a schema, append
a step `(N + 1, "ALTER TABLE ...")` and change SCHEMA to the new shape: an older file is then
copied to `<name>.v<old>.bak` and migrated in one transaction at open. SCHEMA is all IF NOT EXISTS
and runs at every open, so what only adds to it (an index) needs no step: a current file gets it.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from tui_bot.errors import StorageError, StorageFull

Migrations = Sequence[tuple[int, str]]
# a statement's parameters: by position (?) or by name (:name)
Params = Sequence[Any] | Mapping[str, Any]
# primary SQLite result codes (sqlite_errorcode & 0xFF)
_SQLITE_READONLY, _SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_NOTADB = 8, 11, 13, 26
_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6
# a probe for free space: this much must fit before trading resumes after a full disk
PROBE_BYTES = 64 * 1024


def prepare_dir(directory: Path) -> None:
    """Create the storage dir if needed and check it can hold the bot's files."""
    if directory.exists() and not directory.is_dir():
        raise StorageError(
            f"{directory}: the storage dir is a file, not a folder; move the file away or set "
            "[storage] dir to a folder"
        )
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise StorageError(
            f"{directory}: cannot create the storage dir: {_file_above(directory)} is a file, "
            "not a folder; move that file away or set [storage] dir to another folder"
        ) from None
    except OSError as e:
        raise os_error(directory, e, "cannot create the storage dir") from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise StorageError(
            f"{directory}: the storage dir is not writable; give yourself write access "
            f"(chmod u+rwx {directory}) or set [storage] dir to another folder"
        )


def _file_above(directory: Path) -> Path:
    """The nearest existing ancestor of `directory` (a file, when mkdir failed on it)."""
    for parent in directory.parents:
        if parent.exists():
            return parent
    return directory


def os_error(path: Path, e: OSError, what: str) -> StorageError:
    """A StorageError for an OSError on `path`; `what` says what was being done."""
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return StorageFull(f"{path}: {what}: the disk is full; free some space on that disk")
    if e.errno in (errno.EACCES, errno.EPERM):
        where = _file_above(path) if not path.exists() else path
        return StorageError(
            f"{path}: {what}: permission denied on {where}; give yourself write access there "
            "or set [storage] dir to another folder"
        )
    if e.errno == errno.EROFS:
        return StorageError(
            f"{path}: {what}: the file system is read-only; set [storage] dir to a folder on a "
            "writable disk"
        )
    return StorageError(f"{path}: {what}: {e.strerror or e}; check the disk and the folder")


def storage_error(path: Path, e: sqlite3.Error, lost: str = "") -> StorageError:
    """The StorageError for a SQLite error on the database at `path`.

    `lost`: what starting without this database means, for the "move it aside" advice.
    """
    code = (getattr(e, "sqlite_errorcode", 0) or 0) & 0xFF
    if code == _SQLITE_FULL:
        return StorageFull(
            f"{path}: cannot write: the disk is full ({e}); free some space on that disk"
        )
    if code in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        return _corrupt_error(path, str(e), lost)
    if code == _SQLITE_READONLY:
        return StorageError(
            f"{path}: the database is read-only ({e}); make it writable (chmod u+w {path}) "
            "or set [storage] dir to another folder"
        )
    if code in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return StorageError(
            f"{path}: the database is locked by another process ({e}); stop the other tui-bot "
            "or set [storage] dir to another folder"
        )
    return StorageError(f"{path}: cannot use the database: {e}; check the file and its folder")


def _corrupt_error(path: Path, problem: str, lost: str) -> StorageError:
    advice = f"mv {path} {path}.corrupt and start again"
    return StorageError(
        f"{path}: the database is damaged ({problem}); it was left as it is: {advice}"
        + (f": {lost}" if lost else "")
    )


class Database:
    """One SQLite connection (WAL, autocommit) whose errors are StorageErrors.

    `path` None is an in-memory database (tests, and a simulator without a state file).
    """

    def __init__(
        self, path: Path | None, schema: str, migrations: Migrations, lost: str = ""
    ) -> None:
        self.path = path
        self.where = path if path is not None else Path(":memory:")  # for messages
        self.lost = lost
        if path is None:
            self._db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
            self._db.executescript(schema)
            return
        prepare_dir(path.parent)
        if path.is_dir():
            raise StorageError(
                f"{path}: is a directory, not a database file; move it away "
                f"(mv {path} {path}.old) and start again"
            )
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as e:
            raise storage_error(path, e, lost) from None
        try:
            self._open(path, schema, migrations)
        except BaseException:
            self._db.close()
            raise

    def _open(self, path: Path, schema: str, migrations: Migrations) -> None:
        try:
            problems = [row[0] for row in self._db.execute("PRAGMA quick_check")]
            if problems != ["ok"]:
                raise _corrupt_error(path, "; ".join(problems[:2]), self.lost)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            _migrate(self._db, path, schema, migrations)
        except sqlite3.Error as e:
            raise storage_error(path, e, self.lost) from None

    def execute(self, sql: str, params: Params = ()) -> sqlite3.Cursor:
        try:
            return self._db.execute(sql, params)
        except sqlite3.Error as e:
            raise storage_error(self.where, e, self.lost) from None

    def rows(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        """Every row of a query, each readable by column name (row["symbol"])."""
        with self._errors():
            rows: list[sqlite3.Row] = self._named(sql, params).fetchall()
            return rows

    def row(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        """The first row of a query, readable by column name; None when it has none."""
        with self._errors():
            row: sqlite3.Row | None = self._named(sql, params).fetchone()
            return row

    def _named(self, sql: str, params: Params) -> sqlite3.Cursor:
        cursor = self._db.cursor()
        cursor.row_factory = sqlite3.Row
        return cursor.execute(sql, params)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """SQLite's errors as StorageErrors, reading included (a damaged page can be found
        only when a row is fetched)."""
        try:
            yield
        except sqlite3.Error as e:
            raise storage_error(self.where, e, self.lost) from None

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> sqlite3.Cursor:
        try:
            return self._db.executemany(sql, rows)
        except sqlite3.Error as e:
            raise storage_error(self.where, e, self.lost) from None

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """BEGIN IMMEDIATE ... COMMIT; on any error nothing of it is kept."""
        self.execute("BEGIN IMMEDIATE")
        try:
            yield self
            self.execute("COMMIT")
        except BaseException:
            # SQLite may have rolled back by itself (e.g. on a full disk)
            if self._db.in_transaction:
                with suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
            raise

    def probe_space(self) -> None:
        """Commit and delete PROBE_BYTES: StorageFull while the disk (still) has no room."""
        self.execute("CREATE TABLE IF NOT EXISTS space_probe (data BLOB NOT NULL)")
        self.execute("INSERT INTO space_probe VALUES (zeroblob(?))", (PROBE_BYTES,))
        self.execute("DELETE FROM space_probe")

    def close(self) -> None:
        self._db.close()


def schema_version(migrations: Migrations) -> int:
    return max((version for version, _ in migrations), default=0)


def _migrate(db: sqlite3.Connection, path: Path, schema: str, migrations: Migrations) -> None:
    """Bring the database at `path` to the newest version: a new (empty) file gets `schema`; an
    older one is backed up next to itself and migrated in one transaction; a newer one is
    refused. `schema` then runs on every file (all IF NOT EXISTS: it adds only what is missing,
    such as a new index). Also proves the file can be written (a read-only one fails here)."""
    latest = schema_version(migrations)
    found = db.execute("PRAGMA user_version").fetchone()[0]
    if found > latest:
        raise StorageError(
            f"{path} was written by a newer tui-bot (schema {found}, this one knows {latest}): "
            "upgrade tui-bot or set [storage] dir to another folder"
        )
    empty = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
    steps = [schema]
    if not empty and found < latest:
        _backup(db, path, found)
        steps = [sql for version, sql in sorted(migrations) if version > found] + steps
    script = ";\n".join(["BEGIN IMMEDIATE", *steps, f"PRAGMA user_version = {latest}", "COMMIT"])
    try:
        db.executescript(script)
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def _backup(db: sqlite3.Connection, path: Path, version: int) -> None:
    """A consistent copy of the database as it is, to `<name>.v<version>.bak` beside it."""
    target = path.with_name(f"{path.name}.v{version}.bak")
    temp = path.with_name(f".{target.name}.tmp")
    temp.unlink(missing_ok=True)
    try:
        copy = sqlite3.connect(temp)
        try:
            db.backup(copy)
        finally:
            copy.close()
        os.replace(temp, target)
    except sqlite3.Error as e:
        temp.unlink(missing_ok=True)
        raise storage_error(target, e) from None
    except OSError as e:
        temp.unlink(missing_ok=True)
        raise os_error(target, e, "cannot write the backup before migrating") from None
