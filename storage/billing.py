"""Customers, invoices and transactions: the imported billing data."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from storage.db import Queryable, Transaction

# --- records -----------------------------------------------------------------


@dataclass(frozen=True)
class Customer:
    customer_id: str
    name: str
    address: str
    phone: str
    email: str
    payment_method: str


@dataclass(frozen=True)
class Invoice:
    invoice_no: int
    customer_id: str
    issue_date: str  # ISO
    due_date: str  # ISO
    amount: int
    outstanding: int


@dataclass(frozen=True)
class Booking:
    transaction_id: str
    customer_id: str
    booked_on: str  # ISO
    kind: str  # charge | payment | adjustment
    amount: int
    invoice_no: int | None
    description: str
    effect: int  # what it did to the balance: a charge (or a negative adjustment) is negative


# --- import ------------------------------------------------------------------
# Each upsert writes only when a value differs, so an unchanged re-import does
# not touch a page; new rows remember the import run that brought them.

UPSERT_CUSTOMER = """
INSERT INTO customers(customer_id, name, address, phone, email, payment_method, first_import)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(customer_id) DO UPDATE SET
    name = excluded.name, address = excluded.address, phone = excluded.phone,
    email = excluded.email, payment_method = excluded.payment_method
WHERE (customers.name, customers.address, customers.phone, customers.email,
       customers.payment_method)
   IS NOT (excluded.name, excluded.address, excluded.phone, excluded.email,
           excluded.payment_method)
"""

UPSERT_INVOICE = """
INSERT INTO invoices(invoice_no, customer_id, issue_date, due_date, amount, outstanding,
                     first_import)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(invoice_no) DO UPDATE SET
    customer_id = excluded.customer_id, issue_date = excluded.issue_date,
    due_date = excluded.due_date, amount = excluded.amount, outstanding = excluded.outstanding
WHERE (invoices.customer_id, invoices.issue_date, invoices.due_date, invoices.amount,
       invoices.outstanding)
   IS NOT (excluded.customer_id, excluded.issue_date, excluded.due_date, excluded.amount,
           excluded.outstanding)
"""

UPSERT_TRANSACTION = """
INSERT INTO transactions(transaction_id, customer_id, booked_on, kind, amount, invoice_no,
                         description)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(transaction_id) DO UPDATE SET
    customer_id = excluded.customer_id, booked_on = excluded.booked_on, kind = excluded.kind,
    amount = excluded.amount, invoice_no = excluded.invoice_no,
    description = excluded.description
WHERE (transactions.customer_id, transactions.booked_on, transactions.kind,
       transactions.amount, transactions.invoice_no, transactions.description)
   IS NOT (excluded.customer_id, excluded.booked_on, excluded.kind, excluded.amount,
           excluded.invoice_no, excluded.description)
"""

TABLES = {
    "customers": UPSERT_CUSTOMER,
    "invoices": UPSERT_INVOICE,
    "transactions": UPSERT_TRANSACTION,
}

# Into a table empty before the import: every row is new (see load_rows).
INSERT_NEW = {
    "customers": "INSERT INTO customers(customer_id, name, address, phone, email, payment_method,"
    " first_import) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(customer_id) DO NOTHING",
    "invoices": "INSERT INTO invoices(invoice_no, customer_id, issue_date, due_date, amount,"
    " outstanding, first_import) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(invoice_no) DO NOTHING",
    "transactions": "INSERT INTO transactions(transaction_id, customer_id, booked_on, kind, amount,"
    " invoice_no, description) VALUES (?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT(transaction_id) DO NOTHING",
}


# SQLite's default page cache is 2 MB. An import upserts millions of rows into
# indexes whose keys arrive in no particular order (transaction IDs, invoice
# numbers); on the 3.6 M-row benchmark (bench/import_bench.py) the upserts ran
# about a fifth faster with 16 MB than with the default, and 64 MB gained
# nothing more. The cache is taken back when the import ends.
IMPORT_CACHE_KIB = 16 * 1024


@asynccontextmanager
async def import_cache(tx: Transaction, kib: int = IMPORT_CACHE_KIB) -> AsyncIterator[None]:
    """A larger page cache on the connection for the block, the previous size restored after."""
    previous = await tx.fetch_value("PRAGMA cache_size")
    await tx.execute(f"PRAGMA cache_size = -{int(kib)}")
    try:
        yield
    finally:
        await tx.execute(f"PRAGMA cache_size = {int(previous)}")


async def start_import_run(tx: Transaction, folder: str, now: float) -> int:
    """Record an import run; its id marks the rows it brings."""
    return await tx.insert(
        "INSERT INTO import_runs(folder, started_at) VALUES (?, ?)", (folder, now)
    )


async def finish_import_run(tx: Transaction, run_id: int, now: float, summary: str) -> None:
    """Store the run's summary (JSON) once everything is applied."""
    await tx.execute(
        "UPDATE import_runs SET finished_at = ?, summary = ? WHERE id = ?", (now, summary, run_id)
    )


