"""The customer's dialogues as one table, and what happens outside them.

One persistent ConversationHandler holds every dialogue (registration,
activation, login, passwords, report), so a customer is in at most one at a
time and anything unexpected mid-dialogue gets the same helpful treatment:
buttons and deep links always do what they say (re-entry), /start and Mégse
leave, other commands, stickers and stale buttons get a reminder of the
question. Outside a dialogue, the handlers at the end answer everything else.

Each dialogue describes itself (`DIALOGUE` in its module); the table here is
derived from the list of them.
"""

from __future__ import annotations

import warnings

from telegram import Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
)
from telegram.ext import filters as F
from telegram.warnings import PTBUserWarning

from conversations import activation, forgot, login, menu, password, registration, report
from conversations.common import (
    ANSWER,
    END,
    PRIVATE,
    BotContext,
    Dialogue,
    NextState,
    current_keyboard,
    customer_keyboard,
    guest_keyboard,
    label,
    label_pattern,
    logged_in,
    query_of,
    say,
    text_of,
)
from core import accounts
from core.texts import render

DIALOGUES: tuple[Dialogue, ...] = (
    registration.DIALOGUE,
    activation.DIALOGUE,
    login.DIALOGUE,
    forgot.DIALOGUE,
    report.DIALOGUE,
    password.DIALOGUE,
)
NAME = "dialogue"  # the ConversationHandler's name, under which its states are persisted

# Derived from the dialogues: which dialogue a state is in, and what it asks.
DIALOGUE_OF = {state: d.name for d in DIALOGUES for state in d.states}
ASKS = {state: s.asks for d in DIALOGUES for state, s in d.states.items()}
DRAFTS = tuple(dict.fromkeys(key for d in DIALOGUES for key in d.drafts))

_conversation: ConversationHandler | None = None


def current_state(update: Update) -> str | None:
    """The dialogue state this update's customer is in (None outside any dialogue)."""
    if _conversation is None:
        return None
    # PTB has no public reader of a conversation's state.
    key = _conversation._get_key(update)  # noqa: SLF001
    state = _conversation._conversations.get(key)  # noqa: SLF001
    return state if isinstance(state, str) else None


# --- fallbacks: anything unexpected inside a dialogue ---------------------------------


def _forget_drafts(context: BotContext) -> None:
    for key in DRAFTS:
        context.drafts.pop(key, None)


async def _ask_again(update: Update, state: str | None) -> None:
    if state in ASKS:
        await say(update, ASKS[state], step=None)


async def cancel(update: Update, context: BotContext) -> NextState:
    """Mégse or /cancel: leave the dialogue, nothing half-done is kept."""
    _forget_drafts(context)
    await say(update, "common/cancelled", reply_markup=await current_keyboard(update, context))
    return END


async def restart(update: Update, context: BotContext) -> NextState:
    """/start in a dialogue: leave it and greet."""
    _forget_drafts(context)
    await greet(update, context)
    return END


async def menu_in_dialogue(update: Update, context: BotContext) -> NextState:
    """A menu button pressed mid-dialogue: leave the dialogue and do what it says."""
    _forget_drafts(context)
    pressed = text_of(update)
    for name, action in menu.MENU_ACTIONS.items():
        if pressed == label(name):
            await action(update, context)
    return END


async def remind(update: Update, context: BotContext) -> None:
    """A command, sticker, photo or stale button mid-dialogue: repeat the question."""
    state = current_state(update)
    if update.callback_query:
        await update.callback_query.answer(
            render("chat/common/stale_button_alert.txt"), show_alert=False
        )
    what = (
        "command"
        if update.message and (update.message.text or "").startswith("/")
        else ("button" if update.callback_query else "media")
    )
    await say(update, "common/mid_dialogue", what=what, dialogue=DIALOGUE_OF.get(state or "", ""))
    await _ask_again(update, state)


async def help_in_dialogue(update: Update, context: BotContext) -> None:
    """/help mid-dialogue: the general help, then the question again."""
    await say(update, "common/help", logged_in=await logged_in(update, context) is not None)
    await _ask_again(update, current_state(update))


