"""The database of a process: one writer connection, a few reader connections,
their pragmas, and transactions.

Writes — autocommit statements and `Database.transaction()` blocks — go through
the one writer connection, one at a time (an asyncio lock), so two coroutines
never interleave statements inside one transaction on it. Plain reads outside
a transaction (`Database.fetch_*` of a SELECT) go to a small pool of read-only
connections instead: in WAL mode a reader never waits for a writer — not for
this process's, nor for another process holding the write lock through a long
import — and every read starts a fresh snapshot, so it sees each write this
process has committed before it.

A write waits for another process's write lock up to `Database.write_timeout`
(30 s; `Database.patience` shortens it for writes that may be skipped), then
raises `DatabaseBusy`, having changed nothing. When a write has waited
`Database.write_notice_after` (2 s), the listeners added with
`Database.on_write_wait` are called in the waiting task's context, so that a
door can tell the person behind that task to be patient.

A secret's bytes are overwritten where they are freed (`PRAGMA secure_delete`),
but the write-ahead log (`-wal`) still holds the page as it was before, secret
and all, until a checkpoint copies the new page into the database file and the
log is emptied. A write that erases a secret says so (`erased()`); soon after
its commit a TRUNCATE checkpoint on the writer empties the log, retried until no
other process needs the old pages (`ERASED_WITHIN`). A kill -9 after that finds
no secret in any of the files.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Protocol, TypeVar

import aiosqlite

from storage import migrations

log = logging.getLogger(f"petkomm.{__name__}")

# SQLite's own wait for a lock on the reader connections and during migrations.
BUSY_TIMEOUT_MS = 10_000
# The writer connection's busy timeout: one attempt at SQLite's write lock. A write
# retries such attempts until its budget is spent, so the wait is ours to time, bound
# and report (SQLite's busy handler would wait silently inside one call).
WRITE_ATTEMPT_MS = 100
# How long a write waits for another process's write lock before it gives up.
WRITE_TIMEOUT = 30.0
# After this long waiting, the write-wait listeners hear of it.
WRITE_NOTICE_AFTER = 2.0
# An erased secret (`erased`) leaves every file of the database within this many seconds of
# its commit, unless another process keeps an old read snapshot or the write lock longer
# (then as soon as it lets go; the log says so after this long).
ERASED_WITHIN = 2.0
# How long the checkpoint after an erasure waits for more erasures to serve with it: a
# busy minute's handled messages share a few checkpoints instead of one each.
SCRUB_DELAY = 0.5
# The first pause between two checkpoint attempts that found the log in use; it doubles.
SCRUB_RETRY = 0.02
SCRUB_RETRY_LIMIT = 0.5
# After a write that may be left out (`Database.patience(skippable=True)`) gave up for
# another process's write lock, the next such writes within this many seconds give up at
# once: one typed page makes up to four of them (the login's "last seen", a stray
# password's count), and each would otherwise wait its own patience for the same lock.
SKIP_AFTER_BUSY = 1.0
# Reader connections of a file database: a few, for concurrent pages, each in its thread.
READERS = 2

T = TypeVar("T")


class DatabaseBusy(sqlite3.OperationalError):
    """A write gave up waiting: another process held the write lock too long.

    Nothing of the write happened; trying again later is safe.
    """


class DatabaseUnusable(Exception):
    """The file cannot be opened as a database; `reason` says why in a few words."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


MISSING = "the file does not exist; `db migrate` or the first `run` creates it"


