"""The login check every account page and account dialogue starts with."""

from __future__ import annotations

from telegram import Update

from conversations.common import BotContext, guest_keyboard, say, user_id
from core import accounts
from core.account_lookup import Account
from core.accounts import SessionState


async def require_login(update: Update, context: BotContext) -> Account | None:
    """The logged-in account (as it shows the customer ID chosen in Fiókváltás), or None
    after telling the customer how to log in."""
    svc = context.services
    state, account = await accounts.current_account(svc.db, user_id(update), svc.policy, svc.now())
    if state is SessionState.ACTIVE:
        return account
    await login_needed(update, context, state)
    return None


async def login_needed(update: Update, context: BotContext, state: SessionState) -> None:
    """Tell a customer who is not logged in (or whose login just ended) how to log in."""
    svc = context.services
    if update.callback_query:
        await update.callback_query.answer()
    template = "menu/expired" if state is SessionState.EXPIRED else "menu/not_logged_in"
    await say(update, template, reply_markup=guest_keyboard(), minutes=svc.policy.idle_minutes)
