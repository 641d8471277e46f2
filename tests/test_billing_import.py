"""The operator imports the billing system's daily exports (billing-import.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.billing_import import ImportFailed, import_folder
from core.texts import render
from storage import billing

CUSTOMER_HEADER = ["customer_id", "name", "address", "phone", "email", "payment_method"]
INVOICE_HEADER = [
    "invoice_number",
    "customer_id",
    "issue_date",
    "due_date",
    "amount",
    "outstanding",
]
TX_HEADER = [
    "transaction_id",
    "customer_id",
    "date",
    "kind",
    "amount",
    "invoice_number",
    "description",
]

CUSTOMERS = [
    [
        "U0001",
        "Kovács Éva",
        "8105 Pétfürdő, Ady Endre u. 3.",
        "+36 88 123 456",
        "kovacs.eva@example.hu",
        "csekk",
    ],
    ["U0002", "Őri & Társa Kft.", "8100 Várpalota, Fő u. 1.", "", "", "átutalás"],
]
INVOICES = [
    ["2024-000001", "U0001", "2024.05.01", "2024.05.15", "12 345", "0"],
    ["2024-000002", "U0001", "2024.06.01", "2024.06.15", "12 500", "12 500"],
    ["2024-000003", "U0002", "2024.06.01", "2024.06.15", "48 000", "0"],
]
TRANSACTIONS = [
    ["T-2024-000001", "U0001", "2024.05.01", "terhelés", "12 345", "2024-000001", ""],
    ["T-2024-000002", "U0001", "2024.05.14", "befizetés", "12 345", "2024-000001", "Csekk"],
    ["T-2024-000003", "U0001", "2024.06.01", "terhelés", "12 500", "2024-000002", ""],
]


def write(
    folder: Path,
    name: str,
    header: list[str],
    rows: list[list[str]],
    *,
    delimiter: str = ";",
    encoding: str = "utf-8",
    bom: bool = False,
) -> Path:
    """Write one export file the way office software would (quoting when needed)."""
    folder.mkdir(parents=True, exist_ok=True)

    def cell(value: str) -> str:
        if delimiter in value or '"' in value or "\n" in value:
            return '"' + value.replace('"', '""') + '"'
        return value

    text = "\r\n".join(delimiter.join(cell(v) for v in row) for row in [header, *rows]) + "\r\n"
    data = text.encode(encoding)
    path = folder / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def write_all(folder: Path, **kwargs) -> Path:
    write(folder, "customers.csv", CUSTOMER_HEADER, CUSTOMERS, **kwargs)
    write(folder, "invoices.csv", INVOICE_HEADER, INVOICES, **kwargs)
    write(folder, "transactions.csv", TX_HEADER, TRANSACTIONS, **kwargs)
    return folder


async def snapshot(db) -> list:
    """Everything the import writes, to compare before and after."""
    rows = []
    for table in ("customers", "invoices", "transactions"):
        rows.append(await db.fetch_all(f"SELECT * FROM {table} ORDER BY 1"))
    return [[tuple(r) for r in table] for table in rows]


async def test_a_first_import_brings_everything_and_names_the_new_invoices(db, tmp_path):
    result = await import_folder(db, write_all(tmp_path / "in"))
    assert {n: (c.rows, c.new, c.changed, c.unchanged) for n, c in result.counts.items()} == {
        "customers.csv": (2, 2, 0, 0),
        "invoices.csv": (3, 3, 0, 0),
        "transactions.csv": (3, 3, 0, 0),
    }
    assert result.new_invoices == ["2024-000001", "2024-000002", "2024-000003"]
    customer = await billing.get_customer(db, "U0002")
    assert customer.name == "Őri & Társa Kft."
    invoice = await billing.get_invoice(db, 2024000002)
    assert (invoice.issue_date, invoice.due_date, invoice.amount, invoice.outstanding) == (
        "2024-06-01",
        "2024-06-15",
        12500,
        12500,
    )
    assert await billing.balance(db, "U0001") == -12500


async def test_importing_the_same_files_again_changes_nothing(db, tmp_path):
    folder = write_all(tmp_path / "in")
    await import_folder(db, folder)
    before = await snapshot(db)
    again = await import_folder(db, folder)
    assert {n: (c.new, c.changed, c.unchanged) for n, c in again.counts.items()} == {
        "customers.csv": (0, 0, 2),
        "invoices.csv": (0, 0, 3),
        "transactions.csv": (0, 0, 3),
    }
    assert again.new_invoices == []
    assert await snapshot(db) == before


async def test_a_changed_row_updates_its_record_and_new_rows_are_counted(db, tmp_path):
    await import_folder(db, write_all(tmp_path / "day1"))
    paid = [row[:] for row in INVOICES]
    paid[1][5] = "0"  # the customer paid invoice 2
    paid.append(["2024-000004", "U0001", "2024.07.01", "2024.07.15", "9 999", "9 999"])
    write(tmp_path / "day2", "invoices.csv", INVOICE_HEADER, paid)
    result = await import_folder(db, tmp_path / "day2", only=["invoices"])
    counts = result.counts["invoices.csv"]
    assert (counts.new, counts.changed, counts.unchanged) == (1, 1, 2)
    assert result.new_invoices == ["2024-000004"]
    assert (await billing.get_invoice(db, 2024000002)).outstanding == 0


@pytest.mark.parametrize(
    "options",
    [
        {"delimiter": ";", "encoding": "utf-8"},
        {"delimiter": ",", "encoding": "utf-8"},
        {"delimiter": ";", "encoding": "utf-8", "bom": True},
        {"delimiter": ",", "encoding": "cp1250"},
        {"delimiter": ";", "encoding": "cp1250"},
    ],
    ids=["utf8-semicolon", "utf8-comma", "utf8-bom", "cp1250-comma", "cp1250-semicolon"],
)
async def test_every_encoding_and_delimiter_is_understood(db, tmp_path, options):
    await import_folder(db, write_all(tmp_path / "in", **options))
    assert (await billing.get_customer(db, "U0001")).address == "8105 Pétfürdő, Ady Endre u. 3."
    assert (await billing.get_customer(db, "U0002")).name == "Őri & Társa Kft."


async def test_windows_1250_can_be_forced(db, tmp_path):
    await import_folder(db, write_all(tmp_path / "in", encoding="cp1250"), encoding="cp1250")
    assert (await billing.get_customer(db, "U0001")).name == "Kovács Éva"


async def test_windows_1250_detected_even_when_accents_come_late(db, tmp_path):
    write(
        tmp_path / "in",
        "customers.csv",
        CUSTOMER_HEADER,
        [[f"U{n:04d}", "Nagy Anna", "x", "", "", "csekk"] for n in range(3, 2000)]
        + [["U2000", "Kőszegi Ödön", "8105 Pétfürdő", "", "", "csekk"]],
        encoding="cp1250",
    )
    await import_folder(db, tmp_path / "in", only=["customers"])
    assert (await billing.get_customer(db, "U2000")).name == "Kőszegi Ödön"


async def test_columns_in_any_order_with_extra_columns_and_every_date_and_amount_form(db, tmp_path):
    folder = tmp_path / "in"
    write(
        folder,
        "customers.csv",
        ["email", "megjegyzes", "phone", "address", "name", "customer_id", "payment_method"],
        [["", "x", "", "8105 Pétfürdő, Fő u. 2.", "Kiss Pál", "u0001", "csekk"]],
    )
    write(
        folder,
        "invoices.csv",
        INVOICE_HEADER,
        [
            ["2024-000001", "U0001", "2024-05-01", "2024.05.15.", "12 345 Ft", "0"],
            ["2024000002", "U0001", "2024.06.01.", "2024-06-15", "12345,00", "3\u00a0000"],
            ["2024-000003", "U0001", "2024.07.01", "2024.07.15", "12\u202f000", "12\u2009000"],
        ],
    )
    write(
        folder,
        "transactions.csv",
        TX_HEADER,
        [
            ["T1", "U0001", "2024.05.01", "charge", "12 345", "2024000001", ""],
            ["T2", "U0001", "2024-05-10", "payment", "12 345 Ft", "", "Átutalás"],
            ["T3", "U0001", "2024.05.11.", "adjustment", "-3 000", "", "Helyesbítés"],
            ["T4", "U0001", "2024.05.12", "Helyesbítés", "1000", "", ""],
        ],
    )
    await import_folder(db, folder)
    customer = await billing.get_customer(db, "U0001")
    assert (customer.name, customer.address, customer.payment_method) == (
        "Kiss Pál",
        "8105 Pétfürdő, Fő u. 2.",
        "csekk",
    )
    invoices = {n: await billing.get_invoice(db, n) for n in (2024000001, 2024000002, 2024000003)}
    assert [(i.issue_date, i.due_date, i.amount, i.outstanding) for i in invoices.values()] == [
        ("2024-05-01", "2024-05-15", 12345, 0),
        ("2024-06-01", "2024-06-15", 12345, 3000),
        ("2024-07-01", "2024-07-15", 12000, 12000),
    ]
    bookings = await billing.bookings_page(db, "U0001", 0, 10)
    assert [(b.kind, b.amount) for b, _ in reversed(bookings)] == [
        ("charge", 12345),
        ("payment", 12345),
        ("adjustment", -3000),
        ("adjustment", 1000),
    ]
    # The customer's Folyószámla page says what each booking did to the balance.
    page = render("chat/menu/account.txt", page=1, pages=1, total=4, balance=-2000, rows=bookings)
    page = page.replace("\xa0", " ")
    assert "Helyesbítés: −3000 Ft\nHelyesbítés · Egyenleg" in page and "+-" not in page
    assert "Helyesbítés: +1000 Ft\nEgyenleg utána: 2000 Ft tartozás" in page
    assert "Terhelés (2024-000001): −12 345 Ft\nEgyenleg utána: 12 345 Ft tartozás" in page
    empty = render("chat/menu/account.txt", page=1, pages=1, total=0, balance=0, rows=[])
    empty = empty.replace("\xa0", " ")  # one amount format: 0 Ft too has the no-break space
    assert "Jelenlegi egyenleg: 0 Ft\nMég nincs könyvelt tétel." in empty


@pytest.mark.parametrize(
    "file, rows, line, reason",
    [
        (
            "customers.csv",
            [CUSTOMERS[0], ["U12345", "Kis Pál", "Pét", "", "", "csekk"]],
            3,
            "bad customer id 'U12345'",
        ),
        (
            "invoices.csv",
            [INVOICES[0], ["2024-000009", "U0099", "2024.05.01", "2024.05.15", "1 000", "0"]],
            3,
            "unknown customer U0099",
        ),
        (
            "invoices.csv",
            [INVOICES[0], INVOICES[1], INVOICES[0]],
            4,
            "duplicate key 2024-000001 (first on line 2)",
        ),
        (
            "transactions.csv",
            [TRANSACTIONS[0], TRANSACTIONS[0]],
            3,
            "duplicate key T-2024-000001 (first on line 2)",
        ),
        (
            "invoices.csv",
            [INVOICES[0], ["2024-000009", "U0001", "2024.02.30", "2024.05.15", "1 000", "0"]],
            3,
            "bad date '2024.02.30'",
        ),
        (
            "invoices.csv",
            [["2024-000009", "U0001", "2024.05.01", "2024.05.15", "12,5", "0"]],
            2,
            "bad amount '12,5'",
        ),
        (
            "transactions.csv",
            [["T9", "U0001", "2024.05.01", "payment", "sok", "", ""]],
            2,
            "bad amount 'sok'",
        ),
        (
            "invoices.csv",
            [["2024-00009", "U0001", "2024.05.01", "2024.05.15", "1 000", "0"]],
            2,
            "bad invoice number '2024-00009'",
        ),
    ],
    ids=[
        "customer-id",
        "unknown-customer",
        "duplicate-invoice",
        "duplicate-transaction",
        "bad-date",
        "bad-amount",
        "bad-amount-tx",
        "bad-invoice-number",
    ],
)
async def test_each_bad_row_is_named_by_file_and_line_and_nothing_changes(
    db, tmp_path, file, rows, line, reason
):
    await import_folder(db, write_all(tmp_path / "good"))
    before = await snapshot(db)
    folder = write_all(tmp_path / "bad")
    header = {
        "customers.csv": CUSTOMER_HEADER,
        "invoices.csv": INVOICE_HEADER,
        "transactions.csv": TX_HEADER,
    }[file]
    write(folder, file, header, rows)
    with pytest.raises(ImportFailed) as failed:
        await import_folder(db, folder)
    messages = [str(e) for e in failed.value.errors]
    assert any(m.startswith(f"{file}:{line}: {reason}") for m in messages), messages
    assert await snapshot(db) == before


async def test_a_missing_column_is_reported_on_the_header_line(db, tmp_path):
    folder = tmp_path / "in"
    write(
        folder,
        "invoices.csv",
        [h for h in INVOICE_HEADER if h != "amount"],
        [["2024-000001", "U0001", "2024.05.01", "2024.05.15", "0"]],
    )
    with pytest.raises(ImportFailed) as failed:
        await import_folder(db, folder, only=["invoices"])
    assert str(failed.value.errors[0]).startswith("invoices.csv:1: missing column(s): amount")


async def test_undecodable_bytes_are_reported_with_their_line(db, tmp_path):
    folder = write_all(tmp_path / "in")
    path = folder / "customers.csv"
    path.write_bytes(
        path.read_bytes() + b"U0003;Kov\x81cs;8105 P\xc3\xa9tf\xc5\x91rd\xc5\x91;;;\r\n"
    )
    with pytest.raises(ImportFailed) as failed:
        await import_folder(db, folder)
    assert [str(e)[:34] for e in failed.value.errors] == ["customers.csv:4: undecodable bytes"]
    assert await billing.get_customer(db, "U0001") is None


async def test_a_failed_import_reports_every_problem_and_changes_nothing(db, tmp_path):
    folder = write_all(tmp_path / "in")
    write(
        folder,
        "invoices.csv",
        INVOICE_HEADER,
        [
            INVOICES[0],
            ["2024-000002", "U0001", "2024.13.01", "2024.05.15", "1 000", "0"],
            ["2024-000003", "U0001", "2024.05.01", "2024.05.15", "egy", "0"],
            INVOICES[2],
        ],
    )
    with pytest.raises(ImportFailed) as failed:
        await import_folder(db, folder)
    assert [(e.file, e.line) for e in failed.value.errors] == [
        ("invoices.csv", 3),
        ("invoices.csv", 4),
    ]
    assert await snapshot(db) == [[], [], []]


async def test_a_field_with_a_line_break_is_refused_and_later_lines_keep_their_numbers(
    db, tmp_path
):
    folder = tmp_path / "in"
    write(
        folder,
        "customers.csv",
        CUSTOMER_HEADER,
        [
            ["U0001", "Kovács Éva", "8105 Pétfürdő,\nAdy E. u. 3.", "", "", "csekk"],
            ["U0002", "", "8100 Várpalota", "", "", "csekk"],
        ],
    )
    with pytest.raises(ImportFailed) as failed:
        await import_folder(db, folder, only=["customers"])
    assert [str(e) for e in failed.value.errors] == [
        'customers.csv:2: a field runs over lines 2–3: a stray or unbalanced quote (") or a'
        " line break inside a field; a record must be one line",
        "customers.csv:4: name is empty",
    ]


async def test_an_empty_folder_is_refused(db, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImportFailed) as failed:
        await import_folder(db, tmp_path / "empty")
    assert "no customers.csv" in str(failed.value.errors[0])


async def test_demo_data_imports_and_each_balance_matches_the_unpaid_invoices(db, tmp_path):
    from datetime import date

    from core.demodata import write_demo_data

    write_demo_data(tmp_path / "demo", customers=60, seed=3, years=2, today=date(2026, 11, 25))
    await import_folder(db, tmp_path / "demo")
    mismatched = await db.fetch_all(
        "SELECT c.customer_id FROM customers c WHERE"
        " (SELECT coalesce(sum(CASE kind WHEN 'charge' THEN -amount ELSE amount END), 0)"
        "  FROM transactions t WHERE t.customer_id = c.customer_id)"
        " != -(SELECT coalesce(sum(outstanding), 0) FROM invoices i"
        "  WHERE i.customer_id = c.customer_id)"
    )
    assert [r[0] for r in mismatched] == []


# --- big files: decoded in blocks, parsed values remembered ------------------------


def many_customers(count: int, *, accented_first: bool = True) -> list[list[str]]:
    """Enough customers (long addresses) to fill more than one decoding block."""
    rows = [
        [f"U{n:04d}", "Nagy Anna", "8100 Varpalota, Fo utca 1. " + "x" * 60, "", "", "csekk"]
        for n in range(1, count + 1)
    ]
    if accented_first:
        rows[0][1] = "Kovács Éva"
    return rows


def big_enough(path: Path) -> None:
    # The importer reads files in blocks of _BLOCK_BYTES; these tests need several.
    from core.billing_import import _BLOCK_BYTES

    assert path.stat().st_size > 2 * _BLOCK_BYTES


async def test_errors_deep_in_a_big_file_keep_their_line_numbers(db, tmp_path):
    folder = tmp_path / "in"
    rows = many_customers(6000)
    rows[4999][2] = "8105 Pétfürdő,\nAdy E. u. 3."  # a quoted line break: one more line
    rows[5499][1] = ""  # line 5501 + 1
    path = write(folder, "customers.csv", CUSTOMER_HEADER, rows)
    big_enough(path)
    records = path.read_bytes().split(b"\r\n")
    records[5800] = b"U5800;Kov\x81cs;x;;;csekk"  # line 5802, long after UTF-8 accents
    path.write_bytes(b"\r\n".join(records))
    with pytest.raises(ImportFailed) as failed:
        await import_folder(db, folder, only=["customers"])
    assert [str(e)[:37] for e in failed.value.errors] == [
        "customers.csv:5001: a field runs over",
        "customers.csv:5502: name is empty",
        "customers.csv:5802: undecodable bytes",
    ]
    assert await billing.get_customer(db, "U0001") is None


async def test_windows_1250_detected_when_accents_come_after_the_first_blocks(db, tmp_path):
    rows = many_customers(6000, accented_first=False)
    rows[5899][1] = "Kőszegi Ödön"
    path = write(tmp_path / "in", "customers.csv", CUSTOMER_HEADER, rows, encoding="cp1250")
    big_enough(path)
    result = await import_folder(db, tmp_path / "in", only=["customers"])
    assert result.counts["customers.csv"].new == 6000
    assert (await billing.get_customer(db, "U5900")).name == "Kőszegi Ödön"


async def test_progress_is_reported_up_to_each_file_size(db, tmp_path):
    folder = write_all(tmp_path / "in")
    write(folder, "customers.csv", CUSTOMER_HEADER, many_customers(6000))
    seen: dict[str, list[tuple[int, int]]] = {}

    def factory(name: str, size: int):
        return lambda done: seen.setdefault(name, []).append((done, size))

    await import_folder(db, folder, progress=factory)
    assert set(seen) == {"customers.csv", "invoices.csv", "transactions.csv"}
    for calls in seen.values():
        assert calls[-1][0] == calls[-1][1]
        assert [done for done, _ in calls] == sorted(done for done, _ in calls)


async def test_a_bad_value_repeated_on_many_lines_is_reported_on_each(db, tmp_path):
    folder = write_all(tmp_path / "in")
    write(
        folder,
        "invoices.csv",
        INVOICE_HEADER,
        [
            ["2024-000001", "U0001", "2024.02.30", "2024.05.15", "1 000", "0"],
            ["2024-000002", "U0001", "2024.02.30", "2024.05.15", "1 000", "0"],
            ["2024-000003", "U0001", "2024.05.01", "2024.05.15", "12,5", "0"],
            ["2024-000004", "U0001", "2024.05.01", "2024.05.15", "12,5", "0"],
            ["2024-000005", "U0001", "2024.05.01", "2024.05.15", "1 000", "0"],
        ],
    )
    with pytest.raises(ImportFailed) as failed:
        await import_folder(db, folder)
    assert [str(e)[:34] for e in failed.value.errors] == [
        "invoices.csv:2: bad date '2024.02.",
        "invoices.csv:3: bad date '2024.02.",
        "invoices.csv:4: bad amount '12,5':",
        "invoices.csv:5: bad amount '12,5':",
    ]


async def test_ids_and_numbers_in_their_other_forms_still_resolve(db, tmp_path):
    folder = write_all(tmp_path / "in")
    write(
        folder,
        "invoices.csv",
        INVOICE_HEADER,
        [
            ["2024000001", "u0001", "2024.05.01", "2024.05.15", "12 345", "0"],
            ["2024-000002", " U0002 ", "2024.06.01", "2024.06.15", "500", "0"],
        ],
    )
    write(
        folder,
        "transactions.csv",
        TX_HEADER,
        [
            ["T1", "u0001", "2024.05.01", "TERHELÉS", "12 345", "2024000001", ""],
            ["T2", "U0002", "2024.06.01", "charge", "500", " 2024-000002 ", ""],
        ],
    )
    await import_folder(db, folder)
    assert (await billing.get_invoice(db, 2024000001)).customer_id == "U0001"
    assert (await billing.get_invoice(db, 2024000002)).customer_id == "U0002"
    bookings = await billing.bookings_page(db, "U0001", 0, 10)
    assert [(b.kind, b.invoice_no) for b, _ in bookings] == [("charge", 2024000001)]
    bookings = await billing.bookings_page(db, "U0002", 0, 10)
    assert [(b.kind, b.invoice_no) for b, _ in bookings] == [("charge", 2024000002)]


async def test_the_connection_page_cache_is_restored_after_an_import(db, tmp_path):
    before = await db.fetch_value("PRAGMA cache_size")
    await import_folder(db, write_all(tmp_path / "good"))
    assert await db.fetch_value("PRAGMA cache_size") == before
    folder = write_all(tmp_path / "bad")
    write(folder, "invoices.csv", INVOICE_HEADER, [INVOICES[0], INVOICES[0]])
    with pytest.raises(ImportFailed):
        await import_folder(db, folder)
    assert await db.fetch_value("PRAGMA cache_size") == before


# --- structural damage: refused with the line of its cause, nothing changed ---------------


async def refused(db, folder, **options) -> list[str]:
    before = await snapshot(db)
    with pytest.raises(ImportFailed) as failed:
        await import_folder(db, folder, **options)
    assert await snapshot(db) == before  # nothing changed
    return [str(e) for e in failed.value.errors]


async def test_a_stray_quote_is_refused_at_its_line_before_its_consequences(db, tmp_path):
    # Found by the operator trial: one stray quote merged three customers into one name
    # (exit 0, "1 changed"), and on a fresh database only the consequences were printed.
    folder = write_all(tmp_path / "in")
    many = many_customers(40)
    write(folder, "customers.csv", CUSTOMER_HEADER, many)
    path = folder / "customers.csv"
    lines = path.read_bytes().split(b"\r\n")
    lines[2] = lines[2].replace(b";", b';"', 1)  # line 3: a quote opens the name, never closes
    path.write_bytes(b"\r\n".join(lines))
    invoices = [
        [f"2024-{i:06d}", f"U{i:04d}", "2024.05.01", "2024.05.15", "100", "0"] for i in range(1, 41)
    ]
    write(folder, "invoices.csv", INVOICE_HEADER, invoices)
    errors = await refused(db, folder)
    assert errors[0].startswith("customers.csv:3: a field runs over lines 3–")
    assert "stray or unbalanced quote" in errors[0]
    assert not any(e.startswith("invoices.csv:") and "unknown customer" in e for e in errors)
    assert errors[-1].startswith("invoices.csv: ") and "fix customers.csv first" in errors[-1]


@pytest.mark.parametrize(
    ("row", "told"),
    [
        (
            ["U0003", "Kis Béla", "8105 Pétfürdő", "", "", "csekk", "többlet"],
            "expected 6 columns, found 7",
        ),
        (["U0003", "Kis Béla", "8105 Pétfürdő"], "expected 6 columns, found 3"),
        (CUSTOMER_HEADER, "a second header row"),
        ([h.upper() for h in CUSTOMER_HEADER], "a second header row"),
    ],
    ids=["too-many", "too-few", "header-again", "header-again-upper"],
)
async def test_a_row_of_the_wrong_shape_is_refused_at_its_line(db, tmp_path, row, told):
    folder = write_all(tmp_path / "in")
    write(folder, "customers.csv", CUSTOMER_HEADER, [CUSTOMERS[0], row, CUSTOMERS[1]])
    errors = await refused(db, folder)
    assert len(errors) == 1 and errors[0].startswith(f"customers.csv:3: {told}"), errors


@pytest.mark.parametrize(
    ("content", "told"),
    [
        (b"", "customers.csv:1: empty file: expected a header row"),
        (b"\r\n\r\n", "customers.csv:1: empty file: expected a header row"),
        (";".join(CUSTOMER_HEADER).encode() + b"\r\n", "customers.csv:2: no rows after the header"),
        (
            "\ufeff" + ";".join(CUSTOMER_HEADER) + "\r\nU0001;Kovács Éva;Pétfürdő;;;csekk\r\n",
            "customers.csv:1: the file is UTF-16",
        ),
    ],
    ids=["empty", "blank-lines", "header-only", "utf-16"],
)
async def test_an_empty_or_unreadable_file_is_refused_with_one_line(db, tmp_path, content, told):
    folder = write_all(tmp_path / "in")
    if isinstance(content, str):
        content = content.encode("utf-16")
    (folder / "customers.csv").write_bytes(content)
    errors = await refused(db, folder)
    assert errors[0].startswith(told), errors


async def test_a_missing_file_is_refused_unless_the_import_names_its_files(db, tmp_path):
    # Found by the operator trial: without transactions.csv the import said nothing and
    # balances would silently stop changing.
    folder = write_all(tmp_path / "in")
    (folder / "transactions.csv").unlink()
    errors = await refused(db, folder)
    assert errors == [
        f"transactions.csv: missing from {folder}: an import takes all three files, or name"
        " the ones it has (--only customers,invoices)"
    ]
    result = await import_folder(db, folder, only=["customers", "invoices.csv"])
    assert set(result.counts) == {"customers.csv", "invoices.csv"}
    with pytest.raises(ValueError, match="--only takes customers, invoices and transactions"):
        await import_folder(db, folder, only=["szamlak"])


# --- issue 13, the operator trial's second round ----------------------------------------


def append(folder: Path, name: str, raw: str) -> None:
    path = folder / name
    path.write_bytes(path.read_bytes() + raw.encode())


@pytest.mark.parametrize(
    ("row", "told"),
    [
        (  # the trial's: a later quoted field closes the stray quote, shifting the fields
            'U0005;"Nagy & Társa Kft.;"8105 Pétfürdő, Berhidai út 1.; a leveleket ide";;;csekk',
            'customers.csv:4: stray quote in column 2 (name): a quote (") closes after'
            " 'Nagy & Társa Kft.;' and is followed by '8105 Pétfürdő, Berhi', not by ';'",
        ),
        (
            'U0005;Pannon "Víz" Zrt.;8105 Pétfürdő;;;csekk',
            'customers.csv:4: stray quote in column 2 (name): a quote (") inside the unquoted'
            " value 'Pannon \"Víz\" Zrt.'",
        ),
        (
            'U0005;"Kis Béla" ifj.;8105 Pétfürdő;;;csekk',
            'customers.csv:4: stray quote in column 2 (name): a quote (") closes after'
            " 'Kis Béla' and is followed by ' ifj.'",
        ),
        (  # on the last line a quote that never closes runs over no line
            'U0005;Kis Béla;"8105 Pétfürdő;;;csekk',
            'customers.csv:4: stray quote in column 3 (address): a quote (") opens the field'
            " and is never closed",
        ),
    ],
    ids=["closed-later", "inside-unquoted", "text-after-closing", "never-closed"],
)
async def test_a_stray_quote_within_one_line_is_refused_at_its_line(db, tmp_path, row, told):
    folder = write_all(tmp_path / "in")
    append(folder, "customers.csv", row + "\r\n")
    errors = await refused(db, folder)
    assert errors[0].startswith(told), errors
    assert "write a quote inside it twice" in errors[0]


async def test_quotes_as_csv_writes_them_are_accepted(db, tmp_path):
    folder = write_all(tmp_path / "in")
    append(
        folder,
        "customers.csv",
        '"U0003";"""Pannon-Víz"" Zrt.";"8100 Várpalota; Fő u. 2.";"";"";"átutalás"\r\n'
        'U0004;"Kis ""Béla""";Pét;;;""\r\n',
    )
    await import_folder(db, folder)
    assert (await billing.get_customer(db, "U0003")).name == '"Pannon-Víz" Zrt.'
    assert (await billing.get_customer(db, "U0003")).address == "8100 Várpalota; Fő u. 2."
    assert (await billing.get_customer(db, "U0004")).name == 'Kis "Béla"'


