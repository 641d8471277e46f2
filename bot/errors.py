"""The error handler: the operator's log says what failed and for whom; the
customer gets an apology and a way forward, never a traceback."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import TelegramError

from conversations.common import BotContext
from core.texts import render

log = logging.getLogger(f"petkomm.{__name__}")


async def on_error(update: object, context: BotContext) -> None:
    """Log with context (update id, user id — never message text) and apologise."""
    user = getattr(update, "effective_user", None)
    update_id = getattr(update, "update_id", None)
    log.error(
        "update %s of Telegram user %s failed: %s",
        update_id,
        user.id if user else "?",
        type(context.error).__name__,
        exc_info=context.error,
    )
    if isinstance(update, Update) and update.effective_chat is not None:
        try:
            await update.effective_chat.send_message(render("chat/common/error.txt"))
        except TelegramError:
            log.warning("could not tell user %s about the error", user.id if user else "?")
