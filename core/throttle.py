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

A simple rate limit (`Rule`, `use`) counts uses of an action in a window and
locks the key for a while once the limit is reached.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage import throttle as store
from storage.db import Queryable, Transaction

MINUTE = 60.0
HOUR = 60 * MINUTE


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
    per_target=Limit(10, HOUR),
)
CODE = Guard("code", per_guesser=Limit(5, 15 * MINUTE))  # typed activation and reset codes
# Look-ups that could tell who has an account: counted whatever their answer.
USERNAME_LOOKUP = Guard("username", per_guesser=Limit(10, HOUR))  # "is this name taken?"
CODE_REQUEST = Guard("code-request", per_guesser=Limit(5, HOUR))  # forgotten password, new code


@dataclass(frozen=True)
class Attempt:
    """One reserved attempt, or why there is none (`locked_until`)."""

    guard: Guard
    guesser: str
    target: str
    id: int | None = None
    locked_until: float | None = None


async def reserve(tx: Transaction, guard: Guard, guesser: str, target: str, now: float) -> Attempt:
    """Count one attempt before its check, or refuse it while a limit is reached.

    Runs inside the caller's write transaction (BEGIN IMMEDIATE), so the look
    at the limits and the record of the attempt are one step: of N concurrent
    attempts at most the limit get through. Until the check forgives it, the
    attempt counts as a failure (a crash meanwhile costs the guesser, not us).
    """
    until = await _blocked(tx, guard, guesser, target, now)
    if until is not None:
        return Attempt(guard, guesser, target, locked_until=until)
    attempt_id = await store.record(tx, guard.scope, guesser, now, target)
    return Attempt(guard, guesser, target, id=attempt_id)


async def lock_after_failure(db: Queryable, attempt: Attempt, now: float) -> float | None:
    """After a wrong guess (its reservation stays as the failure): when the guesser may try
    this target again, if this failure reached a limit."""
    return await _blocked(db, attempt.guard, attempt.guesser, attempt.target, now)


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
) -> float | None:
    """When every limit that stops this guesser against this target allows one more attempt;
    None if they all allow it now.

    A guesser who has succeeded against the target before is held by `per_pair`
    alone there: strangers' failures do not lock them out, and their own
    failures elsewhere do not lock them out of what is theirs.
    """
    trusted = await store.trusted(db, guard.scope, target, guesser)
    ends: list[float] = []
    if guard.per_pair is not None:
        limit = guard.per_pair
        oldest = await store.nth_newest_of_pair(
            db, guard.scope, guesser, target, now - limit.window, limit.count
        )
        if oldest is not None:
            ends.append(oldest + limit.window)
    if not trusted:
        limit = guard.per_guesser
        oldest = await store.nth_newest_of_key(
            db, guard.scope, guesser, now - limit.window, limit.count
        )
        if oldest is not None:
            ends.append(oldest + limit.window)
    if guard.per_target is not None and not trusted:
        limit = guard.per_target
        oldest = await store.nth_newest_of_target(
            db, guard.scope, target, now - limit.window, limit.count
        )
        if oldest is not None:
            ends.append(oldest + limit.window)
    return max(ends) if ends else None


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
LONGEST_WINDOW = 24 * HOUR


async def housekeeping(db: Queryable, now: float, keep_scopes: tuple[str, ...] = ()) -> int:
    """Forget attempts no rule looks at any more, so the table does not grow forever.

    `keep_scopes` are scopes used as a memory rather than a window (the mail
    worker's "this self-help was sent in this ticket").
    """
    return await store.prune(db, now - LONGEST_WINDOW, keep_scopes)
