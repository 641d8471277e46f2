"""Fiókváltás: several customer accounts under one login (`core.accounts.links`).

The page lists the login's customer IDs (its own first), the one shown marked;
a button shows another, adds one, or removes an added one (after a yes). Adding
asks what a registration's proof asks, with the registration's questions, step
numbers and summary: customer ID (1/3) → invoice number (2/3) → amount (3/3),
read as people write them → summary (add, or correct one of them, which is asked
again and the summary shown again) → the added one's Kezdőlap. Once a login has
more than one, every account page starts with the one it shows (`heading`).

A customer ID the login already has is told at once (the login knows its own IDs: no
proof needed to say so). A proof that does not match goes back to the summary with every
answer kept, as the registration does, to correct the one that was wrong. Typed on the
list (`typed_on_list`), "hozzáadás" or the add button's words start adding, a customer ID
of the login ("U0027", "u27") or a word of its address ("Rákóczi") shows that one, and
another customer ID starts adding that one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler

from conversations import registration
from conversations.common import (
    ANSWER,
    CANCEL,
    END,
    BotContext,
    Dialogue,
    NextState,
    StepCallback,
    StepNumber,
    button_data,
    cancel_keyboard,
    customer_keyboard,
    inline,
    lock_minutes,
    logged_in,
    once_key,
    query_of,
    say,
    send_or_edit,
    step,
    text_of,
    user_id,
)
from conversations.login_check import require_login
from conversations.typed import pressed_name
from core import accounts, intents
from core.account_lookup import Account
from core.accounts import links
from core.accounts.links import LinkOutcome
from core.texts import labels, render

PREFIX = "place:"  # show:<id>, add, remove, del:<id>, delok:<id>, list, confirm, fix[:<field>]
DRAFT = "place"  # user_data: the customer ID, invoice number and amount typed so far
CORRECTING = "correcting"  # in the draft: the field being corrected from the summary
LISTED = "places_listed"  # user_data: when the list was shown last (typed answers to it)
TYPED_ANSWER_SECONDS = 30 * 60  # after that a typed word is about something else
ASK_CUSTOMER_ID = "places/ask_customer_id"  # "1/3. Adja meg a hozzáadandó ügyfél-azonosítót"

# The states (their values are what the persistence stores: never rename them).
CUSTOMER = "place_customer"
INVOICE = "place_invoice"
AMOUNT = "place_amount"
CONFIRM = "place_confirm"  # the summary
CHOOSE = "place_choose"  # "Melyik adatot javítaná?"
# The questions while a field is corrected from the summary: the same questions, where
# Mégse goes back to the summary (every answer kept) instead of leaving, as in the
# registration.
FIXING = {state: f"{state}_fix" for state in (CUSTOMER, INVOICE, AMOUNT)}

# The proof's fields in the order they are asked (the registration's last three), each
# with the state asking it and its number ("2/3.").
FIELDS = ("customer_id", "invoice", "amount")
STATE_OF = {"customer_id": CUSTOMER, "invoice": INVOICE, "amount": AMOUNT}
STEPS = len(FIELDS)


def numbered(field: str) -> StepNumber:
    """The step values of a field's question: its `step` of `steps` ("2/3.")."""
    return StepNumber(step=FIELDS.index(field) + 1, steps=STEPS)


async def heading(context: BotContext, account: Account) -> str:
    """The line naming the customer account a page shows, when the login has several."""
    if not await links.has_several(context.services.db, account):
        return ""
    places = await links.places(context.services.db, account)
    shown = next(p for p in places if p.shown)
    return render("chat/places/_heading.txt", place=shown) + "\n"


def _button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=data)


def _place_button(place: links.Place, action: str) -> InlineKeyboardButton:
    """A customer account's button: its ID and address, doing `action` (show, del)."""
    text = render("chat/places/_button.txt", place=place).strip()
    return _button(text, f"{PREFIX}{action}:{place.customer_id}")


async def switch_page(update: Update, context: BotContext) -> None:
    """Fiókváltás: the login's customer accounts, to show another, add or remove one."""
    account = await require_login(update, context)
    if account is None:
        return
    await _show_list(update, context, account)


