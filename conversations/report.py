"""Hibabejelentés: a report typed in the chat becomes a numbered ticket.

Open to everyone (a person who cannot log in needs it most); a logged-in
customer's report carries their customer ID. "Módosítás kérése" on the
customer-data page opens the same dialogue with its own subject. Whether a
text is taken is `core.reports`' rule, the same as for a reply to an answer.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import CallbackQueryHandler, MessageHandler

from conversations.common import (
    ANSWER,
    END,
    BotContext,
    Dialogue,
    NextState,
    cancel_keyboard,
    chat_id,
    keyboard_for,
    once_key,
    opened_by,
    say,
    step,
    text_of,
    user_id,
)
from core import accounts, reports, tickets
from core.texts import render

# The state (its value is what the persistence stores: never rename it).
TEXT = "report_text"

SUBJECT = "report_subject"  # user_data: the ticket's subject when the dialogue gives one


async def start(update: Update, context: BotContext) -> NextState:
    """Ask for the report's text."""
    if update.callback_query:
        await update.callback_query.answer()
    context.drafts[SUBJECT] = None
    await say(update, "report/ask", reply_markup=cancel_keyboard())
    return TEXT


async def start_change_request(update: Update, context: BotContext) -> NextState:
    """Ask what should change in the customer's data."""
    if update.callback_query:
        await update.callback_query.answer()
    context.drafts[SUBJECT] = render("chat/report/change_subject.txt")
    await say(update, "report/ask_change", reply_markup=cancel_keyboard())
    return TEXT


async def got_text(update: Update, context: BotContext) -> NextState:
    """Open the ticket and give its number."""
    text = text_of(update).strip()
    svc = context.services
    now = svc.now()
    state, account = await accounts.current_account(svc.db, user_id(update), svc.policy, now)
    ticket = await reports.take_report(
        svc.db,
        text,
        telegram_user_id=user_id(update),
        chat_id=chat_id(update),
        customer_id=account.customer_id if account else None,
        subject=context.drafts.get(SUBJECT),
        once=once_key(update),
        now=now,
    )
    if isinstance(ticket, reports.Refusal):
        await say(update, ticket.template, reply_markup=None, **ticket.values)
        return TEXT
    number = tickets.ticket_number(ticket.id)
    change_request = context.drafts.pop(SUBJECT, None) is not None
    await say(
        update,
        "report/opened",
        reply_markup=keyboard_for(state),
        number=number,
        days=svc.answer_days,
    )
    if change_request and account is not None:  # a written copy to the registered address
        await accounts.mail_change_request(
            svc.db,
            svc.mailer,
            account,
            ticket_number=number,
            text=text,
            once=once_key(update),
            now=now,
        )
        await say(update, "report/change_copied")
    return END


DIALOGUE = Dialogue(
    name="report",
    entry_points=(
        *opened_by("report", ("hibabejelentes", "report"), start),
        CallbackQueryHandler(start_change_request, pattern="^data:change$"),
    ),
    states={TEXT: step("report/ask", MessageHandler(ANSWER, got_text))},
    drafts=(SUBJECT,),
)
