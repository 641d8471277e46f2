"""A customer's account as the chat shows it: the statement, the debts, the paged lists.

The statement is what the home page and the debt page say: the balance, the
unpaid invoices, which of them are overdue (by the Budapest calendar) and the
next due date. The invoice and booking lists come a page at a time.

The account statement (folyószámla-kivonat, a PDF) and the year's chart (a PNG) are
built from `AccountStatement` and `YearPicture`: a period, its opening balance, every
booking with the balance after it, the closing balance; the months' totals. Drawing
them is `core.statement_pdf`'s and `core.chart`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

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


# --- the account statement and the year's chart --------------------------------------------

MONTHS_SHOWN = 12  # "the last 12 months": this month and the eleven before it


@dataclass(frozen=True)
class Period:
    """The days a statement covers: `first` to `last` (ISO, both included); `year` when it is
    a calendar year the customer chose, None for the last 12 months."""

    first: str
    last: str
    year: int | None = None

    @property
    def months(self) -> list[str]:
        """Every month of the period, oldest first (`2026-05`)."""
        year, month = int(self.first[:4]), int(self.first[5:7])
        shown = []
        while f"{year:04d}-{month:02d}" <= self.last[:7]:
            shown.append(f"{year:04d}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return shown


def last_months(today: str, count: int = MONTHS_SHOWN) -> Period:
    """From the first day of the month `count - 1` months before today's, to today."""
    day = date.fromisoformat(today)
    index = day.year * 12 + day.month - 1 - (count - 1)
    return Period(date(index // 12, index % 12 + 1, 1).isoformat(), today)


def year_period(year: int, today: str) -> Period:
    """A calendar year, to today when it is this year."""
    return Period(f"{year:04d}-01-01", min(f"{year:04d}-12-31", today), year)


@dataclass(frozen=True)
class AccountStatement:
    """A folyószámla-kivonat: the customer, the period, the opening balance, every booking
    of the period with the balance after it, and the closing balance (made on `today`)."""

    customer_id: str
    customer: Customer | None
    period: Period
    opening: int
    rows: list[tuple[Booking, int]]
    today: str

    @property
    def closing(self) -> int:
        """The balance at the end of the period."""
        return self.rows[-1][1] if self.rows else self.opening

    @property
    def charges(self) -> int:
        """What raised the debt in the period (charges, debit adjustments), positive."""
        return -sum(booking.effect for booking, _ in self.rows if booking.effect < 0)

    @property
    def payments(self) -> int:
        """What lowered it (payments, credits), positive."""
        return sum(booking.effect for booking, _ in self.rows if booking.effect > 0)


async def has_bookings(db: Queryable, customer_id: str) -> bool:
    """Whether the customer has anything booked at all (else there is nothing to show)."""
    return await billing.booking_count(db, customer_id) > 0


async def statement_years(db: Queryable, customer_id: str) -> list[int]:
    """The calendar years a statement can be asked for (those with bookings), newest first."""
    return await billing.booking_years(db, customer_id)


async def account_statement(
    db: Queryable, customer_id: str, period: Period, now: float
) -> AccountStatement:
    """The customer's statement for `period`, made at `now`."""
    return AccountStatement(
        customer_id=customer_id,
        customer=await billing.get_customer(db, customer_id),
        period=period,
        opening=await billing.balance_before(db, customer_id, period.first),
        rows=await billing.bookings_between(db, customer_id, period.first, period.last),
        today=today(now),
    )


@dataclass(frozen=True)
class MonthTotals:
    """One month of the chart: what raised the debt and what lowered it (both positive)."""

    month: str  # 2026-05
    charges: int
    payments: int


@dataclass(frozen=True)
class YearPicture:
    """The last 12 months, month by month, oldest first (a month without bookings is 0)."""

    customer_id: str
    period: Period
    months: list[MonthTotals]

    @property
    def charges(self) -> int:
        return sum(month.charges for month in self.months)

    @property
    def payments(self) -> int:
        return sum(month.payments for month in self.months)

    @property
    def empty(self) -> bool:
        """Nothing booked in the whole period."""
        return not any(month.charges or month.payments for month in self.months)


async def year_picture(db: Queryable, customer_id: str, now: float) -> YearPicture:
    """The customer's last 12 months at `now`, month by month."""
    period = last_months(today(now))
    totals = await billing.monthly_totals(db, customer_id, period.first, period.last)
    months = [MonthTotals(month, *totals.get(month, (0, 0))) for month in period.months]
    return YearPicture(customer_id, period, months)
