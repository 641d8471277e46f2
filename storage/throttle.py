"""Throttling counters: failed attempts in a window, and lockouts."""

from __future__ import annotations

from storage.db import Queryable


async def record(db: Queryable, scope: str, key: str, now: float) -> None:
    """Remember one attempt."""
    await db.execute(
        "INSERT INTO throttle_events(scope, key, at) VALUES (?, ?, ?)", (scope, key, now)
    )


async def count_since(db: Queryable, scope: str, key: str, since: float) -> int:
    """Attempts recorded at or after `since`."""
    return int(
        await db.fetch_value(
            "SELECT count(*) FROM throttle_events WHERE scope = ? AND key = ? AND at >= ?",
            (scope, key, since),
        )
    )


async def clear(db: Queryable, scope: str, key: str) -> None:
    """Forget the attempts (after a success) and any lock."""
    await db.execute("DELETE FROM throttle_events WHERE scope = ? AND key = ?", (scope, key))
    await db.execute("DELETE FROM throttle_locks WHERE scope = ? AND key = ?", (scope, key))


async def clear_events(db: Queryable, scope: str, key: str) -> None:
    """Forget the attempts but keep a lock (a lock starts a fresh window)."""
    await db.execute("DELETE FROM throttle_events WHERE scope = ? AND key = ?", (scope, key))


async def lock(db: Queryable, scope: str, key: str, until: float) -> None:
    await db.execute(
        "INSERT INTO throttle_locks(scope, key, locked_until) VALUES (?, ?, ?)"
        " ON CONFLICT(scope, key) DO UPDATE SET locked_until = excluded.locked_until",
        (scope, key, until),
    )


async def locked_until(db: Queryable, scope: str, key: str, now: float) -> float | None:
    """The end of a lock still in force, if any."""
    value = await db.fetch_value(
        "SELECT locked_until FROM throttle_locks WHERE scope = ? AND key = ? AND locked_until > ?",
        (scope, key, now),
    )
    return float(value) if value is not None else None


async def prune(db: Queryable, before: float, keep_scopes: tuple[str, ...] = ()) -> int:
    """Drop attempts older than `before` (but those of `keep_scopes`) and ended locks."""
    marks = ",".join("?" * len(keep_scopes)) or "NULL"
    dropped = await db.execute(
        f"DELETE FROM throttle_events WHERE at < ? AND scope NOT IN ({marks})",
        (before, *keep_scopes),
    )
    await db.execute("DELETE FROM throttle_locks WHERE locked_until < ?", (before,))
    return dropped
