"""Registration: the seed's fields one at a time, a summary, then the proof.

e-mail → user name → password, twice → customer ID → invoice number → amount →
summary (confirm, or correct one field) → account pending, activation mail
queued. The password is hashed as soon as it is read and its message deleted;
the second typing is checked against that hash (both messages are deleted, so
a typo would otherwise be invisible). The steps are numbered 1/6 to 6/6 by the
six answers kept: the repeated password is still step 3.

The billing facts are read as people write them (`core.formats`, lenient): a
refused one is told the form that works, with an example, and what was wrong
where that can be told.

Correcting keeps everything: Mégse while choosing which field to correct, or
while answering that field again, goes back to the summary with every answer
as it was. Those steps are states of their own (`FIXING`), so that Mégse in
them means "back", and anywhere else leaves the registration as in every
dialogue.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler
from telegram.ext import filters as F

from conversations import report
from conversations.common import (
    ANSWER,
    CANCEL,
    CUSTOMER_MENU,
    END,
    GUEST_MENU,
    BotContext,
    Dialogue,
    NextState,
    StepCallback,
    StepNumber,
    button_data,
    cancel_keyboard,
    delete_secret,
    dialogue_keyboard,
    guest_keyboard,
    inline,
    label,
    label_pattern,
    lock_minutes,
    once_key,
    opened_by,
    query_of,
    say,
    say_together,
    step,
    text_of,
    user_id,
)
from conversations.typed import pressed_name
from core import accounts, intents
from core.accounts import RegisterOutcome, Registration
from core.emails import normalised_email
from core.formats import (
    TypedValueError,
    format_invoice_number,
    parse_amount,
    parse_invoice_number,
)
from core.mail.text import fold
from core.passwords import hash_password, password_problem, verify_password

DRAFT = "reg"  # user_data: the fields typed so far (the password only as its hash)
# In the draft: the field being corrected from the summary, and the password's hash
# between its first typing and the second.
CORRECTING = "correcting"
PASSWORD_ONCE = "password_once"

# The states (their values are what the persistence stores: never rename them).
EMAIL = "reg_email"
USERNAME = "reg_username"
PASSWORD = "reg_password"
PASSWORD_AGAIN = "reg_password_again"
CUSTOMER = "reg_customer"
INVOICE = "reg_invoice"
AMOUNT = "reg_amount"
CONFIRM = "reg_confirm"
CHOOSE = "reg_choose"  # "Melyik adatot javítaná?"

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
# The questions' states while a field is corrected from the summary: the same questions,
# where Mégse goes back to the summary instead of leaving.
FIXING = {
    state: f"{state}_fix"
    for state in (EMAIL, USERNAME, PASSWORD, PASSWORD_AGAIN, CUSTOMER, INVOICE, AMOUNT)
}
# What each question's state is numbered ("3/6."), also when it is asked again (after /help).
STEPS = len(FIELDS)
_NUMBERS = {**{state: FIELDS.index(f) + 1 for f, state in STATE_OF.items()}, PASSWORD_AGAIN: 3}
STEP_OF = {**_NUMBERS, **{FIXING[state]: n for state, n in _NUMBERS.items()}}


def numbered(field: str) -> StepNumber:
    """The step values of a field's question (its `step` of `steps`: "3/6.")."""
    return StepNumber(step=FIELDS.index(field) + 1, steps=STEPS)


# The states whose answers are passwords: whatever is typed there is deleted.
SECRET_STATES = frozenset({PASSWORD, PASSWORD_AGAIN, FIXING[PASSWORD], FIXING[PASSWORD_AGAIN]})


def given(state: str, drafts: Mapping[Any, Any]) -> tuple[str, ...]:
    """The fields answered so far (the password once it is typed, even before its repeat)."""
    draft = drafts.get(DRAFT) or {}
    return tuple(f for f in FIELDS if f in draft or (f == "password" and PASSWORD_ONCE in draft))


def _draft(context: BotContext) -> dict[str, Any]:
    draft: dict[str, Any] = context.drafts.setdefault(DRAFT, {})
    return draft


def _asking(context: BotContext, state: str) -> str:
    """The state of a question: its correcting twin when a field is being corrected."""
    return FIXING[state] if _draft(context).get(CORRECTING) else state


async def _next(update: Update, context: BotContext, done: str) -> NextState:
    """After a field is kept: back to the summary when correcting, else the next question."""
    draft = _draft(context)
    if draft.pop(CORRECTING, None) or all(f in draft for f in FIELDS):
        return await show_summary(update, context)
    following = FIELDS[FIELDS.index(done) + 1]
    await say(update, f"registration/ask_{following}", **numbered(following))
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
    await say_together(
        update,
        ("registration/intro", {}),
        ("registration/ask_email", numbered("email")),
        reply_markup=cancel_keyboard(),
    )
    return EMAIL


