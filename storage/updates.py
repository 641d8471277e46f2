"""Telegram updates as stored (`telegram_updates`): kept before Telegram is told, handled from here.

A row is 'received' from the moment it is stored until the transaction that
keeps the dialogue state its handling left marks it 'done' (or it is set
aside as 'failed'); either clears its payload, overwriting its bytes (in the
write-ahead log too, within `storage.db.ERASED_WITHIN` seconds). Rows are handled in `id`
order; `update_id` is unique, so an update delivered twice is stored once.
The table is in the bot's own state file (`storage.state_migrations`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from storage.db import Queryable, Transaction

RECEIVED = "received"
DONE = "done"
FAILED = "failed"

# The change topic: updates were stored (`Database.listen`).
TOPIC = "telegram_updates"


@dataclass(frozen=True)
class StoredUpdate:
    """One update waiting to be handled."""

    id: int  # the arrival order
    update_id: int  # Telegram's
    payload: str  # the update's JSON
    attempts: int  # the handler's starts on it so far (this one included, once taken)


async def insert_received(tx: Transaction, updates: Sequence[tuple[int, str]], now: float) -> int:
    """Store updates, (update_id, JSON) each, as 'received'; an update_id already stored
    (or twice in the lot) is skipped. Returns how many were new."""
    before = tx.total_changes
    await tx.executemany(
        "INSERT INTO telegram_updates(update_id, payload, received_at) VALUES (?, ?, ?)"
        " ON CONFLICT(update_id) DO NOTHING",
        [(update_id, payload, now) for update_id, payload in updates],
    )
    added = tx.total_changes - before
    if added:
        tx.changed(TOPIC)
    return added


async def waiting(db: Queryable, after: int, limit: int) -> list[StoredUpdate]:
    """'received' updates stored after row `after`, oldest first."""
    rows = await db.fetch_all(
        "SELECT id, update_id, payload, attempts FROM telegram_updates"
        " WHERE status = 'received' AND id > ? ORDER BY id LIMIT ?",
        (after, limit),
    )
    return [StoredUpdate(int(r[0]), int(r[1]), str(r[2]), int(r[3])) for r in rows]


async def count_waiting(db: Queryable) -> int:
    """How many updates wait to be handled."""
    return int(
        await db.fetch_value("SELECT count(*) FROM telegram_updates WHERE status = 'received'")
    )


async def oldest_waiting(db: Queryable) -> float | None:
    """When the oldest update that waits to be handled was stored (None: nothing waits)."""
    value = await db.fetch_value(
        "SELECT min(received_at) FROM telegram_updates WHERE status = 'received'"
    )
    return float(value) if value is not None else None


async def count_attempt(tx: Transaction, ids: Sequence[int]) -> None:
    """One more start of the handler on each of these rows."""
    await tx.executemany(
        "UPDATE telegram_updates SET attempts = attempts + 1 WHERE id = ?", [(i,) for i in ids]
    )


async def finish(tx: Transaction, update_ids: Sequence[int], status: str, now: float) -> None:
    """Give waiting updates their final status ('done' or 'failed') and forget their payload.

    The payload's bytes are overwritten on disk, not merely freed (a message may hold
    a password): many SQLite builds do that by default, not all, so it is asked for;
    and once the transaction commits, the write-ahead log's copy goes too (`erased`).
    """
    if not update_ids:
        return
    await tx.execute("PRAGMA secure_delete = ON")
    await tx.executemany(
        "UPDATE telegram_updates SET status = ?, payload = NULL, done_at = ?"
        " WHERE update_id = ? AND status = 'received'",
        [(status, now, update_id) for update_id in update_ids],
    )
    tx.erased()


async def status_of(db: Queryable, update_id: int) -> str | None:
    """An update's status (None when it was never stored, or is forgotten)."""
    value = await db.fetch_value(
        "SELECT status FROM telegram_updates WHERE update_id = ?", (update_id,)
    )
    return None if value is None else str(value)


async def prune(db: Queryable, before: float) -> int:
    """Forget updates finished before `before`; returns how many."""
    return await db.execute(
        "DELETE FROM telegram_updates WHERE status <> 'received' AND done_at < ?", (before,)
    )