async def _show_list(update: Update, context: BotContext, account: Account) -> None:
    places = await links.places(context.services.db, account)
    names = labels("customer")
    rows = [
        [
            _button(
                render("chat/places/_button.txt", place=p).strip(), f"{PREFIX}show:{p.customer_id}"
            )
        ]
        for p in places
        if not p.shown
    ]
    rows.append([_button(names["place_add"], f"{PREFIX}add")])
    if len(places) > 1:
        rows.append([_button(names["place_remove"], f"{PREFIX}remove")])
    context.drafts[LISTED] = context.services.now()  # a typed answer may follow
    await send_or_edit(
        update,
        render("chat/places/list.txt", places=places),
        InlineKeyboardMarkup(rows),
    )


async def show_other(update: Update, context: BotContext) -> None:
    """A customer account's button on the list: the pages show that one from now on."""
    account = await require_login(update, context)
    if account is None:
        return
    customer_id = button_data(update).removeprefix(f"{PREFIX}show:")
    await query_of(update).answer()
    await _show_one(update, context, account, customer_id)


async def _show_one(
    update: Update, context: BotContext, account: Account, customer_id: str
) -> None:
    """The pages show `customer_id` from now on: its Kezdőlap (or why not)."""
    if not await links.show(context.services.db, account, user_id(update), customer_id):
        await say(update, "places/gone", customer_id=customer_id)
        return
    await _home_of(update, context)


# Typed on the list: the words of adding ("hozzáadás", "hozzá szeretném adni"), a customer
# ID as people shorten it ("u27", "U 0027").
_ADDING = re.compile(r"\bhozza ?ad|\bhozza\b.*\badn?i\b")
_SHORT_ID = re.compile(r"^u\s*-?\s*(\d{1,4})$")
_ADDRESS_WORD = 4  # shorter words of an address ("u", "12", "ut") name no place
_ADDRESS_WORDS_TYPED = 4  # "Rákóczi utca 12." names a place; a longer text is a sentence


def _typed_id(text: str) -> str | None:
    """A customer ID as typed, shortened or not ("u27": U0027), else None."""
    match = _SHORT_ID.match(intents.normalise(text))
    return f"U{int(match.group(1)):04d}" if match else None


def _place_named(text: str, places: list[links.Place]) -> links.Place | None:
    """The one customer account of the login a typed text names by its customer ID or by a
    word of its address ("Rákóczi"); None when none or several fit."""
    typed_id = _typed_id(text)
    by_id = [p for p in places if p.customer_id == typed_id]
    if by_id:
        return by_id[0]
    typed = intents.normalise(text).split()
    if len(typed) > _ADDRESS_WORDS_TYPED:  # a sentence is about something else
        return None
    words = {w for w in typed if len(w) >= _ADDRESS_WORD}
    words -= {"utca", "ut", "utja", "szam", "ter", "lakas", "haz"}
    fits = [p for p in places if words & set(intents.normalise(p.address).split())]
    return fits[0] if len(fits) == 1 else None


async def typed_on_list(update: Update, context: BotContext) -> NextState | None:
    """Text typed soon after the Fiókváltás list: the add button's words start adding,
    a customer ID or an address word of the login shows that one. None: not an answer to
    the list (read as any other text)."""
    listed = context.drafts.get(LISTED)
    if listed is None or context.services.now() - listed > TYPED_ANSWER_SECONDS:
        return None
    text = text_of(update)
    typed = intents.normalise(text)
    if _ADDING.search(typed) or intents.loosely_names(text, labels("customer")["place_add"]):
        context.drafts.pop(LISTED, None)
        return await start_adding(update, context)
    account = await logged_in(update, context)  # no login: the text is read as any other
    if account is None:
        return None
    places = await links.places(context.services.db, account)
    place = _place_named(text, places)
    if place is None:
        # A customer ID the login does not have yet: adding it, with it as the first answer.
        typed_id = _typed_id(text)
        if typed_id is None:
            return None
        context.drafts.pop(LISTED, None)
        return await start_adding(update, context, customer_id=typed_id)
    context.drafts.pop(LISTED, None)
    await _show_one(update, context, account, place.customer_id)
    return END


async def _home_of(update: Update, context: BotContext) -> None:
    """The Kezdőlap of the customer account now shown (its heading names it)."""
    from conversations import menu  # the menu shows Fiókváltás: imported when used

    account = await require_login(update, context)
    if account is not None:
        await menu.show_home(update, context, account)


async def choose_removal(update: Update, context: BotContext) -> None:
    """Eltávolítás: which added customer account to remove (the own one cannot be)."""
    account = await require_login(update, context)
    if account is None:
        return
    places = await links.places(context.services.db, account)
    rows = [
        [
            _button(
                render("chat/places/_button.txt", place=p).strip(), f"{PREFIX}del:{p.customer_id}"
            )
        ]
        for p in places
        if not p.own
    ]
    rows.append([_button(labels("customer")["cancel"], f"{PREFIX}list")])
    await send_or_edit(
        update, render("chat/places/which_to_remove.txt"), InlineKeyboardMarkup(rows)
    )