async def got_email(update: Update, context: BotContext) -> NextState:
    """Keep a usable e-mail address (normalised), or say why not."""
    email = normalised_email(text_of(update))
    if email is None:
        await say_bad_email(update)
        return _asking(context, EMAIL)
    _draft(context)["email"] = email
    return await _next(update, context, "email")


def unaccented_email(typed: str) -> str | None:
    """The address written without accents, when only its accents made it unusable
    ("kovács.éva@freemail.hu": kovacs.eva@freemail.hu)."""
    plain = fold(typed.strip())
    return normalised_email(plain) if plain != typed.strip().casefold() else None


async def say_bad_email(update: Update) -> None:
    """Why a typed address is no address; with accents, the form without them."""
    typed = text_of(update).strip()
    await say(update, "registration/bad_email", value=typed, unaccented=unaccented_email(typed))


async def got_username(update: Update, context: BotContext) -> NextState:
    """Keep a user name of 3-32 letters (one script), digits, . _ - in its NFKC form.

    Whether it is taken is told only at the end, once the proof holds: this
    step is no way to learn who has an account.
    """
    username = accounts.normalise_username(text_of(update))
    problem = accounts.username_problem(username)
    if problem:
        await say(update, "registration/bad_username", problem=problem, value=username)
        return _asking(context, USERNAME)
    _draft(context)["username"] = username
    return await _next(update, context, "username")


async def got_password(update: Update, context: BotContext) -> NextState:
    """Hash the password at once, delete the message holding it, ask for it again."""
    password = text_of(update)
    await delete_secret(update)
    draft = _draft(context)
    problem = password_problem(password, draft.get("username", ""))
    if problem:
        await say(update, "registration/bad_password", problem=problem)
        return _asking(context, PASSWORD)
    draft[PASSWORD_ONCE] = await hash_password(password)
    await say(
        update,
        "registration/ask_password_again",
        **numbered("password"),
        correcting=CORRECTING in draft,
    )
    return _asking(context, PASSWORD_AGAIN)


async def got_password_again(update: Update, context: BotContext) -> NextState:
    """The same password again: keep its hash; a different one asks for both again."""
    password = text_of(update)
    await delete_secret(update)
    draft = _draft(context)
    once: str | None = draft.pop(PASSWORD_ONCE, None)
    if once is None or not await verify_password(once, password):
        await say(update, "registration/password_mismatch")
        await say(update, "registration/ask_password", **numbered("password"))
        return _asking(context, PASSWORD)
    draft["password"] = once
    return await _next(update, context, "password")


def _positive_amount(text: str) -> int:
    amount = parse_amount(text, lenient=True)
    if amount <= 0:
        raise TypedValueError("amount", text, "not_positive")
    return amount


def _billing_fact(field: str, parse: Callable[[str], object]) -> StepCallback:
    """A step that keeps one billing fact (customer ID, invoice number, amount) if it parses."""

    async def keep(update: Update, context: BotContext) -> NextState:
        try:
            value = parse(text_of(update))
        except ValueError as error:
            await say(
                update,
                f"registration/bad_{field}",
                value=text_of(update).strip(),
                problem=getattr(error, "problem", "form"),
            )
            return _asking(context, STATE_OF[field])
        _draft(context)[field] = value
        return await _next(update, context, field)

    keep.__doc__ = f"Keep the {field.replace('_', ' ')} if it parses; else say how to write it."
    return keep


# The billing facts as people write them (core.formats, lenient): u27 or U-0027 is U0027;
# 2016/123 or 2016 000123 is 2016-000123; 12 345 Ft, 12.345,- or HUF 12345 is 12345. In
# the order a value typed at the summary is tried (`fitting_value`), the most particular
# form first; Fiókváltás's proof reads them the same way (`conversations.places`).
BILLING_PARSERS: dict[str, Callable[[str], object]] = {
    "customer_id": accounts.parse_typed_customer_id,
    "invoice": lambda t: parse_invoice_number(t, lenient=True),
    "amount": _positive_amount,
}
got_customer_id = _billing_fact("customer_id", BILLING_PARSERS["customer_id"])
got_invoice = _billing_fact("invoice", BILLING_PARSERS["invoice"])
got_amount = _billing_fact("amount", BILLING_PARSERS["amount"])


