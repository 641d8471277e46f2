"""Hibabejelentés: a report typed in the chat becomes a numbered ticket; what follows joins it.

Open to everyone (a person who cannot log in needs it most); a logged-in
customer's report carries their customer ID. "Módosítás kérése" on the
customer-data page opens the same dialogue with its own subject. Whether a
text is taken is `core.reports`' rule, the same for a report, more of it, and
a reply to an answer.

- More of the report: what the customer types in the minutes after it
  (`reports.FOLLOW_UP_MINUTES` after its last message) joins its ticket, with a
  "Hozzáfűztük…" note (`follow_up`, before the dialogue table: see
  `follow_up_handlers`). An older customer presses Enter mid-sentence, and Telegram
  cuts a long paste in parts of 4096 characters: either way one ticket. We join
  rather than ask "Elküldjük, vagy folytatja?": nothing waits for a button an
  older customer may never press, the number is given at once, and every join
  is told. A button, a command or an inline button ends the minutes (the
  customer has moved on); so does a text that comes later.
- A reply to a staff answer: "↩️ Válasz erre" under the answer opens the
  REPLY step; the next text is the reply (it joins the ticket, reopening a
  closed one), and the step ends. Mégse, /start or a menu button leave it like
  any dialogue; the state is persisted, so a restart keeps it. A Telegram reply
  to the answer works too, without the button (`bot.staff`).
- A text that sounds urgent (`core.urgency`: a burst pipe, flowing water, no
  water, a gas smell) is told whom to call now, before anything else.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import Chat, Update
from telegram.ext import ApplicationHandlerStop, BaseHandler, CallbackQueryHandler, MessageHandler
from telegram.ext import filters as F

from conversations.common import (
    ANSWER,
    END,
    PRIVATE,
    BotContext,
    Dialogue,
    NextState,
    cancel_keyboard,
    chat_id,
    chat_of,
    keyboard_for,
    once_key,
    opened_by,
    query_of,
    say,
    step,
    text_of,
    user_id,
)
from core import accounts, intents, reports, tickets
from core.texts import labels, render

log = logging.getLogger(f"petkomm.{__name__}")

# The states (their values are what the persistence stores: never rename them).
TEXT = "report_text"
REPLY = "report_reply"

SUBJECT = "report_subject"  # user_data: the ticket's subject when the dialogue gives one
REPLY_TICKET = "report_reply_ticket"  # user_data: the ticket the REPLY step writes into
# user_data, outside any dialogue: {"ticket": id, "at": time of its last message} while the
# report's minutes last (what the customer types then joins it).
FOLLOW_UP = "report_follow_up"


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
    """Open the ticket, give its number (and whom to call, if urgent); what follows joins it."""
    text = text_of(update).strip()
    svc = context.services
    now = svc.now()
    state, account = await accounts.current_account(svc.db, user_id(update), svc.policy, now)
    report = await reports.take_report(
        svc.db,
        text,
        telegram_user_id=user_id(update),
        chat_id=chat_id(update),
        customer_id=account.customer_id if account else None,
        subject=context.drafts.get(SUBJECT),
        once=once_key(update),
        now=now,
    )
    if isinstance(report, reports.Refusal):
        await say(update, report.template, reply_markup=None, **report.values)
        return TEXT
    change_request = context.drafts.pop(SUBJECT, None) is not None
    ticket = report.ticket
    number = tickets.ticket_number(ticket.id)
    context.drafts[FOLLOW_UP] = {"ticket": ticket.id, "at": now}
    if report.urgent:
        log.info("%s sounds urgent (%s)", number, ", ".join(report.urgent))
    sent = await say(
        update,
        "report/opened",
        reply_markup=keyboard_for(state),
        number=number,
        days=svc.answer_days,
        minutes=reports.FOLLOW_UP_MINUTES,
        urgent=report.urgent,
    )
    # A Telegram reply to the confirmation joins the ticket too, whenever it comes.
    await tickets.record_customer_post(svc.db, sent.chat_id, sent.message_id, ticket.id)
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


# --- more of the report, in the minutes after it ----------------------------------------


def _forget_follow_up(context: BotContext) -> None:
    context.drafts.pop(FOLLOW_UP, None)


async def follow_up(update: Update, context: BotContext) -> None:
    """A text in the minutes after the customer's report joins it (and stops here); anything
    else goes on to the other handlers, and a button, a command or a text that comes too late
    ends those minutes."""
    marker: dict[str, Any] | None = context.drafts.get(FOLLOW_UP)
    if not marker:
        return
    message = update.message
    if message is None or update.callback_query is not None:
        _forget_follow_up(context)  # an inline button: the customer has moved on
        return
    if message.text is None:
        return  # a photo or sticker is answered "text only" as ever; the minutes go on
    text = message.text.strip()
    if text.startswith("/") or message.text in set(labels("customer").values()):
        _forget_follow_up(context)
        return
    # Thanks, "mégse" or a button's word typed alone is not more of the report.
    understood = intents.understand(text, logged_in=False)
    if understood.kind in (intents.Kind.CANCEL, intents.Kind.SOCIAL) or (
        understood.kind is intents.Kind.INTENT and len(text.split()) <= 2
    ):
        _forget_follow_up(context)
        return
    svc = context.services
    now = svc.now()
    result = await reports.take_follow_up(
        svc.db,
        int(marker["ticket"]),
        text,
        telegram_user_id=user_id(update),
        since=float(marker["at"]),
        once=once_key(update),
        now=now,
    )
    if result is None:
        _forget_follow_up(context)
        return
    if isinstance(result, reports.Refusal):
        await say(update, result.template, reply_markup=None, **result.values)
        raise ApplicationHandlerStop
    number = tickets.ticket_number(result.ticket.id)
    context.drafts[FOLLOW_UP] = {"ticket": result.ticket.id, "at": now}
    log.info(
        "Telegram user %s added to %s%s",
        user_id(update),
        number,
        " (urgent)" if result.urgent else "",
    )
    await say(
        update,
        "report/added",
        number=number,
        minutes=reports.FOLLOW_UP_MINUTES,
        urgent=result.urgent,
    )
    raise ApplicationHandlerStop


async def end_follow_up(update: Update, context: BotContext) -> None:
    """An inline button was pressed: the report's minutes are over (the button goes on to
    its own handler)."""
    _forget_follow_up(context)


def follow_up_handlers() -> list[BaseHandler]:
    """What ends or continues a report's minutes: for a group before the dialogue table (the
    staff group, `bot.staff.handlers`), since what is typed then is not a new request."""
    return [
        MessageHandler(PRIVATE & F.UpdateType.MESSAGE, follow_up),
        CallbackQueryHandler(end_follow_up),
    ]


# --- a reply to a staff answer ------------------------------------------------------------


async def start_reply(update: Update, context: BotContext) -> NextState:
    """ "↩️ Válasz erre" under a staff answer: the next text is the reply."""
    query = query_of(update)
    svc = context.services
    message = query.message
    ticket_id = None
    if message is not None and chat_of(update).type == Chat.PRIVATE:
        ticket_id = await tickets.ticket_of_customer_post(
            svc.db, message.chat.id, message.message_id
        )
    await query.answer()
    if ticket_id is None or query.data != f"tk:reply:{ticket_id}":
        await say(update, "staff/customer_reply_gone")
        return END
    context.drafts[REPLY_TICKET] = ticket_id
    sent = await say(
        update,
        "staff/customer_ask_reply",
        reply_markup=cancel_keyboard(),
        number=tickets.ticket_number(ticket_id),
    )
    # A Telegram reply to the prompt is the reply as well (bot.staff).
    await tickets.record_customer_post(svc.db, sent.chat_id, sent.message_id, ticket_id)
    return REPLY


async def got_reply(update: Update, context: BotContext) -> NextState:
    """The customer's reply joins the ticket; the step ends (it waits again if refused)."""
    svc = context.services
    message = update.message
    ticket_id = context.drafts.get(REPLY_TICKET)
    target = message.reply_to_message if message else None
    if target is not None:  # a Telegram reply to one of the ticket's messages names it
        named = await tickets.ticket_of_customer_post(svc.db, target.chat_id, target.message_id)
        ticket_id = named or ticket_id
    if ticket_id is None:  # cannot happen: the step is entered with its ticket
        await say(update, "staff/customer_reply_gone")
        return END
    if not await add_reply(update, context, int(ticket_id)):
        return REPLY
    context.drafts.pop(REPLY_TICKET, None)
    return END