async def test_old_mac_line_breaks_are_line_breaks(db, tmp_path):
    folder = write_all(tmp_path / "in")
    for name in ("customers.csv", "invoices.csv", "transactions.csv"):
        path = folder / name
        path.write_bytes(path.read_bytes().replace(b"\r\n", b"\r"))
    result = await import_folder(db, folder)
    assert {n: c.new for n, c in result.counts.items()} == {
        "customers.csv": 2,
        "invoices.csv": 3,
        "transactions.csv": 3,
    }
    assert (await billing.get_customer(db, "U0002")).name == "Őri & Társa Kft."
    path = folder / "invoices.csv"
    path.write_bytes(path.read_bytes() + b"2024-000004;U0001;2024.13.01;2024.07.15;1;0\r")
    assert (await refused(db, folder))[0].startswith("invoices.csv:5: bad date '2024.13.01'")


@pytest.mark.parametrize(
    ("codec", "shown"),
    [("latin-1", "'KovÃ¡cs' should read 'Kovács'"), ("cp1250", "'KovĂˇcs' should read 'Kovács'")],
)
async def test_a_file_converted_to_utf8_twice_is_refused_at_its_first_line(
    db, tmp_path, codec, shown
):
    folder = write_all(tmp_path / "in")
    path = folder / "customers.csv"
    path.write_bytes(path.read_bytes().decode(codec, "replace").encode())  # Ő is not cp1250
    errors = await refused(db, folder)
    assert errors[0] == (
        f"customers.csv:2: the file was converted to UTF-8 twice ({shown}): export it again,"
        " or convert it back once; nothing of this file was read"
    )
    assert len(errors) == 3  # then one line each for the invoices and bookings it would own