async def say_summary(
    update: Update, draft: Mapping[str, Any], prefix: str, *, kept: bool, changed: str
) -> None:
    """The answers of `draft` to confirm or correct (buttons `<prefix>confirm`,
    `<prefix>fix`): the registration's summary, also Fiókváltás's (`conversations.places`)."""
    await say(
        update,
        "registration/summary",
        reply_markup=inline([[("confirm", f"{prefix}confirm")], [("correct", f"{prefix}fix")]]),
        draft=draft,
        invoice=format_invoice_number(draft["invoice"]),
        kept=kept,
        changed=label(f"field_{changed}") if changed else "",
    )


async def say_field_choice(update: Update, prefix: str, fields: tuple[str, ...]) -> None:
    """Which of `fields` to correct (buttons `<prefix>fix:<field>`)."""
    if update.callback_query:
        await update.callback_query.answer()
    await say(
        update,
        "registration/which_field",
        reply_markup=inline([[(f"field_{f}", f"{prefix}fix:{f}")] for f in fields]),
    )


async def show_summary(
    update: Update, context: BotContext, *, kept: bool = False, changed: str = ""
) -> NextState:
    """Everything typed (password hidden, the rest in its normalised form), to confirm or
    correct; `kept` says first that nothing was changed (Mégse while correcting), `changed`
    which field a value typed at the summary replaced."""
    await say_summary(update, _draft(context), "reg:", kept=kept, changed=changed)
    return CONFIRM


async def choose_field(update: Update, context: BotContext) -> NextState:
    """Offer the fields to correct."""
    await say_field_choice(update, "reg:", FIELDS)
    return CHOOSE


async def _ask_to_correct(update: Update, context: BotContext, field: str) -> NextState:
    _draft(context)[CORRECTING] = field
    await say(update, f"registration/ask_{field}", **numbered(field), correcting=True)
    return FIXING[STATE_OF[field]]


async def fix_field(update: Update, context: BotContext) -> NextState:
    """Ask one field again, then come back to the summary."""
    await query_of(update).answer()
    field = button_data(update).removeprefix("reg:fix:")
    if field not in STATE_OF:
        return CONFIRM
    return await _ask_to_correct(update, context, field)


async def back_to_summary(update: Update, context: BotContext) -> NextState:
    """Mégse while correcting: the summary again, every answer as it was."""
    draft = _draft(context)
    draft.pop(CORRECTING, None)
    draft.pop(PASSWORD_ONCE, None)
    if not all(f in draft for f in FIELDS):  # a stale step from an earlier registration
        return await start(update, context)
    return await show_summary(update, context, kept=True)


async def back_from_secret(update: Update, context: BotContext) -> NextState:
    """Mégse where a password was asked: a typed cancel word may have been the password, so
    it is deleted like one (the pressed button and /megse are not); back to the summary."""
    typed = text_of(update)
    if typed != label("cancel") and not typed.startswith("/"):
        await delete_secret(update)
    return await back_to_summary(update, context)


# What a typed answer to "Melyik adatot javítaná?" names, without accents and spaces.
FIELD_WORDS = {
    "email": ("email", "cim"),
    "username": ("felhasznalo", "nev"),
    "password": ("jelszo",),
    "customer_id": ("azonosito", "ugyfel"),
    "invoice": ("szamlaszam", "sorszam"),
    "amount": ("osszeg",),
}


def named_fields(text: str) -> set[str]:
    """The fields a typed answer names ("a jelszót", "Számla összege", "e-mail")."""
    plain = "".join(
        c
        for c in unicodedata.normalize("NFD", text.casefold())
        if c.isalnum() and not unicodedata.combining(c)
    )
    return {field for field, words in FIELD_WORDS.items() if any(w in plain for w in words)}


async def typed_choice(update: Update, context: BotContext) -> NextState:
    """Text while choosing what to correct: the field it names is asked again; Mégse, or
    anything that names no field ("vissza", "semmit"), goes back to the summary."""
    named = named_fields(text_of(update))
    if len(named) == 1:
        return await _ask_to_correct(update, context, named.pop())
    if len(named) > 1:
        await say(
            update,
            "registration/which_field",
            reply_markup=inline([[(f"field_{f}", f"reg:fix:{f}")] for f in FIELDS]),
        )
        return CHOOSE
    return await back_to_summary(update, context)


def fitting_value(text: str) -> tuple[str, object] | None:
    """The field a value typed at the summary fits, and the value ("10 691,-" is an amount,
    "u27" a customer ID, "2026/2168" an invoice number, an address the e-mail); None for
    words. Tried from the most particular form to the least."""
    typed = text.strip()
    if "@" in typed:
        email = normalised_email(typed)
        return ("email", email) if email else None
    if not any(c.isdigit() for c in typed):
        return None
    for field, parse in BILLING_PARSERS.items():
        try:
            return field, parse(typed)
        except ValueError:
            continue
    return None


