"""Throttling rules and their housekeeping."""

from __future__ import annotations

from core import throttle
from storage import throttle as store

NOW = 1_795_600_000.0


async def test_failures_lock_at_the_limit_and_success_forgets_them(db):
    rule = throttle.LOGIN_ACCOUNT
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
