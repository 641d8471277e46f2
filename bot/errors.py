"""The error handler: the operator's log says what failed and for whom; the
customer gets an apology and a way forward, never a traceback.

A write that gave up because another process held the database's write lock
too long (`core.db.is_busy`) changed nothing, and the dialogue is still at the
same step: the update is handled again in its customer's turn until the lock is
gone (`bot.ordering`), and the customer is told once that the message is kept
and will be answered; only after `BUSY_GIVE_UP` are they asked to send it again.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import TelegramError

from bot.ordering import PerUserUpdateProcessor
from conversations.common import BotContext
from core.db import is_busy
from core.texts import render

log = logging.getLogger(f"petkomm.{__name__}")


async def on_error(update: object, context: BotContext) -> None:
    """Log with context (update id, user id — never message text) and apologise."""
    user = getattr(update, "effective_user", None)
    update_id = getattr(update, "update_id", None)
    if is_busy(context.error):
        processor = context.application.update_processor
        retry = (
            processor.retry_later(update_id)
            if isinstance(processor, PerUserUpdateProcessor) and isinstance(update_id, int)
            else None
        )
        if retry == "again":
            return  # told already; tried again until the lock is gone
        log.warning(
            "update %s of Telegram user %s: the database stayed locked (%s); %s",
            update_id,
            user.id if user else "?",
            context.error,
            "it is tried again until the lock is gone" if retry else "given up",
        )
        template = "chat/common/busy_kept.txt" if retry else "chat/common/busy_failed.txt"
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
