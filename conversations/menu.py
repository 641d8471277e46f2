"""The customer's menu after login: home, debt, invoices, account, data, logout.

Every page checks the login first (an idle login ends here, with a word on
why); long lists page with inline ◀ ▶ buttons that edit the same message.
What the pages say is `core.statement`'s; this module only shows it.
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, ReplyKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler

from conversations import account_documents, documents, notifications, pay, places
from conversations.common import (
    BotContext,
    chat_of,
    customer_keyboard,
    guest_keyboard,
    inline,
    once_key,
    pager,
    say,
    send_or_edit,
    user_id,
)
from conversations.login_check import login_needed, require_login
from core import accounts, statement
from core.account_lookup import Account
from core.accounts import SessionState
from core.paging import Window
from core.texts import render

# user_data: the paged list shown last and its page, so that "következő" typed pages on.
SHOWN = "menu_page"
INVOICES_PER_PAGE = 6
BOOKINGS_PER_PAGE = 8


async def _page(
    update: Update,
    context: BotContext,
    shown: Account,
    template: str,
    reply_markup: ReplyKeyboardMarkup | InlineKeyboardMarkup | None,
    /,
    **values: object,
) -> None:
    """An account page, headed by the customer account it shows when the login has several
    (`conversations.places`)."""
    heading = await places.heading(context, shown)
    text = render(f"chat/{template}.txt", **values)
    await chat_of(update).send_message(heading + text, reply_markup=reply_markup)


async def show_home(
    update: Update, context: BotContext, account: Account, *, lead: str = ""
) -> None:
    """Kezdőlap: name, customer ID, balance, unpaid invoices, next due date.

    `lead`, a rendered text (the welcome after a login), goes above the page in the same
    message: one Bot API call, not two, under Telegram's limit."""
    svc = context.services
    current = await statement.statement(svc.db, account.customer_id, svc.now())
    heading = await places.heading(context, account)  # which one, when the login has several
    page = heading + render("chat/menu/home.txt", statement=current)
    await chat_of(update).send_message(
        f"{lead}\n\n{page}" if lead else page, reply_markup=customer_keyboard()
    )


async def home(update: Update, context: BotContext) -> None:
    """The Kezdőlap button and /menu when logged in."""
    account = await require_login(update, context)
    if account is not None:
        await show_home(update, context, account)


async def debt(update: Update, context: BotContext) -> None:
    """Tartozás: the unpaid invoices, overdue ones marked, and the total. A guest asking how
    to pay ("hogyan fizethetek", "mi a bankszámlaszámuk?") is told the payee and the
    account, and that after logging in Tartozás gives the közlemény of each invoice."""
    svc = context.services
    # One look at the login: a second would find an idle login that this one just ended.
    state, account = await accounts.current_account(svc.db, user_id(update), svc.policy, svc.now())
    if state is SessionState.NONE and svc.facts.can_be_paid:
        await say(update, "menu/pay_as_guest", reply_markup=guest_keyboard())
        return
    if state is not SessionState.ACTIVE or account is None:
        await login_needed(update, context, state)
        return
    current = await statement.statement(svc.db, account.customer_id, svc.now())
    # The Fizetés buttons when there are some (the menu keyboard stays: it is persistent).
    buttons = pay.debt_keyboard(svc.facts, current)
    await _page(
        update, context, account, "menu/debt", buttons or customer_keyboard(), statement=current
    )


def _page_of(update: Update) -> int:
    """The page a ◀ ▶ button asks for (`inv:2`); 0 for the menu button itself."""
    query = update.callback_query
    if query is None:
        return 0
    try:
        return max(0, int((query.data or "").split(":", 1)[1]))
    except (IndexError, ValueError):
        return 0


