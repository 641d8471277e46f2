"""The MNB instant-payment QR code: the data a bank app reads to fill in a transfer.

The Magyar Nemzeti Bank's 2019 guide on QR-code based data entry for the instant payment
system defines the payload of a transfer order ("HCT", version "001"): 17 fields, each
ended by a line feed, UTF-8, at most 345 characters, in a QR code of error correction
level M and version 13 at most (no Micro QR). The fields, in order:

 1. `HCT`                    identification code: a transfer order (credit transfer)
 2. `001`                    version
 3. `1`                      character set: UTF-8
 4. BIC                      the payee's bank, 11 characters (an 8-character BIC + `XXX`)
 5. name                     the payee, at most 70 characters
 6. IBAN                     the payee's account, a Hungarian IBAN: 28 characters
 7. `HUF` + amount           whole forints, at most 12 digits
 8. validity                 `yyyyMMddHHmmss+z`: local time and its offset from UTC in hours
 9. purpose                  an ISO 20022 purpose code (4 letters), or empty
10. közlemény                remittance information, at most 70 characters
11. shop ID                  empty here (at most 35)
12. merchant device ID       empty here (at most 35)
13. invoice                  the invoice number, at most 35
14. customer ID              at most 35
15.-17.                      the payee's transaction ID, loyalty ID, NAV code: empty here

A value never carries a line feed (it would end its field early and shift every field
after it): text fields take printable ASCII and the Hungarian accented letters only, and
anything else is refused rather than sent. So is a code that would not fit version 13.

Nothing here knows Telegram: the chat door asks for the PNG and sends it.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import segno

# The validity is Budapest time (core.accounts has the same zone; importing it from there
# would import the outbox and the texts, which import this module through core.facts).
BUDAPEST = ZoneInfo("Europe/Budapest")

# The MNB guide's limits.
FIELD_COUNT = 17
MAX_CHARS = 345
MAX_VERSION = 13
# What a version-13 code of level M holds in byte mode: an accented letter takes 2 bytes,
# so 345 characters do not always fit.
MAX_BYTES = 331
ERROR_LEVEL = "M"
NAME_LIMIT = 70
REFERENCE_LIMIT = 70
ID_LIMIT = 35
MAX_AMOUNT = 999_999_999_999  # 12 digits
IBAN_LENGTH = 28
BIC_LENGTH = 11

# How long a code stays valid: to the end of the second day after the one it was made on
# (Budapest time): enough to pay from the other device or that evening, short enough that
# a code kept on a screen does not pay an amount the daily import has since changed.
VALID_DAYS = 2
# Pixels per QR module in the PNG: a version-13 code (69 modules + 4 quiet on each side) is
# 770 px wide, sharp on a phone and still readable after Telegram recompresses the photo.
PNG_SCALE = 10

# Printable ASCII and the Hungarian accented letters: what every Hungarian bank app shows
# as typed. No control character (a line feed would break the format), nothing exotic.
_TEXT = re.compile(r"[\x20-\x7eáéíóöőúüűÁÉÍÓÖŐÚÜŰ]*")
_BIC = re.compile(r"[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?")
_PURPOSE = re.compile(r"[A-Z]{4}")


class QrError(ValueError):
    """A value that cannot go into the payment QR code (the message says which and why)."""


@dataclass(frozen=True)
class Payee:
    """Who receives the transfer, as the code names them (checked by `payee`)."""

    name: str
    iban: str  # compact Hungarian IBAN, 28 characters
    bic: str  # 11 characters, as bic_field writes it
    purpose: str = ""  # ISO 20022 purpose code, or "" for none


@dataclass(frozen=True)
class Transfer:
    """What one code asks the payer's bank to transfer."""

    amount: int  # whole forints, more than zero
    reference: str  # the közlemény
    valid_until: datetime  # timezone-aware
    invoice: str = ""  # field 13: the invoice number (empty for several invoices)
    customer_id: str = ""  # field 14


def text_field(value: str, limit: int, what: str) -> str:
    """`value` checked as a text field of at most `limit` characters (QrError if not)."""
    if len(value) > limit:
        raise QrError(f"{what} is {len(value)} characters long; the QR code takes {limit}")
    bad = next((c for c in value if not _TEXT.fullmatch(c)), None)
    if bad is not None:
        raise QrError(f"{what} contains {bad!r} (U+{ord(bad):04X}), which the QR code cannot carry")
    return value


def iban_field(iban: str) -> str:
    """A compact IBAN (its check digits already checked) as the code carries it: only a
    Hungarian one, 28 characters."""
    if len(iban) != IBAN_LENGTH or not iban.startswith("HU"):
        raise QrError(f"is not a Hungarian IBAN ({iban[:2]}…): the QR code carries a HU IBAN")
    return iban


