"""Passwords: change it (logged in), or set a new one with a code by mail.

Change: current password → new → new again. Forgotten: user name or e-mail →
a reset code by mail → the code (or the mail's deep link) → new → new again.
Every message holding a password or code is deleted as soon as it is read;
the new password is kept only as its hash between the two questions.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import ConversationHandler, MessageHandler

from conversations.common import (
    ANSWER,
    BotContext,
    cancel_keyboard,
    customer_keyboard,
    delete_secret,
    guest_keyboard,
    say,
    text_of,
    user_id,
)
from conversations.states import (
    FORGOT_AGAIN,
    FORGOT_CODE,
    FORGOT_NEW,
    FORGOT_WHO,
    PW_AGAIN,
    PW_CURRENT,
    PW_NEW,
)
from core import accounts
from core.accounts import CodeOutcome, LoginOutcome, SessionState
from core.passwords import hash_password, password_problem, verify_password
from storage import accounts as account_store

END = ConversationHandler.END


# --- change (logged in) -------------------------------------------------------------


async def start_change(update: Update, context: BotContext) -> int:
    """Ask for the current password (only when logged in)."""
    from conversations.menu import require_login

    account = await require_login(update, context)
    if account is None:
        return END
    await say(update, "password/ask_current", reply_markup=cancel_keyboard())
    return PW_CURRENT


async def got_current(update: Update, context: BotContext) -> int:
    """Check the current password (throttled like a login)."""
    password = text_of(update)
    await delete_secret(update)
    svc = context.services
    now = svc.now()
    state, account = await accounts.current_account(svc.db, user_id(update), svc.policy, now)
    if state is not SessionState.ACTIVE:
        await say(
            update,
            "menu/expired" if state is SessionState.EXPIRED else "menu/not_logged_in",
            reply_markup=guest_keyboard(),
            minutes=svc.policy.idle_minutes,
        )
        return END
    result = await accounts.check_current_password(
        svc.db, account, password, telegram_user_id=user_id(update), now=now
    )
    if result.outcome is LoginOutcome.LOCKED:
        await say(
            update,
            "common/locked",
            reply_markup=customer_keyboard(),
            minutes=accounts.wait_minutes(result.locked_until, now),
        )
        return END
    if result.outcome is not LoginOutcome.OK:
        await say(update, "password/wrong_current")
        return PW_CURRENT
    await say(update, "password/ask_new")
    return PW_NEW


async def _keep_new(update: Update, context: BotContext, username: str) -> bool:
    """Check and hash a new password; False (after saying why) when it is not acceptable."""
    password = text_of(update)
    await delete_secret(update)
    problem = password_problem(password, username)
    if problem:
        await say(update, "registration/bad_password", problem=problem)
        return False
    context.user_data["new_password_hash"] = await hash_password(password)
    await say(update, "password/ask_again")
    return True


async def _same_again(update: Update, context: BotContext) -> str | None:
    """The repeated password matches the kept hash: return that hash."""
    password = text_of(update)
    await delete_secret(update)
    kept = context.user_data.get("new_password_hash")
    if kept and await verify_password(kept, password):
        return context.user_data.pop("new_password_hash")
    await say(update, "password/mismatch")
    return None


async def got_new(update: Update, context: BotContext) -> int:
    svc = context.services
    _, account = await accounts.current_account(svc.db, user_id(update), svc.policy, svc.now())
    ok = await _keep_new(update, context, account.username if account else "")
    return PW_AGAIN if ok else PW_NEW


async def got_again(update: Update, context: BotContext) -> int:
    svc = context.services
    new_hash = await _same_again(update, context)
    if new_hash is None:
        await say(update, "password/ask_new")
        return PW_NEW
    now = svc.now()
    state, account = await accounts.current_account(svc.db, user_id(update), svc.policy, now)
    if account is None:
        await say(
            update, "menu/expired", reply_markup=guest_keyboard(), minutes=svc.policy.idle_minutes
        )
        return END
    await accounts.change_password(
        svc.db, account, new_hash, telegram_user_id=user_id(update), now=now
    )
    await say(update, "password/changed", reply_markup=customer_keyboard())
    return END


# --- forgotten -------------------------------------------------------------------------


async def start_forgot(update: Update, context: BotContext) -> int:
    """Ask whose password was forgotten."""
    await say(update, "forgot/ask_who", reply_markup=cancel_keyboard())
    return FORGOT_WHO


async def got_who(update: Update, context: BotContext) -> int:
    """Mail a reset code to the registered address; the same answer whether found or not."""
    svc = context.services
    account = await accounts.find_for_reset(svc.db, text_of(update))
    if account is not None:
        await accounts.send_new_code(
            svc.db,
            account,
            "reset",
            policy=svc.policy,
            mailer=svc.mailer,
            actor=f"tg:{user_id(update)}",
            now=svc.now(),
        )
    await say(update, "forgot/sent_if_known", hours=svc.policy.code_ttl_hours)
    return FORGOT_CODE


async def use_reset_code(update: Update, context: BotContext, code: str) -> int:
    """Check a reset code (typed or deep-linked); then ask for the new password."""
    svc = context.services
    now = svc.now()
    result = await accounts.check_code(
        svc.db, code, "reset", telegram_user_id=user_id(update), now=now
    )
    match result.outcome:
        case CodeOutcome.OK:
            context.user_data["reset"] = {
                "code_id": result.code_id,
                "account_id": result.account.id,
            }
            await say(
                update,
                "forgot/ask_new",
                reply_markup=cancel_keyboard(),
                username=result.account.username,
            )
            return FORGOT_NEW
        case CodeOutcome.LOCKED:
            await say(
                update, "common/locked", minutes=accounts.wait_minutes(result.locked_until, now)
            )
            return FORGOT_CODE
        case CodeOutcome.EXPIRED | CodeOutcome.USED:
            await say(update, "forgot/expired", reply_markup=guest_keyboard())
            return END
    await say(update, "forgot/invalid", reply_markup=cancel_keyboard())
    return FORGOT_CODE


async def got_code(update: Update, context: BotContext) -> int:
    code = text_of(update)
    await delete_secret(update)
    if not accounts.looks_like_code(code):
        await say(update, "activation/bad_format", length=len(accounts.normalise_code(code)))
        return FORGOT_CODE
    return await use_reset_code(update, context, code)


async def _reset_account(context: BotContext):  # noqa: ANN202
    reset = context.user_data.get("reset") or {}
    return reset, await account_store.by_id(context.services.db, reset.get("account_id", 0))


async def got_forgot_new(update: Update, context: BotContext) -> int:
    _, account = await _reset_account(context)
    if account is None:
        await say(update, "forgot/expired", reply_markup=guest_keyboard())
        return END
    return FORGOT_AGAIN if await _keep_new(update, context, account.username) else FORGOT_NEW


async def got_forgot_again(update: Update, context: BotContext) -> int:
    new_hash = await _same_again(update, context)
    if new_hash is None:
        await say(update, "password/ask_new")
        return FORGOT_NEW
    reset, account = await _reset_account(context)
    svc = context.services
    done = account is not None and await accounts.reset_password(
        svc.db,
        reset["code_id"],
        account,
        new_hash,
        telegram_user_id=user_id(update),
        now=svc.now(),
    )
    context.user_data.pop("reset", None)
    if not done:
        await say(update, "forgot/expired", reply_markup=guest_keyboard())
        return END
    await say(update, "forgot/done", reply_markup=guest_keyboard())
    return END


def states() -> dict[object, list]:
    """The password dialogues' part of the dialogue table."""
    return {
        PW_CURRENT: [MessageHandler(ANSWER, got_current)],
        PW_NEW: [MessageHandler(ANSWER, got_new)],
        PW_AGAIN: [MessageHandler(ANSWER, got_again)],
        FORGOT_WHO: [MessageHandler(ANSWER, got_who)],
        FORGOT_CODE: [MessageHandler(ANSWER, got_code)],
        FORGOT_NEW: [MessageHandler(ANSWER, got_forgot_new)],
        FORGOT_AGAIN: [MessageHandler(ANSWER, got_forgot_again)],
    }
