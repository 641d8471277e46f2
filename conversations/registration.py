"""Registration: the seed's fields one at a time, a summary, then the proof.

e-mail → user name → password → customer ID → invoice number → amount →
summary (confirm, or correct one field) → account pending, activation mail
queued. The password is hashed as soon as it is read and its message deleted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from telegram import Update
from telegram.ext import CallbackQueryHandler, MessageHandler

from conversations.common import (
    ANSWER,
    END,
    BotContext,
    Dialogue,
    NextState,
    StepCallback,
    button_data,
    cancel_keyboard,
    delete_secret,
    dialogue_keyboard,
    guest_keyboard,
    inline,
    lock_minutes,
    once_key,
    opened_by,
    query_of,
    say,
    step,
    text_of,
    user_id,
)
from core import accounts
from core.accounts import RegisterOutcome, Registration
from core.emails import normalised_email
from core.formats import format_invoice_number, parse_amount, parse_invoice_number
from core.passwords import hash_password, password_problem

DRAFT = "reg"  # user_data: the fields typed so far (the password only as its hash)

# The states (their values are what the persistence stores: never rename them).
EMAIL = "reg_email"
USERNAME = "reg_username"
PASSWORD = "reg_password"
CUSTOMER = "reg_customer"
INVOICE = "reg_invoice"
AMOUNT = "reg_amount"
CONFIRM = "reg_confirm"

# The seed's fields in the order they are asked, each with the state asking it.
FIELDS = ("email", "username", "password", "customer_id", "invoice", "amount")
STATE_OF = {
    "email": EMAIL,
    "username": USERNAME,
    "password": PASSWORD,
    "customer_id": CUSTOMER,
    "invoice": INVOICE,
    "amount": AMOUNT,
}


def _draft(context: BotContext) -> dict[str, Any]:
    draft: dict[str, Any] = context.drafts.setdefault(DRAFT, {})
    return draft


async def _next(update: Update, context: BotContext, done: str) -> NextState:
    """After a field is kept: back to the summary when correcting, else the next question."""
    draft = _draft(context)
    if draft.pop("correcting", None) or all(f in draft for f in FIELDS):
        return await show_summary(update, context)
    following = FIELDS[FIELDS.index(done) + 1]
    await say(update, f"registration/ask_{following}", step=FIELDS.index(following) + 1)
    return STATE_OF[following]


async def start(update: Update, context: BotContext) -> NextState:
    """Begin (or restart) a registration; or, if this Telegram user may not try a proof
    now at all, say so and until when before asking anything."""
    svc = context.services
    now = svc.now()
    until = await accounts.registration_locked(svc.db, user_id(update), now)
    if until is not None:
        await say(
            update,
            "registration/locked_at_start",
            reply_markup=guest_keyboard(),
            minutes=lock_minutes(until, now),
            until=accounts.local_time(until),
        )
        return END
    context.drafts[DRAFT] = {}
    await say(update, "registration/intro", reply_markup=cancel_keyboard())
    await say(update, "registration/ask_email", step=1)
    return EMAIL


async def got_email(update: Update, context: BotContext) -> NextState:
    """Keep a usable e-mail address (normalised), or say why not."""
    email = normalised_email(text_of(update))
    if email is None:
        await say(update, "registration/bad_email", value=text_of(update).strip())
        return EMAIL
    _draft(context)["email"] = email
    return await _next(update, context, "email")


async def got_username(update: Update, context: BotContext) -> NextState:
    """Keep a user name of 3-32 letters (one script), digits, . _ - in its NFKC form.

    Whether it is taken is told only at the end, once the proof holds: this
    step is no way to learn who has an account.
    """
    username = accounts.normalise_username(text_of(update))
    problem = accounts.username_problem(username)
    if problem:
        await say(update, "registration/bad_username", problem=problem, value=username)
        return USERNAME
    _draft(context)["username"] = username
    return await _next(update, context, "username")


async def got_password(update: Update, context: BotContext) -> NextState:
    """Hash the password at once and delete the message holding it."""
    password = text_of(update)
    await delete_secret(update)
    problem = password_problem(password, _draft(context).get("username", ""))
    if problem:
        await say(update, "registration/bad_password", problem=problem)
        return PASSWORD
    _draft(context)["password"] = await hash_password(password)
    return await _next(update, context, "password")


def _positive_amount(text: str) -> int:
    amount = parse_amount(text)
    if amount <= 0:
        raise ValueError("an invoice to prove with is never zero or negative")
    return amount


def _billing_fact(field: str, parse: Callable[[str], object]) -> StepCallback:
    """A step that keeps one billing fact (customer ID, invoice number, amount) if it parses."""

    async def keep(update: Update, context: BotContext) -> NextState:
        try:
            value = parse(text_of(update))
        except ValueError:
            await say(update, f"registration/bad_{field}", value=text_of(update).strip())
            return STATE_OF[field]
        _draft(context)[field] = value
        return await _next(update, context, field)

    keep.__doc__ = f"Keep the {field.replace('_', ' ')} if it parses; else say how to write it."
    return keep


# U1234 (any case, spaces, fullwidth tolerated); 2016-000123 or 2016000123; 12 345 Ft.
got_customer_id = _billing_fact("customer_id", accounts.parse_typed_customer_id)
got_invoice = _billing_fact("invoice", lambda t: parse_invoice_number(t, lenient=True))
got_amount = _billing_fact("amount", _positive_amount)


async def show_summary(update: Update, context: BotContext) -> NextState:
    """Everything typed (password hidden), to confirm or correct."""
    draft = _draft(context)
    await say(
        update,
        "registration/summary",
        reply_markup=inline([[("confirm", "reg:confirm")], [("correct", "reg:fix")]]),
        draft=draft,
        invoice=format_invoice_number(draft["invoice"]),
    )
    return CONFIRM


async def choose_field(update: Update, context: BotContext) -> NextState:
    """Offer the fields to correct."""
    await query_of(update).answer()
    await say(
        update,
        "registration/which_field",
        reply_markup=inline([[(f"field_{f}", f"reg:fix:{f}")] for f in FIELDS]),
    )
    return CONFIRM


async def fix_field(update: Update, context: BotContext) -> NextState:
    """Ask one field again, then come back to the summary."""
    await query_of(update).answer()
    field = button_data(update).removeprefix("reg:fix:")
    if field not in STATE_OF:
        return CONFIRM
    _draft(context)["correcting"] = field
    await say(update, f"registration/ask_{field}", step=FIELDS.index(field) + 1)
    return STATE_OF[field]


async def confirm(update: Update, context: BotContext) -> NextState:
    """Check the proof and create the pending account."""
    await query_of(update).answer()
    draft = _draft(context)
    if not all(f in draft for f in FIELDS):  # a stale summary from an earlier registration
        return await start(update, context)
    svc = context.services
    reg = Registration(
        email=draft["email"],
        username=draft["username"],
        password_hash=draft["password"],
        customer_id=draft["customer_id"],
        invoice_no=draft["invoice"],
        amount=draft["amount"],
    )
    now = svc.now()
    result = await accounts.register(
        svc.db,
        reg,
        telegram_user_id=user_id(update),
        policy=svc.policy,
        mailer=svc.mailer,
        once=once_key(update),
        now=now,
    )
    match result.outcome:
        case RegisterOutcome.OK:
            context.drafts.pop(DRAFT, None)
            await say(
                update,
                "registration/done",
                reply_markup=guest_keyboard(),
                email=reg.email,
                hours=svc.policy.code_ttl_hours,
            )
            return END
        case RegisterOutcome.PROOF_MISMATCH:
            await say(
                update,
                "registration/proof_mismatch",
                reply_markup=inline([[("correct", "reg:fix")], [("report", "open:report")]]),
            )
            return CONFIRM
        case RegisterOutcome.LOCKED:
            # Under siege (many strangers' wrong proofs) the customer ID takes one proof a
            # day from each Telegram user; otherwise this Telegram user tried too often.
            await say(
                update,
                "registration/besieged" if result.locked_by == "siege" else "registration/locked",
                by=result.locked_by,
                mismatch=result.proof_mismatch,
                reply_markup=dialogue_keyboard("report"),
                minutes=lock_minutes(result.locked_until, now),
                until=accounts.local_time(result.locked_until or now),
            )
            return CONFIRM
        case RegisterOutcome.NAMES_LOCKED:
            # Every other answer stays in the draft: after the wait, one press sends it.
            await say(
                update,
                "registration/names_locked",
                reply_markup=inline(
                    [
                        [("confirm", "reg:confirm")],
                        [("correct", "reg:fix")],
                        [("report", "open:report")],
                    ]
                ),
                by=result.locked_by,
                value=reg.username,
                minutes=lock_minutes(result.locked_until, now),
                until=accounts.local_time(result.locked_until or now),
            )
            return CONFIRM
        case RegisterOutcome.TAKEN:
            context.drafts.pop(DRAFT, None)
            await say(
                update,
                "registration/taken",
                reply_markup=guest_keyboard(),
                customer_id=reg.customer_id,
            )
            return END
        case RegisterOutcome.USERNAME_TAKEN:
            draft["correcting"] = "username"
            await say(update, "registration/username_taken", value=reg.username)
            return USERNAME
    return CONFIRM


# e-mail → user name → password → customer ID → invoice number → amount → summary.
DIALOGUE = Dialogue(
    name="registration",
    entry_points=opened_by("register", ("regisztracio", "register"), start),
    states={
        EMAIL: step("registration/ask_email", MessageHandler(ANSWER, got_email)),
        USERNAME: step("registration/ask_username", MessageHandler(ANSWER, got_username)),
        PASSWORD: step("registration/ask_password", MessageHandler(ANSWER, got_password)),
        CUSTOMER: step("registration/ask_customer_id", MessageHandler(ANSWER, got_customer_id)),
        INVOICE: step("registration/ask_invoice", MessageHandler(ANSWER, got_invoice)),
        AMOUNT: step("registration/ask_amount", MessageHandler(ANSWER, got_amount)),
        CONFIRM: step(
            "registration/confirm_again",
            CallbackQueryHandler(confirm, pattern="^reg:confirm$"),
            CallbackQueryHandler(choose_field, pattern="^reg:fix$"),
            CallbackQueryHandler(fix_field, pattern="^reg:fix:"),
        ),
    },
    drafts=(DRAFT,),
)
