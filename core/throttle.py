"""Throttling of every secret-guessing path, and of the simple rate limits.

A secret (a password, a registration proof, a code) is guarded by a `Guard`:
sliding windows over one log of attempts, each attempt naming who guesses (a
Telegram user) and what is guessed (an account, a customer ID).

- The attempt is counted *before* it is checked (`reserve`, inside the
  caller's write transaction: look, count and record at once), so that
  concurrent guesses never evaluate more than the limits allow, however slow
  the check (Argon2 takes ~120 ms).
- `per_pair` stops one guesser against one target; `per_guesser` counts one
  guesser against every target, and a success (`succeeded`) forgives only the
  failures against its own target, so owning one real account buys no
  guesses against the others.
- `per_target` counts every guesser against one target, so that many
  guessers together are stopped too.
- Whoever has succeeded against a target before is remembered there and held
  by `per_pair` alone: strangers' failures never lock the owner out, and the
  owner's own stumbles elsewhere never lock them out of what is theirs.
- A guard with `under_siege` does not close a target to every stranger once
  `per_target` is reached (that would let strangers lock out an owner who has
  never succeeded yet, e.g. a first-time registrant): the target is "under
  siege" and each stranger may still make `under_siege` attempts there (one a
  day), so a newcomer's first attempt is always evaluated while many guessers
  together get one guess each.

A simple rate limit (`Rule`, `use`) counts uses of an action in a window and
locks the key for a while once the limit is reached.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from storage import throttle as store
from storage.db import Queryable, Transaction

MINUTE = 60.0
HOUR = 60 * MINUTE
DAY = 24 * HOUR


# --- guessing a secret -----------------------------------------------------------------


@dataclass(frozen=True)
class Limit:
    """At most `count` attempts within any `window` seconds."""

    count: int
    window: float


@dataclass(frozen=True)
class Guard:
    """The limits on guessing one kind of secret (see the module's docstring).

    A guard without `per_pair` still forgives per target; one used with an
    empty target (codes: the target is unknown until the guess is right) must
    not be forgiven with `succeeded`, only with `not_a_guess`.
    """

    scope: str
    per_guesser: Limit
    per_pair: Limit | None = None
    per_target: Limit | None = None
    under_siege: Limit | None = None  # a stranger against a target whose per_target is full


# The limits the README's "Limits against guessing" states: change both together.
LOGIN = Guard(
    "login",  # the password of an account (at login and before a password change)
    per_pair=Limit(5, 15 * MINUTE),
    per_guesser=Limit(10, HOUR),
    per_target=Limit(20, HOUR),
)
PROOF = Guard(
    "proof",  # a registration's customer ID + invoice number + amount
    per_pair=Limit(5, HOUR),
    per_guesser=Limit(5, HOUR),
    # A day, not an hour: guessers pacing themselves below the siege get 9 a day, not 9 an
    # hour; and a household's own typos never come near 10 strangers' failures a day.
    per_target=Limit(10, DAY),
    under_siege=Limit(1, DAY),
)
CODE = Guard("code", per_guesser=Limit(5, 15 * MINUTE))  # typed activation and reset codes
# Look-ups that could tell who has an account: counted whatever their answer.
USERNAME_LOOKUP = Guard(  # "is this name taken?", asked with a proof that holds (the target)
    "username", per_guesser=Limit(10, HOUR), per_target=Limit(10, HOUR)
)
CODE_REQUEST = Guard("code-request", per_guesser=Limit(5, HOUR))  # forgotten password, new code


# Which limit stops a guesser: `pair` (this guesser, this target), `guesser` (this guesser,
# every target), `target` (everyone, this target), `siege` (a stranger's one attempt a day
# against a target under siege, see `Guard.under_siege`).
LockedBy = Literal["pair", "guesser", "target", "siege"]


@dataclass(frozen=True)
class Lock:
    """Until when a guesser must wait, and the limit that holds them longest."""

    until: float
    by: LockedBy


@dataclass(frozen=True)
class Attempt:
    """One reserved attempt, or why there is none (`locked_until`, `locked_by`)."""

    guard: Guard
    guesser: str
    target: str
    id: int | None = None
    locked_until: float | None = None
    locked_by: LockedBy | None = None


async def reserve(tx: Transaction, guard: Guard, guesser: str, target: str, now: float) -> Attempt:
    """Count one attempt before its check, or refuse it while a limit is reached.

    Runs inside the caller's write transaction (BEGIN IMMEDIATE), so the look
    at the limits and the record of the attempt are one step: of N concurrent
    attempts at most the limit get through. Until the check forgives it, the
    attempt counts as a failure (a crash meanwhile costs the guesser, not us).
    """
    lock = await _blocked(tx, guard, guesser, target, now)
    if lock is not None:
        return Attempt(guard, guesser, target, locked_until=lock.until, locked_by=lock.by)
    attempt_id = await store.record(tx, guard.scope, guesser, now, target)
    return Attempt(guard, guesser, target, id=attempt_id)


async def lock_after_failure(db: Queryable, attempt: Attempt, now: float) -> float | None:
    """After a wrong guess (its reservation stays as the failure): when the guesser may try
    this target again, if this failure reached a limit."""
    lock = await lock_after(db, attempt, now)
    return lock.until if lock is not None else None


async def lock_after(db: Queryable, attempt: Attempt, now: float) -> Lock | None:
    """`lock_after_failure`, saying which limit it reached."""
    return await _blocked(db, attempt.guard, attempt.guesser, attempt.target, now)


async def guesser_locked(db: Queryable, guard: Guard, guesser: str, now: float) -> float | None:
    """When the guesser may guess again at all, if `per_guesser` stops them against every
    target: None while they may still try some target, or have succeeded against one (that
    one stays open to them), so that they can be told before they start rather than after."""
    if await store.trusts_any(db, guard.scope, guesser):
        return None
    limit = guard.per_guesser
    oldest = await store.nth_newest_of_key(
        db, guard.scope, guesser, now - limit.window, limit.count
    )
    return oldest + limit.window if oldest is not None else None


async def succeeded(db: Queryable, attempt: Attempt, now: float, *, remember: bool = True) -> None:
    """A right guess: forgive it and the guesser's earlier failures against the same target
    (only those), and remember the guesser there unless told not to."""
    await store.forget_pair(db, attempt.guard.scope, attempt.guesser, attempt.target)
    if remember:
        await store.trust(db, attempt.guard.scope, attempt.target, attempt.guesser, now)


async def not_a_guess(db: Queryable, attempt: Attempt) -> None:
    """Forget the reservation alone (e.g. a real but used code): earlier failures stay."""
    if attempt.id is not None:
        await store.drop(db, attempt.id)


async def vouch(db: Queryable, guard: Guard, guesser: str, target: str, now: float) -> None:
    """The guesser proved the target is theirs another way (e.g. a mailed code): forgive
    their failures there and remember them."""
    await store.forget_pair(db, guard.scope, guesser, target)
    await store.trust(db, guard.scope, target, guesser, now)


async def _blocked(
    db: Queryable, guard: Guard, guesser: str, target: str, now: float
) -> Lock | None:
    """When every limit that stops this guesser against this target allows one more attempt,
    and the limit that ends last; None if they all allow it now.

    A guesser who has succeeded against the target before is held by `per_pair`
    alone there: strangers' failures do not lock them out, and their own
    failures elsewhere do not lock them out of what is theirs.
    """
    trusted = await store.trusted(db, guard.scope, target, guesser)
    locks: list[Lock] = []
    if guard.per_pair is not None:
        limit = guard.per_pair
        oldest = await store.nth_newest_of_pair(
            db, guard.scope, guesser, target, now - limit.window, limit.count
        )
        if oldest is not None:
            locks.append(Lock(oldest + limit.window, "pair"))
    if not trusted:
        limit = guard.per_guesser
        oldest = await store.nth_newest_of_key(
            db, guard.scope, guesser, now - limit.window, limit.count
        )
        if oldest is not None:
            locks.append(Lock(oldest + limit.window, "guesser"))
    if guard.per_target is not None and not trusted:
        siege = await _target_full(db, guard, guesser, target, now, guard.per_target)
        if siege is not None:
            locks.append(siege)
    return max(locks, key=lambda lock: lock.until) if locks else None


async def _target_full(
    db: Queryable, guard: Guard, guesser: str, target: str, now: float, limit: Limit
) -> Lock | None:
    """The lock `per_target` puts on a stranger: the whole target while it is full, or,
    under siege, this stranger once they have had their `under_siege` attempts there."""
    oldest = await store.nth_newest_of_target(
        db, guard.scope, target, now - limit.window, limit.count
    )
    if oldest is None:
        return None
    siege_ends = oldest + limit.window
    if guard.under_siege is None:
        return Lock(siege_ends, "target")
    mine = guard.under_siege
    own = await store.nth_newest_of_pair(
        db, guard.scope, guesser, target, now - mine.window, mine.count
    )
    if own is None:
        return None  # a newcomer here: their attempt is evaluated
    # Free again when their attempt leaves the window, or when the siege lifts if sooner.
    return Lock(min(own + mine.window, siege_ends), "siege")


# --- simple rate limits ----------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    scope: str
    limit: int
    window: float  # seconds
    lock_for: float  # seconds


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
LONGEST_WINDOW = DAY


async def housekeeping(db: Queryable, now: float, keep_scopes: tuple[str, ...] = ()) -> int:
    """Forget attempts no rule looks at any more, so the table does not grow forever.

    `keep_scopes` are scopes used as a memory rather than a window (the mail
    worker's "this self-help was sent in this ticket").
    """
    return await store.prune(db, now - LONGEST_WINDOW, keep_scopes)
