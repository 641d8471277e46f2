"""The customer's menu after login: home, debt, invoices, account, data, logout.

Every page checks the login first (an idle login ends here, with a word on
why); long lists page with inline ◀ ▶ buttons that edit the same message.
What the pages say is `core.statement`'s; this module only shows it.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler

from conversations import notifications
from conversations.common import (
    BotContext,
    customer_keyboard,
    guest_keyboard,
    inline,
    once_key,
    pager,
    say,
    send_or_edit,
    user_id,
)
from core import accounts, statement
from core.account_lookup import Account
from core.accounts import SessionState
from core.paging import Window
from core.texts import render

# user_data: the paged list shown last and its page, so that "következő" typed pages on.
SHOWN = "menu_page"
INVOICES_PER_PAGE = 6
BOOKINGS_PER_PAGE = 8


async def require_login(update: Update, context: BotContext) -> Account | None:
    """The logged-in account, or None after telling the customer how to log in."""
    svc = context.services
    state, account = await accounts.current_account(svc.db, user_id(update), svc.policy, svc.now())
    if state is SessionState.ACTIVE:
        return account
    await _login_needed(update, context, state)
    return None


async def _login_needed(update: Update, context: BotContext, state: SessionState) -> None:
    """Tell a customer who is not logged in (or whose login just ended) how to log in."""
    svc = context.services
    if update.callback_query:
        await update.callback_query.answer()
    template = "menu/expired" if state is SessionState.EXPIRED else "menu/not_logged_in"
    await say(update, template, reply_markup=guest_keyboard(), minutes=svc.policy.idle_minutes)


async def show_home(update: Update, context: BotContext, account: Account) -> None:
    """Kezdőlap: name, customer ID, balance, unpaid invoices, next due date."""
    svc = context.services
    current = await statement.statement(svc.db, account.customer_id, svc.now())
    await say(update, "menu/home", reply_markup=customer_keyboard(), statement=current)


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
        await _login_needed(update, context, state)
        return
    current = await statement.statement(svc.db, account.customer_id, svc.now())
    await say(update, "menu/debt", reply_markup=customer_keyboard(), statement=current)


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
    prefix: str,
    template: str,
    shown: Window,
    rows: list,
    **values: object,
) -> None:
    """One page of a long list, sent anew or edited in place by its ◀ ▶ buttons; kept as
    the one shown, for a typed "következő"."""
    context.drafts[SHOWN] = {"list": prefix, "page": shown.page}
    text = render(
        f"chat/menu/{template}.txt",
        rows=rows,
        page=shown.page + 1,
        pages=shown.pages,
        total=shown.total,
        **values,
    )
    await send_or_edit(update, text, pager(prefix, shown.page, shown.pages))


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
    await _show_page(update, context, "inv", "invoices", listing.window, listing.rows, today=today)


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
        update, context, "acc", "account", listing.window, listing.rows, balance=balance
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
    await say(
        update,
        "menu/customer_data",
        reply_markup=inline([[("change_request", "data:change")]]),
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
    ]
