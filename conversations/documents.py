"""Documents in the chat: an invoice's PDF from Számlák (`core.invoice_pdfs`).

A document is sent with `protect_content` (it shows personal data: Telegram
then lets nobody forward or save it from the chat), and only for an invoice of
a customer account the login has: a button's data could be made up.
Telegram's id of the first upload is kept, so the same PDF is named, not
uploaded, the next time.

A PDF button's words typed ("PDF 2026-000123", "kérem a 2026-000123 pdf-jét") soon after
the list that showed it do what the button does (`typed_pdf`).
"""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InputFile, Message, Update
from telegram.error import BadRequest
from telegram.ext import BaseHandler, CallbackQueryHandler

from conversations.common import BotContext, button_data, chat_of, say, text_of
from conversations.login_check import require_login
from core import intents, invoice_pdfs
from core.account_lookup import Account
from core.accounts import links
from core.formats import format_invoice_number
from core.texts import labels, render

log = logging.getLogger(f"petkomm.{__name__}")

PDF = "pdf:"  # pdf:<invoice number as stored>
# user_data: the invoices whose PDF buttons the list shown last has, and when, so that a
# button's words typed do what it does.
SHOWN = "pdf_buttons"
TYPED_ANSWER_SECONDS = 30 * 60  # after that a typed number is about something else


async def pdf_buttons(
    context: BotContext, invoice_nos: list[int]
) -> list[list[InlineKeyboardButton]]:
    """A "📄 PDF" button for each of these invoices that has one, two to a row."""
    having = await invoice_pdfs.with_documents(context.services.db, invoice_nos)
    label = labels("customer")["pdf"]
    buttons = [
        InlineKeyboardButton(
            label.format(number=format_invoice_number(number)), callback_data=f"{PDF}{number}"
        )
        for number in invoice_nos
        if number in having
    ]
    context.drafts[SHOWN] = {
        "numbers": [n for n in invoice_nos if n in having],
        "at": context.services.now(),
    }
    return [buttons[i : i + 2] for i in range(0, len(buttons), 2)]


def _typed_number(text: str, numbers: list[int]) -> int | None:
    """The one invoice of `numbers` a typed text asks the PDF of ("pdf" and its number, as
    the button shows it or its digits alone), else None."""
    words = intents.normalise(text).split()
    if not any(word.startswith("pdf") for word in words):
        return None
    typed = " ".join(words)
    named = [
        n
        for n in numbers
        if intents.normalise(format_invoice_number(n)) in typed or str(n) in words
    ]
    return named[0] if len(named) == 1 else None


async def typed_pdf(update: Update, context: BotContext) -> bool:
    """A PDF button's words typed soon after the list showing it: that PDF (True); False
    when the text is not that (read as any other text)."""
    shown = context.drafts.get(SHOWN)
    if shown is None or context.services.now() - shown["at"] > TYPED_ANSWER_SECONDS:
        return False
    number = _typed_number(text_of(update), list(shown["numbers"]))
    if number is None:
        return False
    account = await require_login(update, context)
    if account is not None:
        await _send_pdf(update, context, account, number)
    return True


async def send_pdf(update: Update, context: BotContext) -> None:
    """📄 PDF under Számlák: the invoice's PDF as a document."""
    account = await require_login(update, context)
    if account is None:
        return
    if update.callback_query is not None:
        await update.callback_query.answer()
    try:
        number = int(button_data(update).removeprefix(PDF))
    except ValueError:
        return
    await _send_pdf(update, context, account, number)


async def _send_pdf(update: Update, context: BotContext, account: Account, number: int) -> None:
    """The PDF of invoice `number`, when it is one of the login's customer accounts'."""
    db = context.services.db
    doc = await invoice_pdfs.document(db, number)
    mine = {place.customer_id for place in await links.places(db, account)}
    if doc is None or doc.customer_id not in mine:
        await say(update, "menu/pdf_gone", number=format_invoice_number(number))
        return
    caption = render(
        "chat/menu/pdf_caption.txt",
        number=format_invoice_number(number),
        customer_id=doc.customer_id,
    )
    sent: Message | None = None
    if doc.telegram_file_id:
        try:
            sent = await chat_of(update).send_document(
                doc.telegram_file_id, caption=caption, protect_content=True
            )
        except BadRequest as exc:  # an id Telegram no longer knows (another bot token)
            log.info("invoice %s's PDF is uploaded again: %s", number, exc.message)
    if sent is None:
        data = await invoice_pdfs.content(db, doc.sha256)
        if data is None:
            await say(update, "menu/pdf_gone", number=format_invoice_number(number))
            return
        sent = await chat_of(update).send_document(
            InputFile(data, filename=invoice_pdfs.file_name(number)),
            caption=caption,
            protect_content=True,
        )
        if sent.document is not None:
            await invoice_pdfs.remember_file_id(db, doc.sha256, sent.document.file_id)


def handlers() -> list[BaseHandler]:
    """The document buttons."""
    return [CallbackQueryHandler(send_pdf, pattern=rf"^{PDF}\d+$")]
