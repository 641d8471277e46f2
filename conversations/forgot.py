"""A forgotten password: user name or e-mail → a reset code by mail → new → new again.

The code may be typed or come by the mail's deep link (`/start rst_<code>`).
Every message holding a code or password is deleted as soon as it is read;
the new password is asked for the way `conversations.password` asks it.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler, MessageHandler
from telegram.ext import filters as F

from conversations import password, report
from conversations.common import (
    ANSWER,
    END,
    PRIVATE,
    BotContext,
    Dialogue,
    NextState,
    cancel_keyboard,
    delete_secret,
    dialogue_keyboard,
    guest_keyboard,
    lock_minutes,
    once_key,
    opened_by,
    say,
    step,
    text_of,
    typed_code,
    user_id,
)
from conversations.secrecy import say_deleted
from conversations.typed import saying, typed_form, typed_label
from core import account_lookup, accounts, throttle
from core.account_lookup import Account
from core.accounts import RESET_PREFIX, CodeOutcome
from core.intents import normalise

# The states (their values are what the persistence stores: never rename them).
WHO = "forgot_who"
CODE = "forgot_code"
NEW = "forgot_new"
AGAIN = "forgot_again"

RESET = "reset"  # user_data: the checked code's ID and its account's, until the new password


async def start(update: Update, context: BotContext) -> NextState:
    """Ask whose password was forgotten."""
    await say(update, "forgot/ask_who", reply_markup=cancel_keyboard())
    return WHO


async def got_who(update: Update, context: BotContext) -> NextState:
    """Mail a reset code to the registered address; the same answer (and work) either way.

    The mail tells the customer to choose Elfelejtett jelszó and type the code, so a code
    typed here is taken as the code: its message is deleted and it is never kept as a name.
    """
    if accounts.looks_like_code(text_of(update)):
        code = await typed_code(update)
        return await use_code(update, context, code) if code is not None else CODE
    svc = context.services
    now = svc.now()
    until = await accounts.request_reset_code(
        svc.db,
        text_of(update),
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
        return WHO
    cap = throttle.CODE_MAIL_ACCOUNT  # told alike whether or not it held this mail back
    await say(
        update,
        "forgot/sent_if_known",
        hours=svc.policy.code_ttl_hours,
        per_hour=cap.limit,
        minutes=round(cap.lock_for / 60),
    )
    return CODE


async def deep_link(update: Update, context: BotContext) -> NextState:
    """`/start rst_<code>` (the mail's link): check the code at once."""
    payload = context.args[0] if context.args else ""
    return await use_code(update, context, payload.removeprefix(RESET_PREFIX))


async def use_code(update: Update, context: BotContext, code: str) -> NextState:
    """Check a reset code (typed or deep-linked); then ask for the new password."""
    svc = context.services
    now = svc.now()
    result = await accounts.check_code(
        svc.db, code, "reset", telegram_user_id=user_id(update), now=now
    )
    match result.outcome:
        case CodeOutcome.OK:
            assert result.account is not None
            context.drafts[RESET] = {
                "code_id": result.code_id,
                "account_id": result.account.id,
            }
            await say(
                update,
                "forgot/ask_new",
                reply_markup=cancel_keyboard(),
                username=result.account.username,
            )
            return NEW
        case CodeOutcome.LOCKED:
            await say(
                update,
                "common/locked",
                reply_markup=dialogue_keyboard("report"),
                minutes=lock_minutes(result.locked_until, now),
            )
            return CODE
        case CodeOutcome.EXPIRED | CodeOutcome.USED:
            await say(update, "forgot/expired", reply_markup=guest_keyboard())
            return END
    await say(update, "forgot/invalid", reply_markup=cancel_keyboard())
    return CODE


async def got_code(update: Update, context: BotContext) -> NextState:
    """A typed code: delete the message, then check it."""
    code = await typed_code(update)
    if code is None:
        return CODE
    return await use_code(update, context, code)


async def ask_for_code(update: Update, context: BotContext) -> NextState:
    """ "Megjött a kód" where the code is asked: ask them to type (or paste) it here."""
    await say(update, "forgot/ask_code", reply_markup=cancel_keyboard())
    return CODE


async def no_mail(update: Update, context: BotContext) -> NextState:
    """ "Nem jött meg a levél": where to look, and how to ask again."""
    await say(update, "forgot/no_mail", reply_markup=dialogue_keyboard("forgot"))
    return CODE


async def _reset_account(context: BotContext) -> tuple[dict[str, int], Account | None]:
    """The reset in progress and the account it is for (None once that is gone)."""
    reset: dict[str, int] = context.drafts.get(RESET) or {}
    return reset, await account_lookup.by_id(context.services.db, reset.get("account_id", 0))


async def got_new(update: Update, context: BotContext) -> NextState:
    """Keep the new password's hash if it is acceptable; ask for it again."""
    _, account = await _reset_account(context)
    if account is None:
        await delete_secret(update)  # a new password all the same
        await say_deleted(update, "forgot/expired", reply_markup=guest_keyboard())
        return END
    return AGAIN if await password.keep_new(update, context, account.username) else NEW


async def got_again(update: Update, context: BotContext) -> NextState:
    """The same password again: set it with the code (used once) and end the reset."""
    new_hash = await password.same_again(update, context)
    if new_hash is None:
        await say(update, "password/ask_new")
        return NEW
    reset, account = await _reset_account(context)
    svc = context.services
    done = account is not None and await accounts.reset_password(
        svc.db,
        reset["code_id"],
        account,
        new_hash,
        telegram_user_id=user_id(update),
        mailer=svc.mailer,
        once=once_key(update),
        now=svc.now(),
    )
    context.drafts.pop(RESET, None)
    if not done:
        await say_deleted(update, "forgot/expired", reply_markup=guest_keyboard())
        return END
    await say_deleted(update, "forgot/done", reply_markup=guest_keyboard())
    return END


async def _typed_button(update: Update, context: BotContext) -> NextState:
    """A button of the screen typed at the code prompt: that button."""
    if normalise(text_of(update)) == typed_form("forgot"):
        return await start(update, context)
    return await report.start(update, context)


DIALOGUE = Dialogue(
    name="forgot",
    entry_points=(
        CommandHandler("start", deep_link, filters=PRIVATE & F.Regex(rf"^/start\s+{RESET_PREFIX}")),
        *opened_by("forgot", ("elfelejtett_jelszo", "forgot"), start),
    ),
    states={
        WHO: step(
            "forgot/ask_who",
            MessageHandler(typed_label("report"), report.start),
            MessageHandler(ANSWER, got_who),
        ),
        CODE: step(
            "forgot/ask_code",
            MessageHandler(typed_label("report", "forgot"), _typed_button),
            MessageHandler(saying("got_code"), ask_for_code),
            MessageHandler(saying("no_mail"), no_mail),
            MessageHandler(ANSWER, got_code),
        ),
        NEW: step("password/ask_new", MessageHandler(ANSWER, got_new)),
        AGAIN: step("password/ask_again", MessageHandler(ANSWER, got_again)),
    },
    drafts=(RESET, password.NEW_HASH),
    given=lambda state, drafts: {
        CODE: ("username",),
        NEW: ("username", "code"),
        AGAIN: ("username", "code", "new_password"),
    }.get(state, ()),
)
