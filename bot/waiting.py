"""Telling a customer when the database keeps their update waiting.

Another process (the daily import, an operator's `sqlite3` shell) may hold the
database's write lock for a while. Pages only read and do not wait for it; a
step that writes waits, up to `Database.write_timeout`. Once a write has waited
about two seconds, storage calls its write-wait listeners in the waiting task's
context. `watch`, the first handler of every update, has put the update there,
so `tell_to_wait` knows whose chat to tell, once an update, that the answer is
coming. Should the write give up, the error handler (`bot.errors`) says that
nothing was lost and to try again.
"""

from __future__ import annotations

import asyncio
import logging
from contextvars import ContextVar
from dataclasses import dataclass

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import TypeHandler

from conversations.common import BotContext
from core.texts import render

log = logging.getLogger(f"petkomm.{__name__}")


@dataclass
class _Handling:
    """The update a task is handling, and whether its chat was told to wait."""

    update: Update
    told: bool = False


# Set in each update's own task (python-telegram-bot runs every update in one), so the
# listener, called in the context of the task whose write waits, finds that update.
_handling: ContextVar[_Handling | None] = ContextVar("petkomm_update_handling", default=None)
_notices: set[asyncio.Task[None]] = set()  # notices being sent (a task needs a reference)


async def watch(update: Update, context: BotContext) -> None:
    """Remember the update this task handles, for `tell_to_wait`."""
    _handling.set(_Handling(update))


def watcher() -> TypeHandler[Update, BotContext, None]:
    """The handler that remembers every update (bot.app runs it before all others)."""
    return TypeHandler(Update, watch)


def tell_to_wait() -> None:
    """A `Database.on_write_wait` listener: tell the waiting update's chat, once, to wait."""
    handling = _handling.get()
    if handling is None or handling.told or handling.update.effective_chat is None:
        return
    handling.told = True
    task = asyncio.get_running_loop().create_task(_send_notice(handling.update))
    _notices.add(task)
    task.add_done_callback(_notices.discard)


async def _send_notice(update: Update) -> None:
    chat = update.effective_chat
    assert chat is not None  # checked by tell_to_wait
    user = update.effective_user
    log.info(
        "update %s of Telegram user %s waits for the database's write lock",
        update.update_id,
        user.id if user else "?",
    )
    try:
        await chat.send_message(render("chat/common/busy_wait.txt"))
    except TelegramError as exc:
        log.warning("could not tell chat %s to wait: %s", chat.id, exc)
