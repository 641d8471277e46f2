"""A look at a database file that changes nothing: for `check` and monitoring.

Opened read-only with Python's own sqlite3 (no migration, no WAL checkpoint),
so a check never creates a missing file, never migrates, and never waits long
for a writer.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from storage.db import MISSING, newer_than_program, path_problem, permission_problem
from storage.db import write_lock_holders as _holders
from storage.migrations import MAIN, STATE, available_migrations

BUSY_TIMEOUT_MS = 2000


@dataclass(frozen=True)
class FileHealth:
    """What `check` says about one database file: `problem` is None when all is well."""

    path: Path
    version: int = 0
    latest: int = 0
    problem: str | None = None
    note: str | None = None  # something worth saying that is no failure (busy)


def database_health(path: Path, *, state: bool = False) -> FileHealth:
    """Reachable, a SQLite database, migrated to the latest version, writable, intact."""
    latest = max((m.version for m in available_migrations(STATE if state else MAIN)), default=0)
    # The same words as every other command's (storage.db), so one line reads the same.
    unusable = path_problem(path)
    if unusable is not None:
        return FileHealth(path, 0, latest, unusable)
    if not path.exists():
        return FileHealth(path, 0, latest, MISSING)
    try:
        connection = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000
        )
    except sqlite3.Error as error:
        return FileHealth(path, 0, latest, f"cannot be opened: {error}")
    try:
        version = _version(connection)
        if version < latest:
            return FileHealth(
                path, version, latest, f"at version {version}, {latest} is due (db migrate)"
            )
        if version > latest:
            return FileHealth(path, version, latest, newer_than_program(version, latest))
        result = connection.execute("PRAGMA quick_check").fetchall()
        if [tuple(row) for row in result] != [("ok",)]:
            first = "; ".join(str(row[0]) for row in result[:3])
            return FileHealth(path, version, latest, f"damaged: {first}")
    except sqlite3.DatabaseError as error:
        return FileHealth(path, 0, latest, f"is not a usable database: {error}")
    finally:
        connection.close()
    problem, note = _writable(path)
    return FileHealth(path, version, latest, problem, note)


def _version(connection: sqlite3.Connection) -> int:
    """The newest migration applied (storage.migrations keeps them in schema_migrations)."""
    known = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    ).fetchone()
    if known is None:
        return 0
    value = connection.execute("SELECT max(version) FROM schema_migrations").fetchone()[0]
    return int(value or 0)


def _writable(path: Path) -> tuple[str | None, str | None]:
    """(None, None) if a write transaction can begin now and write (it is rolled back at
    once); (None, a note) when another process holds the write lock: a busy database
    (the morning import) is not a broken one; (the problem, None) otherwise."""
    try:
        connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    except sqlite3.Error as error:
        return f"cannot be opened for writing: {error}", None
    try:
        connection.execute("BEGIN IMMEDIATE")
        try:
            # SQLite opens a file it may not write read-only, without a word, and lets
            # BEGIN IMMEDIATE through: only a write tells (the header's own value).
            value = int(connection.execute("PRAGMA user_version").fetchone()[0])
            connection.execute(f"PRAGMA user_version = {value}")
        finally:
            connection.execute("ROLLBACK")
    except sqlite3.OperationalError as error:
        if "locked" in str(error) or "busy" in str(error):
            holders = _holders(path)
            who = ", ".join(holders) if holders else "another process"
            return None, f"busy: {who} has held the write lock for more than 2 s"
        if "readonly" in str(error):
            return f"cannot be written: {permission_problem(path) or error}", None
        return f"not writable: {error}", None
    finally:
        connection.close()
    return None, None


@dataclass(frozen=True)
class ImportHealth:
    """The newest billing import that finished (an import that failed left no row)."""

    finished_at: float | None
    folder: str | None = None
    problem: str | None = None


def last_import(path: Path) -> ImportHealth:
    """When the last import finished, read-only; `problem` when the file cannot tell."""
    if not path.is_file():
        return ImportHealth(None, problem="no database to read it from")
    try:
        connection = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000
        )
    except sqlite3.Error as error:
        return ImportHealth(None, problem=f"cannot be read: {error}")
    try:
        row = connection.execute(
            "SELECT finished_at, folder FROM import_runs WHERE finished_at IS NOT NULL"
            " ORDER BY finished_at DESC LIMIT 1"
        ).fetchone()
    except sqlite3.Error as error:
        return ImportHealth(None, problem=f"cannot be read: {error}")
    finally:
        connection.close()
    if row is None:
        return ImportHealth(None)
    return ImportHealth(float(row[0]), str(row[1]))