async def test_a_last_line_cut_short_is_refused_and_one_without_a_line_break_is_named(db, tmp_path):
    folder = write_all(tmp_path / "in")
    path = folder / "invoices.csv"
    whole = path.read_bytes()
    path.write_bytes(whole[: -len(b";0\r\n")])
    assert await refused(db, folder) == [
        "invoices.csv:4: the last line has 5 of the 6 columns and no line break: the file was"
        " cut short? copy the export again"
    ]
    path.write_bytes(whole[: -len(b"\r\n")])
    result = await import_folder(db, folder)
    assert [str(w) for w in result.warnings] == [
        "invoices.csv:4: the file ends without a line break after this line: if the export"
        " was cut short, its last field may be incomplete (check it)"
    ]
    assert result.counts["invoices.csv"].new == 3


async def test_a_trailing_delimiter_on_every_row_is_accepted(db, tmp_path):
    folder = write_all(tmp_path / "in")
    path = folder / "invoices.csv"
    header, *rows = path.read_bytes().split(b"\r\n")
    path.write_bytes(b"\r\n".join([header, *(r + b";" for r in rows[:-1]), b""]))
    result = await import_folder(db, folder)
    assert result.counts["invoices.csv"].new == 3
    assert (await billing.get_invoice(db, 2024000002)).outstanding == 12500


