"""The statement's periods and figures, and what its PDF and the chart's PNG hold (issue 16).

The domain on a real database file (the billing import's own tables), the renderers on
built values; their text is read back as a customer's viewer would (pypdf), the picture
decoded with Pillow. The chat stories are in test_chat_documents.py.
"""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from pypdf import PdfReader

from core import statement
from core.chart import WIDTH, chart_png
from core.db import open_database
from core.statement import AccountStatement, MonthTotals, Period, YearPicture
from core.statement_pdf import statement_pdf
from storage.billing import Booking, Customer

CUSTOMER = Customer("U0027", "Őri Űrsula", "8105 Pétfürdő, Ősz u. 5.", "", "", "átutalás")
NOON = 1_795_600_000.0  # 2026-11-25, Budapest


def _text(pdf: bytes) -> list[str]:
    pages = PdfReader(io.BytesIO(pdf)).pages
    return [re.sub(r"[ \u00a0]+", " ", page.extract_text()) for page in pages]


@pytest.mark.parametrize(
    ("today", "first", "months"),
    [
        ("2026-11-25", "2025-12-01", ("2025-12", "2026-11")),
        ("2026-01-01", "2025-02-01", ("2025-02", "2026-01")),
        ("2026-12-31", "2026-01-01", ("2026-01", "2026-12")),
    ],
)
def test_the_last_12_months_are_this_month_and_the_eleven_before(today, first, months):
    period = statement.last_months(today)
    assert (period.first, period.last, period.year) == (first, today, None)
    assert len(period.months) == 12
    assert (period.months[0], period.months[-1]) == months


def test_this_years_statement_runs_to_today():
    assert statement.year_period(2026, "2026-11-25") == Period("2026-01-01", "2026-11-25", 2026)
    assert statement.year_period(2025, "2026-11-25").last == "2025-12-31"


@pytest.fixture
async def db(tmp_path):
    database = await open_database(tmp_path / "billing.sqlite3")
    await database.execute(
        "INSERT INTO customers(customer_id, name, address, phone, email, payment_method)"
        " VALUES ('U0027', 'Őri Űrsula', 'Pétfürdő', '', '', 'átutalás')"
    )
    for number, (day, kind, amount) in enumerate(
        [
            ("2024-06-05", "charge", 10_000),  # before every period below
            ("2025-11-30", "payment", 4_000),  # the day before the last 12 months
            ("2025-12-01", "charge", 11_894),
            ("2026-03-10", "adjustment", -1_500),  # a late fee raises the debt
            ("2026-03-20", "payment", 11_894),
            ("2026-07-15", "adjustment", 2_000),  # a credit lowers it
        ]
    ):
        await database.execute(
            "INSERT INTO transactions(transaction_id, customer_id, booked_on, kind, amount)"
            " VALUES (?, 'U0027', ?, ?, ?)",
            (f"T{number}", day, kind, amount),
        )
    yield database
    await database.close()


async def test_the_statement_opens_with_what_came_before_and_closes_with_the_last_row(db):
    period = statement.last_months("2026-11-25")
    built = await statement.account_statement(db, "U0027", period, NOON)
    assert built.opening == -10_000 + 4_000
    assert [running for _, running in built.rows] == [-17_894, -19_394, -7_500, -5_500]
    assert built.closing == -5_500
    assert (built.charges, built.payments) == (11_894 + 1_500, 11_894 + 2_000)
    assert built.closing == built.opening - built.charges + built.payments


async def test_a_year_without_bookings_has_equal_opening_and_closing(db):
    built = await statement.account_statement(
        db, "U0027", statement.year_period(2023, "2026-11-25"), NOON
    )
    assert (built.opening, built.rows, built.closing) == (0, [], 0)
    assert await statement.statement_years(db, "U0027") == [2026, 2025, 2024]
    (text,) = _text(statement_pdf(built))
    assert "Ebben az időszakban nem volt könyvelt tétel." in text
    assert "Nyitó egyenleg (2023. 01. 01.): 0 Ft" in text
    assert "Záró egyenleg (2023. 12. 31.): 0 Ft" in text


async def test_the_year_picture_has_every_month_and_what_raised_and_lowered_the_debt(db):
    picture = await statement.year_picture(db, "U0027", NOON)
    assert [m.month for m in picture.months][:4] == ["2025-12", "2026-01", "2026-02", "2026-03"]
    by_month = {m.month: (m.charges, m.payments) for m in picture.months}
    assert by_month["2025-12"] == (11_894, 0)
    assert by_month["2026-03"] == (1_500, 11_894)
    assert by_month["2026-07"] == (0, 2_000)
    assert by_month["2026-01"] == (0, 0)
    assert (picture.charges, picture.payments) == (13_394, 13_894)
    assert not picture.empty


def _long_statement(rows: int) -> AccountStatement:
    bookings, balance = [], 0
    for number in range(rows):
        balance -= 1_000
        booking = Booking(
            f"T{number}", "U0027", "2026-05-05", "charge", 1_000, None, "x" * 300, -1_000
        )
        bookings.append((booking, balance))
    return AccountStatement(
        "U0027", CUSTOMER, Period("2025-12-01", "2026-11-25"), 0, bookings, "2026-11-25"
    )


def test_a_long_statement_repeats_the_table_header_and_numbers_its_pages():
    pages = _text(statement_pdf(_long_statement(120)))
    assert len(pages) == 3
    for number, text in enumerate(pages, start=1):
        assert "Dátum" in text and "Egyenleg utána" in text
        assert f"{number}/3. oldal" in text
    assert "Őri Űrsula" in pages[0]
    # A long description is cut to its column with "…", never over the amounts.
    assert "xxx…" in pages[0]
    assert "Záró egyenleg (2026. 11. 25.): 120 000 Ft tartozás" in pages[-1]


def test_the_chart_is_a_small_png_as_wide_as_a_phone_picture():
    period = statement.last_months("2026-11-25")
    months = [MonthTotals(month, 1_234_567, 0) for month in period.months]
    png = chart_png(YearPicture("U0027", period, months))
    image = Image.open(io.BytesIO(png))
    assert (image.format, image.width) == ("PNG", WIDTH)
    assert image.mode == "P" and len(png) < 30_000
    # The bars in their colours (orange charges, blue payments: the legend's square at least).
    colours = {colour for _, colour in image.convert("RGB").getcolors(maxcolors=256)}
    assert {(213, 94, 0), (0, 114, 178)} <= colours
