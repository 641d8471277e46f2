"""Staff notices about outages and planned works, from the staff chat.

`/notice Pétfürdő, Ady Endre utca | Holnap 8 és 12 óra között vízszünet lesz.` (or the
place on the first line and the text on the next ones) shows a preview: the text as
customers will read it and how many subscribed customers at that address it reaches,
with 📢 Küldés and Mégse (`nt:send:<id>`, `nt:cancel:<id>`). Staff only, like every
staff command (`bot.staff`); the command line does the same (`notices send`). The rules
are `core.notifications`'.
"""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ApplicationHandlerStop, BaseHandler, CallbackQueryHandler, CommandHandler
from telegram.ext import filters as F

from bot.staff import allowed, command_parts
from conversations.common import BotContext, button_data, query_of, say, user_id
from core import notifications
from core.texts import labels

log = logging.getLogger(f"petkomm.{__name__}")

PREFIX = "nt:"


def parse_notice(rest: str) -> tuple[str, str, str]:
    """(town, street, text) of what follows /notice: `town[, street] | text`, or the place
    on the first line and the text below it; empty strings for what is missing."""
    if "\n" in rest:
        where, _, text = rest.partition("\n")
    else:
        where, _, text = rest.partition("|")
    where = where.strip().rstrip("|").strip()
    town, _, street = where.partition(",")
    return town.strip(), street.strip(), text.strip()


async def on_notice(update: Update, context: BotContext) -> None:
    """/notice: a draft and its preview with the recipient count; staff only."""
    if not await allowed(update, context, "/notice", command=True):
        raise ApplicationHandlerStop
    svc = context.services
    _, rest = command_parts(update)
    town, street, text = parse_notice(rest)
    if not town or not text:
        await say(update, "notify/staff_usage")
        raise ApplicationHandlerStop
    draft = await notifications.draft_outage(
        svc.db, town, street, text, f"staff:{user_id(update)}", svc.now()
    )
    names = labels("staff")
    markup = InlineKeyboardMarkup(
        [
            # The send button names how many customers it reaches.
            [
                InlineKeyboardButton(
                    names["notice_send"].format(count=draft.customers),
                    callback_data=f"{PREFIX}send:{draft.id}",
                )
            ],
            [
                InlineKeyboardButton(
                    names["notice_cancel"], callback_data=f"{PREFIX}cancel:{draft.id}"
                )
            ],
        ]
    )
    await say(update, "notify/staff_preview", reply_markup=markup, draft=draft)
    raise ApplicationHandlerStop


async def on_notice_button(update: Update, context: BotContext) -> None:
    """📢 Küldés or Mégse under a preview; staff only."""
    query = query_of(update)
    if not await allowed(update, context, "button notice", command=False):
        raise ApplicationHandlerStop
    svc = context.services
    _, action, value = ([*button_data(update).split(":"), "", ""])[:3]
    await query.answer()
    if not value.isdigit():
        raise ApplicationHandlerStop
    notice_id = int(value)
    await query.edit_message_reply_markup(None)  # answered: no second press
    if action == "send":
        who = update.effective_user.full_name if update.effective_user else "?"
        count = await notifications.send_outage(
            svc.db, notice_id, f"staff:{user_id(update)}", svc.now()
        )
        if count is None:
            await say(update, "notify/staff_gone")
        else:
            log.info("staff notice %d queued for %d customers", notice_id, count)
            await say(update, "notify/staff_sent", customers=count, who=who)
    elif action == "cancel":
        done = await notifications.cancel_outage(svc.db, notice_id, svc.now())
        await say(update, "notify/staff_cancelled" if done else "notify/staff_gone")
    raise ApplicationHandlerStop


def handlers() -> list[BaseHandler]:
    """/notice and its preview's buttons, for the staff group (before the customers')."""
    return [
        CommandHandler("notice", on_notice, filters=F.UpdateType.MESSAGE),
        CallbackQueryHandler(on_notice_button, pattern=rf"^{PREFIX}"),
    ]
