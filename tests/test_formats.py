"""Money, dates and identifiers as Hungarian billing exports and customers write them."""

from datetime import date

import pytest

from core.formats import (
    format_amount,
    format_date,
    format_invoice_number,
    parse_amount,
    parse_customer_id,
    parse_date,
    parse_invoice_number,
)

NBSP = "\u00a0"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("12345", 12345),
        ("12 345", 12345),
        ("12 345 Ft", 12345),
        ("12345 Ft", 12345),
        ("12345ft", 12345),
        ("12.345", 12345),
        ("1.234.567", 1234567),
        ("12345,00", 12345),
        ("12 345,00 Ft", 12345),
        ("-3 000", -3000),
        ("12\u00a0345", 12345),
        ("12\u202f345", 12345),
        ("12\u2009345", 12345),
        (" 0 ", 0),
    ],
)
def test_amounts_in_every_spelling(text, expected):
    assert parse_amount(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "12,5", "12345,50", "12.34", "abc", "12 345 EUR", "1.2345", "1" + "0" * 12, "9" * 4096],
)
def test_bad_amounts_are_refused(text):
    with pytest.raises(ValueError):
        parse_amount(text)


@pytest.mark.parametrize("text", ["2024-05-01", "2024.05.01", "2024.05.01.", " 2024.5.1 "])
def test_dates(text):
    assert parse_date(text) == date(2024, 5, 1)


@pytest.mark.parametrize("text", ["2024.13.01", "2024.02.30", "01.05.2024", "2024/05/01", ""])
def test_bad_dates(text):
    with pytest.raises(ValueError):
        parse_date(text)


def test_customer_ids():
    assert parse_customer_id("U1234") == "U1234"
    assert parse_customer_id("u1234") == "U1234"
    assert parse_customer_id(" u 1234 ", lenient=True) == "U1234"
    for bad in ["U12345", "U123", "X1234", "1234", "U 1234"]:
        with pytest.raises(ValueError):
            parse_customer_id(bad)


def test_invoice_numbers():
    assert parse_invoice_number("2016-000123") == 2016000123
    assert parse_invoice_number("2016000123") == 2016000123
    assert parse_invoice_number("2016 000123", lenient=True) == 2016000123
    assert format_invoice_number(2016000123) == "2016-000123"
    for bad in ["2016-00123", "16-000123", "2016-0001234", "abcd-000123"]:
        with pytest.raises(ValueError):
            parse_invoice_number(bad)


def test_amounts_are_grouped_by_the_hungarian_rule():
    assert format_amount(4800) == f"4800{NBSP}Ft"
    assert format_amount(12345) == f"12{NBSP}345{NBSP}Ft"
    assert format_amount(1234567) == f"1{NBSP}234{NBSP}567{NBSP}Ft"
    assert format_amount(-3000) == f"-3000{NBSP}Ft"
    assert format_amount(4800, group_four=True) == f"4{NBSP}800{NBSP}Ft"
    assert format_amount(0) == f"0{NBSP}Ft"


def test_dates_in_the_official_spaced_form():
    assert format_date(date(2024, 5, 1)) == "2024. 05. 01."
    assert format_date("2024-12-31") == "2024. 12. 31."
