"""Login with user name and password; it binds this Telegram user to the account."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ConversationHandler, MessageHandler

from conversations.common import (
    ANSWER,
    BotContext,
    cancel_keyboard,
    chat_id,
    delete_secret,
    guest_keyboard,
    say,
    text_of,
    user_id,
)
from conversations.states import LOGIN_PASSWORD, LOGIN_USERNAME
from core import accounts
from core.accounts import LoginOutcome

END = ConversationHandler.END


async def start(update: Update, context: BotContext) -> int:
    """Ask for the user name."""
    await say(update, "login/ask_username", reply_markup=cancel_keyboard())
    return LOGIN_USERNAME


async def got_username(update: Update, context: BotContext) -> int:
    """Keep the user name (checked together with the password)."""
    context.user_data["login_username"] = text_of(update).strip()
    await say(update, "login/ask_password")
    return LOGIN_PASSWORD


async def got_password(update: Update, context: BotContext) -> int:
    """Delete the password's message, check it (off the loop) and log in."""
    password = text_of(update)
    await delete_secret(update)
    svc = context.services
    now = svc.now()
    username = context.user_data.pop("login_username", "")
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
            from conversations.menu import show_home

            await say(update, "login/welcome", name=result.account.username)
            await show_home(update, context, result.account)
            return END
        case LoginOutcome.LOCKED:
            await say(
                update,
                "login/locked",
                reply_markup=guest_keyboard(),
                minutes=accounts.wait_minutes(result.locked_until, now),
            )
            return END
        case LoginOutcome.PENDING:
            await say(update, "login/pending", reply_markup=guest_keyboard())
            return END
        case LoginOutcome.DISABLED:
            await say(update, "login/disabled", reply_markup=guest_keyboard())
            return END
    await say(update, "login/wrong")
    await say(update, "login/ask_username")
    return LOGIN_USERNAME


def states() -> dict[object, list]:
    """The login's part of the dialogue table."""
    return {
        LOGIN_USERNAME: [MessageHandler(ANSWER, got_username)],
        LOGIN_PASSWORD: [MessageHandler(ANSWER, got_password)],
    }
