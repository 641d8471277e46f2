"""What the texts tell a customer about the company: how to reach a person and how to pay.

The operator sets these (README, "Configuration"); every chat and mail template
reads them as `facts.…` (core.texts puts the service's facts into each render),
so that a phone number, an account number or a deadline is written in one place.
A fact the operator has not set is left out of the texts, never invented.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from email.utils import parseaddr
from string import Formatter

from stdnum import iban as iban_number
from stdnum.exceptions import ValidationError

from core import payment_qr
from core.config import (
    DEFAULT_ANSWER_DAYS,
    DEFAULT_CODE_TTL_HOURS,
    DEFAULT_IDLE_MINUTES,
    DEFAULT_PROOF_MONTHS,
    ConfigError,
    Settings,
)
from core.formats import format_invoice_number
from core.payment_qr import NAME_LIMIT, Payee, QrError, Transfer

# The közlemény: what the payer writes in a transfer's "Közlemény" field. Hungarian banks
# take 140 characters (SEPA's remittance information); the default names both the customer
# and the invoice, so the payment is matched even if one of them is mistyped.
DEFAULT_PAYMENT_REFERENCE = "{customer_id} {invoice}"
REFERENCE_FIELDS = ("customer_id", "invoice")
REFERENCE_LIMIT = 140
DEFAULT_SUPPORT_EMAIL = "petkomm@petkomm.hu"
# The longest közlemény the pattern can make for one invoice: customer IDs and invoice
# numbers have fixed widths, so this sample is as long as any real one.
_SAMPLE_CUSTOMER, _SAMPLE_INVOICE = "U0000", 2026_000000
QR_SETTINGS = "PETKOMM_PAYEE_NAME, PETKOMM_PAYEE_IBAN and PETKOMM_PAYEE_BIC"

_PHONE = re.compile(r"^\+?[0-9][0-9 ()/-]{5,24}$")


@dataclass(frozen=True)
class Facts:
    """The company's facts as the texts show them; None where the operator set nothing."""

    support_email: str = DEFAULT_SUPPORT_EMAIL
    support_phone: str | None = None
    opening_hours: str | None = None
    emergency_phone: str | None = None
    payee_name: str | None = None
    payee_iban: str | None = None  # compact, e.g. HU42117730161111101800000000
    payment_reference: str = DEFAULT_PAYMENT_REFERENCE
    payee_bic: str | None = None  # as set; payment_qr.bic_field writes it for the code
    payment_purpose: str | None = None  # ISO 20022 purpose code, e.g. WTER
    # The payee as the MNB QR code names it, or None with the reason the codes are off.
    qr_payee: Payee | None = None
    qr_off: str | None = f"{QR_SETTINGS} are not set"
    answer_days: int = DEFAULT_ANSWER_DAYS
    proof_months: int = DEFAULT_PROOF_MONTHS
    code_hours: int = DEFAULT_CODE_TTL_HOURS
    idle_minutes: int = DEFAULT_IDLE_MINUTES

    @property
    def can_be_paid(self) -> bool:
        """Whether the texts can tell how to pay by transfer (payee and account known)."""
        return self.payee_name is not None and self.payee_iban is not None

    @property
    def iban(self) -> str | None:
        """The IBAN in groups of four, as printed (HU42 1177 3016 …)."""
        return iban_number.format(self.payee_iban) if self.payee_iban else None

    @property
    def account_number(self) -> str | None:
        """The Hungarian account number (pénzforgalmi jelzőszám) inside a HU IBAN, in
        groups of eight, as a Hungarian bank's transfer form asks for it; else the IBAN."""
        if self.payee_iban is None:
            return None
        if not self.payee_iban.startswith("HU"):
            return self.iban
        digits = self.payee_iban[4:]
        groups = [digits[i : i + 8] for i in range(0, 24, 8)]
        if groups[2] == "00000000":  # a 16-digit account number, padded in the IBAN
            groups = groups[:2]
        return "-".join(groups)

    def reference(self, customer_id: str, invoice_no: int | None = None) -> str:
        """The közlemény for paying one invoice (or the customer's balance)."""
        invoice = format_invoice_number(invoice_no) if invoice_no is not None else ""
        text = self.payment_reference.format(customer_id=customer_id, invoice=invoice)
        return " ".join(text.split())[:REFERENCE_LIMIT]

    def total_reference(
        self, customer_id: str, invoice_nos: Sequence[int], *, listed: bool = True
    ) -> str:
        """The közlemény for paying several invoices at once, as the QR code carries it:
        the pattern with every invoice number in place of `{invoice}`, oldest due first,
        separated by spaces (`U0027 2026-002168 2026-002190`); when they do not fit the
        code's 70 characters (or `listed` is False), their count (`U0027 7 számla`), so
        the customer ID still tells whose payment it is and a clerk sees it is for several."""
        if listed:
            numbers = " ".join(format_invoice_number(number) for number in invoice_nos)
            text = self.payment_reference.format(customer_id=customer_id, invoice=numbers)
            if len(" ".join(text.split())) <= payment_qr.REFERENCE_LIMIT:
                return " ".join(text.split())
        counted = f"{len(invoice_nos)} számla"
        text = self.payment_reference.format(customer_id=customer_id, invoice=counted)
        return " ".join(text.split())


