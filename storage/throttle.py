"""Throttling: attempts in sliding windows, lockouts, and who has succeeded before.

An attempt (`throttle_events`) belongs to a scope ('login', 'autoreply', …), a
key (who: 'tg:123', an address) and, for guessed secrets, a target (what was
guessed: an account, a customer ID). `throttle_trust` remembers who has
succeeded against a target; `throttle_locks` holds the fixed-length locks of
the simple rate limits.
"""

from __future__ import annotations

from storage.db import Queryable


async def record(db: Queryable, scope: str, key: str, now: float, target: str = "") -> int:
    """Remember one attempt; returns its id."""
    return await db.insert(
        "INSERT INTO throttle_events(scope, key, target, at) VALUES (?, ?, ?, ?)",
        (scope, key, target, now),
    )


async def count_since(db: Queryable, scope: str, key: str, since: float) -> int:
    """Attempts recorded at or after `since`."""
    return int(
        await db.fetch_value(
            "SELECT count(*) FROM throttle_events WHERE scope = ? AND key = ? AND at >= ?",
            (scope, key, since),
        )
    )


# The moment of the n-th newest attempt after a moment: once it leaves the window, fewer
# than n are left in it. One query per way of counting, each served by an index.
_NTH_NEWEST_OF_KEY = (
    "SELECT at FROM throttle_events WHERE scope = ? AND key = ? AND at > ?"
    " ORDER BY at DESC LIMIT 1 OFFSET ?"
)
_NTH_NEWEST_OF_PAIR = (
    "SELECT at FROM throttle_events WHERE scope = ? AND key = ? AND target = ? AND at > ?"
    " ORDER BY at DESC LIMIT 1 OFFSET ?"
)
_NTH_NEWEST_OF_TARGET = (
    "SELECT at FROM throttle_events WHERE scope = ? AND target = ? AND at > ?"
    " ORDER BY at DESC LIMIT 1 OFFSET ?"
)


async def nth_newest_of_key(
    db: Queryable, scope: str, key: str, since: float, n: int
) -> float | None:
    """When the key's n-th newest attempt after `since` was made, if there are n."""
    return _moment(await db.fetch_value(_NTH_NEWEST_OF_KEY, (scope, key, since, n - 1)))


async def nth_newest_of_pair(
    db: Queryable, scope: str, key: str, target: str, since: float, n: int
) -> float | None:
    """The same for the key's attempts against one target."""
    return _moment(await db.fetch_value(_NTH_NEWEST_OF_PAIR, (scope, key, target, since, n - 1)))


async def nth_newest_of_target(
    db: Queryable, scope: str, target: str, since: float, n: int
) -> float | None:
    """The same for everyone's attempts against one target."""
    return _moment(await db.fetch_value(_NTH_NEWEST_OF_TARGET, (scope, target, since, n - 1)))


def _moment(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


async def drop(db: Queryable, attempt_id: int) -> None:
    """Forget one attempt (it turned out not to be a wrong guess)."""
    await db.execute("DELETE FROM throttle_events WHERE rowid = ?", (attempt_id,))


async def forget_pair(db: Queryable, scope: str, key: str, target: str) -> None:
    """Forget the key's attempts against one target (after its success there)."""
    await db.execute(
        "DELETE FROM throttle_events WHERE scope = ? AND key = ? AND target = ?",
        (scope, key, target),
    )


async def trust(db: Queryable, scope: str, target: str, key: str, now: float) -> None:
    """Remember that the key has succeeded against the target."""
    await db.execute(
        "INSERT INTO throttle_trust(scope, target, guesser, at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT(scope, target, guesser) DO UPDATE SET at = excluded.at",
        (scope, target, key, now),
    )


async def trusted(db: Queryable, scope: str, target: str, key: str) -> bool:
    """Has the key ever succeeded against the target?"""
    return (
        await db.fetch_value(
            "SELECT 1 FROM throttle_trust WHERE scope = ? AND target = ? AND guesser = ?",
            (scope, target, key),
        )
        is not None
    )


async def trusts_any(db: Queryable, scope: str, key: str) -> bool:
    """Has the key ever succeeded against any target of the scope?"""
    return (
        await db.fetch_value(
            "SELECT 1 FROM throttle_trust WHERE scope = ? AND guesser = ? LIMIT 1", (scope, key)
        )
        is not None
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
    """Drop attempts older than `before` (but those of `keep_scopes`) and ended locks.

    Who has succeeded before (`throttle_trust`) is a memory and is kept.
    """
    marks = ",".join("?" * len(keep_scopes)) or "NULL"
    dropped = await db.execute(
        f"DELETE FROM throttle_events WHERE at < ? AND scope NOT IN ({marks})",
        (before, *keep_scopes),
    )
    await db.execute("DELETE FROM throttle_locks WHERE locked_until < ?", (before,))
    return dropped