async def load_rows(
    tx: Transaction, table: str, rows: Iterable[Sequence[Any]], *, into_empty: bool
) -> None:
    """Stream `rows` into `table` (consumed lazily): with its upsert, or, when the table
    was empty as the import began (`into_empty`), with a plain insert.

    Into an empty table every row is new, so the upsert's comparison has nothing
    to compare with; a key repeated within the rows keeps its first row (the
    import refuses such a file anyway, and rolls back). The table's own indexes are
    then built once the rows are in, from sorted keys, instead of being updated
    row by row. Readers on other connections see none of this: they read the last
    committed state, indexes and all, until the import commits.
    """
    if not into_empty:
        await tx.executemany(TABLES[table], rows)
        return
    # The indexes the schema creates (those of UNIQUE and PRIMARY KEY have no SQL: they
    # stay, the insert needs them). On the 24-month benchmark shape the insert took a
    # fifth less CPU time without them, their build after included.
    indexes = await tx.fetch_all(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?"
        " AND sql IS NOT NULL ORDER BY name",
        (table,),
    )
    for index in indexes:
        await tx.execute(f'DROP INDEX "{index["name"]}"')
    await tx.executemany(INSERT_NEW[table], rows)
    for index in indexes:
        await tx.execute(index["sql"])


async def count_rows(db: Queryable, table: str) -> int:
    """Rows in one of the three billing tables."""
    if table not in TABLES:
        raise ValueError(table)
    return int(await db.fetch_value(f"SELECT count(*) FROM {table}"))


async def customer_ids(db: Queryable) -> set[str]:
    """Every known customer ID (at most 10 000)."""
    return {row[0] for row in await db.fetch_all("SELECT customer_id FROM customers")}


async def invoices_of_run(db: Queryable, run_id: int, limit: int) -> list[int]:
    """Invoice numbers first brought by import run `run_id`."""
    rows = await db.fetch_all(
        "SELECT invoice_no FROM invoices WHERE first_import = ? ORDER BY invoice_no LIMIT ?",
        (run_id, limit),
    )
    return [row[0] for row in rows]


# --- queries customers make -----------------------------------------------------


async def get_customer(db: Queryable, customer_id: str) -> Customer | None:
    """One customer by ID."""
    row = await db.fetch_one(
        "SELECT customer_id, name, address, phone, email, payment_method FROM customers"
        " WHERE customer_id = ?",
        (customer_id,),
    )
    return Customer(*row) if row else None


_INVOICE_COLUMNS = "invoice_no, customer_id, issue_date, due_date, amount, outstanding"


async def get_invoice(db: Queryable, invoice_no: int) -> Invoice | None:
    """One invoice by its number."""
    row = await db.fetch_one(
        f"SELECT {_INVOICE_COLUMNS} FROM invoices WHERE invoice_no = ?", (invoice_no,)
    )
    return Invoice(*row) if row else None


async def invoices_page(db: Queryable, customer_id: str, offset: int, limit: int) -> list[Invoice]:
    """A customer's invoices, newest first."""
    rows = await db.fetch_all(
        f"SELECT {_INVOICE_COLUMNS} FROM invoices WHERE customer_id = ?"
        " ORDER BY issue_date DESC, invoice_no DESC LIMIT ? OFFSET ?",
        (customer_id, limit, offset),
    )
    return [Invoice(*row) for row in rows]


async def invoice_count(db: Queryable, customer_id: str) -> int:
    """How many invoices a customer has."""
    return int(
        await db.fetch_value("SELECT count(*) FROM invoices WHERE customer_id = ?", (customer_id,))
    )


