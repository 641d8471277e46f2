"""The customer's menu after login: home, debt, invoices, account, data, logout.

Every page checks the login first (an idle login ends here, with a word on
why); long lists page with inline ◀ ▶ buttons that edit the same message.
"""

from __future__ import annotations

from datetime import datetime

from telegram import Update
from telegram.ext import CallbackQueryHandler, MessageHandler
from telegram.ext import filters as F

from conversations.common import (
    BotContext,
    customer_keyboard,
    guest_keyboard,
    inline,
    label_pattern,
    say,
    send_or_edit,
    user_id,
)
from core import accounts
from core.accounts import BUDAPEST, SessionState
from core.texts import render
from storage import billing
from storage.accounts import Account

INVOICES_PER_PAGE = 6
BOOKINGS_PER_PAGE = 8


async def require_login(update: Update, context: BotContext) -> Account | None:
    """The logged-in account, or None after telling the customer how to log in."""
    svc = context.services
    state, account = await accounts.current_account(svc.db, user_id(update), svc.policy, svc.now())
    if state is SessionState.ACTIVE:
        return account
    if update.callback_query:
        await update.callback_query.answer()
    template = "menu/expired" if state is SessionState.EXPIRED else "menu/not_logged_in"
    await say(update, template, reply_markup=guest_keyboard(), minutes=svc.policy.idle_minutes)
    return None


def _today(context: BotContext) -> str:
    return datetime.fromtimestamp(context.services.now(), BUDAPEST).date().isoformat()


async def show_home(update: Update, context: BotContext, account: Account | None = None) -> None:
    """Kezdőlap: name, customer ID, balance, unpaid invoices, next due date."""
    account = account or await require_login(update, context)
    if account is None:
        return
    db = context.services.db
    customer = await billing.get_customer(db, account.customer_id)
    unpaid = await billing.unpaid_invoices(db, account.customer_id)
    today = _today(context)
    upcoming = [i for i in unpaid if i.due_date >= today]
    await say(
        update,
        "menu/home",
        reply_markup=customer_keyboard(),
        customer=customer,
        customer_id=account.customer_id,
        balance=await billing.balance(db, account.customer_id),
        unpaid=unpaid,
        owed=sum(i.outstanding for i in unpaid),
        overdue=[i for i in unpaid if i.due_date < today],
        next_due=upcoming[0].due_date if upcoming else None,
    )


async def home(update: Update, context: BotContext) -> None:
    await show_home(update, context)


async def debt(update: Update, context: BotContext) -> None:
    """Tartozás: the unpaid invoices, overdue ones marked, and the total."""
    account = await require_login(update, context)
    if account is None:
        return
    unpaid = await billing.unpaid_invoices(context.services.db, account.customer_id)
    await say(
        update,
        "menu/debt",
        reply_markup=customer_keyboard(),
        unpaid=unpaid,
        total=sum(i.outstanding for i in unpaid),
        today=_today(context),
        group_four=any(abs(i.outstanding) >= 10_000 for i in unpaid),
    )


def _pager(kind: str, page: int, pages: int) -> list[tuple[str, str]]:
    row = []
    if page > 0:
        row.append(("prev", f"{kind}:{page - 1}"))
    if page < pages - 1:
        row.append(("next", f"{kind}:{page + 1}"))
    return row


def _page_of(update: Update) -> int:
    query = update.callback_query
    if query is None:
        return 0
    try:
        return max(0, int(query.data.split(":", 1)[1]))
    except (IndexError, ValueError):
        return 0


async def _paged(
    update: Update,
    context: BotContext,
    *,
    kind: str,
    per_page: int,
    count,  # noqa: ANN001 - async (db, customer_id) -> int
    fetch,  # noqa: ANN001 - async (db, customer_id, offset, limit) -> list
    template: str,
    extra=None,  # noqa: ANN001 - async (db, customer_id) -> dict of more template values
) -> None:
    """One page of a long list, sent anew or edited in place by the ◀ ▶ buttons."""
    account = await require_login(update, context)
    if account is None:
        return
    db = context.services.db
    total = await count(db, account.customer_id)
    pages = max(1, -(-total // per_page))
    page = min(_page_of(update), pages - 1)
    rows = await fetch(db, account.customer_id, page * per_page, per_page)
    more = await extra(db, account.customer_id) if extra else {}
    text = render(
        f"chat/menu/{template}.txt", rows=rows, page=page + 1, pages=pages, total=total, **more
    )
    buttons = _pager(kind, page, pages)
    await send_or_edit(update, text, inline([buttons]) if buttons else None)


async def _today_values(context: BotContext) -> dict:
    return {"today": _today(context)}


async def _balance_values(db, customer_id: str) -> dict:  # noqa: ANN001
    return {"balance": await billing.balance(db, customer_id)}


async def invoices(update: Update, context: BotContext) -> None:
    """Számlák: newest first, a page at a time."""
    await _paged(
        update,
        context,
        kind="inv",
        per_page=INVOICES_PER_PAGE,
        count=billing.invoice_count,
        fetch=billing.invoices_page,
        template="invoices",
        extra=lambda db, _: _today_values(context),
    )


async def account_history(update: Update, context: BotContext) -> None:
    """Folyószámla: charges and payments by date with the running balance, paged."""
    await _paged(
        update,
        context,
        kind="acc",
        per_page=BOOKINGS_PER_PAGE,
        count=billing.booking_count,
        fetch=billing.bookings_page,
        template="account",
        extra=_balance_values,
    )


async def customer_data(update: Update, context: BotContext) -> None:
    """Ügyféladatok, with a button to ask for a change."""
    account = await require_login(update, context)
    if account is None:
        return
    customer = await billing.get_customer(context.services.db, account.customer_id)
    await say(
        update,
        "menu/customer_data",
        reply_markup=inline([[("change_request", "data:change")]]),
        customer=customer,
        account=account,
    )


async def logout(update: Update, context: BotContext) -> None:
    """Kijelentkezés."""
    svc = context.services
    done = await accounts.logout(svc.db, user_id(update), svc.now())
    await say(
        update,
        "menu/logged_out" if done else "menu/not_logged_in",
        reply_markup=guest_keyboard(),
        minutes=svc.policy.idle_minutes,
    )


MENU_ACTIONS = {
    "home": home,
    "debt": debt,
    "invoices": invoices,
    "account": account_history,
    "customer_data": customer_data,
    "logout": logout,
}


def handlers() -> list:
    """The menu's handlers (outside the dialogue: pages need no state)."""
    result: list = [
        MessageHandler(F.Regex(label_pattern(name)) & F.TEXT, action)
        for name, action in MENU_ACTIONS.items()
    ]
    result += [
        CallbackQueryHandler(invoices, pattern=r"^inv:\d+$"),
        CallbackQueryHandler(account_history, pattern=r"^acc:\d+$"),
    ]
    return result