def bic_field(value: str, country: str | None = None) -> str:
    """A BIC as the code writes it: upper case, 11 characters (`OTPVHUHB` -> `OTPVHUHBXXX`);
    with `country`, it must be a bank of that country (the IBAN's)."""
    bic = re.sub(r"\s", "", value).upper()
    if not _BIC.fullmatch(bic):
        raise QrError(
            f"is not a BIC ({value!r}): 8 or 11 letters and digits, like OTPVHUHB or OTPVHUHBXXX"
        )
    if country is not None and bic[4:6] != country:
        raise QrError(f"is a BIC of another country ({bic[4:6]}) than the IBAN's ({country})")
    return bic if len(bic) == BIC_LENGTH else bic + "XXX"


def purpose_field(value: str) -> str:
    """An ISO 20022 purpose code (4 letters, e.g. `WTER`, a water bill), or "" for none."""
    purpose = value.strip().upper()
    if purpose and not _PURPOSE.fullmatch(purpose):
        raise QrError(f"is not an ISO 20022 purpose code ({value!r}): 4 letters, like WTER")
    return purpose


def validity(now: float, days: int = VALID_DAYS) -> datetime:
    """The end (23:59:59, Budapest) of the `days`-th day after the one `now` falls on."""
    today = datetime.fromtimestamp(now, BUDAPEST).date()
    last: date = today + timedelta(days=days)
    return datetime.combine(last, time(23, 59, 59), BUDAPEST)


def validity_field(moment: datetime) -> str:
    """`yyyyMMddHHmmss+z`: the local time and its offset from UTC in whole hours
    (`20261127235959+1` in winter, `+2` in summer time)."""
    offset = moment.utcoffset()
    if offset is None:
        raise QrError("the validity has no time zone")
    hours, rest = divmod(int(offset.total_seconds()), 3600)
    if rest or not 0 <= hours <= 9:
        raise QrError(f"the validity's offset {offset} is not written as +0…+9 hours")
    return f"{moment:%Y%m%d%H%M%S}+{hours}"


def payload(to: Payee, transfer: Transfer) -> str:
    """The 17 LF-ended fields of a transfer order (QrError when a value does not fit)."""
    if not 0 < transfer.amount <= MAX_AMOUNT:
        raise QrError(f"the amount {transfer.amount} is not 1 to {MAX_AMOUNT} forints")
    written = (bic_field(to.bic, iban_field(to.iban)[:2]), purpose_field(to.purpose))
    if written != (to.bic, to.purpose):
        raise QrError(f"the BIC {to.bic!r} or purpose code {to.purpose!r} is not in its form")
    fields = [
        "HCT",
        "001",
        "1",
        to.bic,
        text_field(to.name, NAME_LIMIT, "the payee's name"),
        to.iban,
        f"HUF{transfer.amount}",
        validity_field(transfer.valid_until),
        to.purpose,
        text_field(transfer.reference, REFERENCE_LIMIT, "the közlemény"),
        "",
        "",
        text_field(transfer.invoice, ID_LIMIT, "the invoice number"),
        text_field(transfer.customer_id, ID_LIMIT, "the customer ID"),
        "",
        "",
        "",
    ]
    assert len(fields) == FIELD_COUNT
    text = "".join(f"{field}\n" for field in fields)
    if len(text) > MAX_CHARS:
        raise QrError(f"the payload is {len(text)} characters long; the QR code takes {MAX_CHARS}")
    if len(text.encode("utf-8")) > MAX_BYTES:
        size = len(text.encode("utf-8"))
        raise QrError(
            f"the payload is {size} bytes long; a version {MAX_VERSION} code takes {MAX_BYTES}"
        )
    return text


def symbol(text: str) -> segno.QRCode:
    """The QR code of a payload: UTF-8 bytes, level M exactly, never Micro QR, version 13
    at most (QrError when it does not fit)."""
    code = segno.make_qr(text, error=ERROR_LEVEL, boost_error=False, encoding="utf-8")
    if code.version > MAX_VERSION:  # type: ignore[operator]  # an int for a (non-Micro) QR
        raise QrError(f"the payload needs QR version {code.version}; at most {MAX_VERSION}")
    return code


def png(text: str, scale: int = PNG_SCALE) -> bytes:
    """The QR code of a payload as a PNG image (black on white, the quiet zone around)."""
    out = io.BytesIO()
    symbol(text).save(out, kind="png", scale=scale, border=4)
    return out.getvalue()
