"""Paying from the chat: what one Fizetés button asks the customer's bank to transfer.

For one invoice: what is still owed on it, its közlemény (the operator's pattern), its
number and the customer ID in the code's own fields. For the whole debt (the "egyben"
button of Tartozás): the sum still owed on every unpaid invoice, with a közlemény that
lists their numbers (`Facts.total_reference`). Either comes with the values the customer
copies into a bank app by hand, and the MNB QR payload (`core.payment_qr`).

Nothing is offered when the QR codes are off (`Facts.qr_payee` is None) or nothing is
owed: a button is never shown for a code that could not be made.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from core import payment_qr
from core.db import Queryable
from core.facts import Facts
from core.formats import format_invoice_number
from core.payment_qr import QrError, Transfer
from storage import billing
from storage.billing import Invoice

# Invoice is the doors' word for one too (they never import storage).
__all__ = [
    "Asked",
    "Invoice",
    "PaymentRequest",
    "Refusal",
    "asked",
    "can_pay",
    "for_invoice",
    "for_total",
]


@dataclass(frozen=True)
class PaymentRequest:
    """A transfer the customer is asked to make, as text and as QR payload."""

    customer_id: str
    invoices: tuple[int, ...]  # the invoice numbers it pays, oldest due first
    amount: int  # whole forints
    reference: str  # the közlemény
    account: str  # the payee's account as a Hungarian transfer form asks for it
    iban: str  # the payee's IBAN in groups of four
    payee_name: str
    valid_until: datetime
    payload: str  # the MNB QR code's text

    @property
    def invoice_no(self) -> int | None:
        """The one invoice it pays (None for several)."""
        return self.invoices[0] if len(self.invoices) == 1 else None


def can_pay(facts: Facts, invoice: Invoice) -> bool:
    """Whether a Fizetés button belongs to this invoice (codes on, something owed)."""
    return facts.qr_payee is not None and invoice.outstanding > 0


def for_invoice(facts: Facts, invoice: Invoice, now: float) -> PaymentRequest | None:
    """Paying what is still owed on one invoice (None: codes off or nothing owed)."""
    if not can_pay(facts, invoice):
        return None
    reference = facts.reference(invoice.customer_id, invoice.invoice_no)
    return _request(facts, invoice.customer_id, [invoice], reference, now)


def for_total(
    facts: Facts, customer_id: str, unpaid: Sequence[Invoice], now: float
) -> PaymentRequest | None:
    """Paying every unpaid invoice at once (None: codes off or nothing owed)."""
    owed = [invoice for invoice in unpaid if invoice.outstanding > 0]
    if facts.qr_payee is None or not owed:
        return None
    if len(owed) == 1:
        return for_invoice(facts, owed[0], now)
    numbers = [invoice.invoice_no for invoice in owed]
    try:
        return _request(facts, customer_id, owed, facts.total_reference(customer_id, numbers), now)
    except QrError:  # the list made the code too large (a long accented payee name): count
        counted = facts.total_reference(customer_id, numbers, listed=False)
        return _request(facts, customer_id, owed, counted, now)


def _request(
    facts: Facts, customer_id: str, invoices: Sequence[Invoice], reference: str, now: float
) -> PaymentRequest:
    payee = facts.qr_payee
    assert payee is not None and facts.account_number and facts.iban
    amount = sum(invoice.outstanding for invoice in invoices)
    valid_until = payment_qr.validity(now)
    single = len(invoices) == 1
    transfer = Transfer(
        amount,
        reference,
        valid_until,
        invoice=format_invoice_number(invoices[0].invoice_no) if single else "",
        customer_id=customer_id,
    )
    return PaymentRequest(
        customer_id=customer_id,
        invoices=tuple(invoice.invoice_no for invoice in invoices),
        amount=amount,
        reference=reference,
        account=facts.account_number,
        iban=facts.iban,
        payee_name=payee.name,
        valid_until=valid_until,
        payload=payment_qr.payload(payee, transfer),
    )


class Refusal(Enum):
    """Why a Fizetés press gets no code (each has its own answer)."""

    OFF = "off"  # the QR codes are off (the settings changed since the button was sent)
    PAID = "paid"  # the invoice has been paid since
    NOTHING_OWED = "nothing_owed"  # the total: nothing is owed any more
    NOT_THEIRS = "not_theirs"  # an invoice of no customer ID of the login


@dataclass(frozen=True)
class Asked:
    """What a Fizetés press gets: a request to show, or why not."""

    request: PaymentRequest | None
    refusal: Refusal | None = None


async def asked(
    db: Queryable,
    facts: Facts,
    customer_ids: Collection[str],
    invoice_no: int | None,
    now: float,
    *,
    total_of: str,
) -> Asked:
    """The answer to a Fizetés press of a login whose customer IDs are `customer_ids` (its
    own and those it added, `core.accounts.links`): for one invoice (its number), or for
    the whole debt of `total_of` (None), with what is owed now, after the latest import.

    An invoice of any of the login's customer IDs is paid, whichever one the pages show
    now (a new-invoice notice of the holiday house, pressed while the home is shown). One
    of no customer ID of the login is refused: the button's data comes from the customer's
    device, and a household may have logged in to another account since it was sent.
    """
    if facts.qr_payee is None:
        return Asked(None, Refusal.OFF)
    if invoice_no is None:
        if total_of not in customer_ids:
            return Asked(None, Refusal.NOT_THEIRS)
        request = for_total(facts, total_of, await billing.unpaid_invoices(db, total_of), now)
        return Asked(request, None if request else Refusal.NOTHING_OWED)
    invoice = await billing.get_invoice(db, invoice_no)
    if invoice is None or invoice.customer_id not in customer_ids:
        return Asked(None, Refusal.NOT_THEIRS)
    request = for_invoice(facts, invoice, now)
    return Asked(request, None if request else Refusal.PAID)
