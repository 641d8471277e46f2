"""Logging in and out, the current login, and changing the password."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from core import journal, throttle
from core.accounts.codes import CodeMailer
from core.accounts.rules import (
    KEY_CHARS,
    Policy,
    find_by_username,
    local_time,
    username_key,
    wrong_guess,
)
from core.emails import normalised_email
from core.passwords import hash_password, needs_rehash, verify_password, verify_unknown_user
from storage import accounts as store
from storage import audit
from storage import notifications as notify_store
from storage import throttle as throttle_store
from storage.db import Database, DatabaseBusy, Queryable

# --- login ---------------------------------------------------------------------------


class LoginOutcome(Enum):
    OK = "ok"
    WRONG = "wrong"
    LOCKED = "locked"
    PENDING = "pending"
    DISABLED = "disabled"
    CHOOSE = "choose"  # the password opens several accounts of one address: which one?


@dataclass(frozen=True)
class LoginResult:
    outcome: LoginOutcome
    account: store.Account | None = None
    locked_until: float | None = None
    # CHOOSE: the active accounts the address names whose password was given (the choice
    # is open for CHOICE_SECONDS, see `enter_chosen`).
    choices: tuple[store.Account, ...] = ()


CHOICE_SECONDS = 10 * 60  # how long a choice among accounts stays open after the password


async def login(
    db: Database,
    who: str,
    password: str,
    *,
    telegram_user_id: int,
    chat_id: int,
    now: float,
) -> LoginResult:
    """Check a user name, or the registered e-mail address, and the password, and bind this
    Telegram user to the account.

    The guess is counted before the password is verified (`throttle.LOGIN`), so
    concurrent guesses get no more than the limits; a right password forgives only
    this Telegram user's failures against this account. A wrong name, address or
    password gets the same answer after the same work. A user name never holds an
    `@` (`username_problem`): a text with one is an address (`_login_by_address`).
    """
    if "@" in who:
        return await _login_by_address(
            db, who, password, telegram_user_id=telegram_user_id, chat_id=chat_id, now=now
        )
    tg_key = f"tg:{telegram_user_id}"
    account = await find_by_username(db, who)
    target = str(account.id) if account else f"name:{username_key(who)[:KEY_CHARS]}"
    async with db.transaction() as tx:
        attempt = await throttle.reserve(tx, throttle.LOGIN, tg_key, target, now)
    if attempt.locked_until is not None:
        return LoginResult(LoginOutcome.LOCKED, locked_until=attempt.locked_until)
    if account is None:
        await verify_unknown_user(password)
        ok = False
    else:
        ok = await verify_password(account.password_hash, password)
    if not ok:
        return await _refused(db, attempt, account.customer_id if account else "", now)
    assert account is not None
    fresher = await _fresher_hashes([account], password)
    async with db.transaction() as tx:
        await throttle.succeeded(tx, attempt, now, remember=account.status == "active")
        await _store_fresher(tx, fresher)
        return await _enter(tx, account, telegram_user_id, chat_id, now)


async def _fresher_hashes(
    accounts: Sequence[store.Account], password: str
) -> list[tuple[store.Account, str]]:
    """Today's hash of the right `password` for each account whose stored one was made with
    older parameters (made before the transaction that stores it: hashing takes a while)."""
    return [(a, await hash_password(password)) for a in accounts if needs_rehash(a.password_hash)]


async def _store_fresher(db: Queryable, fresher: list[tuple[store.Account, str]]) -> None:
    for account, new_hash in fresher:
        await store.replace_hash(db, account.id, account.password_hash, new_hash)


async def _login_by_address(
    db: Database,
    who: str,
    password: str,
    *,
    telegram_user_id: int,
    chat_id: int,
    now: float,
) -> LoginResult:
    """`login` with the registered e-mail address, which one household's accounts may share.

    The address is the guesser's target (`throttle.LOGIN`: the same limits, counted and
    told alike whether it names no account, one or several, so that neither the answer
    nor a lockout tells what it names). Each account it names counts the guess too, for
    everyone together (its `per_target`, under the key `tg:<id>:mail`, so that this
    guesser's own count is one per try): an account closed to strangers for now is
    silently not tried (the answer cannot tell), unless this Telegram user has logged in
    to it before. The password is verified against every account the address names,
    at once (a name of nobody costs one verification), and opens the one it fits; when
    it fits several active ones, the customer chooses (`CHOOSE`: it proved them all).
    """
    tg_key = f"tg:{telegram_user_id}"
    via = f"{tg_key}:mail"  # this route's guesses against each account of the address
    address = normalised_email(who) or who.strip()
    async with db.transaction() as tx:
        attempt = await throttle.reserve(
            tx, throttle.LOGIN, tg_key, f"mail:{address.casefold()[:KEY_CHARS]}", now
        )
        if attempt.locked_until is not None:
            return LoginResult(LoginOutcome.LOCKED, locked_until=attempt.locked_until)
        named = sorted(await store.by_email(tx, address), key=lambda a: a.id)
        tried: list[tuple[store.Account, throttle.Attempt | None]] = []
        for account in named:
            target = str(account.id)
            if await throttle_store.trusted(tx, throttle.LOGIN.scope, target, tg_key):
                tried.append((account, None))
                continue
            each = await throttle.reserve(tx, throttle.LOGIN, via, target, now)
            if each.locked_until is None:
                tried.append((account, each))
    checks = await asyncio.gather(
        *(verify_password(account.password_hash, password) for account, _ in tried),
        *(_no_account(password) for _ in range(max(1, len(named)) - len(tried))),
    )
    opened = [account for (account, _), ok in zip(tried, checks, strict=False) if ok]
    if not opened:  # each account's guess stays counted
        return await _refused(db, attempt, " ".join(a.customer_id for a in named), now)
    active = [account for account in opened if account.status == "active"]
    fresher = await _fresher_hashes(opened, password)
    async with db.transaction() as tx:
        await throttle.succeeded(tx, attempt, now, remember=bool(active))
        await _store_fresher(tx, fresher)
        for _, guess in tried:  # the owner of one: no guess at any of them
            if guess is not None:
                await throttle.not_a_guess(tx, guess)
        for account in opened:
            own = throttle.Attempt(throttle.LOGIN, tg_key, str(account.id))
            await throttle.succeeded(tx, own, now, remember=account.status == "active")
        if len(active) > 1:
            return LoginResult(LoginOutcome.CHOOSE, choices=tuple(active))
        return await _enter(tx, (active or opened)[0], telegram_user_id, chat_id, now, "e-mail")


async def _refused(
    db: Database, attempt: throttle.Attempt, customers: str, now: float
) -> LoginResult:
    """A wrong password (or name): the failure audited, and locked if it reached a limit."""
    async with db.transaction() as tx:
        until = await wrong_guess(
            tx,
            attempt,
            actor=attempt.guesser,
            action="login_failed",
            target=customers,
            lock_reason="login",
            now=now,
        )
    if until is not None:
        return LoginResult(LoginOutcome.LOCKED, locked_until=until)
    return LoginResult(LoginOutcome.WRONG)


async def _no_account(password: str) -> bool:
    """The work of verifying a password where there is no account to open: none opened."""
    await verify_unknown_user(password)
    return False


async def _enter(
    tx: Queryable,
    account: store.Account,
    telegram_user_id: int,
    chat_id: int,
    now: float,
    how: str = "",
) -> LoginResult:
    """Inside the caller's transaction: log in to an account whose password was given (a
    pending or disabled one only says so)."""
    if account.status == "pending":
        return LoginResult(LoginOutcome.PENDING, account=account)
    if account.status == "disabled":
        return LoginResult(LoginOutcome.DISABLED, account=account)
    await store.bind_login(tx, telegram_user_id, account.id, chat_id, now)
    await notify_store.logged_in(tx, telegram_user_id, account.id, chat_id, now)
    await audit.record(tx, now, f"tg:{telegram_user_id}", "login", account.customer_id, how)
    return LoginResult(LoginOutcome.OK, account=account)


async def enter_chosen(
    db: Database,
    chosen: int,
    offered: Sequence[int],
    offered_at: float,
    *,
    telegram_user_id: int,
    chat_id: int,
    now: float,
) -> LoginResult:
    """Log in to the account chosen among those `login` offered (`CHOOSE`) at `offered_at`.

    Only an offered account, and only within `CHOICE_SECONDS`: the choice stands for the
    password given then, not for ever. WRONG otherwise (the door asks from the start).
    """
    if chosen not in offered or not 0 <= now - offered_at <= CHOICE_SECONDS:
        return LoginResult(LoginOutcome.WRONG)
    async with db.transaction() as tx:
        account = await store.by_id(tx, chosen)
        if account is None:
            return LoginResult(LoginOutcome.WRONG)
        return await _enter(tx, account, telegram_user_id, chat_id, now, "e-mail")


async def logout(
    db: Database, telegram_user_id: int, now: float, *, once: str | None = None
) -> bool:
    """End this Telegram user's login; False when there was none (True again for the
    message `once` that ended it)."""
    login_row = await store.login_of(db, telegram_user_id)
    if login_row is None:
        # A login that idled out still brings notifications: "kilépés" ends them too.
        async with db.transaction() as tx:
            await notify_store.logged_out(tx, telegram_user_id, now)
        return await journal.done(db, once, "logged_out") is not None
    async with db.transaction() as tx:
        await store.drop_login(tx, telegram_user_id)
        await notify_store.logged_out(tx, telegram_user_id, now)
        account = await store.by_id(tx, login_row.account_id)
        await audit.record(
            tx, now, f"tg:{telegram_user_id}", "logout", account.customer_id if account else ""
        )
        await journal.record(tx, once, "logged_out", now)
    return True


class SessionState(Enum):
    ACTIVE = "active"
    NONE = "none"
    EXPIRED = "expired"


async def current_account(
    db: Database, telegram_user_id: int, policy: Policy, now: float
) -> tuple[SessionState, store.Account | None]:
    """The account this Telegram user is logged in to; an idle login ends here."""
    found = await store.login_and_account(db, telegram_user_id)  # one read for a page
    if found is None:
        return SessionState.NONE, None
    login_row, account = found
    if now - login_row.last_seen_at > policy.idle_minutes * 60:
        await store.drop_login(db, telegram_user_id)
        await audit.record(db, now, f"tg:{telegram_user_id}", "logout_idle")
        return SessionState.EXPIRED, None
    if account is None or account.status != "active":
        await store.drop_login(db, telegram_user_id)
        return SessionState.NONE, None
    if login_row.viewing is not None and await store.is_linked(
        db, account.id, login_row.viewing
    ):  # another customer account of this login (core.accounts.links)
        account = dataclasses.replace(
            account, customer_id=login_row.viewing, own_customer_id=account.customer_id
        )
    # "Last seen" is refreshed at most once a minute, and only if the write lock is free
    # within half a second: a page is a read and must not wait for another process's
    # import. Skipping a recent one costs at most a minute of the idle allowance; one
    # skipped for a busy database is made at the next page (and for a second after one
    # was skipped, the others skip at once: a typed page makes several such writes).
    if now - login_row.last_seen_at >= 60:
        with contextlib.suppress(DatabaseBusy), db.patience(0.5, skippable=True):
            await store.touch_login(db, telegram_user_id, now)
    return SessionState.ACTIVE, account


async def check_current_password(
    db: Database, account: store.Account, password: str, *, telegram_user_id: int, now: float
) -> LoginResult:
    """Verify the current password before a change, counted like a login before the check."""
    tg_key = f"tg:{telegram_user_id}"
    async with db.transaction() as tx:
        attempt = await throttle.reserve(tx, throttle.LOGIN, tg_key, str(account.id), now)
    if attempt.locked_until is not None:
        return LoginResult(LoginOutcome.LOCKED, account, attempt.locked_until)
    if await verify_password(account.password_hash, password):
        async with db.transaction() as tx:
            await throttle.succeeded(tx, attempt, now)
        return LoginResult(LoginOutcome.OK, account)
    async with db.transaction() as tx:
        until = await wrong_guess(
            tx,
            attempt,
            actor=tg_key,
            action="password_check_failed",
            target=account.customer_id,
            lock_reason="password check",
            now=now,
        )
    if until is not None:
        return LoginResult(LoginOutcome.LOCKED, account, until)
    return LoginResult(LoginOutcome.WRONG, account)


async def change_password(
    db: Database,
    account: store.Account,
    password_hash: str,
    *,
    telegram_user_id: int,
    mailer: CodeMailer,
    once: str | None = None,
    now: float,
) -> None:
    """Store the new password; other Telegram logins of the account end, and the registered
    address hears of it (`mail/password_changed`). Once for the message `once`: neither its
    audit entry nor its mail is made twice."""
    async with db.transaction() as tx:
        if await journal.done(tx, once, "password_changed") is not None:
            return
        await store.set_password(tx, account.id, password_hash, now)
        await store.drop_logins_of_account(tx, account.id, except_user=telegram_user_id)
        await notify_store.account_logins_ended(tx, account.id, now, except_user=telegram_user_id)
        await audit.record(
            tx, now, f"tg:{telegram_user_id}", "password_changed", account.customer_id
        )
        await mailer.notice(
            tx, account, "password_changed", now, how="changed", when=local_time(now)
        )
        await journal.record(tx, once, "password_changed", now)
