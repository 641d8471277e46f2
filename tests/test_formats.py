"""Money, dates and identifiers as Hungarian billing exports and customers write them."""

from datetime import date

import pytest

from core.accounts import canonical_customer_id, parse_typed_customer_id
from core.formats import (
    TypedValueError,
    format_amount,
    format_balance,
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
    assert format_amount(-3000) == f"\u22123000{NBSP}Ft"  # the one minus sign, U+2212
    assert format_amount(0) == f"0{NBSP}Ft"


def test_a_balance_is_written_one_way():
    """Owed, overpaid or settled: the amount and what it means, never a bare sign."""
    assert format_balance(-13394) == f"13{NBSP}394{NBSP}Ft tartozás"
    assert format_balance(500) == f"500{NBSP}Ft túlfizetés"
    assert format_balance(0) == f"0{NBSP}Ft"


def test_dates_in_the_official_spaced_form():
    assert format_date(date(2024, 5, 1)) == "2024. 05. 01."
    assert format_date("2024-12-31") == "2024. 12. 31."


# --- what customers type (issue 11): lenient, and told what was wrong ----------------------

THIN = "\u2009"
NARROW = "\u202f"


@pytest.mark.parametrize(
    ("typed", "amount"),
    [
        ("10691,-", 10691),
        ("10 691,-", 10691),
        ("11.894,- Ft", 11894),
        ("11 894 forint", 11894),
        ("11 894 Ft.", 11894),
        ("HUF 11894", 11894),
        ("11894 HUF", 11894),
        ("Ft 11 894", 11894),
        ("11894.-", 11894),
        (f"11{NBSP}894{NBSP}Ft", 11894),
        (f"11{THIN}894", 11894),
        (f"11{NARROW}894,-", 11894),
        ("7 350,--", 7350),
        ("7350,- Ft.", 7350),
        ("7.350 Ft,-", 7350),
        ("7350Ft", 7350),
        ("7350 FT", 7350),
        ("7350 huf", 7350),
        ("7 350 Ft-ot", 7350),
        ("Ft. 7 350", 7350),
        ("7350,00", 7350),
        ("7 350,00 Ft", 7350),
        ("7350.00", 7350),
        ("1,234,567", 1234567),
        ("1,234,567.00", 1234567),
        ("1'234'567", 1234567),
        ("1\u2019234\u2019567", 1234567),
        ("Végösszeg: 23 456 Ft", 23456),
        ("Fizetendő: 23.456,-", 23456),
        ("összesen 23 456 Ft", 23456),
        ("23 456!", 23456),
        ("  23   456  ", 23456),
        ("\uff12\uff13\uff14\uff15\uff16", 23456),  # fullwidth digits
        ("\u0662\u0663\u0664\u0665\u0666", 23456),  # Arabic-Indic digits
        ("23\u200b456", 23456),  # a zero-width space pasted in
        ("-3 000", -3000),
        ("\u22123000 Ft", -3000),  # a minus sign
        ("+3000", 3000),
        ("0", 0),
        ("999 999 999 999", 999_999_999_999),
    ],
)
def test_typed_amounts_in_the_ways_people_write_them(typed, amount):
    assert parse_amount(typed, lenient=True) == amount


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("12 345,50", "fraction"),
        ("12,5", "fraction"),
        ("99.9", "fraction"),
        ("120 EUR", "currency"),
        ("120eur", "currency"),
        ("€ 120", "currency"),
        ("$120", "currency"),
        ("120 euró", "currency"),
        ("1" + "0" * 12, "too_long"),
        ("9" * 4096, "too_long"),
        ("12 34", "form"),  # groups of three or none
        ("1.2345", "form"),
        ("12 345 6", "form"),
        ("tizenkétezer", "form"),
        ("10 ezer", "form"),
        ("", "form"),
        ("Ft", "form"),
        ("-", "form"),
        ("12345 Ft-ot fizettem", "form"),
    ],
)
def test_typed_amounts_refused_say_what_is_wrong(typed, problem):
    with pytest.raises(TypedValueError) as refused:
        parse_amount(typed, lenient=True)
    assert refused.value.problem == problem


@pytest.mark.parametrize(
    "exported",
    ["10691,-", "11 894 forint", "HUF 11894", "11894.-", "11,894", "Végösszeg: 12 345"],
)
def test_the_import_keeps_its_strict_amounts(exported):
    # The billing export's amounts are machine-written: anything else is a damaged row.
    with pytest.raises(ValueError):
        parse_amount(exported)