async def confirm_removal(update: Update, context: BotContext) -> None:
    """One added customer account chosen: ask before removing it."""
    account = await require_login(update, context)
    if account is None:
        return
    customer_id = button_data(update).removeprefix(f"{PREFIX}del:")
    names = labels("customer")
    rows = [
        [_button(names["place_remove_yes"], f"{PREFIX}delok:{customer_id}")],
        [_button(names["cancel"], f"{PREFIX}list")],
    ]
    await send_or_edit(
        update,
        render("chat/places/remove_sure.txt", customer_id=customer_id),
        InlineKeyboardMarkup(rows),
    )


async def remove(update: Update, context: BotContext) -> None:
    """Yes: remove the added customer account; the list shows what is left."""
    account = await require_login(update, context)
    if account is None:
        return
    svc = context.services
    customer_id = button_data(update).removeprefix(f"{PREFIX}delok:")
    removed = await links.remove(svc.db, account, user_id(update), customer_id, svc.now())
    await query_of(update).answer(
        render("chat/places/removed_alert.txt", customer_id=customer_id, removed=removed).strip()
    )
    account = await require_login(update, context)  # it may have shown the removed one
    if account is not None:
        await _show_list(update, context, account)


async def back_to_list(update: Update, context: BotContext) -> None:
    """Mégse on the removal's questions: the list again."""
    account = await require_login(update, context)
    if account is not None:
        await _show_list(update, context, account)


# --- adding one: customer ID → invoice number → amount ------------------------------------


async def start_adding(
    update: Update, context: BotContext, *, customer_id: str = ""
) -> NextState:
    """The add button on the list: ask for the customer ID to add (only when logged in);
    given one (typed on the list), it is the first answer and the invoice number is asked."""
    if update.callback_query:
        await update.callback_query.answer()
    account = await require_login(update, context)
    if account is None:
        return END
    svc = context.services
    if await accounts.registration_locked(svc.db, user_id(update), svc.now()):
        await say(update, "places/locked_at_start", reply_markup=customer_keyboard())
        return END
    context.drafts[DRAFT] = {}
    await say(update, "places/intro", reply_markup=cancel_keyboard())
    if customer_id:
        _draft(context)["customer_id"] = customer_id
        await say(update, "places/typed_id_kept", customer_id=customer_id)
        await say(update, _question("invoice"), **numbered("invoice"))
        return INVOICE
    await say(update, ASK_CUSTOMER_ID, **numbered("customer_id"))
    return CUSTOMER


def _draft(context: BotContext) -> dict[str, Any]:
    draft: dict[str, Any] = context.drafts.setdefault(DRAFT, {})
    return draft


def _fact(field: str) -> StepCallback:
    """A step that keeps one billing fact if it parses (else says how to write it), then
    asks the next one, or shows the summary once all are there or one was corrected."""

    async def keep(update: Update, context: BotContext) -> NextState:
        typed = text_of(update)
        try:
            value = registration.BILLING_PARSERS[field](typed)  # as people write them
        except ValueError as error:
            await say(
                update,
                f"registration/bad_{field}",
                value=typed.strip(),
                problem=getattr(error, "problem", "form"),
            )
            return _asking(context, STATE_OF[field])
        if field == "customer_id" and await _already_in(update, context, str(value)):
            return _asking(context, STATE_OF[field])
        draft = _draft(context)
        draft[field] = value
        if draft.pop(CORRECTING, None) or all(f in draft for f in FIELDS):
            return await show_summary(update, context)
        following = FIELDS[FIELDS.index(field) + 1]
        await say(update, _question(following), **numbered(following))
        return STATE_OF[following]

    keep.__doc__ = f"Keep the {field.replace('_', ' ')} if it parses; else say how to write it."
    return keep


def _question(field: str) -> str:
    """The template asking a field: the registration's, but for the customer ID to add."""
    return ASK_CUSTOMER_ID if field == "customer_id" else f"registration/ask_{field}"


