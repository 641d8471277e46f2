"""Hibabejelentés: a report typed in the chat becomes a numbered ticket.

Open to everyone (a person who cannot log in needs it most); a logged-in
customer's report carries their customer ID. "Módosítás kérése" on the
customer-data page opens the same dialogue with its own subject.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import ConversationHandler, MessageHandler

from conversations.common import (
    ANSWER,
    BotContext,
    cancel_keyboard,
    chat_id,
    customer_keyboard,
    guest_keyboard,
    say,
    text_of,
    user_id,
)
from conversations.states import REPORT_TEXT
from core import accounts, reports, tickets
from core.accounts import SessionState

END = ConversationHandler.END
DATA_CHANGE_SUBJECT = "Adatmódosítás kérése"


async def start(update: Update, context: BotContext) -> int:
    """Ask for the report's text."""
    if update.callback_query:
        await update.callback_query.answer()
    context.user_data["report_subject"] = None
    await say(update, "report/ask", reply_markup=cancel_keyboard())
    return REPORT_TEXT


async def start_change_request(update: Update, context: BotContext) -> int:
    """Ask what should change in the customer's data."""
    if update.callback_query:
        await update.callback_query.answer()
    context.user_data["report_subject"] = DATA_CHANGE_SUBJECT
    await say(update, "report/ask_change", reply_markup=cancel_keyboard())
    return REPORT_TEXT


async def got_text(update: Update, context: BotContext) -> int:
    """Open the ticket and give its number."""
    text = text_of(update).strip()
    svc = context.services
    now = svc.now()
    refused = await reports.refusal(
        svc.db, reports.REPORT, text, telegram_user_id=user_id(update), now=now
    )
    if refused:
        await say(update, refused.template, **refused.values)
        return REPORT_TEXT
    state, account = await accounts.current_account(svc.db, user_id(update), svc.policy, now)
    ticket = await tickets.open_from_chat(
        svc.db,
        text,
        telegram_user_id=user_id(update),
        chat_id=chat_id(update),
        customer_id=account.customer_id if account else None,
        subject=context.user_data.pop("report_subject", None),
        now=now,
    )
    keyboard = customer_keyboard() if state is SessionState.ACTIVE else guest_keyboard()
    await say(
        update,
        "report/opened",
        reply_markup=keyboard,
        number=tickets.ticket_number(ticket.id),
        days=svc.answer_days,
    )
    return END


def states() -> dict[object, list]:
    """The report's part of the dialogue table."""
    return {REPORT_TEXT: [MessageHandler(ANSWER, got_text)]}
