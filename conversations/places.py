"""Fiókváltás: several customer accounts under one login (`core.accounts.links`).

The page lists the login's customer IDs (its own first), the one shown marked;
a button shows another, adds one, or removes an added one (after a yes). Adding
asks what a registration's proof asks: customer ID → invoice number → amount,
read as people write them, then shows the added one's Kezdőlap. Once a login
has more than one, every account page starts with the one it shows (`heading`).
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, MessageHandler

from conversations.common import (
    ANSWER,
    END,
    BotContext,
    Dialogue,
    NextState,
    StepCallback,
    button_data,
    cancel_keyboard,
    customer_keyboard,
    lock_minutes,
    once_key,
    query_of,
    say,
    send_or_edit,
    step,
    text_of,
    user_id,
)
from conversations.login_check import require_login
from core import accounts
from core.account_lookup import Account
from core.accounts import links
from core.accounts.links import LinkOutcome
from core.formats import TypedValueError, parse_amount, parse_invoice_number
from core.texts import labels, render

PREFIX = "place:"  # show:<id>, add, remove, del:<id>, delok:<id>, list
DRAFT = "place"  # user_data: the customer ID and invoice number typed so far

# The states (their values are what the persistence stores: never rename them).
CUSTOMER = "place_customer"
INVOICE = "place_invoice"
AMOUNT = "place_amount"


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
    svc = context.services
    await query_of(update).answer()
    if not await links.show(svc.db, account, user_id(update), customer_id):
        await say(update, "places/gone", customer_id=customer_id)
        return
    await _home_of(update, context)


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


async def start_adding(update: Update, context: BotContext) -> NextState:
    """The add button on the list: ask for the customer ID to add (only when logged in)."""
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
    await say(update, "registration/ask_customer_id", step=None)
    return CUSTOMER


def _fact(field: str, parse: object, asks: str, next_state: str) -> StepCallback:
    """A step that keeps one billing fact if it parses, else says how to write it."""

    async def keep(update: Update, context: BotContext) -> NextState:
        typed = text_of(update)
        try:
            value = parse(typed)  # type: ignore[operator]
        except ValueError as error:
            await say(
                update,
                f"registration/bad_{field}",
                value=typed.strip(),
                problem=getattr(error, "problem", "form"),
            )
            return {"customer_id": CUSTOMER, "invoice": INVOICE}[field]
        context.drafts.setdefault(DRAFT, {})[field] = value
        await say(update, asks, step=None)
        return next_state

    keep.__doc__ = f"Keep the {field.replace('_', ' ')} if it parses; else say how to write it."
    return keep


got_customer_id = _fact(
    "customer_id", accounts.parse_typed_customer_id, "registration/ask_invoice", INVOICE
)
got_invoice = _fact(
    "invoice", lambda t: parse_invoice_number(t, lenient=True), "registration/ask_amount", AMOUNT
)


async def got_amount(update: Update, context: BotContext) -> NextState:
    """The amount: check the proof and add the customer account (or say why not)."""
    typed = text_of(update)
    try:
        amount = parse_amount(typed, lenient=True)
        if amount <= 0:
            raise TypedValueError("amount", typed, "not_positive")
    except ValueError as error:
        await say(
            update,
            "registration/bad_amount",
            value=typed.strip(),
            problem=getattr(error, "problem", "form"),
        )
        return AMOUNT
    draft = context.drafts.get(DRAFT) or {}
    if "customer_id" not in draft or "invoice" not in draft:  # a stale step: from the start
        return await start_adding(update, context)
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
        amount,
        telegram_user_id=user_id(update),
        policy=svc.policy,
        once=once_key(update),
        now=now,
    )
    match result.outcome:
        case LinkOutcome.PROOF_MISMATCH:
            context.drafts[DRAFT] = {}
            await say(update, "places/proof_mismatch", old_year=old_year)
            await say(update, "registration/ask_customer_id", step=None)
            return CUSTOMER
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


DIALOGUE = Dialogue(
    name="places",
    entry_points=(CallbackQueryHandler(start_adding, pattern=rf"^{PREFIX}add$"),),
    states={
        CUSTOMER: step("registration/ask_customer_id", MessageHandler(ANSWER, got_customer_id)),
        INVOICE: step("registration/ask_invoice", MessageHandler(ANSWER, got_invoice)),
        AMOUNT: step("registration/ask_amount", MessageHandler(ANSWER, got_amount)),
    },
    drafts=(DRAFT,),
    given=lambda state, drafts: {
        INVOICE: ("customer_id",),
        AMOUNT: ("customer_id", "invoice"),
    }.get(state, ()),
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
