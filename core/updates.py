"""Customer messages kept durably, the way the mailbox keeps mail: store first, work from the store.

python-telegram-bot would confirm an update to Telegram as soon as it has
fetched it, so a process killed mid-answer lost the message for good. The
chat door (`bot.updates`) instead:

1. stores every fetched update here (`store`) BEFORE Telegram is told the
   bot has it: before the next getUpdates, whose offset confirms it, or
   before the webhook answers 200;
2. hands the stored updates to the handlers, oldest first (`take`, which
   counts each start so that an update that keeps killing the process is
   set aside after `MAX_ATTEMPTS`);
3. marks an update done in the transaction that keeps the dialogue state its
   handler left (`finish`), so the two are never apart: after a crash an
   update is either done with its state kept, or still waiting, with the
   state as it was before it, and is handled again (what its handler had
   already done in the main database is not done twice: `core.journal`).

A handled update keeps only its id, as long as Telegram could send it again
(`KEEP_FINISHED`); its payload, which may hold a password, is cleared at once.
Here an update is its Telegram id and its JSON text: no Telegram types.

Every `db` here is the bot's own state file (`core.db.open_state_database`,
PETKOMM_STATE_DB), which also holds the dialogue states (`core.chat_state`) and
which only the running service writes: another process holding the main
database's write lock (the daily import) never holds up storing or finishing an
update.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from storage import updates as table
from storage.db import Database, Transaction
from storage.updates import TOPIC, StoredUpdate

# An update whose handling the process did not survive this many times is set aside.
MAX_ATTEMPTS = 3
# Telegram keeps an unconfirmed update for 24 hours: a handled one is remembered longer,
# so that it is recognised if it comes again (and forgotten well within the quiet week
# after which Telegram may start its update ids afresh).
KEEP_FINISHED = 2 * 24 * 3600.0

# A write that must commit together with the done marks (a dialogue's new state).
Write = Callable[[Transaction], Awaitable[None]]


@dataclass(frozen=True)
class Batch:
    """The next waiting updates: those to handle, and those set aside now."""

    handle: list[StoredUpdate] = field(default_factory=list)
    set_aside: list[StoredUpdate] = field(default_factory=list)

    @property
    def last(self) -> int:
        """The newest row taken (0 for none)."""
        return max((u.id for u in (*self.handle, *self.set_aside)), default=0)


async def store(db: Database, updates: Sequence[tuple[int, str]], now: float) -> int:
    """Keep fetched updates, (update_id, JSON) each, as waiting, in one transaction.

    An update stored before (Telegram sent it again) is skipped. Returns how
    many were new; listeners of `TOPIC` hear of them after the commit.
    """
    if not updates:
        return 0
    async with db.transaction() as tx:
        return await table.insert_received(tx, updates, now)


async def take(db: Database, after: int, limit: int, now: float) -> Batch:
    """The waiting updates stored after row `after` (at most `limit`), oldest first.

    Each start is counted and committed before any handler runs, so a start
    that dies with the process counts too; an update started `MAX_ATTEMPTS`
    times already is set aside ('failed', its payload cleared) instead. When nothing
    waits, nothing is written (the write lock, which another process may hold, is
    not even asked for).

    The rows are read once, before the transaction: this process alone writes the
    state file, and only this feed changes a waiting row after `after`, so what was
    read is still so when the transaction counts it (a message's one read, not two).
    """
    rows = await table.waiting(db, after, limit)
    if not rows:
        return Batch()
    spent = [u for u in rows if u.attempts >= MAX_ATTEMPTS]
    handle = [
        StoredUpdate(u.id, u.update_id, u.payload, u.attempts + 1)
        for u in rows
        if u.attempts < MAX_ATTEMPTS
    ]
    async with db.transaction() as tx:
        await table.count_attempt(tx, [u.id for u in handle])
        await table.finish(tx, [u.update_id for u in spent], table.FAILED, now)
    return Batch(handle, spent)


async def finish(
    db: Database, update_ids: Sequence[int], writes: Sequence[Write], now: float
) -> None:
    """Mark handled updates done in one transaction with `writes` (the state they left)."""
    async with db.transaction() as tx:
        for write in writes:
            await write(tx)
        await table.finish(tx, update_ids, table.DONE, now)


async def set_aside(db: Database, update_id: int, now: float) -> None:
    """Give up on an update that cannot be handled (e.g. it cannot be read)."""
    async with db.transaction() as tx:
        await table.finish(tx, [update_id], table.FAILED, now)


async def status(db: Database, update_id: int) -> str | None:
    """'received', 'done' or 'failed'; None when the update is not (or no longer) stored."""
    return await table.status_of(db, update_id)


async def waiting_count(db: Database) -> int:
    """How many stored updates wait to be handled."""
    return await table.count_waiting(db)


@dataclass(frozen=True)
class Backlog:
    """How far behind the handling of stored updates is (the webhook's health URL)."""

    waiting: int
    oldest_age: float | None  # seconds the oldest waiting update has waited


async def backlog(db: Database, now: float) -> Backlog:
    """How many updates wait, and for how long the oldest has."""
    oldest = await table.oldest_waiting(db)
    return Backlog(await table.count_waiting(db), None if oldest is None else now - oldest)


async def housekeeping(db: Database, now: float) -> int:
    """Forget updates finished more than `KEEP_FINISHED` ago; returns how many."""
    return await table.prune(db, now - KEEP_FINISHED)


__all__ = [
    "KEEP_FINISHED",
    "MAX_ATTEMPTS",
    "TOPIC",
    "Batch",
    "StoredUpdate",
    "Write",
    "finish",
    "housekeeping",
    "set_aside",
    "status",
    "store",
    "take",
    "waiting_count",
]
