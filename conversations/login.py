"""Login with user name (or e-mail address) and password; it binds this Telegram user to the
account.

Every message typed here is deleted as soon as it is read, the user name too: a
password typed at the user-name prompt must not stay on screen either
(`conversations.secrecy`). An address several accounts share may open more than
one with the same password: then the customer picks one of those.
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, MessageHandler

from conversations import forgot, notifications, report
from conversations.common import (
    ANSWER,
    END,
    BotContext,
    Dialogue,
    NextState,
    button_data,
    cancel_keyboard,
    chat_id,
    customer_keyboard,
    delete_secret,
    dialogue_keyboard,
    guest_keyboard,
    lock_minutes,
    logged_in,
    opened_by,
    say,
    step,
    text_of,
    user_id,
)
from conversations.menu import show_home
from conversations.secrecy import deleted_note_and, say_deleted, unwatch, watch
from conversations.typed import pressed_name, typed_label
from core import account_lookup, accounts
from core.accounts import LoginOutcome, LoginResult

# The states (their values are what the persistence stores: never rename them).
USERNAME = "login_username"
PASSWORD = "login_password"
WHICH = "login_which"

USERNAME_DRAFT = "login_username"  # user_data: the user name, checked with the password
CHOICE_DRAFT = "login_choice"  # user_data: the accounts offered to choose from, and when
PICK = "login:pick:"  # an offered account's button: its id follows


async def start(update: Update, context: BotContext) -> NextState:
    """Belépés: ask for the user name, unless already logged in."""
    account = await logged_in(update, context)
    if account is not None:
        await say(update, "login/already", reply_markup=customer_keyboard(), name=account.username)
        return END
    await say(update, "login/ask_username", reply_markup=cancel_keyboard())
    return USERNAME


async def got_username(update: Update, context: BotContext) -> NextState:
    """Keep the user name or address (checked together with the password); delete it."""
    context.drafts[USERNAME_DRAFT] = text_of(update).strip()
    await delete_secret(update)
    await say_deleted(update, "login/ask_password")
    return PASSWORD


async def got_password(update: Update, context: BotContext) -> NextState:
    """Delete the password's message, check it (off the loop) and log in."""
    password = text_of(update)
    await delete_secret(update)
    svc = context.services
    now = svc.now()
    who = context.drafts.pop(USERNAME_DRAFT, "")
    result = await accounts.login(
        svc.db,
        who,
        password,
        telegram_user_id=user_id(update),
        chat_id=chat_id(update),
        now=now,
    )
    if result.outcome is LoginOutcome.CHOOSE:
        context.drafts[CHOICE_DRAFT] = {"ids": [a.id for a in result.choices], "at": now}
        await say_deleted(update, "login/choose", reply_markup=_choices(result))
        return WHICH
    return await _outcome(update, context, result, now)


async def typed_button(update: Update, context: BotContext) -> NextState:
    """A button of the keyboard on screen typed at the user-name prompt ("elfelejtett
    jelszo" under a wrong login): that button, never a user name. Deleted like every
    message of the login."""
    await delete_secret(update)
    context.drafts.pop(USERNAME_DRAFT, None)
    if pressed_name(text_of(update), "forgot") == "forgot":
        return await forgot.start(update, context)
    return await report.start(update, context)


async def _outcome(
    update: Update, context: BotContext, result: LoginResult, now: float
) -> NextState:
    """Tell the customer how the login went; a wrong password asks from the start."""
    match result.outcome:
        case LoginOutcome.OK:
            assert result.account is not None
            unwatch(context)
            welcome = deleted_note_and("login/welcome", name=result.account.username)
            await show_home(update, context, result.account, lead=welcome)  # one message
            await notifications.ask_once(update, context, result.account)
            return END
        case LoginOutcome.LOCKED:
            watch(context, now, result.locked_until)
            await say_deleted(
                update,
                "login/locked",
                reply_markup=guest_keyboard(),
                minutes=lock_minutes(result.locked_until, now),
            )
            return END
        case LoginOutcome.PENDING:
            await say_deleted(update, "login/pending", reply_markup=guest_keyboard())
            return END
        case LoginOutcome.DISABLED:
            await say_deleted(update, "login/disabled", reply_markup=guest_keyboard())
            return END
    watch(context, now)
    await say_deleted(update, "login/wrong", reply_markup=dialogue_keyboard("forgot"))
    await say(update, "login/ask_username")
    return USERNAME


def _choices(result: LoginResult) -> InlineKeyboardMarkup:
    """One button for each account the password opened, by its user name."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(a.username, callback_data=f"{PICK}{a.id}")] for a in result.choices]
    )


async def _enter(update: Update, context: BotContext, chosen: int) -> NextState:
    """Log in to the chosen account, if it was offered just now; else start again."""
    svc = context.services
    now = svc.now()
    offered = context.drafts.pop(CHOICE_DRAFT, None) or {"ids": [], "at": 0.0}
    result = await accounts.enter_chosen(
        svc.db,
        chosen,
        offered["ids"],
        offered["at"],
        telegram_user_id=user_id(update),
        chat_id=chat_id(update),
        now=now,
    )
    if result.outcome is LoginOutcome.WRONG:  # offered too long ago: the password again
        await say_deleted(update, "login/choice_expired")
        await say(update, "login/ask_username")
        return USERNAME
    return await _outcome(update, context, result, now)


async def picked(update: Update, context: BotContext) -> NextState:
    """An offered account's button."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    try:
        chosen = int(button_data(update).removeprefix(PICK))
    except ValueError:
        chosen = 0
    return await _enter(update, context, chosen)


async def typed_choice(update: Update, context: BotContext) -> NextState:
    """A user name typed instead of pressing its button: one of those offered, or ask again."""
    typed = accounts.username_key(text_of(update))
    await delete_secret(update)
    offered = context.drafts.get(CHOICE_DRAFT) or {"ids": [], "at": 0.0}
    db = context.services.db
    for account_id in offered["ids"]:
        account = await account_lookup.by_id(db, account_id)
        if account is not None and accounts.username_key(account.username) == typed:
            return await _enter(update, context, account.id)
    await say_deleted(update, "login/choose_again")
    return WHICH


DIALOGUE = Dialogue(
    name="login",
    entry_points=opened_by("login", ("belepes", "login"), start),
    states={
        USERNAME: step(
            "login/ask_username",
            MessageHandler(typed_label("forgot", "report"), typed_button),
            MessageHandler(ANSWER, got_username),
        ),
        PASSWORD: step("login/ask_password", MessageHandler(ANSWER, got_password)),
        WHICH: step(
            "login/choose_again",
            CallbackQueryHandler(picked, pattern=rf"^{PICK}\d+$"),
            MessageHandler(ANSWER, typed_choice),
        ),
    },
    drafts=(USERNAME_DRAFT, CHOICE_DRAFT),
    # After the user name (or address) the password is asked, or which account is meant.
    given=lambda state, drafts: ("login_name",) if state in (PASSWORD, WHICH) else (),
)
