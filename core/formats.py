"""Parsing and formatting of the billing system's values, the Hungarian way.

Amounts are whole forints (`12 345`, `12 345 Ft`, `12.345`, `12345,00`,
`-3 000`, thin or non-breaking spaces as separators); dates are `2024-05-01`,
`2024.05.01` or `2024.05.01.` and are shown as `2024. 05. 01.`; a customer ID
is `U` + 4 digits; an invoice number is year + 6 digits, with or without a
hyphen. Every parser raises `ValueError` with a short English reason (used in
`file:line: reason` import errors); the chat shows its own Hungarian texts.

What a customer types is read with `lenient=True`, which takes the value the
way people write it (the import keeps the strict forms above):

- amounts: `10691,-`, `10 691,-`, `11.894,- Ft`, `11 894 forint`, `11 894 Ft.`,
  `HUF 11894`, `11894 HUF`, `Ft 11 894`, `11894.-`, `11,894` or `11'894`
  (groups of three), `11 894,00`, a label before it (`Végösszeg: …`), any
  kind of space or dash, fullwidth or other scripts' digits;
- invoice numbers: year and serial with `-`, `/`, spaces, dots, other dashes
  or nothing between, the serial's leading zeros left out (`2026-2168`,
  `2026/2168`, `2026 2168` are all `2026-002168`), a label before it;
- customer IDs: the zeros left out, spaces, dashes or dots after the U, an
  accented or small u, or the four digits alone (`u27`, `U-27`, `u 0027`,
  `Ü0027` and `0027` are all `U0027`).

A lenient parser's refusal is a `TypedValueError` whose `problem` names what
is wrong, so that the chat can say it (`"year"`: the invoice number does not
start with a year), or `"form"` where nothing more can be told.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from core.mail.text import fold

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


class TypedValueError(ValueError):
    """A value typed in the chat that is none: `problem` says what is wrong with it.

    Amounts: `fraction` (not whole forints), `currency` (another currency),
    `too_long` (more digits than any bill), `not_positive` (for a caller that
    needs more than zero). Invoice numbers: `year` (no four-digit year first),
    `serial` (the year alone), `serial_long` (more than six digits after the
    year), `customer_id` (a customer ID typed instead). Customer IDs: `letter`
    (another letter than U, or digits other than four without it), `digits`
    (more than four digits). Anything else: `form`.
    """

    def __init__(self, what: str, text: str, problem: str) -> None:
        super().__init__(f"bad {what} {text[:40]!r}: {problem}")
        self.problem = problem


def parse_amount(text: str, *, lenient: bool = False) -> int:
    """`12 345 Ft` -> 12345; fractions other than ,00 are refused (whole forints).

    `lenient` (chat input) takes an amount as people write it (the module's
    docstring lists the forms) and raises `TypedValueError`.
    """
    if lenient:
        return _typed_amount(text)
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
    """`U1234` -> `U1234`; lenient (chat input) also takes `u 1234`, `u27` (`U0027`)
    and the other forms in the module's docstring, and raises `TypedValueError`."""
    if lenient:
        return _typed_customer_id(text)
    value = text.strip().upper()
    if not _CUSTOMER.match(value):
        raise ValueError(f"bad customer id {text!r}: expected U and 4 digits, like U1234")
    return value


def parse_invoice_number(text: str, *, lenient: bool = False) -> int:
    """`2024-000123` or `2024000123` -> 2024000123 (the stored integer form).

    `lenient` (chat input) also takes `2024-123`, `2024/123`, `2024 123` and the
    other forms in the module's docstring, and raises `TypedValueError`.
    """
    if lenient:
        return _typed_invoice_number(text)
    value = text.strip()
    match = _INVOICE.match(value)
    if not match:
        raise ValueError(
            f"bad invoice number {text!r}: expected year and 6 digits, like 2024-000123"
        )
    return int(match[1]) * 1_000_000 + int(match[2])


# --- what customers type (lenient) ------------------------------------------------------

