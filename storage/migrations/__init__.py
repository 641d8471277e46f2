"""Numbered, forward-only SQL migrations (`NNNN_name.sql`), each applied in one transaction.

This package holds the main database's migrations (`MAIN`); the bot's own state
file has its own package (`STATE`, `storage.state_migrations`), applied by the
same runner. Each file records its versions in its own `schema_migrations`.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

import aiosqlite

if TYPE_CHECKING:  # storage.db imports this module
    from storage.db import Queryable

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

# The packages of migration files: the main database's, and the bot's own state file's.
MAIN = __package__
STATE = "storage.state_migrations"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available_migrations(package: str = MAIN) -> list[Migration]:
    """The migration files shipped in `package` (the main database's by default), in
    version order."""
    found = []
    for entry in resources.files(package).iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a version: {versions}")
    return found


async def apply_migrations(conn: aiosqlite.Connection, package: str = MAIN) -> list[int]:
    """Apply every migration of `package` not yet recorded; return the versions applied now.

    Each migration and its record run in one transaction (the script itself is
    wrapped in BEGIN/COMMIT), so a failing migration leaves no trace.
    """
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
    )
    async with conn.execute("SELECT version FROM schema_migrations") as cursor:
        done = {row[0] for row in await cursor.fetchall()}
    applied = []
    for migration in available_migrations(package):
        if migration.version in done:
            continue
        script = (
            "BEGIN IMMEDIATE;\n"
            f"{migration.sql}\n;\n"
            "INSERT INTO schema_migrations(version, name, applied_at) VALUES "
            f"({migration.version}, '{migration.name}', {time.time()!r});\n"
            "COMMIT;"
        )
        try:
            await conn.executescript(script)
        except Exception:
            if conn.in_transaction:
                await conn.execute("ROLLBACK")
            raise
        applied.append(migration.version)
    return applied


async def schema_version(db: Queryable) -> int:
    """The newest migration applied to the database (0 for none)."""
    value = await db.fetch_value("SELECT max(version) FROM schema_migrations")
    return int(value or 0)
