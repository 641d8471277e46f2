"""A customer's account as the chat shows it: the statement, the debts, the paged lists.

The statement is what the home page and the debt page say: the balance, the
unpaid invoices, which of them are overdue (by the Budapest calendar) and the
next due date. The invoice and booking lists come a page at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.accounts import BUDAPEST
from core.db import Queryable
from core.paging import Window, window
from storage import billing
from storage.billing import Booking, Customer, Invoice


def today(now: float) -> str:
    """The ISO date in Budapest at `now`: invoices fall due by the local calendar."""
    return datetime.fromtimestamp(now, BUDAPEST).date().isoformat()


@dataclass(frozen=True)
class Statement:
    """Where a customer stands on `today` (an ISO date)."""

    customer_id: str
    customer: Customer | None
    balance: int  # payments minus charges: negative means the customer owes
    unpaid: list[Invoice]  # by due date
    today: str

    @property
    def owed(self) -> int:
        """What the unpaid invoices still ask for."""
        return sum(invoice.outstanding for invoice in self.unpaid)

    @property
    def overdue(self) -> list[Invoice]:
        """The unpaid invoices whose due date has passed."""
        return [invoice for invoice in self.unpaid if invoice.due_date < self.today]

    @property
    def next_due(self) -> str | None:
        """The earliest due date still ahead (today included), if any."""
        upcoming = [invoice.due_date for invoice in self.unpaid if invoice.due_date >= self.today]
        return upcoming[0] if upcoming else None


async def statement(db: Queryable, customer_id: str, now: float) -> Statement:
    """The customer's statement at `now`."""
    return Statement(
        customer_id=customer_id,
        customer=await billing.get_customer(db, customer_id),
        balance=await billing.balance(db, customer_id),
        unpaid=await billing.unpaid_invoices(db, customer_id),
        today=today(now),
    )


async def customer(db: Queryable, customer_id: str) -> Customer | None:
    """The customer's data as the billing system has it."""
    return await billing.get_customer(db, customer_id)


async def balance(db: Queryable, customer_id: str) -> int:
    """Payments and credits minus charges: negative means the customer owes."""
    return await billing.balance(db, customer_id)


@dataclass(frozen=True)
class InvoicePage:
    """One page of the customer's invoices, newest first."""

    window: Window
    rows: list[Invoice]


@dataclass(frozen=True)
class BookingPage:
    """One page of the customer's bookings, newest first, each with the balance after it."""

    window: Window
    rows: list[tuple[Booking, int]]


async def invoices(db: Queryable, customer_id: str, page: int, per_page: int) -> InvoicePage:
    """A page of the customer's invoices (past the end: the last page)."""
    shown = window(await billing.invoice_count(db, customer_id), per_page, page)
    rows = await billing.invoices_page(db, customer_id, shown.offset, shown.limit)
    return InvoicePage(shown, rows)


async def bookings(db: Queryable, customer_id: str, page: int, per_page: int) -> BookingPage:
    """A page of the customer's bookings with running balances (past the end: the last page)."""
    shown = window(await billing.booking_count(db, customer_id), per_page, page)
    rows = await billing.bookings_page(db, customer_id, shown.offset, shown.limit)
    return BookingPage(shown, rows)
