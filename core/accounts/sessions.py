"""Logging in and out, the current login, and changing the password."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from enum import Enum

from core import journal, throttle
from core.accounts.rules import KEY_CHARS, Policy, find_by_username, username_key, wrong_guess
from core.passwords import verify_password, verify_unknown_user
from storage import accounts as store
from storage import audit
from storage.db import Database, DatabaseBusy

# --- login ------------------------------------------------------------------------------


class LoginOutcome(Enum):
    OK = "ok"
    WRONG = "wrong"
    LOCKED = "locked"
    PENDING = "pending"
    DISABLED = "disabled"


@dataclass(frozen=True)
class LoginResult:
    outcome: LoginOutcome
    account: store.Account | None = None
    locked_until: float | None = None


async def login(
    db: Database,
    username: str,
    password: str,
    *,
    telegram_user_id: int,
    chat_id: int,
    now: float,
) -> LoginResult:
    """Check user name and password and bind this Telegram user to the account.

    The guess is counted before the password is verified (`throttle.LOGIN`),
    so concurrent guesses get no more than the limits; a right password
    forgives only this Telegram user's failures against this account.
    """
    tg_key = f"tg:{telegram_user_id}"
    account = await find_by_username(db, username)
    target = str(account.id) if account else f"name:{username_key(username)[:KEY_CHARS]}"
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
        async with db.transaction() as tx:
            until = await wrong_guess(
                tx,
                attempt,
                actor=tg_key,
                action="login_failed",
                target=account.customer_id if account else "",
                lock_reason="login",
                now=now,
            )
        if until is not None:
            return LoginResult(LoginOutcome.LOCKED, locked_until=until)
        return LoginResult(LoginOutcome.WRONG)
    assert account is not None
    async with db.transaction() as tx:
        await throttle.succeeded(tx, attempt, now, remember=account.status == "active")
        if account.status == "pending":
            return LoginResult(LoginOutcome.PENDING, account=account)
        if account.status == "disabled":
            return LoginResult(LoginOutcome.DISABLED, account=account)
        await store.bind_login(tx, telegram_user_id, account.id, chat_id, now)
        await audit.record(tx, now, tg_key, "login", account.customer_id)
    return LoginResult(LoginOutcome.OK, account=account)


async def logout(
    db: Database, telegram_user_id: int, now: float, *, once: str | None = None
) -> bool:
    """End this Telegram user's login; False when there was none (True again for the
    message `once` that ended it)."""
    login_row = await store.login_of(db, telegram_user_id)
    if login_row is None:
        return await journal.done(db, once, "logged_out") is not None
    async with db.transaction() as tx:
        await store.drop_login(tx, telegram_user_id)
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
    login_row = await store.login_of(db, telegram_user_id)
    if login_row is None:
        return SessionState.NONE, None
    if now - login_row.last_seen_at > policy.idle_minutes * 60:
        await store.drop_login(db, telegram_user_id)
        await audit.record(db, now, f"tg:{telegram_user_id}", "logout_idle")
        return SessionState.EXPIRED, None
    account = await store.by_id(db, login_row.account_id)
    if account is None or account.status != "active":
        await store.drop_login(db, telegram_user_id)
        return SessionState.NONE, None
    # "Last seen" is refreshed at most once a minute, and only if the write lock is free
    # within half a second: a page is a read and must not wait for another process's
    # import. Skipping a recent one costs at most a minute of the idle allowance; one
    # skipped for a busy database is made at the next page.
    if now - login_row.last_seen_at >= 60:
        with contextlib.suppress(DatabaseBusy), db.patience(0.5):
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
    once: str | None = None,
    now: float,
) -> None:
    """Store the new password; other Telegram logins of the account end (once for the
    message `once`: its audit entry is not written twice)."""
    async with db.transaction() as tx:
        if await journal.done(tx, once, "password_changed") is not None:
            return
        await store.set_password(tx, account.id, password_hash, now)
        await store.drop_logins_of_account(tx, account.id, except_user=telegram_user_id)
        await audit.record(
            tx, now, f"tg:{telegram_user_id}", "password_changed", account.customer_id
        )
        await journal.record(tx, once, "password_changed", now)
