"""Builds the Telegram application: the one place that shows every handler.

Order matters within group 0: the dialogue table first (a customer inside a
dialogue is answered by it), then the menu pages, then the catch-alls for
everything else. Staff handlers work only in the staff chat.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable

from telegram import Bot, BotCommand, LinkPreviewOptions, Update
from telegram.constants import ChatAction, ParseMode
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationBuilder, Defaults

from bot import desk, notices, pacing, staff, waiting
from bot.errors import on_error
from bot.ordering import PerUserUpdateProcessor
from bot.pacing import Pacer
from bot.persistence import SqlitePersistence
from bot.updates import DurableApplication
from conversations import account_documents, dialogues, menu, notifications, pay, secrecy
from conversations.common import CONTEXT_TYPES, AssistantApplication, Services, label
from core.accounts import CodeMailer, Policy
from core.config import Settings
from core.db import Database
from core.facts import facts_from
from core.texts import labels, render

log = logging.getLogger(f"petkomm.{__name__}")

# Opt in to PTB's coming timedelta durations now (its rate limiter reads
# RetryAfter.retry_after; without this every 429 logs a deprecation warning).
os.environ.setdefault("PTB_TIMEDELTA", "1")


def file_url(api_url: str) -> str:
    """The Bot API's file URL next to its method URL (…/bot -> …/file/bot)."""
    head, _, _ = api_url.rstrip("/").rpartition("/bot")
    return f"{head}/file/bot"


async def tell_waiting(bot: Bot, chat: int | str, what: str) -> None:
    """The pacer's notice to a chat whose answer waits for its place: "typing…" (not a
    message), or the "egy pillanat…" message once it is late."""
    if what == "typing":
        await bot.send_chat_action(chat, ChatAction.TYPING)
    else:
        log.info("the answer to chat %s waits for Telegram's pace: told to be patient", chat)
        await bot.send_message(chat, render("chat/common/busy_wait.txt"))


# The pages a customer presses for: answered before dialogue steps under Telegram's pace.
PAGE_BUTTONS = frozenset(label(name) for name in (*menu.MENU_ACTIONS, "help"))
PAGE_COMMANDS = ("/menu", "/help", "/sugo")


def is_page(update: Update) -> bool:
    """Whether an update asks for a page (an inline button, a menu button, /menu) rather
    than answering a dialogue's question."""
    if update.callback_query is not None:
        return True
    message = update.message
    text = (message.text or "").strip() if message is not None else ""
    return text in PAGE_BUTTONS or text.split("@")[0] in PAGE_COMMANDS


async def set_commands(application: Application) -> None:
    """Publish the command list (the catalogue's `commands`, in its order).

    A failure only costs the menu hint, so it is a warning.
    """
    try:
        await application.bot.set_my_commands(
            [BotCommand(name, text) for name, text in labels("commands").items()]
        )
    except TelegramError as exc:
        log.warning("could not set the bot's command list: %s", exc)


def build_application(
    settings: Settings,
    db: Database,
    state_db: Database,
    *,
    token: str,
    api_url: str,
    clock: Callable[[], float] = time.time,
) -> AssistantApplication:
    """The whole bot: defaults, persistence, ordering, services, handlers, error handler.

    Updates come from the store (`bot.updates.DurableUpdates`, started by the
    composition root), not from python-telegram-bot's Updater, which would confirm
    them to Telegram before they are handled. `db` is the main database the handlers
    use; `state_db` the bot's own state file, where the dialogue states are kept.
    """
    processor = PerUserUpdateProcessor(256)
    pacer = Pacer(settings.telegram_rate)
    application = (
        ApplicationBuilder()
        .application_class(DurableApplication)
        .updater(None)
        .context_types(CONTEXT_TYPES)
        .token(token)
        .base_url(api_url)
        .base_file_url(file_url(api_url))
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)
            )
        )
        .persistence(SqlitePersistence(state_db))
        .concurrent_updates(processor)
        # Telegram allows ~30 messages a second overall and 20 a minute per group: the
        # pacer keeps below that, conversations first (and lets a button press handled
        # again after a crash go on unacknowledged).
        .rate_limiter(pacer)
        .post_init(set_commands)
        .build()
    )
    assert isinstance(application, AssistantApplication)
    pacer.wait_notice = functools.partial(tell_waiting, application.bot)
    # After each update: its dialogue state and its done mark, in one transaction.
    processor.after_update = application.update_persistence
    processor.reprocess = application.process_update  # an update whose write gave up, again
    services = Services(
        db=db,
        settings=settings,
        policy=Policy.from_settings(settings),
        mailer=CodeMailer(settings, bot_username=lambda: application.bot.username),
        clock=clock,
        staff_ids=settings.staff_ids,
        staff_chat_id=settings.staff_chat_id,
        answer_days=settings.answer_days,
        facts=facts_from(settings),
    )
    application.services = services
    if services.facts.qr_off is not None:  # said once, at start: the buttons are just absent
        log.warning("payment QR codes are off, no Fizetés buttons: %s", services.facts.qr_off)

    # First of all (group -4): how soon this update's answers are due under Telegram's
    # pace (a page the customer pressed for before a dialogue's step: bot.pacing).
    application.add_handler(pacing.watcher(is_page), group=-4)
    # Before everything (group -3): remember each update in its task, so that a write
    # kept waiting by another process's lock tells that update's chat to be patient.
    application.add_handler(waiting.watcher(), group=-3)
    db.on_write_wait(waiting.tell_to_wait)
    # The state file's waits are told where an update is stored (bot.waiting.StoreWaiting):
    # a flush that waits comes after the customer has had the answer.

    # Staff first (group -2, before every customer handler): staff commands and buttons,
    # replies to a ticket's message, a customer's reply to a staff answer, more of a report
    # just sent. What they take stops there, so a non-staff /tickets is refused rather than
    # an "unknown command". (Within a group only the first handler that fits runs.)
    application.add_handlers([*desk.handlers(), *notices.handlers(), *staff.handlers()], group=-2)
    # Then, in a group of its own: text typed just after a wrong password is deleted (it
    # may be the password again) and goes on to the customer handlers.
    application.add_handler(secrecy.watcher(dialogues.current_state), group=-1)

    # Customers: the dialogues first, then the menu pages, then everything else.
    application.add_handler(dialogues.conversation())
    application.add_handlers(menu.handlers())
    application.add_handlers(pay.handlers())
    application.add_handlers(account_documents.handlers())  # Folyószámla: statement, chart
    application.add_handlers(notifications.handlers())
    application.add_handlers(dialogues.outside_handlers())

    application.add_error_handler(on_error)
    return application
