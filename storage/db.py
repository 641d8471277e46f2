"""The one aiosqlite connection of a process, its pragmas, and transactions.

Every statement goes through `Database` (single statements, autocommit) or a
`Transaction` opened by `Database.transaction()`. One asyncio lock serialises
them, so two coroutines never interleave statements inside one transaction on
the shared connection.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

import aiosqlite

from storage.migrations import apply_migrations

log = logging.getLogger(f"petkomm.{__name__}")

BUSY_TIMEOUT_MS = 10_000


class Queryable(Protocol):
    """What repositories need: a Database or an open Transaction."""

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int: ...

    async def insert(self, sql: str, params: Sequence[Any] = ()) -> int: ...

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    async def fetch_one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None: ...

    async def fetch_all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]: ...

    async def fetch_value(self, sql: str, params: Sequence[Any] = ()) -> Any: ...

    def changed(self, topic: str) -> None: ...


Listener = Callable[[], None]


class _Listeners:
    """Who wants to hear that a table group changed in this process (e.g. "outbox")."""

    def __init__(self) -> None:
        self._by_topic: dict[str, list[Listener]] = {}

    def add(self, topic: str, listener: Listener) -> Callable[[], None]:
        self._by_topic.setdefault(topic, []).append(listener)

        def remove() -> None:
            listeners = self._by_topic.get(topic, [])
            if listener in listeners:
                listeners.remove(listener)

        return remove

    def fire(self, topics: Iterable[str]) -> None:
        for topic in topics:
            for listener in list(self._by_topic.get(topic, ())):
                try:
                    listener()
                except Exception:  # a listener's bug must not undo or fail the write
                    log.exception("a listener of %r failed", topic)


class _Statements:
    """Statement helpers over a raw aiosqlite connection (no locking)."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        cursor = await self.conn.execute(sql, params)
        count = cursor.rowcount
        await cursor.close()
        return count

    async def _insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        cursor = await self.conn.execute(sql, params)
        row_id = cursor.lastrowid
        await cursor.close()
        return int(row_id or 0)

    async def _fetch_one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        async with self.conn.execute(sql, params) as cursor:
            return await cursor.fetchone()

    async def _fetch_all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        async with self.conn.execute(sql, params) as cursor:
            return list(await cursor.fetchall())


class Transaction(_Statements):
    """Statements inside one BEGIN IMMEDIATE … COMMIT; the lock is already held."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        super().__init__(conn)
        self.topics: list[str] = []  # one entry a change: listeners may count them

    def changed(self, topic: str) -> None:
        """Tell `topic`'s listeners once this transaction has committed."""
        self.topics.append(topic)

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return await self._execute(sql, params)

    async def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        return await self._insert(sql, params)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self.conn.executemany(sql, rows)

    async def fetch_one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        return await self._fetch_one(sql, params)

    async def fetch_all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return await self._fetch_all(sql, params)

    async def fetch_value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = await self._fetch_one(sql, params)
        return None if row is None else row[0]

    @property
    def total_changes(self) -> int:
        """Rows changed on this connection since it opened (for import counts)."""
        return self.conn.total_changes


class Database(_Statements):
    """The process's database: autocommit statements and explicit transactions."""

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        super().__init__(conn)
        self.path = path
        self._lock = asyncio.Lock()
        self._listeners = _Listeners()

    def listen(self, topic: str, listener: Listener) -> Callable[[], None]:
        """Call `listener` after each committed write that marks `topic` changed in this
        process (repositories mark theirs, e.g. "outbox"); returns a function that stops it.

        Listeners run in the event loop right after the commit and must not block.
        """
        return self._listeners.add(topic, listener)

    def changed(self, topic: str) -> None:
        """Tell `topic`'s listeners now (an autocommit statement has committed)."""
        self._listeners.fire((topic,))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """Run the block in one transaction: committed on success, rolled back on error."""
        async with self._lock:
            await self.conn.execute("BEGIN IMMEDIATE")
            tx = Transaction(self.conn)
            try:
                yield tx
            except BaseException:
                await self.conn.execute("ROLLBACK")
                raise
            await self.conn.execute("COMMIT")
        self._listeners.fire(tx.topics)

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        async with self._lock:
            return await self._execute(sql, params)

    async def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        async with self._lock:
            return await self._insert(sql, params)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        async with self.transaction() as tx:
            await tx.executemany(sql, rows)

    async def fetch_one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        async with self._lock:
            return await self._fetch_one(sql, params)

    async def fetch_all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        async with self._lock:
            return await self._fetch_all(sql, params)

    async def fetch_value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = await self.fetch_one(sql, params)
        return None if row is None else row[0]

    async def migrate(self) -> list[int]:
        """Apply the pending migrations in order; returns their versions."""
        async with self._lock:
            applied = await apply_migrations(self.conn)
        for version in applied:
            log.info("applied migration %04d", version)
        return applied

    async def backup(self, target: Path) -> None:
        """Copy the live database to `target` with SQLite's online backup API."""
        target.parent.mkdir(parents=True, exist_ok=True)
        async with self._lock:
            dest = await aiosqlite.connect(target)
            try:
                await self.conn.backup(dest)
            finally:
                await dest.close()

    async def close(self) -> None:
        """Close the connection (checkpointing the WAL)."""
        await self.conn.close()


async def open_database(path: Path | str, migrate: bool = True) -> Database:
    """Open (creating if needed) the database file, set pragmas, apply migrations."""
    path = Path(path)
    if str(path) != ":memory:":
        path.parent.mkdir(parents=True, exist_ok=True)
    conn = await aiosqlite.connect(path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    await conn.execute("PRAGMA journal_mode = WAL")
    await conn.execute("PRAGMA synchronous = NORMAL")
    await conn.execute("PRAGMA foreign_keys = ON")
    db = Database(conn, path)
    if migrate:
        await db.migrate()
    return db