class DatabaseMissing(DatabaseUnusable):
    """No database file where one was to be read (`open_database(create=False)`): a
    mistyped path must not become a fresh, empty database."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, MISSING)


def is_busy(error: BaseException | None) -> bool:
    """Whether `error` means the database was locked by another writer (nothing was written)."""
    if isinstance(error, DatabaseBusy):
        return True
    if not isinstance(error, sqlite3.OperationalError):
        return False
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return int(code) & 0xFF == sqlite3.SQLITE_BUSY
    return "database is locked" in str(error)


# How long writes in the current task may wait, when `Database.patience` says so.
_budget: ContextVar[float | None] = ContextVar("petkomm_write_budget", default=None)
# Whether they may be left out altogether (`Database.patience(skippable=True)`).
_skippable: ContextVar[bool] = ContextVar("petkomm_write_skippable", default=False)

# A statement that only reads: a SELECT, or a WITH … SELECT (a WITH may lead a write).
_QUERY = re.compile(r"\s*(SELECT|WITH)\b", re.IGNORECASE)
_WRITE_WORD = re.compile(r"\b(INSERT|UPDATE|DELETE|REPLACE|RETURNING)\b", re.IGNORECASE)


def _is_plain_read(sql: str) -> bool:
    match = _QUERY.match(sql)
    if match is None:
        return False
    return match[1].upper() == "SELECT" or _WRITE_WORD.search(sql) is None


# The byte of a WAL database's `-shm` file that SQLite's unix VFS locks (fcntl) while a
# connection holds the write lock (UNIX_SHM_BASE + WAL_WRITE_LOCK in its os_unix.c).
_WAL_WRITE_LOCK_BYTE = 120


def write_lock_holders(path: Path) -> list[str]:
    """Which other processes hold `path`'s write lock, as "process 4242 (sqlite3)".

    Read from /proc/locks (Linux) for the operator's log: empty where there is none,
    or when it cannot be told. Only the program's name is given, never its arguments.
    """
    return _lock_holders(path, _WAL_WRITE_LOCK_BYTE, kinds=("WRITE",))


def database_users(path: Path) -> list[str]:
    """Which other processes have `path` open (each SQLite connection to a WAL database
    keeps a lock on its `-shm` file while it is open), as "process 4242 (petkomm run)"."""
    return _lock_holders(path, None, kinds=("READ", "WRITE"))


def _lock_holders(path: Path, byte: int | None, *, kinds: tuple[str, ...]) -> list[str]:
    try:
        shm = Path(f"{path}-shm").stat()
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return []
    device = f"{os.major(shm.st_dev):02x}:{os.minor(shm.st_dev):02x}:{shm.st_ino}"
    holders: list[str] = []
    for line in lines:
        fields = line.split()
        if len(fields) < 8 or fields[1] not in ("POSIX", "OFDLCK") or fields[3] not in kinds:
            continue
        pid, where, start, end = fields[4], fields[5], fields[6], fields[7]
        covered = byte is None or (
            start.isdigit()
            and int(start) <= byte
            and (end == "EOF" or (end.isdigit() and int(end) >= byte))
        )
        if where != device or not covered or not pid.isdigit() or int(pid) == os.getpid():
            continue
        holder = f"process {pid} ({process_name(int(pid))})"
        if holder not in holders:
            holders.append(holder)
    return holders


def process_name(pid: int) -> str:
    """`python3 run_bot.py import` or `sqlite3`: the program, and for a script its name and
    first word (a subcommand), never the other arguments (they may hold an answer's text)."""
    try:
        name = Path(f"/proc/{pid}/comm").read_text().strip()
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    words = [os.fsdecode(arg) for arg in argv if arg]
    if len(words) >= 2 and not words[1].startswith("-"):
        script = [] if os.path.basename(words[1]) == name else [os.path.basename(words[1])]
        if len(words) >= 3 and re.fullmatch(r"[a-z][a-z-]{0,20}", words[2]):
            script.append(words[2])
        return " ".join([name, *script])
    return name


def _held_by(path: Path) -> str:
    """ ", held by process 4242 (sqlite3)" for a log line, or nothing when it cannot be told."""
    holders = write_lock_holders(path)
    return f", held by {', '.join(holders)}" if holders else ""


class Queryable(Protocol):
    """What repositories need: a Database or an open Transaction."""

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int: ...

    async def insert(self, sql: str, params: Sequence[Any] = ()) -> int: ...

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    async def fetch_one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None: ...

    async def fetch_all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]: ...

    async def fetch_value(self, sql: str, params: Sequence[Any] = ()) -> Any: ...

    def changed(self, topic: str) -> None: ...

    def erased(self) -> None: ...


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


