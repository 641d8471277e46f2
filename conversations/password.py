"""Changing the password when logged in: current password → new → new again.

Every message typed here is deleted as soon as it is read, and the answer starts
with the note saying so (`conversations.secrecy`); the new password is kept only
as its hash between the two questions. The forgotten password's dialogue
(`conversations.forgot`) asks for the new one the same way. The registered
address is told by mail once the password has changed.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import MessageHandler

from conversations.common import (
    ANSWER,
    END,
    BotContext,
    Dialogue,
    NextState,
    cancel_keyboard,
    customer_keyboard,
    delete_secret,
    guest_keyboard,
    lock_minutes,
    once_key,
    opened_by,
    say,
    step,
    text_of,
    user_id,
)
from conversations.menu import require_login
from conversations.secrecy import say_deleted, watch
from core import accounts
from core.accounts import LoginOutcome
from core.passwords import hash_password, password_problem, verify_password

# The states (their values are what the persistence stores: never rename them).
CURRENT = "pw_current"
NEW = "pw_new"
AGAIN = "pw_again"

NEW_HASH = "new_password_hash"  # user_data: the new password's hash until it is repeated


async def start(update: Update, context: BotContext) -> NextState:
    """Ask for the current password (only when logged in)."""
    account = await require_login(update, context)
    if account is None:
        return END
    await say(update, "password/ask_current", reply_markup=cancel_keyboard())
    return CURRENT


async def got_current(update: Update, context: BotContext) -> NextState:
    """Check the current password (throttled like a login)."""
    password = text_of(update)
    await delete_secret(update)
    account = await require_login(update, context)
    if account is None:
        return END
    svc = context.services
    now = svc.now()
    result = await accounts.check_current_password(
        svc.db, account, password, telegram_user_id=user_id(update), now=now
    )
    if result.outcome is LoginOutcome.LOCKED:
        watch(context, now, result.locked_until)
        await say_deleted(
            update,
            "common/locked",
            reply_markup=customer_keyboard(),
            minutes=lock_minutes(result.locked_until, now),
        )
        return END
    if result.outcome is not LoginOutcome.OK:
        watch(context, now)
        await say_deleted(update, "password/wrong_current")
        return CURRENT
    await say_deleted(update, "password/ask_new")
    return NEW


async def keep_new(update: Update, context: BotContext, username: str) -> bool:
    """Check and hash a new password; False (after saying why) when it is not acceptable."""
    password = text_of(update)
    await delete_secret(update)
    problem = password_problem(password, username)
    if problem:
        await say_deleted(update, "registration/bad_password", problem=problem)
        return False
    context.drafts[NEW_HASH] = await hash_password(password)
    await say_deleted(update, "password/ask_again")
    return True


async def same_again(update: Update, context: BotContext) -> str | None:
    """The repeated password matches the kept hash: return that hash (the caller answers);
    else None, after saying they differ."""
    password = text_of(update)
    await delete_secret(update)
    kept: str | None = context.drafts.get(NEW_HASH)
    if kept and await verify_password(kept, password):
        del context.drafts[NEW_HASH]
        return kept
    await say_deleted(update, "password/mismatch")
    return None


async def got_new(update: Update, context: BotContext) -> NextState:
    """Keep the new password's hash if it is acceptable; ask for it again."""
    svc = context.services
    _, account = await accounts.current_account(svc.db, user_id(update), svc.policy, svc.now())
    ok = await keep_new(update, context, account.username if account else "")
    return AGAIN if ok else NEW


async def got_again(update: Update, context: BotContext) -> NextState:
    """The same password again: store it; other Telegram logins of the account end."""
    svc = context.services
    new_hash = await same_again(update, context)
    if new_hash is None:
        await say(update, "password/ask_new")
        return NEW
    now = svc.now()
    _, account = await accounts.current_account(svc.db, user_id(update), svc.policy, now)
    if account is None:
        await say_deleted(
            update, "menu/expired", reply_markup=guest_keyboard(), minutes=svc.policy.idle_minutes
        )
        return END
    await accounts.change_password(
        svc.db,
        account,
        new_hash,
        telegram_user_id=user_id(update),
        mailer=svc.mailer,
        once=once_key(update),
        now=now,
    )
    await say_deleted(update, "password/changed", reply_markup=customer_keyboard())
    return END


DIALOGUE = Dialogue(
    name="password",
    entry_points=opened_by("password", ("jelszo", "password"), start),
    states={
        CURRENT: step("password/ask_current", MessageHandler(ANSWER, got_current)),
        NEW: step("password/ask_new", MessageHandler(ANSWER, got_new)),
        AGAIN: step("password/ask_again", MessageHandler(ANSWER, got_again)),
    },
    drafts=(NEW_HASH,),
    given=lambda state, drafts: {
        NEW: ("current_password",),
        AGAIN: ("current_password", "new_password"),
    }.get(state, ()),
)