async def _show_page(
    update: Update,
    context: BotContext,
    account: Account,
    prefix: str,
    template: str,
    shown: Window,
    rows: list,
    /,
    extra: list[list[InlineKeyboardButton]] | None = None,
    **values: object,
) -> None:
    """One page of a long list, sent anew or edited in place by its ◀ ▶ buttons (below
    the page's own `buttons`); kept as the one shown, for a typed "következő"."""
    context.drafts[SHOWN] = {"list": prefix, "page": shown.page}
    text = await places.heading(context, account) + render(
        f"chat/menu/{template}.txt",
        rows=rows,
        page=shown.page + 1,
        pages=shown.pages,
        total=shown.total,
        **values,
    )
    paging = pager(prefix, shown.page, shown.pages)
    keyboard = [*(extra or []), *(paging.inline_keyboard if paging else ())]
    await send_or_edit(update, text, InlineKeyboardMarkup(keyboard) if keyboard else None)


async def invoices(update: Update, context: BotContext, page: int | None = None) -> None:
    """Számlák: newest first, a page at a time."""
    account = await require_login(update, context)
    if account is None:
        return
    svc = context.services
    listing = await statement.invoices(
        svc.db, account.customer_id, _page_of(update) if page is None else page, INVOICES_PER_PAGE
    )
    today = statement.today(svc.now())
    # A Fizetés button for each unpaid one, then a PDF button for each that has one.
    buttons = pay.invoice_rows(svc.facts, listing.rows)
    buttons += await documents.pdf_buttons(context, [row.invoice_no for row in listing.rows])
    await _show_page(
        update,
        context,
        account,
        "inv",
        "invoices",
        listing.window,
        listing.rows,
        extra=buttons,
        today=today,
    )


async def account_history(update: Update, context: BotContext, page: int | None = None) -> None:
    """Folyószámla: charges and payments by date with the running balance, paged."""
    account = await require_login(update, context)
    if account is None:
        return
    db = context.services.db
    listing = await statement.bookings(
        db, account.customer_id, _page_of(update) if page is None else page, BOOKINGS_PER_PAGE
    )
    balance = await statement.balance(db, account.customer_id)
    await _show_page(
        update,
        context,
        account,
        "acc",
        "account",
        listing.window,
        listing.rows,
        extra=account_documents.buttons(account.customer_id),  # Kivonat, Grafikon
        balance=balance,
    )


async def next_page(update: Update, context: BotContext) -> None:
    """ "következő", "tovább", "a régebbieket is": the next page of the list shown last (the
    ▶ typed); without one, the invoices."""
    shown = context.drafts.get(SHOWN) or {"list": "inv", "page": -1}
    if shown["list"] == "acc":
        await account_history(update, context, shown["page"] + 1)
    else:
        await invoices(update, context, shown["page"] + 1)


async def customer_data(update: Update, context: BotContext) -> None:
    """Ügyféladatok, with a button to ask for a change."""
    account = await require_login(update, context)
    if account is None:
        return
    customer = await statement.customer(context.services.db, account.customer_id)
    await _page(
        update,
        context,
        account,
        "menu/customer_data",
        inline([[("change_request", "data:change")]]),
        customer=customer,
        account=account,
    )


async def logout(update: Update, context: BotContext) -> None:
    """Kijelentkezés (also "kilépés" typed outside a dialogue)."""
    svc = context.services
    done = await accounts.logout(svc.db, user_id(update), svc.now(), once=once_key(update))
    await say(update, "menu/logged_out" if done else "menu/not_in", reply_markup=guest_keyboard())


MENU_ACTIONS = {
    "home": home,
    "debt": debt,
    "invoices": invoices,
    "account": account_history,
    "customer_data": customer_data,
    "switch": places.switch_page,
    "notifications": notifications.page,
    "logout": logout,
}


def handlers() -> list[BaseHandler]:
    """The pages' ◀ ▶ buttons (pages need no state).

    The menu buttons themselves are typed text: `conversations.dialogues` reads every
    text outside a dialogue and calls `MENU_ACTIONS`.
    """
    return [
        CallbackQueryHandler(invoices, pattern=r"^inv:\d+$"),
        CallbackQueryHandler(account_history, pattern=r"^acc:\d+$"),
        *places.handlers(),
        *documents.handlers(),
    ]
