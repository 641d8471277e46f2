"""Folyószámla's documents: the account statement (a PDF) and the year's chart (a PNG).

Under the Folyószámla page (`conversations.menu` puts the buttons there), "📄 Kivonat"
asks for the period (the last 12 months, or a year the customer has bookings in) and
sends the folyószámla-kivonat as a document;
"📊 Grafikon" sends the last 12 months as a picture with the numbers in its caption.
Both show personal data, so Telegram is asked to protect them (no forwarding, no
saving). What they hold is `core.statement`'s; `core.statement_pdf` and `core.chart`
draw them, in a worker thread, so the chat of other customers goes on meanwhile.
"""

from __future__ import annotations

import asyncio
import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.ext import BaseHandler, CallbackQueryHandler

from conversations.common import BotContext, button_data, chat_of, label, say
from conversations.menu import require_login
from core import statement
from core.chart import chart_png
from core.statement_pdf import statement_pdf
from core.texts import render

log = logging.getLogger(f"petkomm.{__name__}")

YEARS_PER_ROW = 3
CAPTION_LIMIT = 1024  # Telegram's, for a photo's caption
YEARS_SHOWN = 6  # the retention keeps five years and the current one


async def _answered(update: Update) -> None:
    """Stop the pressed button's spinner."""
    if update.callback_query:
        await update.callback_query.answer()


async def ask_period(update: Update, context: BotContext) -> None:
    """📄 Kivonat: the last 12 months, or one of the years with bookings."""
    account = await require_login(update, context)
    if account is None:
        return
    await _answered(update)
    years = (await statement.statement_years(context.services.db, account.customer_id))[
        :YEARS_SHOWN
    ]
    if not years:
        await say(update, "menu/no_bookings")
        return
    rows = [[InlineKeyboardButton(label("last_months"), callback_data="stmt:last")]]
    rows += [
        [InlineKeyboardButton(str(year), callback_data=f"stmt:{year}") for year in chunk]
        for chunk in (years[i : i + YEARS_PER_ROW] for i in range(0, len(years), YEARS_PER_ROW))
    ]
    keyboard = InlineKeyboardMarkup(rows)
    await say(update, "menu/statement_periods", reply_markup=keyboard, years=years)


def _period(choice: str, today: str) -> statement.Period:
    """The period a button asks for (`last`, or a year not after this one)."""
    if choice.isdigit() and 2000 <= int(choice) <= int(today[:4]):
        return statement.year_period(int(choice), today)
    return statement.last_months(today)


async def send_statement(update: Update, context: BotContext) -> None:
    """A period pressed: the statement as a PDF document."""
    account = await require_login(update, context)
    if account is None:
        return
    await _answered(update)
    svc = context.services
    if not await statement.has_bookings(svc.db, account.customer_id):
        await say(update, "menu/no_bookings")
        return
    period = _period(button_data(update).partition(":")[2], statement.today(svc.now()))
    built = await statement.account_statement(svc.db, account.customer_id, period, svc.now())
    pdf = await asyncio.to_thread(statement_pdf, built)
    name = f"folyoszamla-kivonat-{account.customer_id}-{period.first}-{period.last}.pdf"
    await chat_of(update).send_document(
        InputFile(pdf, filename=name),
        caption=render("chat/menu/statement_sent.txt", statement=built),
        protect_content=True,
    )
    log.info(
        "sent the statement %s–%s to customer %s (%d bytes)",
        period.first,
        period.last,
        account.customer_id,
        len(pdf),
    )


async def send_chart(update: Update, context: BotContext) -> None:
    """📊 Grafikon: the last 12 months as a picture, the numbers in its caption."""
    account = await require_login(update, context)
    if account is None:
        return
    await _answered(update)
    svc = context.services
    if not await statement.has_bookings(svc.db, account.customer_id):
        await say(update, "menu/no_bookings")
        return
    picture = await statement.year_picture(svc.db, account.customer_id, svc.now())
    if picture.empty:
        await say(update, "menu/chart_empty", picture=picture)
        return
    png = await asyncio.to_thread(chart_png, picture)
    numbers = render("chat/menu/chart.txt", picture=picture)
    fits = len(numbers) <= CAPTION_LIMIT  # counted with its tags: on the safe side
    await chat_of(update).send_photo(
        InputFile(png, filename=f"grafikon-{account.customer_id}.png"),
        caption=numbers if fits else None,
        protect_content=True,
    )
    if not fits:  # a firm's seven-digit months: the numbers in a message of their own
        await chat_of(update).send_message(numbers, protect_content=True)
    log.info("sent the chart to customer %s (%d bytes)", account.customer_id, len(png))


def handlers() -> list[BaseHandler]:
    """The buttons under Folyószámla and the period buttons (no state needed)."""
    return [
        CallbackQueryHandler(ask_period, pattern=r"^doc:statement$"),
        CallbackQueryHandler(send_chart, pattern=r"^doc:chart$"),
        CallbackQueryHandler(send_statement, pattern=r"^stmt:(last|\d{4})$"),
    ]