@pytest.mark.parametrize(
    ("typed", "number"),
    [
        ("2026-2168", 2026_002168),
        ("2026/2168", 2026_002168),
        ("2026 2168", 2026_002168),
        ("2026.2168", 2026_002168),
        ("2026_2168", 2026_002168),
        ("2026\\2168", 2026_002168),
        ("2026\u20132168", 2026_002168),  # en dash
        ("2026\u20142168", 2026_002168),  # em dash
        ("2026\u22122168", 2026_002168),  # minus sign
        ("2026 / 2168", 2026_002168),
        ("2026 - 002168", 2026_002168),
        ("2026-002168", 2026_002168),
        ("2026-0002168", 2026_002168),
        ("2026002168", 2026_002168),
        ("20262168", 2026_002168),
        ("2026-002168.", 2026_002168),
        ("Számlaszám: 2026-002168", 2026_002168),
        ("számla száma 2026/2168", 2026_002168),
        ("Sorszám: 2026 2168", 2026_002168),
        ("sz. 2026-2168", 2026_002168),
        ("#2026-2168", 2026_002168),
        ("2025-1", 2025_000001),
        ("2025/999999", 2025_999999),
        ("\uff12\uff10\uff12\uff15-\uff17", 2025_000007),  # fullwidth
        (f"2025{NBSP}000007", 2025_000007),
    ],
)
def test_typed_invoice_numbers_in_the_ways_people_write_them(typed, number):
    assert parse_invoice_number(typed, lenient=True) == number
    assert format_invoice_number(number) == f"{number // 1_000_000}-{number % 1_000_000:06d}"


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("26/2168", "year"),
        ("26-002168", "year"),
        ("2168", "year"),
        ("123", "year"),
        ("1234-5678", "year"),  # no year of ours
        ("2026", "serial"),
        ("2026-1234567", "serial_long"),
        ("20261234567", "serial_long"),
        ("U0027", "customer_id"),
        ("u 27", "customer_id"),
        ("2026. 11. 25.", "form"),  # a date
        ("2026-2168-1", "form"),
        ("PK-000123", "form"),
        ("abc", "form"),
        ("", "form"),
        ("2026" + "9" * 4092, "serial_long"),
    ],
)
def test_typed_invoice_numbers_refused_say_what_is_wrong(typed, problem):
    with pytest.raises(TypedValueError) as refused:
        parse_invoice_number(typed, lenient=True)
    assert refused.value.problem == problem


@pytest.mark.parametrize(
    ("typed", "customer_id"),
    [
        ("u27", "U0027"),
        ("U27", "U0027"),
        ("U-27", "U0027"),
        ("u 0027", "U0027"),
        ("U.27", "U0027"),
        ("U 00 27", "U0027"),
        ("U\u201327", "U0027"),
        ("U00027", "U0027"),
        ("Ü0027", "U0027"),
        ("ú27", "U0027"),
        ("ű 27", "U0027"),
        ("0027", "U0027"),
        ("9081", "U9081"),
        ("U9081.", "U9081"),
        ("Ügyfél-azonosító: u9081", "U9081"),
        ("azonosítóm U9081", "U9081"),
        ("\uff35\uff19\uff10\uff18\uff11", "U9081"),  # fullwidth
        ("U\u0669\u0660\u0668\u0661", "U9081"),  # Arabic-Indic digits
        (f"U{NBSP}9081", "U9081"),
    ],
)
def test_typed_customer_ids_in_the_ways_people_write_them(typed, customer_id):
    assert parse_customer_id(typed, lenient=True) == customer_id
    assert parse_typed_customer_id(typed) == customer_id
    assert canonical_customer_id(typed) == customer_id  # one throttle target, every spelling


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("X-12", "letter"),
        ("V1234", "letter"),
        ("27", "letter"),
        ("123456", "letter"),
        ("U12345", "digits"),
        ("u 123 456", "digits"),
        ("U", "form"),
        ("kovács", "form"),
        ("", "form"),
    ],
)
def test_typed_customer_ids_refused_say_what_is_wrong(typed, problem):
    with pytest.raises(TypedValueError) as refused:
        parse_customer_id(typed, lenient=True)
    assert refused.value.problem == problem
