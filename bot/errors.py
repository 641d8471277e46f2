"""The error handler: the operator's log says what failed and for whom; the
customer gets an apology and a way forward, never a traceback.

A write that gave up because another process held the database's write lock
too long (`core.db.is_busy`) changed nothing, and the dialogue is still at the
same step: the customer is told so, and to send the same again a bit later.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import TelegramError

from conversations.common import BotContext
from core.db import is_busy
from core.texts import render

log = logging.getLogger(f"petkomm.{__name__}")


async def on_error(update: object, context: BotContext) -> None:
    """Log with context (update id, user id — never message text) and apologise."""
    user = getattr(update, "effective_user", None)
    update_id = getattr(update, "update_id", None)
    if is_busy(context.error):
        log.warning(
            "update %s of Telegram user %s gave up: the database stayed locked (%s)",
            update_id,
            user.id if user else "?",
            context.error,
        )
        template = "chat/common/busy_failed.txt"
    else:
        log.error(
            "update %s of Telegram user %s failed: %s",
            update_id,
            user.id if user else "?",
            type(context.error).__name__,
            exc_info=context.error,
        )
        template = "chat/common/error.txt"
    if isinstance(update, Update) and update.effective_chat is not None:
        try:
            await update.effective_chat.send_message(render(template))
        except TelegramError:
            log.warning("could not tell user %s about the error", user.id if user else "?")
