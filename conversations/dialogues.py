"""The customer's dialogues as one table, and what happens outside them.

One persistent ConversationHandler holds every dialogue (registration,
activation, login, passwords, report), so a customer is in at most one at a
time and anything unexpected mid-dialogue gets the same helpful treatment:
buttons and deep links always do what they say (re-entry), /start and Mégse
leave, other commands, stickers and stale buttons get a reminder of the
question. Outside a dialogue, the handlers at the end answer everything else.
"""

from __future__ import annotations

import warnings

from telegram import Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
)
from telegram.ext import filters as F
from telegram.warnings import PTBUserWarning

from conversations import activation, login, menu, password, registration, report
from conversations.common import (
    ANSWER,
    BotContext,
    customer_keyboard,
    guest_keyboard,
    label,
    label_pattern,
    say,
    text_of,
    user_id,
)
from conversations.states import DIALOGUE_OF
from core import accounts
from core.accounts import ACTIVATION_PREFIX, RESET_PREFIX, SessionState

END = ConversationHandler.END
DIALOGUE = "dialogue"

# What each state asks, to repeat it after an interruption.
ASK_AGAIN = {
    "reg_email": "registration/ask_email",
    "reg_username": "registration/ask_username",
    "reg_password": "registration/ask_password",
    "reg_customer": "registration/ask_customer_id",
    "reg_invoice": "registration/ask_invoice",
    "reg_amount": "registration/ask_amount",
    "reg_confirm": "registration/confirm_again",
    "act_code": "activation/ask_code",
    "act_email": "activation/ask_email",
    "login_username": "login/ask_username",
    "login_password": "login/ask_password",
    "forgot_who": "forgot/ask_who",
    "forgot_code": "forgot/ask_code",
    "forgot_new": "password/ask_new",
    "forgot_again": "password/ask_again",
    "pw_current": "password/ask_current",
    "pw_new": "password/ask_new",
    "pw_again": "password/ask_again",
    "report_text": "report/ask",
}

_conversation: ConversationHandler | None = None


def current_state(update: Update) -> str | None:
    """The dialogue state this update's customer is in (None outside any dialogue)."""
    if _conversation is None:
        return None
    key = _conversation._get_key(update)  # noqa: SLF001 - PTB exposes no public reader
    state = _conversation._conversations.get(key)  # noqa: SLF001
    return state if isinstance(state, str) else None


async def _keyboard_for(update: Update, context: BotContext):  # noqa: ANN202
    svc = context.services
    state, _ = await accounts.current_account(svc.db, user_id(update), svc.policy, svc.now())
    return customer_keyboard() if state is SessionState.ACTIVE else guest_keyboard()


# --- entry points -------------------------------------------------------------------


async def deep_link(update: Update, context: BotContext) -> int:
    """`/start act_<code>` activates at once; `/start rst_<code>` starts a new password."""
    payload = context.args[0] if context.args else ""
    if payload.startswith(ACTIVATION_PREFIX):
        return await activation.activate_with(
            update, context, payload.removeprefix(ACTIVATION_PREFIX)
        )
    return await password.use_reset_code(update, context, payload.removeprefix(RESET_PREFIX))


async def start_login(update: Update, context: BotContext) -> int:
    """Belépés — unless already logged in."""
    svc = context.services
    state, account = await accounts.current_account(svc.db, user_id(update), svc.policy, svc.now())
    if state is SessionState.ACTIVE:
        await say(update, "login/already", reply_markup=customer_keyboard(), name=account.username)
        return END
    return await login.start(update, context)


PRIVATE = F.ChatType.PRIVATE


def _entry(names: tuple[str, ...], commands: tuple[str, ...], callback) -> list:  # noqa: ANN001
    return [
        MessageHandler(PRIVATE & F.TEXT & F.Regex(label_pattern(*names)), callback),
        CommandHandler(list(commands), callback, filters=PRIVATE),
    ]


def entry_points() -> list:
    deep = F.Regex(rf"^/start\s+({ACTIVATION_PREFIX}|{RESET_PREFIX})")
    return [
        CommandHandler("start", deep_link, filters=PRIVATE & deep),
        *_entry(("register",), ("regisztracio", "register"), registration.start),
        *_entry(("activate",), ("aktivalas", "activate"), activation.start),
        *_entry(("login",), ("belepes", "login"), start_login),
        *_entry(("forgot",), ("elfelejtett_jelszo", "forgot"), password.start_forgot),
        *_entry(("report",), ("hibabejelentes", "report"), report.start),
        *_entry(("password",), ("jelszo", "password"), password.start_change),
        CallbackQueryHandler(report.start_change_request, pattern="^data:change$"),
        CallbackQueryHandler(activation.resend, pattern="^act:resend$"),
    ]


# --- fallbacks: anything unexpected inside a dialogue ---------------------------------


def _forget_drafts(context: BotContext) -> None:
    for key in ("reg", "login_username", "new_password_hash", "reset", "report_subject"):
        context.user_data.pop(key, None)


