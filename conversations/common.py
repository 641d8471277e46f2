"""What every dialogue shares: services, replies from templates, keyboards, secrets."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, CallbackContext, ContextTypes, ExtBot
from telegram.ext import filters as F

from core.accounts import CodeMailer, Policy
from core.config import Settings
from core.db import Database
from core.texts import LabelSection, labels, render

log = logging.getLogger(f"petkomm.{__name__}")


@dataclass
class Services:
    """Everything a handler needs besides the update; handlers reach it as `context.services`."""

    db: Database
    settings: Settings
    policy: Policy
    mailer: CodeMailer
    clock: Callable[[], float] = field(default=time.time)
    staff_ids: frozenset[int] = frozenset()
    staff_chat_id: int | None = None
    answer_days: int = 15

    def now(self) -> float:
        return self.clock()


class AssistantApplication(Application[Any, Any, Any, Any, Any, Any]):
    """python-telegram-bot's Application with the assistant's services attached.

    The composition root sets `services` once, right after building it.
    """

    services: Services


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """The context every handler gets: PTB's, plus the shared services, typed."""

    @property
    def services(self) -> Services:
        """The application's services (database, settings, policy, mailer, clock)."""
        application = self.application
        assert isinstance(application, AssistantApplication)
        return application.services


# What the application builder is given so that handlers receive a BotContext.
CONTEXT_TYPES = ContextTypes(context=BotContext)


def label(name: str) -> str:
    """A customer button's Hungarian label by its purpose."""
    return labels("customer")[name]


def label_pattern(*names: str) -> str:
    """A regex matching exactly these buttons' labels (for MessageHandler filters)."""
    return "^(" + "|".join(re.escape(label(n)) for n in names) + ")$"


def _any_button() -> str:
    return label_pattern(*labels("customer"))


# A typed answer to a dialogue's question: text that is neither a command nor a button.
ANSWER = F.TEXT & ~F.COMMAND & ~F.Regex(_any_button())

GUEST_MENU = (("register", "activate"), ("login", "forgot"), ("report", "help"))
CUSTOMER_MENU = (
    ("home", "debt"),
    ("invoices", "account"),
    ("customer_data", "password"),
    ("report", "logout"),
)
MENU_BUTTONS = tuple(name for row in CUSTOMER_MENU for name in row)


def reply_keyboard(rows: tuple[tuple[str, ...], ...]) -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        [[label(name) for name in row] for row in rows], resize_keyboard=True, is_persistent=True
    )


def guest_keyboard() -> ReplyKeyboardMarkup:
    return reply_keyboard(GUEST_MENU)


def customer_keyboard() -> ReplyKeyboardMarkup:
    return reply_keyboard(CUSTOMER_MENU)


def cancel_keyboard() -> ReplyKeyboardMarkup:
    return reply_keyboard((("cancel",),))


def inline(
    rows: list[list[tuple[str, str]]], section: LabelSection = "customer"
) -> InlineKeyboardMarkup:
    """Inline buttons from (label name, callback data) pairs, labels from `section`."""
    names = labels(section)
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(names[name], callback_data=data) for name, data in row]
            for row in rows
        ]
    )


def pager(
    prefix: str, page: int, pages: int, section: LabelSection = "customer"
) -> InlineKeyboardMarkup | None:
    """◀ ▶ under a paged list (`page` counts from 0); the buttons say `<prefix>:<page>`."""
    row = []
    if page > 0:
        row.append(("prev", f"{prefix}:{page - 1}"))
    if page < pages - 1:
        row.append(("next", f"{prefix}:{page + 1}"))
    return inline([row], section) if row else None


async def say(update: Update, template: str, /, reply_markup=None, **context) -> Message:  # noqa: ANN001
    """Send a chat template to the update's chat (HTML, values escaped)."""
    chat = update.effective_chat
    assert chat is not None
    return await chat.send_message(
        render(f"chat/{template}.txt", **context), reply_markup=reply_markup
    )


async def send_or_edit(update: Update, text: str, reply_markup=None) -> None:  # noqa: ANN001
    """Send a page anew, or, for a button pressed on it, edit that message in place."""
    query = update.callback_query
    if query is None:
        await update.effective_chat.send_message(text, reply_markup=reply_markup)
        return
    await query.answer()
    try:
        await query.edit_message_text(text, reply_markup=reply_markup)
    except BadRequest as exc:  # pressing the button of the page already shown
        if "not modified" not in str(exc).lower():
            raise


async def delete_secret(update: Update) -> None:
    """Delete the customer's message holding a password or code, right after reading it."""
    message = update.effective_message
    if message is None:
        return
    try:
        await message.delete()
    except TelegramError as exc:  # too old, or already gone: say so in the log only
        log.warning(
            "could not delete a secret message of user %s: %s",
            update.effective_user.id if update.effective_user else "?",
            exc,
        )


def user_id(update: Update) -> int:
    assert update.effective_user is not None
    return update.effective_user.id


def chat_id(update: Update) -> int:
    assert update.effective_chat is not None
    return update.effective_chat.id


def text_of(update: Update) -> str:
    message = update.effective_message
    return (message.text or "") if message else ""
