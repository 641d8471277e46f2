"""Throttling of every secret-guessing path, as named rules.

A rule counts failures (or uses) of one key within a window; reaching the
limit locks the key for a while. Callers check `locked` first, then report
`failure`/`success`. Keys are what is guessed against (an account, a customer
ID) and who guesses (a Telegram user), so both are throttled.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage import throttle as store
from storage.db import Queryable

MINUTE = 60.0
HOUR = 60 * MINUTE


@dataclass(frozen=True)
class Rule:
    scope: str
    limit: int
    window: float  # seconds
    lock_for: float  # seconds


LOGIN_ACCOUNT = Rule("login:account", 5, 15 * MINUTE, 15 * MINUTE)
LOGIN_USER = Rule("login:tg", 10, 15 * MINUTE, 15 * MINUTE)
PROOF_USER = Rule("proof:tg", 5, HOUR, HOUR)
PROOF_CUSTOMER = Rule("proof:customer", 5, HOUR, HOUR)
CODE_USER = Rule("code:tg", 5, 15 * MINUTE, 15 * MINUTE)
CODE_MAIL_ACCOUNT = Rule("code-mail:account", 3, HOUR, HOUR)
REPORT_USER = Rule("report:tg", 10, HOUR, HOUR)


async def locked(db: Queryable, rule: Rule, key: str | int, now: float) -> float | None:
    """When the key's lock ends, if it is locked now."""
    return await store.locked_until(db, rule.scope, str(key), now)


async def failure(db: Queryable, rule: Rule, key: str | int, now: float) -> float | None:
    """Count a failure; returns the lock's end when this one reached the limit."""
    await store.record(db, rule.scope, str(key), now)
    if await store.count_since(db, rule.scope, str(key), now - rule.window) >= rule.limit:
        until = now + rule.lock_for
        await store.lock(db, rule.scope, str(key), until)
        await store.clear_events(db, rule.scope, str(key))
        return until
    return None


async def success(db: Queryable, rule: Rule, key: str | int) -> None:
    """Forget the key's failures."""
    await store.clear(db, rule.scope, str(key))


async def use(db: Queryable, rule: Rule, key: str | int, now: float) -> float | None:
    """Count one use of a rate-limited action; None if allowed, else when it is allowed again."""
    until = await locked(db, rule, key, now)
    if until is not None:
        return until
    await failure(db, rule, key, now)  # the limit-th use still passes, the next one waits
    return None


# The longest window of any rule above (the mail worker's auto-answer limit is 3 hours).
LONGEST_WINDOW = 24 * HOUR


async def housekeeping(db: Queryable, now: float, keep_scopes: tuple[str, ...] = ()) -> int:
    """Forget attempts no rule looks at any more, so the table does not grow forever.

    `keep_scopes` are scopes used as a memory rather than a window (the mail
    worker's "this self-help was sent in this ticket").
    """
    return await store.prune(db, now - LONGEST_WINDOW, keep_scopes)