def facts_from(settings: Settings) -> Facts:
    """Read and check the PETKOMM_* variables the texts use (ConfigError names a bad one)."""
    env: Mapping[str, str] = settings.env

    def text(name: str) -> str | None:
        value = " ".join(env.get(name, "").split())
        return value or None

    def phone(name: str) -> str | None:
        value = text(name)
        if value is not None and not _PHONE.match(value):
            raise ConfigError(name, f"must be a phone number like +36 1 234 5678, got {value!r}")
        return value

    facts = Facts(
        support_email=parseaddr(settings.mail_from)[1] or DEFAULT_SUPPORT_EMAIL,
        support_phone=phone("PETKOMM_SUPPORT_PHONE"),
        opening_hours=text("PETKOMM_OPENING_HOURS"),
        emergency_phone=phone("PETKOMM_EMERGENCY_PHONE"),
        payee_name=text("PETKOMM_PAYEE_NAME"),
        payee_iban=_iban(text("PETKOMM_PAYEE_IBAN")),
        payment_reference=_reference(text("PETKOMM_PAYMENT_REFERENCE")),
        payee_bic=text("PETKOMM_PAYEE_BIC"),
        payment_purpose=text("PETKOMM_PAYMENT_PURPOSE"),
        answer_days=settings.answer_days,
        proof_months=settings.proof_months,
        code_hours=settings.code_ttl_hours,
        idle_minutes=settings.idle_minutes,
    )
    payee, off = qr_payee(facts)
    return replace(facts, qr_payee=payee, qr_off=off)


def qr_payee(facts: Facts) -> tuple[Payee | None, str | None]:
    """The payee for the MNB QR codes, or None and why the Fizetés buttons are off.

    A wrong or missing setting never stops the service (the texts still tell how to pay
    by transfer): it turns the codes off, and the service says so once at start. The
    check builds the longest code the settings can make, so a code made later always fits.
    """
    missing = [
        name
        for name, value in (
            ("PETKOMM_PAYEE_NAME", facts.payee_name),
            ("PETKOMM_PAYEE_IBAN", facts.payee_iban),
            ("PETKOMM_PAYEE_BIC", facts.payee_bic),
        )
        if value is None
    ]
    if missing:
        return None, f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set"
    name, iban, bic = facts.payee_name, facts.payee_iban, facts.payee_bic
    assert name and iban and bic
    try:
        payee = Payee(
            name=_qr_checked("", payment_qr.text_field, name, NAME_LIMIT, "PETKOMM_PAYEE_NAME"),
            iban=_qr_checked("PETKOMM_PAYEE_IBAN", payment_qr.iban_field, iban),
            bic=_qr_checked("PETKOMM_PAYEE_BIC", payment_qr.bic_field, bic, iban[:2]),
            purpose=_qr_checked(
                "PETKOMM_PAYMENT_PURPOSE", payment_qr.purpose_field, facts.payment_purpose or ""
            ),
        )
    except _QrSettingError as error:
        return None, str(error)
    reference = facts.reference(_SAMPLE_CUSTOMER, _SAMPLE_INVOICE)
    try:
        what = f"PETKOMM_PAYMENT_REFERENCE: the közlemény it makes ({reference!r})"
        payment_qr.text_field(reference, payment_qr.REFERENCE_LIMIT, what)
    except QrError as error:
        return None, str(error)
    longest = Transfer(
        payment_qr.MAX_AMOUNT,
        reference,
        payment_qr.validity(0),
        invoice=format_invoice_number(_SAMPLE_INVOICE),
        customer_id=_SAMPLE_CUSTOMER,
    )
    try:
        payment_qr.symbol(payment_qr.payload(payee, longest))
    except QrError as error:
        return None, f"{QR_SETTINGS} make a code too large: {error}"
    return payee, None


class _QrSettingError(Exception):
    """A payment setting the QR code cannot carry: the variable and why."""


def _qr_checked(variable: str, check: Callable[..., str], *values: object) -> str:
    """`check(*values)`, a payment_qr field check; its refusal named by `variable` (unless
    the check names it itself)."""
    try:
        return check(*values)
    except QrError as error:
        raise _QrSettingError(f"{variable} {error}".strip()) from None


def _iban(value: str | None) -> str | None:
    """The payee's account as a checked, compact IBAN (python-stdnum checks the country's
    length and the check digits); a Hungarian 16 or 24-digit account number is taken too."""
    if value is None:
        return None
    digits = re.sub(r"[\s-]", "", value)
    if digits.isdigit() and len(digits) in (16, 24):
        digits = _hungarian_iban(digits.ljust(24, "0"))
    try:
        return str(iban_number.validate(digits))
    except ValidationError as error:
        raise ConfigError(
            "PETKOMM_PAYEE_IBAN",
            f"is not a valid account number ({error}); write it as HU42 1177 3016 1111 1018"
            " 0000 0000 or 11773016-11111018",
        ) from None


def _hungarian_iban(bban: str) -> str:
    """The IBAN of a 24-digit Hungarian account number (HU, check digits, the number)."""
    return f"HU{iban_number.calc_check_digits('HU00' + bban)}{bban}"


def _reference(value: str | None) -> str:
    if value is None:
        return DEFAULT_PAYMENT_REFERENCE
    try:
        names = {name for _, name, _, _ in Formatter().parse(value) if name is not None}
    except ValueError as error:
        raise ConfigError("PETKOMM_PAYMENT_REFERENCE", f"cannot be read: {error}") from None
    unknown = names - set(REFERENCE_FIELDS)
    if unknown:
        raise ConfigError(
            "PETKOMM_PAYMENT_REFERENCE",
            f"knows only {{customer_id}} and {{invoice}}, got {', '.join(sorted(unknown))}",
        )
    return value