async def test_rows_one_column_wider_than_the_header_are_told_once(db, tmp_path):
    folder = write_all(tmp_path / "in")
    write(folder, "invoices.csv", INVOICE_HEADER, [[*row, "x"] for row in INVOICES])
    assert await refused(db, folder) == [
        "invoices.csv:2: every row has 7 columns, the header 6: a trailing delimiter with"
        " something after it, or a column the header does not name?"
    ]


async def test_a_forced_encoding_is_named_once_a_line(db, tmp_path):
    folder = write_all(tmp_path / "in", encoding="cp1250")
    errors = await refused(db, folder, encoding="utf-8", only=["transactions"])
    assert [e.split(" (")[0] for e in errors] == [
        "transactions.csv:2: undecodable bytes",
        "transactions.csv:3: undecodable bytes",
        "transactions.csv:4: undecodable bytes",
    ]
    assert errors[0].endswith(
        "(byte 38 of the line is not UTF-8, the encoding --encoding utf-8 asked for; without"
        " --encoding the import detects UTF-8 or Windows-1250)"
    )


async def test_excels_sep_line_names_the_delimiter(db, tmp_path):
    folder = write_all(tmp_path / "in", delimiter=",")
    path = folder / "customers.csv"
    path.write_bytes(b"sep=,\r\n" + path.read_bytes())
    await import_folder(db, folder)
    assert (await billing.get_customer(db, "U0001")).address == "8105 Pétfürdő, Ady Endre u. 3."
    append(folder, "customers.csv", "U0003,,Pét,,,csekk\r\n")
    assert (await refused(db, folder))[0] == "customers.csv:5: name is empty"


