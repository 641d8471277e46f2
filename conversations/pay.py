"""Fizetés: the MNB payment QR code of an unpaid invoice (or of the whole debt), with
buttons that copy the account number, the amount and the közlemény.

Every unpaid invoice in Tartozás and Számlák has a "💳 Fizetés: <number>" button (and a
new-invoice notice may carry one: `pay_button`); Tartozás with several has "💳 Fizetés
egyben" too. A press answers with a photo of the QR code, the three values as text and
a line on how to use them, protected from forwarding and saving (it shows personal
data). What is paid is what is owed when the button is pressed, after the latest import.
No button is shown while the QR codes are off (`core.facts.qr_payee`).

A login with several customer IDs (Fiókváltás, `core.accounts.links`) pays an invoice of
any of them, whichever the pages show now, and the caption names the place it pays; the
total's button carries its customer ID, so it pays that page's debt after a switch too.
"""

from __future__ import annotations

import asyncio
import logging

from telegram import CopyTextButton, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler

from conversations.common import (
    BotContext,
    button_data,
    chat_of,
    customer_keyboard,
    label,
    query_of,
    say,
)
from core import paying, payment_qr
from core.accounts import links
from core.facts import Facts
from core.formats import format_invoice_number
from core.paying import Invoice, PaymentRequest, Refusal
from core.statement import Statement
from core.texts import render

log = logging.getLogger(f"petkomm.{__name__}")

# Callback data: `pay:<invoice number>` for one invoice, `pay:all:<customer ID>` for the
# whole debt of that customer ID (`pay:all`, as buttons sent before said it: the one shown).
PREFIX = "pay:"
ALL = "all"
PATTERN = rf"^{PREFIX}(\d{{10}}|{ALL}(:[A-Za-z0-9]{{1,20}})?)$"


def pay_button(facts: Facts, invoice: Invoice) -> InlineKeyboardButton | None:
    """The "💳 Fizetés: 2026-002168" button of one invoice, for any message that shows it
    (Tartozás, Számlák, a new-invoice notice); None when the QR codes are off or nothing
    is owed on it. Pressing it sends that invoice's QR code (`answer`)."""
    if not paying.can_pay(facts, invoice):
        return None
    return unpaid_invoice_button(facts, invoice.invoice_no)


def unpaid_invoice_button(facts: Facts, invoice_no: int) -> InlineKeyboardButton | None:
    """The Fizetés button of an invoice known to be unpaid (a notification checks that when
    it is sent); None when the QR codes are off. What is owed is read again at the press."""
    if facts.qr_payee is None:
        return None
    return InlineKeyboardButton(
        label("pay_invoice").format(number=format_invoice_number(invoice_no)),
        callback_data=f"{PREFIX}{invoice_no}",
    )


def invoice_rows(facts: Facts, invoices: list[Invoice]) -> list[list[InlineKeyboardButton]]:
    """One row with a Fizetés button for each of these invoices that can be paid."""
    buttons = (pay_button(facts, invoice) for invoice in invoices)
    return [[button] for button in buttons if button is not None]


def debt_keyboard(facts: Facts, statement: Statement) -> InlineKeyboardMarkup | None:
    """Tartozás's buttons: one for each unpaid invoice, and "Fizetés egyben" for the
    total when there are several (None when the QR codes are off or nothing is owed)."""
    rows = invoice_rows(facts, statement.unpaid)
    if len(rows) > 1:
        # The customer ID in the data: a press after Fiókváltás still pays this page's debt.
        total = f"{PREFIX}{ALL}:{statement.customer_id}"
        rows.append([InlineKeyboardButton(label("pay_total"), callback_data=total)])
    return InlineKeyboardMarkup(rows) if rows else None


def copy_keyboard(request: PaymentRequest) -> InlineKeyboardMarkup:
    """The buttons under the QR code: each copies one value as a bank app's form wants it
    (the account number with its hyphens, the amount as bare digits, the közlemény)."""
    values = (
        ("copy_account", request.account),
        ("copy_amount", str(request.amount)),
        ("copy_reference", request.reference),
    )
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(label(name), copy_text=CopyTextButton(value))]
            for name, value in values
        ]
    )


async def answer(update: Update, context: BotContext) -> None:
    """A Fizetés button: the QR code of what is owed now, or why there is none. An invoice
    of any customer ID of the login is paid (its own or one added in Fiókváltás, whichever
    the pages show now), the place named when the login has several."""
    # Imported here: the menu's pages import this module for their buttons.
    from conversations.menu import require_login

    account = await require_login(update, context)
    if account is None:
        return
    query = query_of(update)
    await query.answer()  # at once: making the code takes a moment
    svc = context.services
    wanted = button_data(update).removeprefix(PREFIX)
    invoice_no = None if wanted.startswith(ALL) else int(wanted)
    total_of = wanted.removeprefix(f"{ALL}:") if ":" in wanted else account.customer_id
    places = await links.places(svc.db, account)
    asked = await paying.asked(
        svc.db,
        svc.facts,
        [place.customer_id for place in places],
        invoice_no,
        svc.now(),
        total_of=total_of,
    )
    request = asked.request
    if request is None:
        assert asked.refusal is not None
        await _refuse(update, asked.refusal, invoice_no, account.customer_id)
        return
    # The place, as the pages' headings and the notices name it, when there are several.
    place = next((p for p in places if p.customer_id == request.customer_id), None)
    # segno is pure Python (some 50 ms): off the event loop, so other chats go on meanwhile.
    image = await asyncio.to_thread(payment_qr.png, request.payload)
    await chat_of(update).send_photo(
        image,
        caption=render(
            "chat/pay/qr.txt",
            request=request,
            invoice=format_invoice_number(invoice_no) if invoice_no is not None else "",
            invoices=len(request.invoices),
            place=place if len(places) > 1 else None,
        ),
        reply_markup=copy_keyboard(request),
        protect_content=True,  # the account, the amount and the customer ID: not forwarded
        filename="fizetes-qr.png",
    )
    log.info(
        "payment QR code sent to customer %s for %s",
        request.customer_id,
        "the whole debt" if invoice_no is None else format_invoice_number(invoice_no),
    )


async def _refuse(
    update: Update, refusal: Refusal, invoice_no: int | None, customer_id: str
) -> None:
    """Say why a press gets no code."""
    if refusal is Refusal.NOT_THEIRS:
        log.warning(
            "customer %s pressed Fizetés for %s, of no customer ID of their login",
            customer_id,
            "the whole debt" if invoice_no is None else invoice_no,
        )
    number = format_invoice_number(invoice_no) if invoice_no is not None else ""
    await say(update, f"pay/{refusal.value}", reply_markup=customer_keyboard(), invoice=number)


def handlers() -> list[BaseHandler]:
    """The Fizetés buttons (outside a dialogue; `conversations.dialogues` takes them
    inside one too, so a notice's button works while a report is being written)."""
    return [CallbackQueryHandler(answer, pattern=PATTERN)]
