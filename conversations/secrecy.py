"""Texts that may hold a password: deleted from the chat as soon as they are read.

Every message typed in the login and password dialogues is deleted, the user
name too (people type their password at the user-name prompt, or both on one
line), and the bot's answer to it starts with the note saying so
(`common/deleted_note.txt`), once per step.

After a wrong password or a lockout, people often type the name and the
password again straight into the chat, outside any dialogue. So for
`WATCH_MINUTES` after such a failure (or until the lock ends, when later) any
text typed outside a dialogue is deleted too, with the note (the first one of
a watch says why), and then handled as usual. Buttons and commands are not
deleted: they hold no secret.

A password typed where none was asked (`stray_password`): a logged-in
customer's own password (checked against their hash), or for anyone a single
token shaped like a password that means nothing else (`core.stray_passwords`),
is deleted with the note and never stored; the report's door
(`conversations.report`) asks before it keeps any text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from telegram import Message, Update
from telegram.ext import BaseHandler, MessageHandler
from telegram.ext import filters as F

from conversations.common import (
    PRIVATE,
    BotContext,
    ReplyMarkup,
    chat_of,
    delete_secret,
    label_pattern,
    user_id,
)
from core import accounts, intents, stray_passwords
from core.account_lookup import Account
from core.texts import labels, render

log = logging.getLogger(f"petkomm.{__name__}")

WATCH_MINUTES = 10
WATCH_UNTIL = "secret_watch_until"  # user_data: until when typed text is deleted
WATCH_TOLD = "secret_watch_told"  # user_data: this watch's first note said why


async def say_deleted(
    update: Update, template: str, /, reply_markup: ReplyMarkup | None = None, **values: object
) -> Message:
    """Answer a message just deleted: the note, then the chat template (one message)."""
    return await chat_of(update).send_message(
        deleted_note_and(template, **values), reply_markup=reply_markup
    )


def deleted_note_and(template: str, /, **values: object) -> str:
    """The note that the customer's message was deleted, then the chat template."""
    return (
        render("chat/common/deleted_note.txt", why=False)
        + "\n"
        + render(f"chat/{template}.txt", **values)
    )


def watch(context: BotContext, now: float, locked_until: float | None = None) -> None:
    """A password was wrong (or the guesser is locked out): delete what this customer types
    outside a dialogue for a while."""
    context.drafts[WATCH_UNTIL] = max(now + WATCH_MINUTES * 60, locked_until or 0.0)
    context.drafts.pop(WATCH_TOLD, None)


def unwatch(context: BotContext) -> None:
    """The customer is in: nothing typed needs deleting any more."""
    context.drafts.pop(WATCH_UNTIL, None)
    context.drafts.pop(WATCH_TOLD, None)


def watching(context: BotContext, now: float) -> bool:
    """Whether text this customer types now is deleted (an ended watch is forgotten)."""
    until = context.drafts.get(WATCH_UNTIL)
    if until is None:
        return False
    if now < until:
        return True
    unwatch(context)
    return False


class _NotACode(F.MessageFilter):
    """Text not shaped like one of our codes (a code is deleted where it is taken)."""

    def filter(self, message: Message) -> bool:
        return not accounts.looks_like_code(message.text or "")


def watcher(dialogue_state: Callable[[Update], str | None]) -> BaseHandler:
    """The handler that deletes text typed in a watch outside a dialogue (add it before the
    dialogues; it lets the update go on to them). `dialogue_state` tells whether the
    customer is in a dialogue: a dialogue deletes what it must itself."""

    async def delete_typed(update: Update, context: BotContext) -> None:
        if dialogue_state(update) is not None or not watching(context, context.services.now()):
            return
        await delete_secret(update)
        why = WATCH_TOLD not in context.drafts
        context.drafts[WATCH_TOLD] = True
        log.info("deleted a text of user %s typed after a failed password", user_id(update))
        await chat_of(update).send_message(render("chat/common/deleted_note.txt", why=why))

    buttons = label_pattern(*labels("customer"))
    typed = PRIVATE & F.TEXT & ~F.COMMAND & ~F.Regex(buttons) & _NotACode()
    return MessageHandler(typed, delete_typed)


async def stray_password(
    update: Update,
    context: BotContext,
    text: str,
    account: Account | None,
    *,
    reply_markup: ReplyMarkup | None = None,
    in_dialogue: bool = False,
) -> bool:
    """A password typed where none was asked: deleted, with the note (True); else False.

    `account` is the logged-in customer's (None for a guest): their own password is
    recognised by its hash; any other single token shaped like a password that means
    nothing else (`intents.understand`) is deleted too.
    """
    svc = context.services
    own = await stray_passwords.is_own_password(svc.db, account, text, svc.now())
    if not own:
        if not stray_passwords.looks_like_password(text):
            return False
        meant = intents.understand(text, logged_in=account is not None)
        if meant.kind is not intents.Kind.UNKNOWN:
            return False
    await delete_secret(update)
    log.info(
        "deleted a text of user %s that %s",
        user_id(update),
        "was their password" if own else "looked like a password",
    )
    await say_deleted(
        update,
        "common/stray_password",
        reply_markup=reply_markup,
        logged_in=account is not None,
        in_dialogue=in_dialogue,
    )
    return True