# Dashes people's keyboards and phones put in: hyphen, non-breaking hyphen, figure dash,
# en and em dash, horizontal bar, minus sign, small and fullwidth hyphen-minus.
_DASHES = str.maketrans(
    dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d", "-")
)
# Apostrophes used between thousands ("11'894", or with a typographic apostrophe).
_APOSTROPHES = str.maketrans(dict.fromkeys("\u2019\u02bc\u00b4`", "'"))
# A typed value is at most this long to be read at all (no bill needs more).
_LONGEST_TYPED = 64

_CURRENCY = r"(?:ft|forint(?:ot)?|huf)"
_LEADING_CURRENCY = re.compile(rf"^{_CURRENCY}\.?\s*", re.IGNORECASE)
_TRAILING_CURRENCY = re.compile(rf"\s*{_CURRENCY}(?:-?ot)?$", re.IGNORECASE)
# The whole-forint endings of Hungarian bookkeeping: "10 691,-", "11894.-", "100,--".
_WHOLE_ENDING = re.compile(r"\s*[.,]?\s*-+$")
# Another currency's sign or name, not inside a word ("12345eur" too).
_OTHER_CURRENCY = re.compile(
    r"[€$£¥]|(?<![^\W\d_])(?:eur|euro|euró|usd|dollár|dollar|chf|gbp)(?![^\W\d_])",
    re.IGNORECASE,
)
_AMOUNT_WORDS = re.compile(
    r"^(?:összesen|fizetendő|végösszeg(?:e)?|összeg(?:e)?|bruttó)\b\s*", re.IGNORECASE
)
_FRACTION = re.compile(r"[.,](\d{1,2})$")
_GROUPED = re.compile(r"^\d{1,3}(?:([ .,'])\d{3})(?:\1\d{3})*$")

_INVOICE_WORDS = re.compile(
    r"^(?:(?:számla\s*szám(?:a)?|sorszám(?:a)?|számla|szám|sz|no|nr)(?![^\W\d_])|#)"
    r"\s*[.:#]?\s*",
    re.IGNORECASE,
)
_INVOICE_SHAPE = re.compile(r"^(\d+)(?:[\s\-/._\\|,]+(\d+))?$")
_LOOKS_LIKE_CUSTOMER = re.compile(r"^U[\s\-._/#]*\d{1,4}$")
# The billing system numbers invoices within a year of this century (or the last one's end).
_YEARS = range(1990, 2100)

_CUSTOMER_WORDS = re.compile(
    r"^(?:ügyfél\s*-?\s*azonosító(?:m|ja)?|azonosító(?:m|ja)?|ügyfél\s*szám(?:om|a)?"
    r"|ügyfélkód(?:om|ja)?|vevőkód(?:om|ja)?)\b\s*[.:#]?\s*",
    re.IGNORECASE,
)
_TYPED_CUSTOMER = re.compile(r"^U[\s\-._/#:]*(\d[\d\s\-.]*)$")


def _typed(text: str) -> str:
    """The text as the parsers read it: compatibility forms folded (fullwidth letters and
    digits, every kind of space), every script's digits as ASCII digits, every dash a
    hyphen, invisible format characters gone, spaces single, trimmed."""
    folded = unicodedata.normalize("NFKC", text[: _LONGEST_TYPED * 4])
    chars = []
    for char in folded:
        digit = unicodedata.decimal(char, None)
        if digit is not None:
            chars.append(str(digit))
        elif unicodedata.category(char) != "Cf":
            chars.append(char)
    value = "".join(chars).translate(_DASHES).translate(_APOSTROPHES)
    return " ".join(value.split())


def _label_removed(value: str, words: re.Pattern[str]) -> str:
    """Without a label the customer copied from the paper ("Számlaszám: …")."""
    head, colon, tail = value.rpartition(":")
    if colon and not any(c.isdigit() for c in head):
        value = tail.strip()
    return words.sub("", value, count=1)