async def _already_in(
    update: Update, context: BotContext, customer_id: str, *, correcting: bool | None = None
) -> bool:
    """A customer ID the login has already: say so and ask for the other one (True);
    `correcting` (default: whether a field is being corrected) words the question so."""
    account = await require_login(update, context)
    if account is None:
        return False  # the step after says the login is gone
    mine = {p.customer_id for p in await links.places(context.services.db, account)}
    if customer_id not in mine:
        return False
    await say(update, "places/already_in", customer_id=customer_id)
    if correcting is None:
        correcting = bool(_draft(context).get(CORRECTING))
    await say(update, ASK_CUSTOMER_ID, **numbered("customer_id"), correcting=correcting)
    return True


got_customer_id = _fact("customer_id")
got_invoice = _fact("invoice")
got_amount = _fact("amount")


def _complete(context: BotContext) -> bool:
    return all(f in _draft(context) for f in FIELDS)


def _asking(context: BotContext, state: str) -> str:
    """The state of a question: its correcting twin when a field is being corrected."""
    return FIXING[state] if _draft(context).get(CORRECTING) else state


async def show_summary(
    update: Update, context: BotContext, *, kept: bool = False, changed: str = ""
) -> NextState:
    """The three answers, as the registration's summary shows them, to add or correct;
    `kept` says first that nothing was changed (Mégse while correcting), `changed` which
    field a value typed at the summary replaced."""
    await registration.say_summary(update, _draft(context), PREFIX, kept=kept, changed=changed)
    return CONFIRM


async def choose_field(update: Update, context: BotContext) -> NextState:
    """Javítok: which of the three to correct."""
    await registration.say_field_choice(update, PREFIX, FIELDS)
    return CHOOSE


async def _ask_to_correct(update: Update, context: BotContext, field: str) -> NextState:
    _draft(context)[CORRECTING] = field
    await say(update, _question(field), **numbered(field), correcting=True)
    return FIXING[STATE_OF[field]]


async def back_to_summary(update: Update, context: BotContext) -> NextState:
    """Mégse while correcting: the summary again, every answer as it was."""
    _draft(context).pop(CORRECTING, None)
    if not _complete(context):  # a stale step: from the start
        return await start_adding(update, context)
    return await show_summary(update, context, kept=True)


# Mégse (pressed, /megse, or a cancel word typed) while correcting: back to the summary.
BACK = (
    CommandHandler(["cancel", "megse"], back_to_summary),
    MessageHandler(CANCEL, back_to_summary),
)


async def fix_field(update: Update, context: BotContext) -> NextState:
    """A field's button: ask it again, then the summary again."""
    await query_of(update).answer()
    field = button_data(update).removeprefix(f"{PREFIX}fix:")
    if field not in STATE_OF or not _complete(context):
        return await start_adding(update, context)
    return await _ask_to_correct(update, context, field)


def _named(text: str) -> set[str]:
    """The proof's fields a typed text names ("a számlaszámot", "az összeg")."""
    return registration.named_fields(text) & set(FIELDS)


async def typed_choice(update: Update, context: BotContext) -> NextState:
    """Text while choosing what to correct: the field it names is asked again; anything
    else shows the summary again."""
    named = _named(text_of(update))
    if len(named) == 1:
        return await _ask_to_correct(update, context, named.pop())
    return await show_summary(update, context)


async def typed_at_summary(update: Update, context: BotContext) -> NextState:
    """Text under the summary, read as at the registration's: a typed button does the
    button, a value replaces the field it fits, a field's name or a word of correcting
    asks to correct, a confirmation adds; anything else shows the summary again."""
    text = text_of(update)
    if not _complete(context):  # a stale step: from the start
        return await start_adding(update, context)
    match pressed_name(text, "confirm", "correct"):
        case "confirm":
            return await confirm(update, context)
        case "correct":
            return await choose_field(update, context)
    fitted = registration.fitting_value(text)
    if fitted is not None and fitted[0] in FIELDS:
        field, value = fitted
        if field == "customer_id" and await _already_in(
            update, context, str(value), correcting=True
        ):
            _draft(context)[CORRECTING] = field  # asked again, as when correcting it
            return FIXING[CUSTOMER]
        _draft(context)[field] = value
        return await show_summary(update, context, changed=field)
    named = _named(text)
    if len(named) == 1:
        return await _ask_to_correct(update, context, named.pop())
    if named or intents.says(text, "correct"):
        return await choose_field(update, context)
    if intents.says(text, "confirm"):
        return await confirm(update, context)
    return await show_summary(update, context)


