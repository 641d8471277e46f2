"""Activation: by the mail's deep link at once, or by typing the 24-character code.

A new code can be asked for: it goes to the address of the pending
registration (this Telegram user's own, or one named by its e-mail address).
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import CallbackQueryHandler, ConversationHandler, MessageHandler

from conversations.common import (
    ANSWER,
    BotContext,
    cancel_keyboard,
    delete_secret,
    guest_keyboard,
    inline,
    say,
    text_of,
    user_id,
)
from conversations.states import ACT_CODE, ACT_EMAIL
from core import accounts
from core.accounts import CodeOutcome
from storage import accounts as account_store

END = ConversationHandler.END
RESEND = inline([[("resend", "act:resend")]])


async def start(update: Update, context: BotContext) -> int:
    """Ask for the code from the mail."""
    await say(update, "activation/ask_code", reply_markup=cancel_keyboard())
    await say(update, "activation/resend_hint", reply_markup=RESEND)
    return ACT_CODE


async def activate_with(update: Update, context: BotContext, code: str) -> int:
    """Try a code (typed or from a deep link) and tell the outcome."""
    svc = context.services
    now = svc.now()
    result = await accounts.activate(svc.db, code, telegram_user_id=user_id(update), now=now)
    match result.outcome:
        case CodeOutcome.OK:
            await say(
                update,
                "activation/done",
                reply_markup=guest_keyboard(),
                username=result.account.username,
            )
            return END
        case CodeOutcome.USED if result.account and result.account.status == "active":
            await say(update, "activation/already", reply_markup=guest_keyboard())
            return END
        case CodeOutcome.EXPIRED | CodeOutcome.USED:
            await say(update, "activation/expired", reply_markup=RESEND)
            return ACT_CODE
        case CodeOutcome.LOCKED:
            await say(
                update, "common/locked", minutes=accounts.wait_minutes(result.locked_until, now)
            )
            return ACT_CODE
    await say(update, "activation/invalid", reply_markup=RESEND)
    return ACT_CODE


async def got_code(update: Update, context: BotContext) -> int:
    """A typed code: delete the message, then try it."""
    code = text_of(update)
    await delete_secret(update)
    if not accounts.looks_like_code(code):
        await say(update, "activation/bad_format", length=len(accounts.normalise_code(code)))
        return ACT_CODE
    return await activate_with(update, context, code)


async def resend(update: Update, context: BotContext) -> int:
    """A new code: to this user's own pending registration, or ask for the address."""
    if update.callback_query:
        await update.callback_query.answer()
    svc = context.services
    account = await account_store.pending_registered_by(svc.db, user_id(update))
    if account is None:
        await say(update, "activation/ask_email", reply_markup=cancel_keyboard())
        return ACT_EMAIL
    return await _send(update, context, account)


async def _send(update: Update, context: BotContext, account) -> int:  # noqa: ANN001
    svc = context.services
    now = svc.now()
    until = await accounts.send_new_code(
        svc.db,
        account,
        "activation",
        policy=svc.policy,
        mailer=svc.mailer,
        actor=f"tg:{user_id(update)}",
        now=now,
    )
    if until:
        await say(update, "activation/resend_wait", minutes=accounts.wait_minutes(until, now))
    else:
        await say(update, "activation/resent", email=account.email)
    return ACT_CODE


async def got_email(update: Update, context: BotContext) -> int:
    """The address of a pending registration: a new code goes there (same answer either way)."""
    email = text_of(update).strip()
    if not accounts.email_ok(email):
        await say(update, "registration/bad_email", value=email)
        return ACT_EMAIL
    svc = context.services
    pending = await account_store.pending_by_email(svc.db, email)
    if pending:
        now = svc.now()
        await accounts.send_new_code(
            svc.db,
            pending[0],
            "activation",
            policy=svc.policy,
            mailer=svc.mailer,
            actor=f"tg:{user_id(update)}",
            now=now,
        )
    await say(update, "activation/resent_if_pending", email=email)
    await say(update, "activation/ask_code", reply_markup=cancel_keyboard())
    return ACT_CODE


def states() -> dict[object, list]:
    """The activation's part of the dialogue table."""
    return {
        ACT_CODE: [
            MessageHandler(ANSWER, got_code),
            CallbackQueryHandler(resend, pattern="^act:resend$"),
        ],
        ACT_EMAIL: [MessageHandler(ANSWER, got_email)],
    }
