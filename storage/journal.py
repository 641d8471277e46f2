"""The effect journal (`effect_journal`): what a message has already done, and its result.

A row is written in the transaction of the effect it records, so the two are
never apart; the primary key (message, effect) refuses a second row, so an
effect cannot commit twice for one message even if a caller forgot to look.
"""

from __future__ import annotations

from storage.db import Queryable


async def result_of(db: Queryable, message: str, effect: str) -> str | None:
    """The JSON result recorded for this message's effect; None when it was not done."""
    value = await db.fetch_value(
        "SELECT result FROM effect_journal WHERE message = ? AND effect = ?", (message, effect)
    )
    return None if value is None else str(value)


async def add(db: Queryable, message: str, effect: str, result: str, at: float) -> None:
    """Record that the message did the effect (inside the effect's transaction)."""
    await db.execute(
        "INSERT INTO effect_journal(message, effect, result, at) VALUES (?, ?, ?, ?)",
        (message, effect, result, at),
    )


async def prune(db: Queryable, before: float) -> int:
    """Forget the entries recorded before `before`; returns how many."""
    return await db.execute("DELETE FROM effect_journal WHERE at < ?", (before,))
