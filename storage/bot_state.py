"""Conversation states and per-user data of the Telegram bot (its persistence).

They live in the bot's own state file (`storage.state_migrations`); the main
database keeps an old `bot_state` table, whose rows are carried over once.
"""

from __future__ import annotations

from collections.abc import Sequence

from storage.db import Queryable, Transaction


async def load_kind(db: Queryable, kind: str) -> dict[str, str]:
    """Every key -> JSON value stored under `kind`."""
    rows = await db.fetch_all("SELECT key, value FROM bot_state WHERE kind = ?", (kind,))
    return {row[0]: row[1] for row in rows}


async def put(db: Queryable, kind: str, key: str, value: str) -> None:
    await db.execute(
        "INSERT INTO bot_state(kind, key, value) VALUES (?, ?, ?)"
        " ON CONFLICT(kind, key) DO UPDATE SET value = excluded.value",
        (kind, key, value),
    )


async def drop(db: Queryable, kind: str, key: str) -> None:
    await db.execute("DELETE FROM bot_state WHERE kind = ? AND key = ?", (kind, key))


# --- the one carry-over from the main database into the state file ---------------------------


async def all_rows(db: Queryable) -> list[tuple[str, str, str]]:
    """Every (kind, key, value) row."""
    rows = await db.fetch_all("SELECT kind, key, value FROM bot_state ORDER BY kind, key")
    return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]


async def put_new(tx: Transaction, rows: Sequence[tuple[str, str, str]]) -> None:
    """Add (kind, key, value) rows; a key already there keeps its value."""
    await tx.executemany(
        "INSERT INTO bot_state(kind, key, value) VALUES (?, ?, ?)"
        " ON CONFLICT(kind, key) DO NOTHING",
        rows,
    )


async def drop_all(db: Queryable) -> int:
    """Forget every row (overwriting their bytes); returns how many."""
    await db.execute("PRAGMA secure_delete = ON")
    dropped = await db.execute("DELETE FROM bot_state")
    db.erased()
    return dropped


async def carried_over(db: Queryable) -> bool:
    """Whether this state file has had the main database's rows carried over."""
    return await db.fetch_value("SELECT 1 FROM carried_over") is not None


async def mark_carried_over(tx: Transaction, now: float, rows: int) -> None:
    """Record the carry-over (in its transaction)."""
    await tx.execute("INSERT INTO carried_over(id, at, rows) VALUES (1, ?, ?)", (now, rows))