async def confirm(update: Update, context: BotContext) -> NextState:
    """Rendben: check the proof and add the customer account (or say why not)."""
    if update.callback_query:
        await update.callback_query.answer()
    if not _complete(context):  # a stale summary: from the start
        return await start_adding(update, context)
    draft = _draft(context)
    account = await require_login(update, context)
    if account is None:
        return END
    svc = context.services
    now = svc.now()
    old_year = accounts.outdated_invoice_year(draft["invoice"], svc.policy, now)
    result = await links.add(
        svc.db,
        account,
        draft["customer_id"],
        draft["invoice"],
        draft["amount"],
        telegram_user_id=user_id(update),
        policy=svc.policy,
        once=once_key(update),
        now=now,
    )
    match result.outcome:
        case LinkOutcome.PROOF_MISMATCH:
            # As the registration: back at the summary, every answer kept, to correct the
            # wrong one (a value typed here replaces the field it fits).
            await say(
                update,
                "places/proof_mismatch",
                reply_markup=inline([[("correct", f"{PREFIX}fix")], [("report", "open:report")]]),
                old_year=old_year,
            )
            return CONFIRM
        case LinkOutcome.LOCKED:
            context.drafts.pop(DRAFT, None)
            await say(
                update,
                "places/locked",
                reply_markup=customer_keyboard(),
                mismatch=result.proof_mismatch,
                minutes=lock_minutes(result.locked_until, now),
                until=accounts.local_time(result.locked_until or now),
            )
            return END
        case LinkOutcome.OWNED:
            context.drafts.pop(DRAFT, None)
            await say(
                update,
                "places/owned",
                reply_markup=customer_keyboard(),
                customer_id=result.customer_id,
            )
            return END
    context.drafts.pop(DRAFT, None)
    await say(
        update,
        "places/added" if result.outcome is LinkOutcome.ADDED else "places/already",
        reply_markup=customer_keyboard(),
        customer_id=result.customer_id,
    )
    await _home_of(update, context)
    return END


SUMMARY_BUTTONS = (
    CallbackQueryHandler(confirm, pattern=rf"^{PREFIX}confirm$"),
    CallbackQueryHandler(choose_field, pattern=rf"^{PREFIX}fix$"),
    CallbackQueryHandler(fix_field, pattern=rf"^{PREFIX}fix:"),
)


def given(state: str, drafts: Mapping[Any, Any]) -> tuple[str, ...]:
    """The proof's answers typed so far."""
    draft = drafts.get(DRAFT) or {}
    return tuple(f for f in FIELDS if f in draft)


# Each question: the template asking it, and the step that takes its answer.
QUESTIONS: dict[str, tuple[str, StepCallback]] = {
    CUSTOMER: (ASK_CUSTOMER_ID, got_customer_id),
    INVOICE: ("registration/ask_invoice", got_invoice),
    AMOUNT: ("registration/ask_amount", got_amount),
}

# customer ID → invoice number → amount → summary; from the summary, which field → that
# question (its FIXING twin) → the summary.
DIALOGUE = Dialogue(
    name="places",
    entry_points=(CallbackQueryHandler(start_adding, pattern=rf"^{PREFIX}add$"),),
    states={
        **{
            state: step(asks, MessageHandler(ANSWER, callback))
            for state, (asks, callback) in QUESTIONS.items()
        },
        **{
            FIXING[state]: step(asks, *BACK, MessageHandler(ANSWER, callback))
            for state, (asks, callback) in QUESTIONS.items()
        },
        CONFIRM: step(
            "registration/confirm_again", *SUMMARY_BUTTONS, MessageHandler(ANSWER, typed_at_summary)
        ),
        CHOOSE: step(
            "registration/which_field",
            *SUMMARY_BUTTONS,
            *BACK,
            MessageHandler(ANSWER, typed_choice),
        ),
    },
    drafts=(DRAFT,),
    given=given,
    numbers={
        state: (FIELDS.index(f) + 1, STEPS)
        for f in FIELDS
        for state in (STATE_OF[f], FIXING[STATE_OF[f]])
    },
)


def handlers() -> list[BaseHandler]:
    """The list's buttons (pages need no state); the add button is the dialogue's entry point."""
    return [
        CallbackQueryHandler(show_other, pattern=rf"^{PREFIX}show:"),
        CallbackQueryHandler(choose_removal, pattern=rf"^{PREFIX}remove$"),
        CallbackQueryHandler(confirm_removal, pattern=rf"^{PREFIX}del:"),
        CallbackQueryHandler(remove, pattern=rf"^{PREFIX}delok:"),
        CallbackQueryHandler(back_to_list, pattern=rf"^{PREFIX}list$"),
    ]