async def unpaid_invoices(db: Queryable, customer_id: str) -> list[Invoice]:
    """A customer's invoices with something still owed, by due date."""
    rows = await db.fetch_all(
        f"SELECT {_INVOICE_COLUMNS} FROM invoices WHERE customer_id = ? AND outstanding > 0"
        " ORDER BY due_date, invoice_no",
        (customer_id,),
    )
    return [Invoice(*row) for row in rows]


# The one rule of a booking's sign: a charge raises the debt; a payment lowers it; an
# adjustment lowers it when positive (a credit) and raises it when negative (a late fee).
_SIGNED = "CASE kind WHEN 'charge' THEN -amount ELSE amount END"


async def balance(db: Queryable, customer_id: str) -> int:
    """Payments and credits minus charges: negative means the customer owes."""
    return int(
        await db.fetch_value(
            f"SELECT coalesce(sum({_SIGNED}), 0) FROM transactions WHERE customer_id = ?",
            (customer_id,),
        )
    )


async def bookings_page(
    db: Queryable, customer_id: str, offset: int, limit: int
) -> list[tuple[Booking, int]]:
    """A customer's bookings newest first, each with the running balance after it."""
    rows = await db.fetch_all(
        "SELECT transaction_id, customer_id, booked_on, kind, amount, invoice_no, description,"
        f" {_SIGNED} AS effect, sum({_SIGNED}) OVER (ORDER BY booked_on, id) AS running"
        " FROM transactions WHERE customer_id = ?"
        " ORDER BY booked_on DESC, id DESC LIMIT ? OFFSET ?",
        (customer_id, limit, offset),
    )
    return [(Booking(*row[:8]), int(row[8])) for row in rows]


async def booking_count(db: Queryable, customer_id: str) -> int:
    """How many bookings a customer has."""
    return int(
        await db.fetch_value(
            "SELECT count(*) FROM transactions WHERE customer_id = ?", (customer_id,)
        )
    )


# --- the account statement and the year's chart ------------------------------------------


async def balance_before(db: Queryable, customer_id: str, day: str) -> int:
    """The balance at the start of `day` (ISO): every booking before it."""
    return int(
        await db.fetch_value(
            f"SELECT coalesce(sum({_SIGNED}), 0) FROM transactions"
            " WHERE customer_id = ? AND booked_on < ?",
            (customer_id, day),
        )
    )


async def bookings_between(
    db: Queryable, customer_id: str, first: str, last: str
) -> list[tuple[Booking, int]]:
    """A customer's bookings from `first` to `last` (ISO, both included), oldest first, each
    with the running balance after it (counted from the very first booking)."""
    rows = await db.fetch_all(
        "SELECT transaction_id, customer_id, booked_on, kind, amount, invoice_no, description,"
        f" {_SIGNED} AS effect, ? + sum({_SIGNED}) OVER (ORDER BY booked_on, id) AS running"
        " FROM transactions WHERE customer_id = ? AND booked_on BETWEEN ? AND ?"
        " ORDER BY booked_on, id",
        (await balance_before(db, customer_id, first), customer_id, first, last),
    )
    return [(Booking(*row[:8]), int(row[8])) for row in rows]


async def booking_years(db: Queryable, customer_id: str) -> list[int]:
    """The calendar years in which the customer has bookings, newest first."""
    rows = await db.fetch_all(
        "SELECT DISTINCT substr(booked_on, 1, 4) FROM transactions WHERE customer_id = ?"
        " ORDER BY 1 DESC",
        (customer_id,),
    )
    return [int(row[0]) for row in rows]


async def monthly_totals(
    db: Queryable, customer_id: str, first: str, last: str
) -> dict[str, tuple[int, int]]:
    """Per month (`2026-05`) from `first` to `last` (ISO, included): what raised the debt
    (charges, debit adjustments) and what lowered it (payments, credits), both positive;
    months without bookings are absent."""
    rows = await db.fetch_all(
        f"SELECT substr(booked_on, 1, 7) AS month,"
        f" sum(CASE WHEN {_SIGNED} < 0 THEN -({_SIGNED}) ELSE 0 END),"
        f" sum(CASE WHEN {_SIGNED} > 0 THEN {_SIGNED} ELSE 0 END)"
        " FROM transactions WHERE customer_id = ? AND booked_on BETWEEN ? AND ?"
        " GROUP BY month ORDER BY month",
        (customer_id, first, last),
    )
    return {row[0]: (int(row[1]), int(row[2])) for row in rows}
