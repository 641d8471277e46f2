"""Folyószámla's documents: the account statement (a PDF) and the year's chart (a PNG).

Under the Folyószámla page (`conversations.menu` puts `buttons` there), "📄 Kivonat"
asks for the period (the last 12 months, or a year the customer has bookings in) and
sends the folyószámla-kivonat as a document; "📊 Grafikon" sends the last 12 months as
a picture with the numbers in its caption. Both show personal data, so Telegram is asked
to protect them (no forwarding, no saving). What they hold is `core.statement`'s;
`core.statement_pdf` and `core.chart` draw them, in a worker thread, so the chat of other
customers goes on meanwhile.

The buttons carry the customer ID of the page they are under (a login may have several,
`conversations.places`): pressed after a Fiókváltás they still give that account's
documents, and only for a customer account of the login (a button's data could be made
up).

The period question's buttons may be typed instead of pressed ("az elmúlt 12 hónap",
"2025", "a 2024-es évet kérem"): soon after the question such a text does what its
button does (`typed_period`), for the customer account the question was about.
"""

from __future__ import annotations

import asyncio
import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.ext import BaseHandler, CallbackQueryHandler

from conversations import places
from conversations.common import BotContext, button_data, chat_of, label, say, text_of
from conversations.login_check import require_login
from core import intents, statement
from core.account_lookup import Account
from core.accounts import links
from core.chart import chart_png
from core.statement_pdf import statement_pdf
from core.texts import render

log = logging.getLogger(f"petkomm.{__name__}")

YEARS_PER_ROW = 3
CAPTION_LIMIT = 1024  # Telegram's, for a photo's caption
YEARS_SHOWN = 6  # the retention keeps five years and the current one
CUSTOMER_ID = r"[A-Za-z0-9-]{1,20}"  # in a button's data, checked against the login's
# user_data: the period question shown last (its customer ID, years and when), so that
# its buttons' words typed do what the buttons do.
ASKED = "statement_periods"
TYPED_ANSWER_SECONDS = 30 * 60  # after that a typed year is about something else


def buttons(customer_id: str) -> list[list[InlineKeyboardButton]]:
    """The row under the Folyószámla page of `customer_id`."""
    return [
        [
            InlineKeyboardButton(label("statement"), callback_data=f"doc:statement:{customer_id}"),
            InlineKeyboardButton(label("chart"), callback_data=f"doc:chart:{customer_id}"),
        ]
    ]


async def _pressed_for(update: Update, context: BotContext) -> tuple[Account, str] | None:
    """The login and the customer ID the pressed button is for (its last part), or None
    after saying why not (no login; a customer account the login does not have).

    Typed instead of pressed ("grafikon", "kivonat": `core.intents`), it is for the
    customer account the pages show now."""
    account = await require_login(update, context)
    if account is None:
        return None
    if update.callback_query is None:
        return account, account.customer_id
    await update.callback_query.answer()
    customer_id = button_data(update).rsplit(":", 1)[-1]
    mine = {place.customer_id for place in await links.places(context.services.db, account)}
    if customer_id not in mine:  # removed from the login since, or made-up data
        log.info("a document of customer %s, not of account %s, refused", customer_id, account.id)
        await say(update, "menu/documents_not_yours", customer_id=customer_id)
        return None
    return account, customer_id


async def ask_period(update: Update, context: BotContext) -> None:
    """📄 Kivonat: the last 12 months, or one of the years with bookings."""
    pressed = await _pressed_for(update, context)
    if pressed is None:
        return
    account, customer_id = pressed
    years = (await statement.statement_years(context.services.db, customer_id))[:YEARS_SHOWN]
    if not years:
        await say(update, "menu/no_bookings")
        return
    rows = [[_period_button(label("last_months"), customer_id, "last")]]
    rows += [
        [_period_button(str(year), customer_id, str(year)) for year in chunk]
        for chunk in (years[i : i + YEARS_PER_ROW] for i in range(0, len(years), YEARS_PER_ROW))
    ]
    context.drafts[ASKED] = {
        "customer_id": customer_id,
        "years": years,
        "at": context.services.now(),
    }
    heading = await _heading(context, account, customer_id)
    text = render("chat/menu/statement_periods.txt", years=years)
    await chat_of(update).send_message(heading + text, reply_markup=InlineKeyboardMarkup(rows))


def _period_button(text: str, customer_id: str, period: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=f"stmt:{period}:{customer_id}")


async def _heading(context: BotContext, account: Account, customer_id: str) -> str:
    """The line naming the customer account, when the login has several."""
    if customer_id != account.customer_id:  # pressed under a page shown before a switch
        return render("chat/menu/documents_of.txt", customer_id=customer_id) + "\n"
    return await places.heading(context, account)