@pytest.mark.parametrize("email", ["barna.gyorgy@@example.hu", "barna.gyorgy@example", "a b@x.hu"])
async def test_an_e_mail_address_the_chat_would_refuse_is_refused(db, tmp_path, email):
    folder = write_all(tmp_path / "in")
    append(folder, "customers.csv", f"U0007;Barna György;Pét;;{email};csekk\r\n")
    assert await refused(db, folder) == [f"customers.csv:4: bad e-mail address {email!r}"]


async def test_a_line_without_line_breaks_is_refused_before_it_fills_memory(db, tmp_path):
    import tracemalloc

    folder = write_all(tmp_path / "in")
    append(folder, "customers.csv", "U0003;" + "x" * 30_000_000)
    tracemalloc.start()
    try:
        errors = await refused(db, folder)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert errors[0] == (
        "customers.csv:4: a line longer than 1 MB: not a CSV export, or its line breaks were"
        " lost; nothing more of this file was read"
    )
    assert peak < 10_000_000


async def test_a_file_left_out_by_only_is_named(db, tmp_path):
    folder = write_all(tmp_path / "in")
    result = await import_folder(db, folder, only=["customers", "invoices"])
    assert [str(w) for w in result.warnings] == [
        f"transactions.csv: left out (--only customers,invoices), though {folder} has it"
    ]