def fallbacks() -> list[BaseHandler]:
    """What every dialogue does with the unexpected (order matters: the catch-alls last)."""
    return [
        CommandHandler(["cancel", "megse"], cancel),
        MessageHandler(F.TEXT & F.Regex(label_pattern("cancel")), cancel),
        CommandHandler("start", restart),
        CommandHandler(["help", "sugo"], help_in_dialogue),
        MessageHandler(F.TEXT & F.Regex(label_pattern(*menu.MENU_ACTIONS)), menu_in_dialogue),
        MessageHandler(F.ALL & ~F.StatusUpdate.ALL, remind),
        CallbackQueryHandler(remind),
    ]


def conversation() -> ConversationHandler:
    """The whole dialogue table: every dialogue's entries and states, one set of fallbacks."""
    global _conversation
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBUserWarning)  # per_message=False is intended
        _conversation = ConversationHandler(
            entry_points=[handler for d in DIALOGUES for handler in d.entry_points],
            states={state: list(s.handlers) for d in DIALOGUES for state, s in d.states.items()},
            fallbacks=fallbacks(),
            name=NAME,
            persistent=True,
            allow_reentry=True,
        )
    return _conversation


# --- outside any dialogue ---------------------------------------------------------------


async def greet(update: Update, context: BotContext) -> None:
    """/start: who we are, what the bot can do, and the buttons."""
    account = await logged_in(update, context)
    if account is not None:
        await say(
            update, "common/welcome_back", reply_markup=customer_keyboard(), name=account.username
        )
        return
    await say(update, "common/greeting", reply_markup=guest_keyboard())


async def help_command(update: Update, context: BotContext) -> None:
    """/help or Súgó: what the bot can do, for a guest or for a logged-in customer."""
    account = await logged_in(update, context)
    await say(
        update,
        "common/help",
        reply_markup=customer_keyboard() if account else guest_keyboard(),
        logged_in=account is not None,
    )


async def nothing_to_cancel(update: Update, context: BotContext) -> None:
    """Mégse outside a dialogue."""
    await say(
        update, "common/nothing_to_cancel", reply_markup=await current_keyboard(update, context)
    )


async def menu_command(update: Update, context: BotContext) -> None:
    """/menu: the home page when logged in, else the greeting."""
    account = await logged_in(update, context)
    if account is not None:
        await menu.show_home(update, context, account)
    else:
        await greet(update, context)


async def free_text(update: Update, context: BotContext) -> None:
    """Text outside a dialogue: a pasted activation code works; anything else gets a hint."""
    text = text_of(update)
    if accounts.looks_like_code(text):
        await activation.got_code(update, context)
        return
    await say(update, "common/not_understood", reply_markup=await current_keyboard(update, context))


async def unknown_command(update: Update, context: BotContext) -> None:
    """A command the bot does not know."""
    await say(
        update, "common/unknown_command", reply_markup=await current_keyboard(update, context)
    )


async def media(update: Update, context: BotContext) -> None:
    """A sticker, photo, voice message…: we read text only."""
    await say(update, "common/text_only", reply_markup=await current_keyboard(update, context))


async def stale_button(update: Update, context: BotContext) -> None:
    """An inline button from an old message whose dialogue is over."""
    await query_of(update).answer(render("chat/common/stale_button_alert.txt"))
    await say(update, "common/stale_button", reply_markup=await current_keyboard(update, context))


def outside_handlers() -> list[BaseHandler]:
    """Handlers for everything the dialogue and the menu did not take (order matters)."""
    return [
        CommandHandler("start", greet, filters=PRIVATE),
        CommandHandler(["help", "sugo"], help_command, filters=PRIVATE),
        MessageHandler(PRIVATE & F.TEXT & F.Regex(label_pattern("help")), help_command),
        CommandHandler(["cancel", "megse"], nothing_to_cancel, filters=PRIVATE),
        MessageHandler(PRIVATE & F.TEXT & F.Regex(label_pattern("cancel")), nothing_to_cancel),
        CommandHandler("menu", menu_command, filters=PRIVATE),
        CommandHandler(["kijelentkezes", "logout"], menu.logout, filters=PRIVATE),
        MessageHandler(PRIVATE & F.COMMAND, unknown_command),
        MessageHandler(PRIVATE & ANSWER, free_text),
        MessageHandler(PRIVATE & ~F.TEXT & ~F.StatusUpdate.ALL, media),
        CallbackQueryHandler(stale_button),
    ]