def _typed_amount(text: str) -> int:
    value = _typed(text)
    if not value or len(value) > _LONGEST_TYPED:
        many = sum(c.isdigit() for c in value) > MAX_AMOUNT_DIGITS
        raise TypedValueError("amount", text, "too_long" if many else "form")
    if _OTHER_CURRENCY.search(value):
        raise TypedValueError("amount", text, "currency")
    value = _label_removed(value, _AMOUNT_WORDS)
    before = None
    while value != before:  # "11.894,- Ft." -> "11.894,- Ft" -> "11.894,-" -> "11.894"
        before = value
        value = value.rstrip(" .!")
        value = _TRAILING_CURRENCY.sub("", value)
        value = _LEADING_CURRENCY.sub("", value)
        value = _WHOLE_ENDING.sub("", value)
    sign = ""
    if value[:1] in ("+", "-"):
        sign, value = value[0], value[1:].lstrip()
    fraction = _FRACTION.search(value)
    if fraction:
        value = value[: fraction.start()]
    digits = value.replace(" ", "").replace(".", "").replace(",", "").replace("'", "")
    if not digits.isdigit():
        raise TypedValueError("amount", text, "form")
    if len(digits.lstrip("0")) > MAX_AMOUNT_DIGITS:
        raise TypedValueError("amount", text, "too_long")
    if not (value.isdigit() or _GROUPED.match(value)):
        raise TypedValueError("amount", text, "form")
    if fraction and int(fraction[1]):
        raise TypedValueError("amount", text, "fraction")
    amount = int(digits)
    return -amount if sign == "-" else amount


def _typed_invoice_number(text: str) -> int:
    value = _typed(text)
    value = _label_removed(value, _INVOICE_WORDS).rstrip(" .!")
    if _LOOKS_LIKE_CUSTOMER.match(fold(value).upper()):
        raise TypedValueError("invoice number", text, "customer_id")
    match = _INVOICE_SHAPE.match(value)
    if not match:
        raise TypedValueError("invoice number", text, "form")
    if match[2] is None:  # one run of digits: the year is its first four
        year, serial = match[1][:4], match[1][4:]
        if len(match[1]) < 4 or int(year) not in _YEARS:
            raise TypedValueError("invoice number", text, "year")
        if not serial:
            raise TypedValueError("invoice number", text, "serial")
    else:
        year, serial = match[1], match[2]
        if len(year) != 4 or int(year) not in _YEARS:
            raise TypedValueError("invoice number", text, "year")
    if len(serial.lstrip("0")) > 6:
        raise TypedValueError("invoice number", text, "serial_long")
    return int(year) * 1_000_000 + int(serial)


def _typed_customer_id(text: str) -> str:
    value = _typed(text)
    value = _label_removed(value, _CUSTOMER_WORDS).rstrip(" .!")
    value = fold(value).upper()
    if len(value) > _LONGEST_TYPED:
        raise TypedValueError("customer id", text, "form")
    match = _TYPED_CUSTOMER.match(value)
    if match:
        digits = re.sub(r"[\s\-.]", "", match[1])
    elif re.fullmatch(r"\d{4}", value):  # the U left out, the four digits as printed
        digits = value
    elif re.fullmatch(r"[A-Z]?[\s\-._/#]*[\d\s\-.]*\d", value):
        raise TypedValueError("customer id", text, "letter")
    else:
        raise TypedValueError("customer id", text, "form")
    if len(digits.lstrip("0")) > 4:
        raise TypedValueError("customer id", text, "digits")
    return f"U{int(digits):04d}"


def format_invoice_number(number: int) -> str:
    """2024000123 -> `2024-000123`."""
    return f"{number // 1_000_000:04d}-{number % 1_000_000:06d}"


# The one minus sign customer texts write (chat and mail alike): U+2212, as Hungarian
# typography has it; the billing export keeps its ASCII hyphen.
MINUS = "\u2212"


def format_amount(amount: int) -> str:
    """Hungarian grouping: `4800 Ft`, `12 345 Ft`, `\u22123000 Ft` (the minus sign): the one
    amount format of every customer text.

    A four-digit number is not grouped, as the Hungarian rule says. The separator is a
    no-break space so an amount never wraps across lines; a negative amount starts with
    the minus sign (U+2212, `MINUS`).
    """
    return f"{format_number(amount)}\u00a0Ft"


def format_balance(balance: int) -> str:
    """A balance as the customer reads it, the same wherever it appears: `13 394 Ft
    tartozás` (they owe), `500 Ft túlfizetés` (paid more), `0 Ft`."""
    if balance < 0:
        return f"{format_amount(-balance)} tartozás"
    if balance > 0:
        return f"{format_amount(balance)} túlfizetés"
    return format_amount(0)