# --- a big export: clean blocks at once, the rest record by record ------------------------
# The importer splits a block of lines that cannot hold damage (no quote, every line one
# record of the header's width…) in one go, and reads any other record by record. Quoting
# every field sends every block the careful way: both must bring and refuse the same.


def demo_export(folder: Path) -> Path:
    from datetime import date

    from core.demodata import write_demo_data

    write_demo_data(folder, customers=200, seed=3, years=2, today=date(2026, 11, 25))
    big_enough(folder / "transactions.csv")
    return folder


def edit_lines(path: Path, edits: dict[int, object]) -> None:
    """Replace lines (1-based) with bytes, or with what a function makes of their fields."""
    lines = path.read_bytes().split(b"\r\n")
    for number, edit in edits.items():
        if callable(edit):
            fields = lines[number - 1].decode().split(";")
            edit(fields)
            lines[number - 1] = ";".join(fields).encode()
        else:
            assert isinstance(edit, bytes)
            lines[number - 1] = edit
    path.write_bytes(b"\r\n".join(lines))


def quoted_copy(folder: Path, target: Path) -> Path:
    """The export with every field quoted, as some office software writes it."""
    import csv

    target.mkdir()
    for name in ("customers.csv", "invoices.csv", "transactions.csv"):
        with (folder / name).open(encoding="utf-8", newline="") as source:
            rows = list(csv.reader(source, delimiter=";"))
        with (target / name).open("w", encoding="utf-8", newline="") as copy:
            csv.writer(copy, delimiter=";", quoting=csv.QUOTE_ALL).writerows(rows)
    return target


