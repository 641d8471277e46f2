"""Parsing and formatting of the billing system's values, the Hungarian way.

Amounts are whole forints (`12 345`, `12 345 Ft`, `12.345`, `12345,00`,
`-3 000`, thin or non-breaking spaces as separators); dates are `2024-05-01`,
`2024.05.01` or `2024.05.01.` and are shown as `2024. 05. 01.`; a customer ID
is `U` + 4 digits; an invoice number is year + 6 digits, with or without a
hyphen. Every parser raises `ValueError` with a short English reason (used in
`file:line: reason` import errors); the chat shows its own Hungarian texts.
"""

from __future__ import annotations

import re
from datetime import date

# Spaces that real exports use as thousands separators: normal, no-break,
# narrow no-break and thin space.
_SPACES = str.maketrans("", "", " \u00a0\u202f\u2009")
_AMOUNT = re.compile(r"^([+-]?)(\d+)(?:,(\d{1,2}))?$")
_DOT_GROUPED = re.compile(r"^[+-]?\d{1,3}(?:\.\d{3})+(?:,\d{1,2})?$")
_DATE = re.compile(r"^(\d{4})[-.](\d{1,2})[-.](\d{1,2})\.?$")
_CUSTOMER = re.compile(r"^U(\d{4})$")
_INVOICE = re.compile(r"^(\d{4})-?(\d{6})$")
# No bill reaches a thousand billion forints; a longer number is a typo (or an attack),
# and would not fit SQLite's 64-bit integers or a chat message.
MAX_AMOUNT_DIGITS = 12


def parse_amount(text: str) -> int:
    """`12 345 Ft` -> 12345; fractions other than ,00 are refused (whole forints)."""
    value = text.strip()
    if value[-2:].lower() == "ft":
        value = value[:-2]
    value = value.translate(_SPACES)
    if "." in value:
        if not _DOT_GROUPED.match(value):
            raise ValueError(f"bad amount {text!r}: expected whole forints like 12 345")
        value = value.replace(".", "")
    match = _AMOUNT.match(value)
    if not match:
        raise ValueError(f"bad amount {text!r}: expected whole forints like 12 345")
    sign, whole, fraction = match.groups()
    if len(whole.lstrip("0")) > MAX_AMOUNT_DIGITS:
        raise ValueError(f"bad amount: more than {MAX_AMOUNT_DIGITS} digits")
    if fraction and int(fraction):
        raise ValueError(f"bad amount {text!r}: not whole forints")
    amount = int(whole)
    return -amount if sign == "-" else amount


def parse_date(text: str) -> date:
    """`2024-05-01`, `2024.05.01` or `2024.05.01.` -> date."""
    match = _DATE.match(text.strip())
    if not match:
        raise ValueError(f"bad date {text!r}: expected 2024.05.01 or 2024-05-01")
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise ValueError(f"bad date {text!r}: no such day") from None


def parse_customer_id(text: str, *, lenient: bool = False) -> str:
    """`U1234` -> `U1234`; lenient (chat input) also takes `u 1234`, ` U1234 `."""
    value = text.strip().upper()
    if lenient:
        value = value.translate(_SPACES).replace("-", "")
    if not _CUSTOMER.match(value):
        raise ValueError(f"bad customer id {text!r}: expected U and 4 digits, like U1234")
    return value


def parse_invoice_number(text: str, *, lenient: bool = False) -> int:
    """`2024-000123` or `2024000123` -> 2024000123 (the stored integer form)."""
    value = text.strip()
    if lenient:
        value = value.translate(_SPACES)
    match = _INVOICE.match(value)
    if not match:
        raise ValueError(
            f"bad invoice number {text!r}: expected year and 6 digits, like 2024-000123"
        )
    return int(match[1]) * 1_000_000 + int(match[2])


def format_invoice_number(number: int) -> str:
    """2024000123 -> `2024-000123`."""
    return f"{number // 1_000_000:04d}-{number % 1_000_000:06d}"


def format_amount(amount: int, *, group_four: bool = False) -> str:
    """Hungarian grouping: `4800 Ft`, `12 345 Ft`, `-3 000 Ft`.

    A four-digit number is grouped only when `group_four` is set (inside a
    column of longer numbers), as the Hungarian rule says. The separator is a
    no-break space so an amount never wraps across lines.
    """
    return f"{format_number(amount, group_four=group_four)}\u00a0Ft"


def format_number(amount: int, *, group_four: bool = False, separator: str = "\u00a0") -> str:
    """The grouped digits without the currency (see `format_amount`), `separator` between groups."""
    digits = str(abs(amount))
    if len(digits) > 4 or group_four:
        digits = f"{abs(amount):,}".replace(",", separator)
    return f"-{digits}" if amount < 0 else digits


def format_export_amount(amount: int) -> str:
    """Whole forints as the billing export writes them: `4800`, `12 345`, `-30 000`.

    The same grouping as `format_amount`, with plain spaces and no currency.
    """
    return format_number(amount, separator=" ")


def format_date(value: date | str) -> str:
    """date(2024, 5, 1) or '2024-05-01' -> `2024. 05. 01.`"""
    if isinstance(value, str):
        value = date.fromisoformat(value)
    return f"{value.year}. {value.month:02d}. {value.day:02d}."