async def cancel(update: Update, context: BotContext) -> int:
    """Mégse or /cancel: leave the dialogue, nothing half-done is kept."""
    _forget_drafts(context)
    await say(update, "common/cancelled", reply_markup=await _keyboard_for(update, context))
    return END


async def restart(update: Update, context: BotContext) -> int:
    """/start in a dialogue: leave it and greet."""
    _forget_drafts(context)
    await greet(update, context)
    return END


async def menu_in_dialogue(update: Update, context: BotContext) -> int:
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
        await update.callback_query.answer("Ez a gomb már nem érvényes.", show_alert=False)
    what = (
        "command"
        if update.message and (update.message.text or "").startswith("/")
        else ("button" if update.callback_query else "media")
    )
    await say(update, "common/mid_dialogue", what=what, dialogue=DIALOGUE_OF.get(state, ""))
    if state in ASK_AGAIN:
        await say(update, ASK_AGAIN[state], step=None)
    return None


async def help_in_dialogue(update: Update, context: BotContext) -> None:
    """/help mid-dialogue: the general help, then the question again."""
    await say(update, "common/help")
    state = current_state(update)
    if state in ASK_AGAIN:
        await say(update, ASK_AGAIN[state], step=None)


def fallbacks() -> list:
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
    """The whole dialogue table: every dialogue's states, one set of entries and fallbacks."""
    global _conversation
    states: dict = {}
    for module in (registration, activation, login, password, report):
        states.update(module.states())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBUserWarning)  # per_message=False is intended
        _conversation = ConversationHandler(
            entry_points=entry_points(),
            states=states,
            fallbacks=fallbacks(),
            name=DIALOGUE,
            persistent=True,
            allow_reentry=True,
        )
    return _conversation


# --- outside any dialogue ---------------------------------------------------------------


async def greet(update: Update, context: BotContext) -> None:
    """/start: who we are, what the bot can do, and the buttons."""
    svc = context.services
    state, account = await accounts.current_account(svc.db, user_id(update), svc.policy, svc.now())
    if state is SessionState.ACTIVE:
        await say(
            update, "common/welcome_back", reply_markup=customer_keyboard(), name=account.username
        )
        return
    await say(update, "common/greeting", reply_markup=guest_keyboard())


async def help_command(update: Update, context: BotContext) -> None:
    await say(update, "common/help", reply_markup=await _keyboard_for(update, context))


async def nothing_to_cancel(update: Update, context: BotContext) -> None:
    await say(update, "common/nothing_to_cancel", reply_markup=await _keyboard_for(update, context))


async def menu_command(update: Update, context: BotContext) -> None:
    """/menu: the home page when logged in, else the greeting."""
    await greet(update, context) if not await _logged_in(update, context) else await menu.home(
        update, context
    )


async def _logged_in(update: Update, context: BotContext) -> bool:
    svc = context.services
    state, _ = await accounts.current_account(svc.db, user_id(update), svc.policy, svc.now())
    return state is SessionState.ACTIVE


async def free_text(update: Update, context: BotContext) -> None:
    """Text outside a dialogue: a pasted activation code works; anything else gets a hint."""
    text = text_of(update)
    if accounts.looks_like_code(text):
        await activation.got_code(update, context)
        return
    await say(update, "common/not_understood", reply_markup=await _keyboard_for(update, context))


async def unknown_command(update: Update, context: BotContext) -> None:
    await say(update, "common/unknown_command", reply_markup=await _keyboard_for(update, context))


async def media(update: Update, context: BotContext) -> None:
    """A sticker, photo, voice message…: we read text only."""
    await say(update, "common/text_only", reply_markup=await _keyboard_for(update, context))


async def stale_button(update: Update, context: BotContext) -> None:
    """An inline button from an old message whose dialogue is over."""
    await update.callback_query.answer("Ez a gomb már nem érvényes.")
    await say(update, "common/stale_button", reply_markup=await _keyboard_for(update, context))


def outside_handlers() -> list:
    """Handlers for everything the dialogue and the menu did not take (order matters)."""
    private = PRIVATE
    return [
        CommandHandler("start", greet, filters=private),
        CommandHandler(["help", "sugo"], help_command, filters=private),
        MessageHandler(private & F.TEXT & F.Regex(label_pattern("help")), help_command),
        CommandHandler(["cancel", "megse"], nothing_to_cancel, filters=private),
        MessageHandler(private & F.TEXT & F.Regex(label_pattern("cancel")), nothing_to_cancel),
        CommandHandler("menu", menu_command, filters=private),
        CommandHandler(["kijelentkezes", "logout"], menu.logout, filters=private),
        MessageHandler(private & F.COMMAND, unknown_command),
        MessageHandler(private & ANSWER, free_text),
        MessageHandler(private & ~F.TEXT & ~F.StatusUpdate.ALL, media),
        CallbackQueryHandler(stale_button),
    ]