def _period(choice: str, today: str) -> statement.Period:
    """The period a button asks for (`last`, or a year not after this one)."""
    if choice.isdigit() and 2000 <= int(choice) <= int(today[:4]):
        return statement.year_period(int(choice), today)
    return statement.last_months(today)


def _typed_choice(text: str, years: list[int]) -> str | None:
    """The period button a typed text names: `last` ("az elmúlt 12 hónap", "12 hónap"),
    one of the offered `years` ("2025", "a 2024-es évet"), or None."""
    words = intents.normalise(text).split()
    if intents.loosely_names(text, label("last_months")) or (
        "12" in words and any(w.startswith("honap") for w in words)
    ):
        return "last"
    typed_years = {int(w[:4]) for w in words if w[:4].isdigit() and len(w) >= 4}
    offered = [year for year in years if year in typed_years]
    return str(offered[0]) if len(offered) == 1 and len(typed_years) == 1 else None


async def typed_period(update: Update, context: BotContext) -> bool:
    """A period button's words typed soon after the question: the statement, as the button
    sends it (True); False when the text is not that (read as any other text)."""
    asked = context.drafts.get(ASKED)
    if asked is None or context.services.now() - asked["at"] > TYPED_ANSWER_SECONDS:
        return False
    choice = _typed_choice(text_of(update), list(asked["years"]))
    if choice is None:
        return False
    account = await require_login(update, context)
    if account is None:
        return True
    mine = {p.customer_id for p in await links.places(context.services.db, account)}
    if asked["customer_id"] not in mine:  # removed from the login since
        context.drafts.pop(ASKED, None)
        return False
    await _send_statement(update, context, account, asked["customer_id"], choice)
    return True


async def send_statement(update: Update, context: BotContext) -> None:
    """A period pressed: the statement as a PDF document."""
    pressed = await _pressed_for(update, context)
    if pressed is None:
        return
    account, customer_id = pressed
    await _send_statement(update, context, account, customer_id, button_data(update).split(":")[1])


async def _send_statement(
    update: Update, context: BotContext, account: Account, customer_id: str, choice: str
) -> None:
    """The statement of `customer_id` for the period `choice` (`last` or a year), a PDF."""
    svc = context.services
    if not await statement.has_bookings(svc.db, customer_id):
        await say(update, "menu/no_bookings")
        return
    period = _period(choice, statement.today(svc.now()))
    built = await statement.account_statement(svc.db, customer_id, period, svc.now())
    pdf = await asyncio.to_thread(statement_pdf, built)
    name = f"folyoszamla-kivonat-{customer_id}-{period.first}-{period.last}.pdf"
    caption = await _heading(context, account, customer_id) + render(
        "chat/menu/statement_sent.txt", statement=built
    )
    await chat_of(update).send_document(
        InputFile(pdf, filename=name), caption=caption, protect_content=True
    )
    log.info(
        "sent the statement %s to %s of customer %s (%d bytes)",
        period.first,
        period.last,
        customer_id,
        len(pdf),
    )


async def send_chart(update: Update, context: BotContext) -> None:
    """📊 Grafikon: the last 12 months as a picture, the numbers in its caption."""
    pressed = await _pressed_for(update, context)
    if pressed is None:
        return
    account, customer_id = pressed
    svc = context.services
    if not await statement.has_bookings(svc.db, customer_id):
        await say(update, "menu/no_bookings")
        return
    picture = await statement.year_picture(svc.db, customer_id, svc.now())
    if picture.empty:
        await say(update, "menu/chart_empty", picture=picture)
        return
    png = await asyncio.to_thread(chart_png, picture)
    numbers = await _heading(context, account, customer_id) + render(
        "chat/menu/chart.txt", picture=picture
    )
    fits = len(numbers) <= CAPTION_LIMIT  # counted with its tags: on the safe side
    await chat_of(update).send_photo(
        InputFile(png, filename=f"grafikon-{customer_id}.png"),
        caption=numbers if fits else None,
        protect_content=True,
    )
    if not fits:  # a firm's seven-digit months: the numbers in a message of their own
        await chat_of(update).send_message(numbers, protect_content=True)
    log.info("sent the chart of customer %s (%d bytes)", customer_id, len(png))


def handlers() -> list[BaseHandler]:
    """The buttons under Folyószámla and the period buttons (no state needed)."""
    return [
        CallbackQueryHandler(ask_period, pattern=rf"^doc:statement:{CUSTOMER_ID}$"),
        CallbackQueryHandler(send_chart, pattern=rf"^doc:chart:{CUSTOMER_ID}$"),
        CallbackQueryHandler(send_statement, pattern=rf"^stmt:(last|\d{{4}}):{CUSTOMER_ID}$"),
    ]