# --- statements on a raw aiosqlite connection (no locking) --------------------------------
#
# Each statement is one trip to the connection's thread: aiosqlite's cursor calls would
# take two or three (execute, fetch, close), and every trip is a thread switch each way,
# the largest part of what a chat message costs the bot. The statement is closed (reset)
# before the trip returns: no read snapshot stays open.


def _count(conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> int:
    cursor = conn.execute(sql, params)
    try:
        return cursor.rowcount
    finally:
        cursor.close()


def _last_row_id(conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> int:
    cursor = conn.execute(sql, params)
    try:
        return int(cursor.lastrowid or 0)
    finally:
        cursor.close()


def _first(conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> sqlite3.Row | None:
    cursor = conn.execute(sql, params)
    try:
        row: sqlite3.Row | None = cursor.fetchone()
        return row
    finally:
        cursor.close()


def _all(conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> list[sqlite3.Row]:
    cursor = conn.execute(sql, params)
    try:
        return list(cursor.fetchall())
    finally:
        cursor.close()


async def _in_thread(
    conn: aiosqlite.Connection,
    run: Callable[[sqlite3.Connection, str, Sequence[Any]], T],
    sql: str,
    params: Sequence[Any],
) -> T:
    """`run(connection, sql, params)` in the connection's own thread, in one trip."""
    # aiosqlite's own call into its thread (private: it has no public one-trip call).
    call = conn._execute  # noqa: SLF001
    result: T = await call(run, conn._conn, sql, params)  # type: ignore[no-untyped-call]  # noqa: SLF001
    return result


async def _execute(conn: aiosqlite.Connection, sql: str, params: Sequence[Any] = ()) -> int:
    return await _in_thread(conn, _count, sql, params)


async def _insert(conn: aiosqlite.Connection, sql: str, params: Sequence[Any] = ()) -> int:
    return await _in_thread(conn, _last_row_id, sql, params)


async def _fetch_one(
    conn: aiosqlite.Connection, sql: str, params: Sequence[Any] = ()
) -> sqlite3.Row | None:
    return await _in_thread(conn, _first, sql, params)


async def _fetch_all(
    conn: aiosqlite.Connection, sql: str, params: Sequence[Any] = ()
) -> list[sqlite3.Row]:
    return await _in_thread(conn, _all, sql, params)


class Transaction:
    """Statements inside one BEGIN IMMEDIATE … COMMIT; the writer is already held."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn
        self.topics: list[str] = []  # one entry a change: listeners may count them
        self.erases = False

    def changed(self, topic: str) -> None:
        """Tell `topic`'s listeners once this transaction has committed."""
        self.topics.append(topic)

    def erased(self) -> None:
        """This transaction overwrote a secret: once it has committed, the write-ahead
        log's older copy of it goes too (`Database.erased`)."""
        self.erases = True

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return await _execute(self.conn, sql, params)

    async def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        return await _insert(self.conn, sql, params)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self.conn.executemany(sql, rows)

    async def fetch_one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        return await _fetch_one(self.conn, sql, params)

    async def fetch_all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return await _fetch_all(self.conn, sql, params)

    async def fetch_value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = await _fetch_one(self.conn, sql, params)
        return None if row is None else row[0]

    @property
    def total_changes(self) -> int:
        """Rows changed on this connection since it opened (for import counts)."""
        return self.conn.total_changes


class _Readers:
    """Read-only connections, each running one statement at a time.

    One at a time, because a statement left open keeps its connection's read
    snapshot: a read sharing it could miss a write committed meanwhile.
    """

    def __init__(self, conns: Sequence[aiosqlite.Connection]) -> None:
        self.conns = list(conns)
        self._idle: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        for conn in self.conns:
            self._idle.put_nowait(conn)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[aiosqlite.Connection]:
        conn = await self._idle.get()
        try:
            yield conn
        finally:
            self._idle.put_nowait(conn)


class _Scrubber:
    """Empties the write-ahead log soon after a secret was erased: a TRUNCATE checkpoint.

    It runs on the writer connection, taking its turn with this process's writes
    (so a stream of them cannot starve it), and never waits inside SQLite (busy
    timeout 0): an attempt that finds another process holding the write lock, or
    a reader still on a snapshot that needs the log's old pages, gives the writer
    back at once, having changed nothing, and is tried again a moment later.
    Requests that come within `SCRUB_DELAY` of each other are served together.
    """

    def __init__(self, path: Path, conn: aiosqlite.Connection, lock: asyncio.Lock) -> None:
        self.path = path
        self._conn = conn
        self._lock = lock
        self._due = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None

    def request(self) -> None:
        """Empty the log soon (the erasing write has committed)."""
        self._idle.clear()
        self._due.set()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"scrub {self.path.name}"
            )

    async def drained(self) -> None:
        """Return once every request so far is served (tests, benchmarks, close)."""
        await self._idle.wait()

    async def _run(self) -> None:
        while True:
            await self._due.wait()
            await asyncio.sleep(SCRUB_DELAY)
            self._due.clear()
            await self._until_empty()
            if not self._due.is_set():
                self._idle.set()

    async def _until_empty(self) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        pause = SCRUB_RETRY
        warned = False
        while True:
            try:
                if await self.attempt():
                    break
            except sqlite3.Error as exc:
                log.warning("could not empty %s-wal (%s); trying again", self.path, exc)
            waited = loop.time() - started
            if waited >= ERASED_WITHIN and not warned:
                warned = True
                log.warning(
                    "erased data is still in %s-wal after %.1f s: another process holds "
                    "its write lock or reads an old snapshot; trying until it lets go",
                    self.path,
                    waited,
                )
            await asyncio.sleep(pause)
            pause = min(pause * 2, SCRUB_RETRY_LIMIT)
        if warned:
            log.info("%s-wal emptied after %.1f s", self.path, loop.time() - started)

    async def attempt(self) -> bool:
        """One TRUNCATE checkpoint, the writer held; whether the log is empty now."""
        async with self._lock:
            await self._conn.execute("PRAGMA busy_timeout = 0")
            try:
                row = await _fetch_one(self._conn, "PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                await self._conn.execute(f"PRAGMA busy_timeout = {WRITE_ATTEMPT_MS}")
        return row is not None and int(row[0]) == 0

    async def stop(self) -> None:
        """Stop; a request not yet served gets one last attempt (the writer's close
        empties the log anyway when it is the file's last connection)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if not self._idle.is_set():
            with contextlib.suppress(sqlite3.Error):
                await self.attempt()
            self._idle.set()


class Database:
    """The process's database: autocommit statements, explicit transactions, plain reads.

    `readers` are read-only connections to the same file for plain reads; without
    them (an in-memory database) every statement uses the writer. `schema` is the
    package of its migrations (`storage.migrations.MAIN` or `.STATE`).
    """

    def __init__(
        self,
        conn: aiosqlite.Connection,
        path: Path,
        readers: Sequence[aiosqlite.Connection] = (),
        schema: str = migrations.MAIN,
    ) -> None:
        self.conn = conn
        self.path = path
        self.schema = schema
        self._readers = _Readers(readers) if readers else None
        self._lock = asyncio.Lock()
        self._listeners = _Listeners()
        self._wait_listeners: list[Listener] = []
        self._scrubber = None if str(path) == ":memory:" else _Scrubber(path, conn, self._lock)
        self.write_timeout = WRITE_TIMEOUT
        self.write_notice_after = WRITE_NOTICE_AFTER
        self._busy_until = 0.0  # skippable writes give up at once until then (SKIP_AFTER_BUSY)

    # --- listeners -------------------------------------------------------------------------

    def listen(self, topic: str, listener: Listener) -> Callable[[], None]:
        """Call `listener` after each committed write that marks `topic` changed in this
        process (repositories mark theirs, e.g. "outbox"); returns a function that stops it.

        Listeners run in the event loop right after the commit and must not block.
        """
        return self._listeners.add(topic, listener)

    def changed(self, topic: str) -> None:
        """Tell `topic`'s listeners now (an autocommit statement has committed)."""
        self._listeners.fire((topic,))

    def erased(self) -> None:
        """A committed write overwrote a secret (secure_delete): empty the write-ahead log,
        which still holds the page as it was, within `ERASED_WITHIN` seconds.

        Inside a transaction, call `Transaction.erased` instead: it waits for the commit.
        """
        if self._scrubber is not None:
            self._scrubber.request()

    async def erased_everywhere(self) -> None:
        """Return once the write-ahead log holds nothing erased so far (tests, benchmarks)."""
        if self._scrubber is not None:
            await self._scrubber.drained()

    def on_write_wait(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` whenever a write has waited `write_notice_after` seconds for the
        write lock (and goes on waiting); returns a function that stops it.

        It runs in the event loop, in the context (contextvars) of the task whose write
        waits, so it can tell whom that task serves; it must not block.
        """
        self._wait_listeners.append(listener)

        def remove() -> None:
            if listener in self._wait_listeners:
                self._wait_listeners.remove(listener)

        return remove

    def _write_waits(self, queued: list[bool]) -> None:
        if queued[0]:  # this process's own writes ahead of it: a busy moment, not a lock
            log.warning(
                "a write to %s has waited %g s behind this process's other writes",
                self.path,
                self.write_notice_after,
            )
        else:
            log.warning(
                "a write to %s has waited %g s for its write lock: another process holds it%s",
                self.path,
                self.write_notice_after,
                _held_by(self.path),
            )
        for listener in list(self._wait_listeners):
            try:
                listener()
            except Exception:  # a listener's bug must not fail the write
                log.exception("a write-wait listener failed")

    @contextmanager
    def patience(self, seconds: float, *, skippable: bool = False) -> Iterator[None]:
        """Writes in this block (in this task) wait at most `seconds` for the write lock.

        For writes that may be skipped when the database is busy (e.g. refreshing when
        a login was last seen): catch `DatabaseBusy` around the block. `skippable`
        writes (a page's: it must not wait for another process) give up at once for
        `SKIP_AFTER_BUSY` seconds after one of them found the lock held, instead of each
        waiting its `seconds` again; a write that retries in a loop must not be one.
        """
        token = _budget.set(seconds)
        skip_token = _skippable.set(skippable)
        try:
            yield
        finally:
            _skippable.reset(skip_token)
            _budget.reset(token)

    # --- the writer --------------------------------------------------------------------------

    @asynccontextmanager
    async def _writer(self, attempt: Callable[[], Awaitable[T]]) -> AsyncIterator[T]:
        """Hold the writer for the block, `attempt` (BEGIN IMMEDIATE or one autocommit
        statement) having run on it; DatabaseBusy when the write budget ran out first.

        An attempt refused because another connection holds SQLite's write lock
        changed nothing, so it is tried again until the budget is spent.
        """
        loop = asyncio.get_running_loop()
        patience = _budget.get()
        budget = self.write_timeout if patience is None else patience
        started = loop.time()
        skippable = patience is not None and _skippable.get()
        if skippable and started < self._busy_until:
            raise DatabaseBusy("database is locked: a skippable write found it so a moment ago")
        deadline = started + budget
        queued = [True]  # still behind this process's own writes (not yet at SQLite's lock)
        notice = (
            loop.call_later(self.write_notice_after, self._write_waits, queued)
            if budget > self.write_notice_after
            else None
        )
        try:
            try:
                async with asyncio.timeout_at(deadline):
                    await self._lock.acquire()
                queued[0] = False
            except TimeoutError:
                if skippable:
                    self._busy_until = loop.time() + SKIP_AFTER_BUSY
                raise DatabaseBusy(
                    f"database is locked: gave up waiting for the writer after {budget:g} s"
                ) from None
            try:
                result = await self._attempt(attempt, deadline, budget, patience is not None)
            except BaseException as error:
                self._lock.release()
                if skippable and isinstance(error, DatabaseBusy):
                    self._busy_until = loop.time() + SKIP_AFTER_BUSY
                raise
            self._busy_until = 0.0  # the lock is ours: nothing to skip for
        finally:
            if notice is not None:
                notice.cancel()
        waited = loop.time() - started
        if waited >= self.write_notice_after:
            log.warning("a write to %s waited %.1f s for its write lock", self.path, waited)
        try:
            yield result
        finally:
            self._lock.release()

    async def _attempt(
        self, attempt: Callable[[], Awaitable[T]], deadline: float, budget: float, patient: bool
    ) -> T:
        loop = asyncio.get_running_loop()
        while True:
            try:
                return await attempt()
            except sqlite3.OperationalError as exc:
                if not is_busy(exc):
                    raise
                if loop.time() >= deadline:
                    # A write that may be skipped (`patience`): its caller says what it means.
                    log.log(
                        logging.DEBUG if patient else logging.WARNING,
                        "gave up a write to %s after %g s: another process holds its write lock%s",
                        self.path,
                        budget,
                        "" if patient else _held_by(self.path),
                    )
                    raise DatabaseBusy(
                        f"database is locked: another process held it for {budget:g} s"
                    ) from exc

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """Run the block in one transaction: committed on success, rolled back on error."""
        async with self._writer(lambda: _execute(self.conn, "BEGIN IMMEDIATE")):
            tx = Transaction(self.conn)
            try:
                yield tx
            except BaseException:
                await self.conn.execute("ROLLBACK")
                raise
            await self.conn.execute("COMMIT")
        if tx.erases:
            self.erased()
        self._listeners.fire(tx.topics)

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        async with self._writer(lambda: _execute(self.conn, sql, params)) as count:
            return count

    async def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        async with self._writer(lambda: _insert(self.conn, sql, params)) as row_id:
            return row_id

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        async with self.transaction() as tx:
            await tx.executemany(sql, rows)

    # --- reads ------------------------------------------------------------------------------

    async def fetch_one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        if self._readers is not None and _is_plain_read(sql):
            async with self._readers.connection() as conn:
                return await _fetch_one(conn, sql, params)
        # A pragma or a write that returns rows: the writer's business.
        async with self._writer(lambda: _fetch_one(self.conn, sql, params)) as row:
            return row

    async def fetch_all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        if self._readers is not None and _is_plain_read(sql):
            async with self._readers.connection() as conn:
                return await _fetch_all(conn, sql, params)
        async with self._writer(lambda: _fetch_all(self.conn, sql, params)) as rows:
            return rows

    async def fetch_value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = await self.fetch_one(sql, params)
        return None if row is None else row[0]

    # --- maintenance ------------------------------------------------------------------------

    async def migrate(self) -> list[int]:
        """Apply the pending migrations in order; returns their versions."""
        async with self._lock:
            # SQLite waits for the lock itself here, as long as a reader would.
            await self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            try:
                applied = await migrations.apply_migrations(self.conn, self.schema)
            finally:
                await self.conn.execute(f"PRAGMA busy_timeout = {WRITE_ATTEMPT_MS}")
        for version in applied:
            log.info("applied migration %04d to %s", version, self.path)
        if applied:
            self.erased()  # a migration may have erased something (0006 did: code mails)
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
        """Close the connections (the writer last: it checkpoints the WAL)."""
        if self._scrubber is not None:
            await self._scrubber.stop()
        if self._readers is not None:
            for reader in self._readers.conns:
                await reader.close()
        await self.conn.close()


async def _connect(path: Path, busy_timeout_ms: int) -> aiosqlite.Connection:
    conn = aiosqlite.connect(path, isolation_level=None)
    try:
        await conn
    except BaseException:
        # aiosqlite stops its thread but does not wait for it: the thread would answer a
        # closed event loop later ("Event loop is closed", a traceback after our one line).
        await asyncio.to_thread(conn._thread.join, 5)  # noqa: SLF001 - no public way to wait
        raise
    try:
        conn.row_factory = sqlite3.Row
        await conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
        await conn.execute("PRAGMA foreign_keys = ON")
    except BaseException:
        await conn.close()  # its thread would otherwise outlive the event loop
        raise
    return conn


def path_problem(path: Path) -> str | None:
    """Why `path` can never be a database file (a folder; under a file), or None."""
    if path.is_dir():
        return "is a folder, not a database file"
    for folder in path.parents:
        if folder.exists() or folder.is_symlink():
            if not folder.is_dir():
                return f"{folder} is a file, not a folder"
            break
    return None


def _usable_path(path: Path, *, create: bool = True) -> None:
    """Refuse at once what cannot be a database file (DatabaseUnusable), creating the
    folder it goes in if needed (and allowed: DatabaseMissing otherwise)."""
    problem = path_problem(path)
    if problem is not None:
        raise DatabaseUnusable(path, problem)
    parent = path.parent
    made = [folder for folder in [parent, *parent.parents] if not folder.exists()]
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise DatabaseUnusable(path, f"{parent} is a file, not a folder") from None
    except OSError as error:
        why = error.strerror or str(error)
        raise DatabaseUnusable(path, f"its folder {parent} cannot be made: {why}") from None
    if not create and not path.exists():
        # The folders were made only to learn whether they could be: a mistyped path
        # leaves nothing behind.
        for folder in made:
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise DatabaseMissing(path)
    # Never open() the file to look at it: closing any descriptor of a file drops every
    # POSIX lock this process holds on it, SQLite's included (a second Database on the
    # same file in this process would lose its locks). SQLite's own answer says enough.


def _unusable(path: Path, error: sqlite3.Error) -> DatabaseUnusable:
    text = str(error)
    if "not a database" in text:
        return DatabaseUnusable(path, "is not a SQLite database (another kind of file)")
    if "unable to open" in text:
        why = permission_problem(path)
        return DatabaseUnusable(
            path, f"cannot be opened: {why}" if why else "cannot be opened (check its permissions)"
        )
    if "readonly" in text:
        return _read_only(path)
    return DatabaseUnusable(path, f"cannot be used: {text}")


def _read_only(path: Path) -> DatabaseUnusable:
    why = permission_problem(path) or "SQLite opened it read-only"
    return DatabaseUnusable(path, f"cannot be written: {why}")


def _user() -> str:
    import pwd

    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def _owner(stat: os.stat_result) -> str:
    import pwd

    try:
        return pwd.getpwuid(stat.st_uid).pw_name
    except KeyError:
        return str(stat.st_uid)


def permission_problem(path: Path) -> str | None:
    """Which of the database's files, or its folder, this user may not read and write, as
    "/var/lib/petkomm/petkomm.sqlite3 is not writable by user petkomm (owner root, mode
    0644)"; None when the permissions allow everything SQLite needs."""
    files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
    for file in files:
        try:
            stat = file.stat()
        except OSError:
            continue
        if not os.access(file, os.R_OK | os.W_OK):
            return (
                f"{file} is not {'writable' if os.access(file, os.R_OK) else 'readable'} "
                f"by user {_user()} (owner {_owner(stat)}, mode {stat.st_mode & 0o7777:04o})"
            )
    folder = path.parent
    missing = [f for f in files[1:] if not f.exists()]
    # SQLite makes the -wal and -shm files beside the database: the folder must let it.
    if missing and not os.access(folder, os.W_OK | os.X_OK):
        try:
            stat = folder.stat()
        except OSError:
            return f"its folder {folder} cannot be read"
        return (
            f"its folder {folder} is not writable by user {_user()} (owner {_owner(stat)}, "
            f"mode {stat.st_mode & 0o7777:04o}), and SQLite makes {missing[0].name} there"
        )
    return None


async def open_database(
    path: Path | str, migrate: bool = True, *, schema: str = migrations.MAIN, create: bool = True
) -> Database:
    """Open (creating if needed) the database file, set pragmas, apply `schema`'s
    migrations (the main database's by default; `open_state_database` for the other).

    Raises DatabaseUnusable when the file cannot serve: not a database, not writable by
    this user, at a version newer than this program; DatabaseMissing when it does not
    exist and `create` is false (a command that only reads or mends what is there).
    """
    path = Path(path)
    in_memory = str(path) == ":memory:"
    if not in_memory:
        _usable_path(path, create=create)
    try:
        conn = await _connect(path, WRITE_ATTEMPT_MS)
    except sqlite3.Error as error:
        raise _unusable(path, error) from None
    readers: list[aiosqlite.Connection] = []
    try:
        # Switching to WAL needs the file to itself: wait for it like a reader would.
        await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        await conn.execute("PRAGMA journal_mode = WAL")
        await conn.execute(f"PRAGMA busy_timeout = {WRITE_ATTEMPT_MS}")
        await conn.execute("PRAGMA synchronous = NORMAL")
        # Freed bytes are overwritten, not left in the file: a handled message that held a
        # password, a sent code mail's body (the repositories that free such bytes also ask
        # for it on the writes that do, in case the setting was changed on the connection).
        await conn.execute("PRAGMA secure_delete = ON")
        if not in_memory:
            for _ in range(READERS):
                reader = await _connect(path, BUSY_TIMEOUT_MS)
                readers.append(reader)
                await reader.execute("PRAGMA query_only = ON")
            await _refuse_newer(conn, path, schema)
            await _probe_write(conn, path)
    except BaseException as error:
        for reader in readers:
            await reader.close()
        await conn.close()
        if isinstance(error, sqlite3.Error) and not is_busy(error):
            raise _unusable(path, error) from None
        raise
    db = Database(conn, path, readers, schema)
    if migrate:
        try:
            await db.migrate()
        except BaseException:
            await db.close()
            raise
    return db


async def _refuse_newer(conn: aiosqlite.Connection, path: Path, schema: str) -> None:
    """DatabaseUnusable when a newer program has migrated the file further than this one
    knows: writing to it with the older code could damage what the newer one keeps."""
    known = await _fetch_one(
        conn, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    )
    if known is None:
        return
    row = await _fetch_one(conn, "SELECT max(version) FROM schema_migrations")
    version = int(row[0] or 0) if row is not None else 0
    latest = max((m.version for m in migrations.available_migrations(schema)), default=0)
    if version > latest:
        raise DatabaseUnusable(path, newer_than_program(version, latest))


def newer_than_program(version: int, latest: int) -> str:
    """The reason given for a database a newer program has migrated."""
    return (
        f"at version {version}, newer than this program ({latest}): upgrade the program, "
        "or restore a backup made with this version"
    )


async def _probe_write(conn: aiosqlite.Connection, path: Path) -> None:
    """DatabaseUnusable when this user cannot write the file (restored by root, say).

    SQLite opens such a file read-only without a word, and even lets BEGIN IMMEDIATE
    through; only the first write would fail, deep in some command. A write of the
    header's own value in a transaction rolled back at once tells now and changes nothing.
    When another process holds the write lock, the file's permissions must tell.
    """
    try:
        await _execute(conn, "BEGIN IMMEDIATE")
    except sqlite3.OperationalError as error:
        if not is_busy(error):
            raise
        if not os.access(path, os.W_OK):
            raise _read_only(path) from None
        return
    try:
        row = await _fetch_one(conn, "PRAGMA user_version")
        await _execute(conn, f"PRAGMA user_version = {int(row[0]) if row is not None else 0}")
    except sqlite3.OperationalError as error:
        if "readonly" in str(error):
            raise _read_only(path) from None
        raise
    finally:
        await _execute(conn, "ROLLBACK")


async def open_state_database(
    path: Path | str, migrate: bool = True, *, create: bool = True
) -> Database:
    """Open (creating if needed) the bot's own state file: its dialogue states and the
    Telegram updates it received (`storage.state_migrations`)."""
    return await open_database(path, migrate, schema=migrations.STATE, create=create)
