"""Conversation states and per-user data of the Telegram bot (its persistence)."""

from __future__ import annotations

from storage.db import Queryable


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
