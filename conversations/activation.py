"""Activation: by the mail's deep link at once, or by typing the 24-character code.

The Telegram user who registered the account is logged in by it at once and sees
the home page; anyone else activating it (the link opened on another phone) logs
in with the password afterwards.

A new code can be asked for: it goes to the address of the pending
registration (this Telegram user's own, or one named by its e-mail address).
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler
from telegram.ext import filters as F

from conversations import forgot, notifications, registration, report
from conversations.common import (
    ANSWER,
    END,
    PRIVATE,
    BotContext,
    Dialogue,
    NextState,
    cancel_keyboard,
    chat_id,
    dialogue_keyboard,
    guest_keyboard,
    inline,
    lock_minutes,
    once_key,
    opened_by,
    say,
    step,
    text_of,
    typed_code,
    user_id,
)
from conversations.menu import show_home
from conversations.secrecy import unwatch
from conversations.typed import pressed_name, saying, typed_label
from core import account_lookup, accounts, throttle
from core.account_lookup import Account
from core.accounts import ACTIVATION_PREFIX, CodeOutcome, CodeResult, SessionState
from core.emails import normalised_email
from core.texts import render

# The states (their values are what the persistence stores: never rename them).
CODE = "act_code"
EMAIL = "act_email"

RESEND = inline([[("resend", "act:resend")]])


async def start(update: Update, context: BotContext) -> NextState:
    """Ask for the code from the mail."""
    await say(update, "activation/ask_code", reply_markup=cancel_keyboard())
    await say(update, "activation/resend_hint", reply_markup=RESEND)
    return CODE


async def deep_link(update: Update, context: BotContext) -> NextState:
    """`/start act_<code>` (the mail's link): activate at once."""
    payload = context.args[0] if context.args else ""
    return await activate_with(update, context, payload.removeprefix(ACTIVATION_PREFIX))


async def activate_with(update: Update, context: BotContext, code: str) -> NextState:
    """Try a code (typed or from a deep link) and tell the outcome."""
    svc = context.services
    now = svc.now()
    result = await accounts.activate(
        svc.db,
        code,
        telegram_user_id=user_id(update),
        chat_id=chat_id(update),
        once=once_key(update),
        now=now,
    )
    return await _tell(update, context, result, now)


async def _tell(update: Update, context: BotContext, result: CodeResult, now: float) -> NextState:
    """What an activation code's outcome means for the customer."""
    match result.outcome:
        case CodeOutcome.OK if result.logged_in:
            assert result.account is not None
            unwatch(context)
            done = render("chat/activation/done_logged_in.txt", username=result.account.username)
            await show_home(update, context, result.account, lead=done)  # one message
            await notifications.ask_once(update, context, result.account)
            return END
        case CodeOutcome.OK:
            assert result.account is not None
            await say(
                update,
                "activation/done",
                reply_markup=guest_keyboard(),
                username=result.account.username,
            )
            return END
        case CodeOutcome.USED if result.account and result.account.status == "active":
            await say(update, "activation/already", reply_markup=guest_keyboard())
            return END
        case CodeOutcome.EXPIRED | CodeOutcome.USED:
            await say(update, "activation/expired", reply_markup=RESEND)
            return CODE
        case CodeOutcome.LOCKED:
            await say(
                update,
                "common/locked",
                reply_markup=dialogue_keyboard("report"),
                minutes=lock_minutes(result.locked_until, now),
            )
            return CODE
    await say(update, "activation/invalid", reply_markup=RESEND)
    return CODE


async def got_code(update: Update, context: BotContext) -> NextState:
    """A typed code: delete the message, then try it."""
    code = await typed_code(update)
    if code is None:
        return CODE
    return await activate_with(update, context, code)


async def got_any_code(update: Update, context: BotContext) -> NextState:
    """A code typed outside any dialogue: the mail said to type it, and a customer who left
    the reset with /start types it all the same. An activation code activates, a reset
    code leads to the new password; looked up as one guess."""
    code = await typed_code(update)
    if code is None:
        return END
    svc = context.services
    now = svc.now()
    found = await accounts.check_code(
        svc.db, code, ("activation", "reset"), telegram_user_id=user_id(update), now=now
    )
    if found.purpose == "reset":
        return await forgot.use_code(update, context, code)
    if found.purpose == "activation":
        return await activate_with(update, context, code)
    await _tell(update, context, found, now)
    return END


async def typed_button(update: Update, context: BotContext) -> NextState:
    """A button of the screen typed ("uj kod kerese", "hibabejelentes"): that button."""
    if pressed_name(text_of(update), "resend") == "resend":
        return await resend(update, context)
    return await report.start(update, context)


async def no_mail(update: Update, context: BotContext) -> NextState:
    """ "Nem kaptam meg a levelet" where the code is asked: where to look, and a new code."""
    await say(update, "activation/no_mail", reply_markup=RESEND)
    return CODE


async def ask_for_code(update: Update, context: BotContext) -> NextState:
    """ "Megjött a kód": ask them to type (or paste) it here."""
    await say(update, "activation/ask_code", reply_markup=cancel_keyboard())
    return CODE


async def resend(update: Update, context: BotContext) -> NextState:
    """A new code: to this user's own pending registration, or ask for the address."""
    if update.callback_query:
        await update.callback_query.answer()
    svc = context.services
    state, current = await accounts.current_account(svc.db, user_id(update), svc.policy, svc.now())
    if state is SessionState.ACTIVE and current is not None:
        # An old button pressed after activating: nothing to send, the home page instead.
        lead = render("chat/activation/active_logged_in.txt")
        await show_home(update, context, current, lead=lead)  # one message
        return END
    account = await account_lookup.pending_registered_by(svc.db, user_id(update))
    if account is None:
        await say(update, "activation/ask_email", reply_markup=cancel_keyboard())
        return EMAIL
    return await _send(update, context, account)


async def _send(update: Update, context: BotContext, account: Account) -> NextState:
    svc = context.services
    now = svc.now()
    until = await accounts.send_new_code(
        svc.db,
        account,
        "activation",
        policy=svc.policy,
        mailer=svc.mailer,
        actor=f"tg:{user_id(update)}",
        once=once_key(update),
        now=now,
    )
    if until:
        await say(update, "activation/resend_wait", minutes=accounts.wait_minutes(until, now))
    else:
        await say(update, "activation/resent", email=account.email)
    return CODE


async def got_email(update: Update, context: BotContext) -> NextState:
    """The address of a pending registration: a new code goes there (same answer and work
    either way)."""
    email = normalised_email(text_of(update))
    if email is None:
        await registration.say_bad_email(update)
        return EMAIL
    svc = context.services
    now = svc.now()
    until = await accounts.request_activation_code(
        svc.db,
        email,
        telegram_user_id=user_id(update),
        policy=svc.policy,
        mailer=svc.mailer,
        once=once_key(update),
        now=now,
    )
    if until is not None:
        await say(
            update,
            "common/request_wait",
            reply_markup=dialogue_keyboard("report"),
            minutes=lock_minutes(until, now),
        )
        return EMAIL
    cap = throttle.CODE_MAIL_ACCOUNT  # told alike whether or not it held this mail back
    await say(
        update,
        "activation/resent_if_pending",
        email=email,
        per_hour=cap.limit,
        minutes=round(cap.lock_for / 60),
    )
    await say(update, "activation/ask_code", reply_markup=cancel_keyboard())
    return CODE


DIALOGUE = Dialogue(
    name="activation",
    entry_points=(
        CommandHandler(
            "start", deep_link, filters=PRIVATE & F.Regex(rf"^/start\s+{ACTIVATION_PREFIX}")
        ),
        *opened_by("activate", ("aktivalas", "activate"), start),
        CallbackQueryHandler(resend, pattern="^act:resend$"),
    ),
    states={
        # "Új kód kérése" under a question is the entry point above (re-entry).
        CODE: step(
            "activation/ask_code",
            MessageHandler(typed_label("resend", "report"), typed_button),
            MessageHandler(saying("no_mail"), no_mail),
            MessageHandler(saying("got_code"), ask_for_code),
            MessageHandler(ANSWER, got_code),
        ),
        EMAIL: step(
            "activation/ask_email",
            MessageHandler(typed_label("report"), typed_button),
            MessageHandler(ANSWER, got_email),
        ),
    },
)