async def import_into_fresh(path: Path, folder: Path) -> tuple[object, list]:
    """(the result, or the refusal's lines; everything imported) in a new database."""
    from storage.db import open_database

    database = await open_database(path)
    try:
        try:
            result = await import_folder(database, folder)
            outcome: object = {n: (c.rows, c.new, c.changed) for n, c in result.counts.items()}
        except ImportFailed as failed:
            outcome = [str(e) for e in failed.errors]
        return outcome, await snapshot(database)
    finally:
        await database.close()


async def test_a_big_export_brings_the_same_rows_read_by_blocks_or_record_by_record(tmp_path):
    export = demo_export(tmp_path / "plain")
    edit_lines(
        export / "invoices.csv",
        {3000: lambda f: f.__setitem__(slice(4, 6), ["-1 200", "0"])},  # a credit note
    )
    edit_lines(
        export / "transactions.csv",
        {
            2500: lambda f: f.__setitem__(slice(3, 5), ["helyesbítés", "-350"]),  # a late fee
            4000: lambda f: f.__setitem__(1, f" {f[1].lower()} "),  # spaces, lower case
        },
    )
    plain, plain_rows = await import_into_fresh(tmp_path / "a.sqlite3", export)
    quoted, quoted_rows = await import_into_fresh(
        tmp_path / "b.sqlite3", quoted_copy(export, tmp_path / "quoted")
    )
    assert isinstance(plain, dict) and plain["transactions.csv"][1] > 7000
    assert (plain, plain_rows) == (quoted, quoted_rows)
    invoice = [row for row in plain_rows[1] if row[4] == -1200]
    assert len(invoice) == 1 and invoice[0][5] == 0


