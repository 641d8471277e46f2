"""Throttling rules and their housekeeping."""

from __future__ import annotations

import asyncio

from core import throttle
from storage import throttle as store

NOW = 1_795_600_000.0


async def test_failures_lock_at_the_limit_and_success_forgets_them(db):
    rule = throttle.CODE_MAIL_ACCOUNT
    for _ in range(rule.limit - 1):
        assert await throttle.failure(db, rule, 7, NOW) is None
    until = await throttle.failure(db, rule, 7, NOW)
    assert until == NOW + rule.lock_for
    assert await throttle.locked(db, rule, 7, NOW + 60) == until
    assert await throttle.locked(db, rule, 7, until + 1) is None
    await throttle.failure(db, rule, 8, NOW)
    await throttle.success(db, rule, 8)
    assert await store.count_since(db, rule.scope, "8", 0) == 0


async def test_housekeeping_forgets_old_attempts_but_keeps_memories(db):
    await store.record(db, "login:tg", "tg:1", NOW - 3 * 86400)
    await store.record(db, "login:tg", "tg:1", NOW - 60)
    await store.record(db, "selfhelp", "12:forgotten_password", NOW - 30 * 86400)
    dropped = await throttle.housekeeping(db, NOW, keep_scopes=("selfhelp",))
    assert dropped == 1
    assert await store.count_since(db, "login:tg", "tg:1", 0) == 1
    assert await store.count_since(db, "selfhelp", "12:forgotten_password", 0) == 1


# --- guarding a secret (issue 10) -------------------------------------------------------

GUARD = throttle.Guard(
    "test",
    per_pair=throttle.Limit(3, 600),
    per_guesser=throttle.Limit(5, 3600),
    per_target=throttle.Limit(8, 3600),
)


async def reserve(db, guesser: str, target: str, now: float = NOW) -> throttle.Attempt:
    async with db.transaction() as tx:
        return await throttle.reserve(tx, GUARD, guesser, target, now)


async def test_concurrent_guesses_are_counted_before_any_is_checked(db):
    attempts = await asyncio.gather(*(reserve(db, f"tg:{i}", "acct") for i in range(30)))
    assert sum(a.id is not None for a in attempts) == GUARD.per_target.count
    refused = [a for a in attempts if a.id is None]
    assert refused and all(a.locked_until == NOW + 3600 for a in refused)


async def test_the_lock_ends_when_the_oldest_counted_guess_leaves_the_window(db):
    for minute in range(3):
        assert (await reserve(db, "tg:1", "acct", NOW + 60 * minute)).id is not None
    refused = await reserve(db, "tg:1", "acct", NOW + 180)
    assert refused.locked_until == NOW + 600  # the first guess, ten minutes on
    assert (await reserve(db, "tg:1", "acct", NOW + 601)).id is not None


async def test_a_success_forgives_only_the_failures_against_its_own_target(db):
    for target in ("other-1", "other-2", "mine", "mine"):
        await reserve(db, "tg:1", target)
    right = await reserve(db, "tg:1", "mine")
    async with db.transaction() as tx:
        await throttle.succeeded(tx, right, NOW)
    assert await store.count_since(db, "test", "tg:1", 0) == 2  # the two against others stay
    for target in ("other-3", "other-4", "other-5"):
        assert (await reserve(db, "tg:1", target)).id is not None
    assert (await reserve(db, "tg:1", "other-6")).locked_until is not None  # 5 an hour


async def test_strangers_together_never_lock_out_who_has_succeeded_before(db):
    owner = await reserve(db, "tg:owner", "acct")
    async with db.transaction() as tx:
        await throttle.succeeded(tx, owner, NOW)
    for i in range(GUARD.per_target.count):
        await reserve(db, f"tg:{i}", "acct")
    assert (await reserve(db, "tg:stranger", "acct")).locked_until is not None
    assert (await reserve(db, "tg:owner", "acct")).id is not None
    # The owner is still held by their own pair limit.
    for _ in range(GUARD.per_pair.count - 1):
        await reserve(db, "tg:owner", "acct")
    assert (await reserve(db, "tg:owner", "acct")).locked_until is not None
