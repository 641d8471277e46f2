"""A look at a database file that changes nothing: for `check` and monitoring.

Opened read-only with Python's own sqlite3 (no migration, no WAL checkpoint),
so a check never creates a missing file, never migrates, and never waits long
for a writer.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from storage.migrations import MAIN, STATE, available_migrations

BUSY_TIMEOUT_MS = 2000


@dataclass(frozen=True)
class FileHealth:
    """What `check` says about one database file: `problem` is None when all is well."""

    path: Path
    version: int = 0
    latest: int = 0
    problem: str | None = None


def database_health(path: Path, *, state: bool = False) -> FileHealth:
    """Reachable, a SQLite database, migrated to the latest version, writable, intact."""
    latest = max((m.version for m in available_migrations(STATE if state else MAIN)), default=0)
    if not path.exists():
        missing = "does not exist yet (`db migrate` or the first `run` creates it)"
        return FileHealth(path, 0, latest, missing)
    if path.is_dir():
        return FileHealth(path, 0, latest, "is a folder, not a database file")
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
            return FileHealth(
                path, version, latest, f"at version {version}, newer than this program ({latest})"
            )
        result = connection.execute("PRAGMA quick_check").fetchall()
        if [tuple(row) for row in result] != [("ok",)]:
            first = "; ".join(str(row[0]) for row in result[:3])
            return FileHealth(path, version, latest, f"damaged: {first}")
    except sqlite3.DatabaseError as error:
        return FileHealth(path, 0, latest, f"is not a usable database: {error}")
    finally:
        connection.close()
    problem = _writable(path)
    return FileHealth(path, version, latest, problem)


def _version(connection: sqlite3.Connection) -> int:
    """The newest migration applied (storage.migrations keeps them in schema_migrations)."""
    known = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    ).fetchone()
    if known is None:
        return 0
    value = connection.execute("SELECT max(version) FROM schema_migrations").fetchone()[0]
    return int(value or 0)


def _writable(path: Path) -> str | None:
    """None if a write transaction can begin now (and is rolled back at once)."""
    try:
        connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000)
    except sqlite3.Error as error:
        return f"cannot be opened for writing: {error}"
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("ROLLBACK")
    except sqlite3.OperationalError as error:
        if "locked" in str(error) or "busy" in str(error):
            return "another process has held its write lock for more than 2 s"
        return f"not writable: {error}"
    finally:
        connection.close()
    return None