async def test_damage_deep_in_a_big_export_is_named_at_its_line_either_way(tmp_path):
    export = demo_export(tmp_path / "plain")
    edit_lines(
        export / "invoices.csv",
        {
            1200: lambda f: f.__setitem__(2, "2025.02.30"),
            3100: lambda f: f.__setitem__(5, "-5"),
        },
    )
    header = (export / "transactions.csv").read_bytes().split(b"\r\n")[0]
    edit_lines(
        export / "transactions.csv",
        {
            2600: lambda f: f.__setitem__(1, "U9999"),
            5200: lambda f: f.__setitem__(slice(3, 5), ["befizetés", "0"]),
            6100: header,
            6900: lambda f: f.append("x"),
        },
    )
    plain, _ = await import_into_fresh(tmp_path / "a.sqlite3", export)
    quoted, quoted_rows = await import_into_fresh(
        tmp_path / "b.sqlite3", quoted_copy(export, tmp_path / "quoted")
    )
    assert plain == [
        "invoices.csv:1200: bad date '2025.02.30': no such day",
        "invoices.csv:3100: outstanding '-5' is negative",
        "transactions.csv:2600: unknown customer U9999 (not in customers.csv nor the database)",
        "transactions.csv:5200: amount '0' of a payment must be positive",
        "transactions.csv:6100: a second header row (two exports pasted together?)",
        "transactions.csv:6900: expected 7 columns, found 8",
    ]
    assert quoted == plain
    assert quoted_rows == [[], [], []]


async def test_a_first_import_leaves_the_schema_as_it_was_and_readers_see_the_last_commit(
    db, tmp_path
):
    import sqlite3

    export = demo_export(tmp_path / "in")
    schema = "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name"
    before = [tuple(r) for r in await db.fetch_all(schema)]
    seen: list[int] = []

    def progress(name: str, size: int):
        def done(read: int) -> None:
            # Called while the import holds its transaction, a block of transactions in.
            if name == "transactions.csv" and not seen:
                with sqlite3.connect(f"file:{db.path}?mode=ro", uri=True) as reader:
                    seen.append(
                        reader.execute(
                            "SELECT count(*) FROM transactions INDEXED BY"
                            " transactions_by_customer WHERE customer_id = 'U0001'"
                        ).fetchone()[0]
                    )

        return done

    # A repeated key refuses the first import: named at its line, nothing kept.
    lines = (export / "transactions.csv").read_bytes().split(b"\r\n")
    edit_lines(export / "transactions.csv", {5000: lines[9]})
    first_id = lines[9].split(b";")[0].decode()
    assert await refused(db, export) == [
        f"transactions.csv:5000: duplicate key {first_id} (first on line 10)"
    ]
    assert [tuple(r) for r in await db.fetch_all(schema)] == before

    demo_export(tmp_path / "good")
    result = await import_folder(db, tmp_path / "good", progress=progress)
    assert seen == [0]  # the committed state: its index there, no bookings yet
    assert [tuple(r) for r in await db.fetch_all(schema)] == before
    plan = await db.fetch_all(
        "EXPLAIN QUERY PLAN SELECT * FROM transactions WHERE customer_id = 'U0001'"
        " ORDER BY booked_on"
    )
    assert "transactions_by_customer" in " ".join(str(tuple(r)) for r in plan)
    assert result.counts["transactions.csv"].new == await billing.count_rows(db, "transactions")