async def typed_at_summary(update: Update, context: BotContext) -> NextState:
    """Text under the summary (or under a refused proof): a typed button does the button,
    a confirmation sends, a value replaces the field it fits, a field's name or a word of
    correcting asks to correct; anything else shows the summary again, with its buttons."""
    text = text_of(update)
    draft = _draft(context)
    if not all(f in draft for f in FIELDS):  # a stale step from an earlier registration
        return await start(update, context)
    match pressed_name(text, "confirm", "correct", "report"):
        case "confirm":
            return await confirm(update, context)
        case "correct":
            return await choose_field(update, context)
        case "report":
            return await report.start(update, context)
    fitted = fitting_value(text)
    if fitted is not None:
        field, value = fitted
        draft[field] = value
        return await show_summary(update, context, changed=field)
    named = named_fields(text)
    if len(named) == 1:
        return await _ask_to_correct(update, context, named.pop())
    if named or intents.says(text, "correct"):
        return await choose_field(update, context)
    if intents.says(text, "confirm"):
        return await confirm(update, context)
    return await show_summary(update, context)


async def confirm(update: Update, context: BotContext) -> NextState:
    """Check the proof and create the pending account."""
    if update.callback_query:
        await update.callback_query.answer()
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
    # Said with a refused proof, from the typed number only: it tells nothing of the data.
    old_year = accounts.outdated_invoice_year(reg.invoice_no, svc.policy, now)
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
                old_year=old_year,
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
                old_year=old_year,
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
            draft[CORRECTING] = "username"
            await say(update, "registration/username_taken", value=reg.username)
            return FIXING[USERNAME]
    return CONFIRM


# Text while choosing what to correct: anything typed but a menu button (which does what
# it says, as everywhere) or a command. A field's label typed ("Számlaszám") names it.
TYPED_CHOICE = (
    F.TEXT
    & ~F.COMMAND
    & ~F.Regex(label_pattern(*dict.fromkeys(n for row in GUEST_MENU + CUSTOMER_MENU for n in row)))
)


def _back(secret: bool) -> tuple[BaseHandler, ...]:
    """The handlers that take Mégse (pressed, /megse, or a cancel word typed) back to the
    summary, where the dialogue table's would leave; a word typed where a password was asked
    is deleted like one."""
    callback = back_from_secret if secret else back_to_summary
    return (CommandHandler(["cancel", "megse"], callback), MessageHandler(CANCEL, callback))


# Each question: the template asking it, and the step that takes its answer.
QUESTIONS: dict[str, tuple[str, StepCallback]] = {
    EMAIL: ("registration/ask_email", got_email),
    USERNAME: ("registration/ask_username", got_username),
    PASSWORD: ("registration/ask_password", got_password),
    PASSWORD_AGAIN: ("registration/ask_password_again", got_password_again),
    CUSTOMER: ("registration/ask_customer_id", got_customer_id),
    INVOICE: ("registration/ask_invoice", got_invoice),
    AMOUNT: ("registration/ask_amount", got_amount),
}
SUMMARY_BUTTONS = (
    CallbackQueryHandler(confirm, pattern="^reg:confirm$"),
    CallbackQueryHandler(choose_field, pattern="^reg:fix$"),
    CallbackQueryHandler(fix_field, pattern="^reg:fix:"),
)

# e-mail → user name → password, twice → customer ID → invoice number → amount → summary;
# from the summary, which field → that question (its FIXING twin) → the summary.
DIALOGUE = Dialogue(
    name="registration",
    entry_points=opened_by("register", ("regisztracio", "register"), start),
    states={
        **{
            state: step(asks, MessageHandler(ANSWER, callback))
            for state, (asks, callback) in QUESTIONS.items()
        },
        **{
            FIXING[state]: step(
                asks,
                *_back(secret=FIXING[state] in SECRET_STATES),
                MessageHandler(ANSWER, callback),
            )
            for state, (asks, callback) in QUESTIONS.items()
        },
        CONFIRM: step(
            "registration/confirm_again",
            *SUMMARY_BUTTONS,
            MessageHandler(ANSWER, typed_at_summary),
        ),
        CHOOSE: step(
            "registration/which_field",
            *SUMMARY_BUTTONS,
            *_back(secret=False),
            MessageHandler(TYPED_CHOICE, typed_choice),
        ),
    },
    drafts=(DRAFT,),
    given=given,
    numbers={state: (n, STEPS) for state, n in STEP_OF.items()},
)
