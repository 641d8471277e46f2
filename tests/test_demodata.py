"""The demo-data generator writes a consistent, realistic billing export."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from core.demodata import (
    CUSTOMER_COLUMNS,
    INVOICE_COLUMNS,
    TRANSACTION_COLUMNS,
    DemoSummary,
    write_demo_data,
)
from core.formats import format_export_amount as format_amount

TODAY = date(2026, 3, 10)
CUSTOMERS = 50
YEARS = 2
FILES = ("customers.csv", "invoices.csv", "transactions.csv")

AMOUNT = re.compile(r"^-?(?:\d{1,4}|\d{2,3}(?: \d{3})+)$")
DATE = re.compile(r"^(\d{4})\.(\d{2})\.(\d{2})$")
ACCENTED = set("áéíóöőúüűÁÉÍÓÖŐÚÜŰ")


def parse_amount(text: str) -> int:
    """`12 345` -> 12345, checking the one format the generator promises."""
    assert AMOUNT.match(text), f"bad amount {text!r}"
    return int(text.replace(" ", ""))


def parse_date(text: str) -> date:
    match = DATE.match(text)
    assert match, f"bad date {text!r}"
    return date(int(match[1]), int(match[2]), int(match[3]))


def read_rows(folder: Path, name: str, columns: tuple[str, ...]) -> list[dict[str, str]]:
    """Rows of one file as dicts, after checking encoding and header."""
    raw = (folder / name).read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf"), "no BOM expected"
    with open(folder / name, encoding="utf-8", newline="") as file:
        reader = csv.reader(file, delimiter=";")
        header = next(reader)
        assert tuple(header) == columns
        rows = list(reader)
    assert all(len(row) == len(columns) for row in rows)
    return [dict(zip(columns, row, strict=True)) for row in rows]


@dataclass
class Export:
    folder: Path
    summary: DemoSummary
    customers: list[dict[str, str]]
    invoices: list[dict[str, str]]
    transactions: list[dict[str, str]]


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Export:
    """One small export: 50 customers, 2 years of history up to 2026-03-10."""
    folder = tmp_path_factory.mktemp("demo") / "export"  # not yet there: must be created
    summary = write_demo_data(folder, customers=CUSTOMERS, seed=7, years=YEARS, today=TODAY)
    return Export(
        folder,
        summary,
        read_rows(folder, "customers.csv", CUSTOMER_COLUMNS),
        read_rows(folder, "invoices.csv", INVOICE_COLUMNS),
        read_rows(folder, "transactions.csv", TRANSACTION_COLUMNS),
    )


def test_files_parse_with_the_contract_headers_and_formats(export: Export) -> None:
    assert sorted(p.name for p in export.folder.iterdir()) == sorted(FILES)
    for row in export.invoices:
        parse_date(row["issue_date"])
        parse_date(row["due_date"])
        parse_amount(row["amount"])
        parse_amount(row["outstanding"])
    for row in export.transactions:
        parse_date(row["date"])
        amount = parse_amount(row["amount"])
        # Charges and payments are positive; a helyesbítés here is a debit (negative).
        assert amount < 0 if row["kind"] == "helyesbítés" else amount > 0
        assert row["kind"] in {"terhelés", "befizetés", "helyesbítés"}
    methods = {row["payment_method"] for row in export.customers}
    assert methods == {"csekk", "átutalás", "csoportos beszedés"}


def test_amounts_are_grouped_the_hungarian_way() -> None:
    assert format_amount(0) == "0"
    assert format_amount(4800) == "4800"
    assert format_amount(12345) == "12 345"
    assert format_amount(1234567) == "1 234 567"
    assert format_amount(-30000) == "-30 000"


def test_same_seed_gives_the_same_bytes_and_another_seed_differs(tmp_path: Path) -> None:
    def run(name: str, seed: int) -> dict[str, bytes]:
        write_demo_data(tmp_path / name, customers=20, seed=seed, years=1, today=TODAY)
        return {file: (tmp_path / name / file).read_bytes() for file in FILES}

    first = run("a", 3)
    assert run("b", 3) == first
    other = run("c", 4)
    assert all(other[file] != first[file] for file in FILES)


def test_counts_match_the_size_asked_for(export: Export) -> None:
    assert len(export.customers) == CUSTOMERS
    assert len(export.invoices) == CUSTOMERS * YEARS * 12
    summary = export.summary
    assert (summary.customers, summary.invoices, summary.transactions) == (
        len(export.customers),
        len(export.invoices),
        len(export.transactions),
    )


def test_ids_and_numbers_are_well_formed_and_unique(export: Export) -> None:
    ids = [row["customer_id"] for row in export.customers]
    assert ids == [f"U{n:04d}" for n in range(1, CUSTOMERS + 1)]
    numbers = [row["invoice_number"] for row in export.invoices]
    assert all(re.fullmatch(r"\d{4}-\d{6}", number) for number in numbers)
    assert len(set(numbers)) == len(numbers)
    years = [row["issue_date"][:4] for row in export.invoices]
    assert [number[:4] for number in numbers] == years
    transaction_ids = [row["transaction_id"] for row in export.transactions]
    assert all(re.fullmatch(r"T-\d{4}-\d{6}", tid) for tid in transaction_ids)
    assert len(set(transaction_ids)) == len(transaction_ids)
    known = set(ids)
    assert all(row["customer_id"] in known for row in export.invoices + export.transactions)


def test_history_ends_with_the_month_of_today(export: Export) -> None:
    issued = sorted({parse_date(row["issue_date"]) for row in export.invoices})
    assert len(issued) == YEARS * 12
    assert (issued[-1].year, issued[-1].month) == (TODAY.year, TODAY.month)
    for row in export.invoices:
        assert (parse_date(row["due_date"]) - parse_date(row["issue_date"])).days == 15
    assert max(parse_date(row["date"]) for row in export.transactions) <= TODAY


def test_names_are_hungarian_and_the_awkward_cases_are_there(export: Export) -> None:
    names = [row["name"] for row in export.customers]
    assert sum(any(ch in ACCENTED for ch in name) for name in names) >= CUSTOMERS // 3
    assert any("&" in name for name in names)
    assert any("<" in name for name in names)
    assert any(len(row["address"]) > 200 for row in export.customers)
    assert all(re.match(r"^8\d{3} \w", row["address"]) for row in export.customers)
    emails = [row["email"] for row in export.customers if row["email"]]
    assert all(re.fullmatch(r"[a-z0-9.\-]+@example\.(hu|com|net|org)", e) for e in emails)
    assert len(set(emails)) == len(emails)
    assert len(emails) < CUSTOMERS  # some customers have no e-mail on file
    phones = [row["phone"] for row in export.customers if row["phone"]]
    assert all(re.fullmatch(r"\+36 (88 \d{3} \d{3}|[237]0 \d{3} \d{4})", p) for p in phones)


def invoice_ledger(export: Export) -> dict[str, tuple[int, int, int, int]]:
    """invoice number -> (amount, outstanding, sum of charges, sum of payments)."""
    charges: dict[str, int] = {}
    payments: dict[str, int] = {}
    for row in export.transactions:
        amount = parse_amount(row["amount"])
        if row["kind"] == "terhelés":
            charges[row["invoice_number"]] = charges.get(row["invoice_number"], 0) + amount
        elif row["kind"] == "befizetés":
            payments[row["invoice_number"]] = payments.get(row["invoice_number"], 0) + amount
        else:
            assert row["invoice_number"] == "", "corrections name their invoice in the text"
    return {
        row["invoice_number"]: (
            parse_amount(row["amount"]),
            parse_amount(row["outstanding"]),
            charges.get(row["invoice_number"], 0),
            payments.get(row["invoice_number"], 0),
        )
        for row in export.invoices
    }


def test_charges_and_payments_add_up_to_the_outstanding(export: Export) -> None:
    ledger = invoice_ledger(export)
    for number, (amount, outstanding, charged, paid) in ledger.items():
        assert charged == amount, number
        assert amount - paid == outstanding, number
        assert 0 <= outstanding <= amount, number
    assert sum(1 for amount, *_ in ledger.values() if amount == 0) >= 1


def test_most_is_paid_but_some_customers_owe_and_some_invoices_are_overdue(
    export: Export,
) -> None:
    ledger = invoice_ledger(export)
    paid = sum(1 for amount, outstanding, *_ in ledger.values() if outstanding == 0)
    assert paid > 0.9 * len(ledger)
    assert any(0 < outstanding < amount for amount, outstanding, *_ in ledger.values())
    overdue_by_customer: dict[str, int] = {}
    for row in export.invoices:
        if parse_amount(row["outstanding"]) > 0 and parse_date(row["due_date"]) < TODAY:
            customer = row["customer_id"]
            overdue_by_customer[customer] = overdue_by_customer.get(customer, 0) + 1
    assert sum(overdue_by_customer.values()) == export.summary.overdue > 0
    assert len(overdue_by_customer) == export.summary.in_debt > 0
    assert export.summary.in_debt < CUSTOMERS // 3


def test_sample_is_a_recent_non_zero_invoice_of_the_sample_customer(export: Export) -> None:
    sample = export.summary.sample
    customer = next(r for r in export.customers if r["customer_id"] == sample.customer_id)
    assert (customer["email"], customer["name"]) == (sample.email, sample.name)
    assert sample.email
    own = [r for r in export.invoices if r["customer_id"] == sample.customer_id]
    latest = max(
        (r for r in own if parse_amount(r["amount"]) > 0),
        key=lambda r: parse_date(r["issue_date"]),
    )
    assert latest["invoice_number"] == sample.invoice_number
    assert parse_amount(latest["amount"]) == sample.amount > 0
    assert (TODAY - parse_date(latest["issue_date"])).days < 366


def test_progress_counts_customers_up_to_the_total(tmp_path: Path) -> None:
    seen: list[int] = []
    write_demo_data(tmp_path, customers=30, years=1, today=TODAY, progress=seen.append)
    assert seen and seen == sorted(seen) and seen[-1] == 30


def test_ten_thousand_customers_use_the_whole_id_range(tmp_path: Path) -> None:
    summary = write_demo_data(tmp_path, customers=10_000, years=1, today=TODAY)
    with open(tmp_path / "customers.csv", encoding="utf-8", newline="") as file:
        ids = [row[0] for row in csv.reader(file, delimiter=";")][1:]
    assert ids[0] == "U0000" and ids[-1] == "U9999" and len(set(ids)) == 10_000
    assert summary.invoices == 120_000
    # Corrections are rare (about 1 in 120 invoices): a big set surely has some.
    assert ";helyesbítés;" in (tmp_path / "transactions.csv").read_text(encoding="utf-8")


@pytest.mark.parametrize(("customers", "years"), [(0, 3), (-1, 3), (10_001, 3), (10, 0), (10, 21)])
def test_limits_raise_a_clear_value_error(tmp_path: Path, customers: int, years: int) -> None:
    with pytest.raises(ValueError, match="customers|years"):
        write_demo_data(tmp_path / "out", customers=customers, years=years, today=TODAY)
    assert not (tmp_path / "out").exists()