async def add_reply(update: Update, context: BotContext, ticket_id: int) -> bool:
    """The customer's message joins their ticket (reopening it if closed), and they are told;
    False when it was refused (too many, or not text) and may be sent again."""
    svc = context.services
    text = text_of(update).strip()
    telegram_user = user_id(update)
    now = svc.now()
    result = await reports.take_reply(
        svc.db, ticket_id, text, telegram_user_id=telegram_user, once=once_key(update), now=now
    )
    if isinstance(result, reports.Refusal):
        await say(update, result.template, reply_markup=None, **result.values)
        return False
    state, _ = await accounts.current_account(svc.db, telegram_user, svc.policy, now)
    if result is None:
        await say(update, "staff/customer_reply_gone", reply_markup=keyboard_for(state))
        return True
    log.info(
        "Telegram user %s wrote into %s%s%s",
        telegram_user,
        tickets.ticket_number(ticket_id),
        " (reopened)" if result.reopened else "",
        " (urgent)" if result.urgent else "",
    )
    await say(
        update,
        "staff/customer_reply_added",
        reply_markup=keyboard_for(state),
        number=tickets.ticket_number(ticket_id),
        urgent=result.urgent,
    )
    return True


DIALOGUE = Dialogue(
    name="report",
    entry_points=(
        *opened_by("report", ("hibabejelentes", "report"), start),
        CallbackQueryHandler(start_change_request, pattern="^data:change$"),
        CallbackQueryHandler(start_reply, pattern=r"^tk:reply:"),
    ),
    states={
        TEXT: step("report/ask", MessageHandler(ANSWER, got_text)),
        REPLY: step("staff/customer_ask_reply", MessageHandler(ANSWER, got_reply)),
    },
    drafts=(SUBJECT, REPLY_TICKET),
)