def format_number(amount: int, *, separator: str = "\u00a0", minus: str = MINUS) -> str:
    """The grouped digits without the currency (see `format_amount`), `separator` between
    groups, `minus` before a negative number."""
    digits = str(abs(amount))
    if len(digits) > 4:
        digits = f"{abs(amount):,}".replace(",", separator)
    return f"{minus}{digits}" if amount < 0 else digits


def format_export_amount(amount: int) -> str:
    """Whole forints as the billing export writes them: `4800`, `12 345`, `-30 000`.

    The same grouping as `format_amount`, with plain spaces, an ASCII minus and no currency.
    """
    return format_number(amount, separator=" ", minus="-")


def format_date(value: date | str) -> str:
    """date(2024, 5, 1) or '2024-05-01' -> `2024. 05. 01.`"""
    if isinstance(value, str):
        value = date.fromisoformat(value)
    return f"{value.year}. {value.month:02d}. {value.day:02d}."


# The months as Hungarian writes them: in full ("2026. május") and in the short form of
# the chart's axis and tight columns ("máj."), as the Hungarian spelling rules abbreviate.
MONTHS = (
    "január", "február", "március", "április", "május", "június",
    "július", "augusztus", "szeptember", "október", "november", "december",
)  # fmt: skip
SHORT_MONTHS = (
    "jan.", "febr.", "márc.", "ápr.", "máj.", "jún.",
    "júl.", "aug.", "szept.", "okt.", "nov.", "dec.",
)  # fmt: skip


def format_month(month: str, *, short: bool = False) -> str:
    """'2026-05' (or an ISO date in it) -> `2026. május` (`2026. máj.` when `short`)."""
    year, number = int(month[:4]), int(month[5:7])
    return f"{year}. {(SHORT_MONTHS if short else MONTHS)[number - 1]}"


# --- the Hungarian article ------------------------------------------------------------

_VOWELS = frozenset("aáeéiíoóöőuúüű")
# Letters read by their names in an abbreviation or a code ("az SMS", "az U0027", "a PK-…"):
# those whose Hungarian name starts with a vowel.
_VOWEL_NAMED_LETTERS = frozenset("AÁEÉIÍOÓÖŐUÚÜŰFLMNRSXY")
_DIGIT_GROUP_SPACES = frozenset(" \u00a0\u202f\u2009")


def hungarian_article(word: object) -> str:
    """`a` or `az`, as Hungarian says it before `word` (a value about to be written).

    By sound: a vowel-initial word takes `az` (`az anna@…`); a number by how it is
    read, so 1 (egy), 5 (öt), 50, 500, 1 000 (ezer), 1 500 000 (egymillió…) and
    ordinals like `1.` take `az`, 2, 10, 100, 2026 take `a`; an abbreviation or
    code read letter by letter by its first letter's name (`az U0027`, `az SMS`,
    `a PK-000123`). Leading quotes and brackets are skipped.
    """
    text = str(word).lstrip(" \u00a0\"'„“”‚‘’»«([<{")
    if not text:
        return "a"
    first = text[0]
    if first.isdigit():
        digits = ""
        for char in text:
            if char.isdigit():
                digits += char
            elif char in _DIGIT_GROUP_SPACES and digits:
                continue
            else:
                break
        digits = digits.lstrip("0") or "0"
        # Read aloud, a number starts with the word of its first digit in its place
        # within a group of three: 5 in any place (öt, ötven, ötszáz) and 1 in the
        # ones' place (egy; ezer, egymillió) begin with a vowel.
        if digits[0] == "5" or (digits[0] == "1" and len(digits) % 3 == 1):
            return "az"
        return "a"
    head = ""
    for char in text:
        if not char.isalpha():
            break
        head += char
    spelled = (
        len(head) == 1
        or (head.isupper() and len(head) > 1)
        or (len(head) < len(text) and text[len(head)].isdigit())
    )
    if spelled:
        return "az" if first.upper() in _VOWEL_NAMED_LETTERS else "a"
    return "az" if first.lower() in _VOWELS else "a"


def with_article(word: object) -> str:
    """`word` with its article before it: `az U0027`, `a 2026-002168`, `az 5000 Ft`."""
    return f"{hungarian_article(word)} {word}"
