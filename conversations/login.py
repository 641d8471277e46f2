"""Login with user name and password; it binds this Telegram user to the account."""

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
    chat_id,
    customer_keyboard,
    delete_secret,
    dialogue_keyboard,
    guest_keyboard,
    lock_minutes,
    logged_in,
    opened_by,
    say,
    step,
    text_of,
    user_id,
)
from conversations.menu import show_home
from core import accounts
from core.accounts import LoginOutcome

# The states (their values are what the persistence stores: never rename them).
USERNAME = "login_username"
PASSWORD = "login_password"

USERNAME_DRAFT = "login_username"  # user_data: the user name, checked with the password


async def start(update: Update, context: BotContext) -> NextState:
    """Belépés: ask for the user name, unless already logged in."""
    account = await logged_in(update, context)
    if account is not None:
        await say(update, "login/already", reply_markup=customer_keyboard(), name=account.username)
        return END
    await say(update, "login/ask_username", reply_markup=cancel_keyboard())
    return USERNAME


async def got_username(update: Update, context: BotContext) -> NextState:
    """Keep the user name (checked together with the password)."""
    context.drafts[USERNAME_DRAFT] = text_of(update).strip()
    await say(update, "login/ask_password")
    return PASSWORD


async def got_password(update: Update, context: BotContext) -> NextState:
    """Delete the password's message, check it (off the loop) and log in."""
    password = text_of(update)
    await delete_secret(update)
    svc = context.services
    now = svc.now()
    username = context.drafts.pop(USERNAME_DRAFT, "")
    result = await accounts.login(
        svc.db,
        username,
        password,
        telegram_user_id=user_id(update),
        chat_id=chat_id(update),
        now=now,
    )
    match result.outcome:
        case LoginOutcome.OK:
            assert result.account is not None
            await say(update, "login/welcome", name=result.account.username)
            await show_home(update, context, result.account)
            return END
        case LoginOutcome.LOCKED:
            await say(
                update,
                "login/locked",
                reply_markup=guest_keyboard(),
                minutes=lock_minutes(result.locked_until, now),
            )
            return END
        case LoginOutcome.PENDING:
            await say(update, "login/pending", reply_markup=guest_keyboard())
            return END
        case LoginOutcome.DISABLED:
            await say(update, "login/disabled", reply_markup=guest_keyboard())
            return END
    await say(update, "login/wrong", reply_markup=dialogue_keyboard("forgot"))
    await say(update, "login/ask_username")
    return USERNAME


DIALOGUE = Dialogue(
    name="login",
    entry_points=opened_by("login", ("belepes", "login"), start),
    states={
        USERNAME: step("login/ask_username", MessageHandler(ANSWER, got_username)),
        PASSWORD: step("login/ask_password", MessageHandler(ANSWER, got_password)),
    },
    drafts=(USERNAME_DRAFT,),
)
